"""Everything in this folder is the adversarial suite: `pytest -m adversarial` runs it alone."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/adversarial/" in item.nodeid:
            item.add_marker(pytest.mark.adversarial)
