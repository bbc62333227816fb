"""Who does not want to hear back. The preferences live on the compacted topic
employees.preferences (``NotificationPreference`` keyed by employee_id; the report page's
/report/preferences writes them). Every notifier reads the whole topic into memory with a
TopicFollower (services/common/follower.py) and a PreferenceBook
(services/common/preferences.py): the list is small (one record per employee who changed
the default), and any worker may have to tell any employee.

``wants_news`` is pure."""

from __future__ import annotations

from collections.abc import Mapping

from schemas import Reporter
from schemas.preference import preference_key
from services.common.preferences import PreferenceBook

__all__ = ["PreferenceBook", "identity", "wants_news"]

# E-mail addresses compare without case; employee ids as they are.
identity = preference_key


def wants_news(notify: Mapping[str, bool], reporter: Reporter) -> bool:
    """Whether ``reporter`` may be told: not when a preference under their employee id or
    their e-mail address says no. No preference: yes."""
    names = (reporter.employee_id, reporter.email)
    return all(notify.get(identity(name), True) for name in names if name)
