"""Waiting for something a server does in its own time (a heartbeat, a lease, a settle)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Returns once `condition()` holds; fails the test, naming `what`, after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {what}")
