"""LoggingConfig's format and level filtering, and the platform lines in both forms (pure).

AWS: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html ("If
the "level" value field is invalid or missing, Lambda will assign the log output the level INFO";
"Lambda sends logs at the selected level and lower").
"""

from __future__ import annotations

import json

import pytest

from gureum.lambda_.domain import platform_log
from gureum.lambda_.domain.log_format import LogSettings, line_level

TIME = "2024-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("plain text\n", "INFO"),
        ("\n", "INFO"),
        ('{"level": "debug", "msg": "x"}\n', "DEBUG"),
        ('{"level": "WARNING", "message": "x"}\n', "WARN"),
        ('{"level": "CRITICAL"}\n', "FATAL"),
        ('{"level": "TRACE"}\n', "TRACE"),
        ('{"level": "loud"}\n', "INFO"),
        ('{"level": 40}\n', "INFO"),
        ('{"no": "level"}\n', "INFO"),
        ("[1, 2]\n", "INFO"),
        ("{not json\n", "INFO"),
    ],
)
def test_a_lines_level(line: str, level: str) -> None:
    assert line_level(line) == level


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, LogSettings()),
        ({"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"}, LogSettings()),
        ({"LogFormat": "JSON"}, LogSettings(True, "INFO", "INFO")),
        (
            {"LogFormat": "JSON", "ApplicationLogLevel": "ERROR", "SystemLogLevel": "DEBUG"},
            LogSettings(True, "ERROR", "DEBUG"),
        ),
    ],
)
def test_settings_from_logging_config(config: dict[str, str], expected: LogSettings) -> None:
    assert LogSettings.from_config(config) == expected


def test_only_json_tells_the_runtime() -> None:
    assert LogSettings().variables() == {}
    assert LogSettings(True, "WARN", "INFO").variables() == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
    }


@pytest.mark.parametrize(
    ("threshold", "kept"),
    [
        ("TRACE", ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
        ("DEBUG", ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]),
        ("INFO", ["INFO", "WARN", "ERROR", "FATAL"]),
        ("WARN", ["WARN", "ERROR", "FATAL"]),
        ("FATAL", ["FATAL"]),
    ],
)
def test_application_level_keeps_its_level_and_less_detailed(
    threshold: str, kept: list[str]
) -> None:
    settings = LogSettings(True, threshold, "INFO")
    levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
    lines = {level: json.dumps({"level": level}) + "\n" for level in levels}
    assert [level for level in levels if settings.keeps_function_line(lines[level])] == kept


def test_text_format_keeps_every_line() -> None:
    assert LogSettings().keeps_function_line('{"level": "DEBUG"}\n')


def test_text_format_renders_the_text_line() -> None:
    line = platform_log.start("id-1", "$LATEST")
    assert LogSettings().render(line, TIME) == "START RequestId: id-1 Version: $LATEST\n"


def test_json_format_renders_the_record() -> None:
    rendered = LogSettings(True).render(platform_log.start("id-1", "3"), TIME)
    assert rendered is not None
    assert rendered.endswith("\n")
    assert json.loads(rendered) == {
        "time": TIME,
        "type": "platform.start",
        "record": {"requestId": "id-1", "version": "3"},
    }


def test_json_format_has_no_end_record() -> None:
    assert LogSettings(True).render(platform_log.end("id-1"), TIME) is None


@pytest.mark.parametrize(("system", "shown"), [("DEBUG", True), ("INFO", True), ("WARN", False)])
def test_system_level_filters_info_records(system: str, shown: bool) -> None:
    settings = LogSettings(True, "INFO", system)
    assert (settings.render(platform_log.start("id", "1"), TIME) is not None) is shown


def test_report_text_and_record() -> None:
    line = platform_log.report("id", 3.014, 110.1, 128, 36 * 1024 * 1024 - 1, None, None)
    assert line.text == (
        "REPORT RequestId: id\tDuration: 3.01 ms\tBilled Duration: 114 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 36 MB\tInit Duration: 110.10 ms\t\n"
    )
    assert line.record == {
        "requestId": "id",
        "metrics": {
            "durationMs": 3.014,
            "billedDurationMs": 114,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 36,
            "initDurationMs": 110.1,
        },
        "status": "success",
    }


@pytest.mark.parametrize(
    ("status", "error_type", "text_tail", "record_tail"),
    [
        ("timeout", None, "Status: timeout\t\n", {"status": "timeout"}),
        (
            "error",
            "Runtime.ExitError",
            "Status: error\tError Type: Runtime.ExitError\t\n",
            {"status": "error", "errorType": "Runtime.ExitError"},
        ),
    ],
)
def test_a_failed_report(
    status: str, error_type: str | None, text_tail: str, record_tail: dict[str, str]
) -> None:
    line = platform_log.report("id", 1.0, None, 128, 0, status, error_type)
    assert line.text.endswith("Max Memory Used: 0 MB\t" + text_tail)
    assert {k: v for k, v in line.record.items() if k in record_tail} == record_tail


def test_init_report_error() -> None:
    line = platform_log.init_report(12.5, "error", "Runtime.ExitError")
    assert line.text == (
        "INIT_REPORT Init Duration: 12.50 ms\tPhase: init\tStatus: error\t"
        "Error Type: Runtime.ExitError\n"
    )
    assert line.kind == "platform.initReport"
    assert line.record["errorType"] == "Runtime.ExitError"
