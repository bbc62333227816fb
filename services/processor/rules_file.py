"""The routing rules file, reloaded when it changes. An invalid new version is logged
and counted, and the previous rules stay in force."""

from __future__ import annotations

import logging
from pathlib import Path

from services.common.logging import fields
from services.processor import metrics
from services.processor.domain.route import DEFAULT_RULES, RulesError, RuleSet, parse_rules

log = logging.getLogger(__name__)


class RulesFile:
    def __init__(self, path: Path | None) -> None:
        """Raises RulesError at start-up: a service must not start on broken rules."""
        self.path = path
        self._stamp: tuple[float, int] | None = None
        self.rules: RuleSet = DEFAULT_RULES
        if path is not None:
            self.rules = self._load(path)

    def _load(self, path: Path) -> RuleSet:
        stat = path.stat()
        rules = parse_rules(path.read_text(encoding="utf-8"), str(path))
        self._stamp = (stat.st_mtime, stat.st_size)
        return rules

    def reload_if_changed(self) -> bool:
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
            if (stat.st_mtime, stat.st_size) == self._stamp:
                return False
            self.rules = self._load(self.path)
        except (OSError, RulesError) as exc:
            metrics.RULES_RELOAD_FAILURES.inc()
            try:
                stat = self.path.stat()
                self._stamp = (stat.st_mtime, stat.st_size)  # report each bad version once
            except OSError:
                pass
            log.error(
                "routing rules not reloaded; keeping the previous rules",
                extra=fields(path=self.path, error=str(exc).replace("\n", " | ")),
            )
            return False
        metrics.RULES_RELOADS.inc()
        log.info(
            "routing rules reloaded", extra=fields(path=self.path, rules=len(self.rules.rules))
        )
        return True
