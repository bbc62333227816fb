"""`pytest -p tests.support.reverse_order ...` runs the collected tests backwards: a
cheap check that no test leans on what an earlier one left behind (or did not)."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.reverse()
