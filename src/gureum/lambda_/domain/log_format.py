"""A function's LoggingConfig as the platform acts on it: the format, and log-level filtering.

With `LogFormat=Text` (the default) the platform writes its START / END / REPORT lines (spec
6.2) and every line of the function's output as it is. With `LogFormat=JSON`
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html):

* the platform's own lines become JSON records, `{"time": ..., "type": "platform.start",
  "record": {...}}`, with the Telemetry API's record shapes
  (https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html); END has no
  JSON record;
* the runtime is told `AWS_LAMBDA_LOG_FORMAT=JSON` and `AWS_LAMBDA_LOG_LEVEL=<application
  level>`, and writes its logging library's records as JSON itself (awslambdaric does);
* records below `SystemLogLevel` (platform) or `ApplicationLogLevel` (function output) are
  dropped. A function line's level is its JSON `"level"`; a line that is not JSON, or has no
  valid level, counts as INFO
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gureum.lambda_.domain.platform_log import PlatformLine

# Most detailed first: a threshold keeps its own level and those after it.
APPLICATION_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# The names runtimes' logging libraries use for AWS's levels (Python's `logging`).
_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}


def _rank(level: str) -> int:
    return APPLICATION_LEVELS.index(level)


def line_level(line: str) -> str:
    """The level of one line of function output: its JSON `"level"`, else INFO."""
    text = line.strip()
    if not text.startswith("{"):
        return "INFO"
    try:
        document = json.loads(text)
    except ValueError:
        return "INFO"
    level = document.get("level") if isinstance(document, dict) else None
    if not isinstance(level, str):
        return "INFO"
    level = _ALIASES.get(level.upper(), level.upper())
    return level if level in APPLICATION_LEVELS else "INFO"


@dataclass(frozen=True, slots=True)
class LogSettings:
    """The parts of a version's LoggingConfig that shape its log stream."""

    json: bool = False
    application_level: str = "INFO"
    system_level: str = "INFO"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LogSettings:
        if config.get("LogFormat") != "JSON":
            return cls()
        return cls(
            True,
            str(config.get("ApplicationLogLevel") or "INFO"),
            str(config.get("SystemLogLevel") or "INFO"),
        )

    def variables(self) -> dict[str, str]:
        """What the runtime is told (spec 3.2); nothing in Text format, as on AWS."""
        if not self.json:
            return {}
        return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": self.application_level}

    def keeps_function_line(self, line: str) -> bool:
        if not self.json:
            return True
        return _rank(line_level(line)) >= _rank(self.application_level)

    def render(self, line: PlatformLine, time: str) -> str | None:
        """A platform line as its log event's message; None when this format drops it.
        `time`: when it happened, RFC 3339 to the millisecond (`2024-01-01T00:00:00.000Z`)."""
        if not self.json:
            return line.text
        if not line.kind or _rank(line.level) < _rank(self.system_level):
            return None
        return json.dumps({"time": time, "type": line.kind, "record": dict(line.record)}) + "\n"
