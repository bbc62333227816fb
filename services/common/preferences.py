"""Employees' preferences as read from the compacted topic employees.preferences
(``NotificationPreference`` keyed by ``preference_key``): the notifier asks who wants to
hear back, ingest shows an employee their own choice (/report/preferences) and credits
by name those who opted in (/insight). Every reader keeps the whole topic in memory: one
small record per employee who changed a default. Pure (the follower that feeds it is
services/common/follower.py)."""

from __future__ import annotations

import threading

from pydantic import ValidationError

from schemas import NotificationPreference
from schemas.insight import reporter_ref
from schemas.preference import preference_key


class PreferenceBook:
    """The latest preference per employee. Written by a follower's thread, read by an
    agent or a route: every change happens under a lock, and readers get copies."""

    def __init__(self) -> None:
        self.notify: dict[str, bool] = {}
        self._records: dict[str, NotificationPreference] = {}
        self._opted_out: set[str] = set()
        self._credits: dict[str, str] = {}  # reporter_ref -> credit_name
        self._lock = threading.Lock()

    @property
    def opted_out(self) -> int:
        return len(self._opted_out)

    def get(self, name: str) -> NotificationPreference | None:
        """The preference of the employee known as ``name`` (employee id or address)."""
        return self._records.get(preference_key(name))

    def credits(self) -> dict[str, str]:
        """reporter_ref -> the name to credit, for every employee who opted in."""
        with self._lock:
            return dict(self._credits)

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Fold one record in; False when it cannot be read (skipped)."""
        if not key:
            return False
        try:
            employee = preference_key(key.decode())
            preference = (
                None if value is None else NotificationPreference.model_validate_json(value)
            )
        except (UnicodeDecodeError, ValidationError):
            return False
        if preference is not None and preference_key(preference.employee_id) != employee:
            return False  # compaction keeps one record per key: the key must be its employee
        self.set(employee, preference)
        return True

    def set(self, employee: str, preference: NotificationPreference | None) -> None:
        """``employee``'s preference is now ``preference`` (None: a tombstone, the
        defaults again)."""
        ref = reporter_ref(employee)
        with self._lock:
            if preference is None:
                self._records.pop(employee, None)
                self.notify.pop(employee, None)
                self._opted_out.discard(employee)
                self._credits.pop(ref, None)
                return
            self._records[employee] = preference
            self.notify[employee] = preference.notify
            if preference.notify:
                self._opted_out.discard(employee)
            else:
                self._opted_out.add(employee)
            if preference.credit_name:
                self._credits[ref] = preference.credit_name
            else:
                self._credits.pop(ref, None)
