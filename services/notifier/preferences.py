"""Who does not want to hear back. The preferences live on the compacted topic
employees.preferences (``NotificationPreference`` keyed by employee_id; the report page's
/report/preferences writes them). Every notifier reads the whole topic into memory with a
TopicFollower (services/common/follower.py): the list is small (one record per employee
who changed the default), and any worker may have to tell any employee.

``PreferenceBook`` and ``wants_news`` are pure."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from schemas import NotificationPreference, Reporter


def identity(value: str) -> str:
    """E-mail addresses compare without case; employee ids as they are."""
    value = value.strip()
    return value.lower() if "@" in value else value


def wants_news(notify: Mapping[str, bool], reporter: Reporter) -> bool:
    """Whether ``reporter`` may be told: not when a preference under their employee id or
    their e-mail address says no. No preference: yes."""
    names = (reporter.employee_id, reporter.email)
    return all(notify.get(identity(name), True) for name in names if name)


class PreferenceBook:
    """The latest ``notify`` per employee. Written by the follower's thread, read by the
    agent: each write replaces one dict item, which is atomic."""

    def __init__(self) -> None:
        self.notify: dict[str, bool] = {}
        self._opted_out: set[str] = set()

    @property
    def opted_out(self) -> int:
        return len(self._opted_out)

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Fold one record in; False when it cannot be read (skipped)."""
        if not key:
            return False
        try:
            employee = identity(key.decode())
            if value is None:  # a tombstone: back to the default
                self.notify.pop(employee, None)
                self._opted_out.discard(employee)
                return True
            preference = NotificationPreference.model_validate_json(value)
        except (UnicodeDecodeError, ValidationError):
            return False
        if identity(preference.employee_id) != employee:
            return False  # compaction keeps one record per key: the key must be its employee
        self.notify[employee] = preference.notify
        if preference.notify:
            self._opted_out.discard(employee)
        else:
            self._opted_out.add(employee)
        return True
