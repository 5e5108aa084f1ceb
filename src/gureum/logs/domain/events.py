"""CloudWatch Logs' one value: a timestamped message in a stream."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogEvent:
    timestamp: int  # epoch milliseconds
    message: str
    ingested: int = 0
