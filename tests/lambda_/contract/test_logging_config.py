"""LoggingConfig acted on (issue #21, item 4): JSON platform records, JSON application logs
filtered by ApplicationLogLevel and SystemLogLevel, and a custom log group, read back from
CloudWatch Logs with GetLogEvents.

Sources: "Configuring JSON and plain text log formats"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html), "Log-level
filtering" (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html),
the Telemetry API's record shapes
(https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html), and awslambdaric's
JsonFormatter for the Python runtime's application records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.lambda_.contract.test_runtimes import AWSLAMBDARIC_BOOTSTRAP
from tests.support.functions import awslambdaric_layer, invoke, package, stream_messages
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

PYTHON_LOGGER = """\
import logging

logger = logging.getLogger()


def handler(event, context):
    logger.debug("a debug record")
    logger.info("an info record")
    logger.warning("a warning record")
    print("a plain line")
    return "done"
"""

NODE_LOGGER = """\
exports.handler = async () => {
  console.debug("a debug record");
  console.info("an info record");
  console.warn("a warning record");
  return "done";
};
"""

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
PYTHON_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # awslambdaric: to the second


def documents(lines: list[str]) -> list[dict[str, Any]]:
    """The lines that are JSON objects, parsed (print() output is not)."""
    found = []
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            found.append(document)
    return found


def test_json_format_defaults_both_levels_to_info(
    make_function: Callable[..., dict[str, Any]], function_name: str, lambda_client: Any
) -> None:
    created = make_function(LoggingConfig={"LogFormat": "JSON"})
    expected = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "INFO",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{function_name}",
    }
    assert created["LoggingConfig"] == expected
    got = lambda_client.get_function_configuration(FunctionName=function_name)
    assert got["LoggingConfig"] == expected


def test_platform_records_are_json(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    make_function(
        Code={"ZipFile": zip_of({"index.py": PYTHON_LOGGER})}, LoggingConfig={"LogFormat": "JSON"}
    )
    invoked = invoke(lambda_client, function_name, {}, LogType="Tail")
    lines = stream_messages(server, f"/aws/lambda/{function_name}")
    platform = [d for d in documents(lines) if str(d.get("type", "")).startswith("platform.")]
    assert [d["type"] for d in platform] == [
        "platform.initStart",
        "platform.start",
        "platform.report",
    ]
    for document in platform:
        assert set(document) == {"time", "type", "record"}
        assert TIME.fullmatch(document["time"]), document
    init, start, report = (d["record"] for d in platform)
    assert init["initializationType"] == "on-demand"
    assert init["phase"] == "init"
    assert init["functionName"] == function_name
    assert init["functionVersion"] == "$LATEST"
    assert re.fullmatch(r"python:3\.12\.v\d+", init["runtimeVersion"])
    assert start == {"requestId": invoked.request_id, "version": "$LATEST"}
    assert report["requestId"] == invoked.request_id
    assert report["status"] == "success"
    metrics = report["metrics"]
    assert set(metrics) == {
        "durationMs",
        "billedDurationMs",
        "memorySizeMB",
        "maxMemoryUsedMB",
        "initDurationMs",
    }
    assert metrics["memorySizeMB"] == 128
    # No text platform lines are left.
    assert not [line for line in lines if line.startswith(("START ", "END ", "REPORT "))]
    assert invoked.log is not None
    assert '"type": "platform.start"' in invoked.log


def test_python_application_records_are_json_and_debug_is_dropped_at_info(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    make_function(
        Code={"ZipFile": zip_of({"index.py": PYTHON_LOGGER})}, LoggingConfig={"LogFormat": "JSON"}
    )
    invoked = invoke(lambda_client, function_name, {})
    lines = stream_messages(server, f"/aws/lambda/{function_name}")
    records = [d for d in documents(lines) if "level" in d]
    assert [(d["level"], d["message"]) for d in records] == [
        ("INFO", "an info record"),
        ("WARNING", "a warning record"),
    ]
    for record in records:
        assert list(record) == ["timestamp", "level", "message", "logger", "requestId"]
        assert PYTHON_TIME.fullmatch(record["timestamp"]), record
        assert record["logger"] == "root"
        assert record["requestId"] == invoked.request_id
    # A line that is not JSON counts as INFO: kept at INFO.
    assert "a plain line\n" in lines


def test_application_level_warn_drops_info_and_plain_lines(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    make_function(
        Code={"ZipFile": zip_of({"index.py": PYTHON_LOGGER})},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    invoke(lambda_client, function_name, {})
    lines = stream_messages(server, f"/aws/lambda/{function_name}")
    records = [d for d in documents(lines) if "level" in d]
    assert [d["message"] for d in records] == ["a warning record"]
    assert "a plain line\n" not in lines


def test_system_level_warn_drops_the_platform_records(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    make_function(
        Code={"ZipFile": zip_of({"index.py": PYTHON_LOGGER})},
        LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"},
    )
    invoke(lambda_client, function_name, {})
    lines = stream_messages(server, f"/aws/lambda/{function_name}")
    assert not [d for d in documents(lines) if "type" in d]
    assert [d["message"] for d in documents(lines)] == ["an info record", "a warning record"]


def test_the_runtime_is_told_the_format_and_level(
    make_function: Callable[..., dict[str, Any]], function_name: str, lambda_client: Any
) -> None:
    source = "import os\ndef handler(event, context):\n    return dict(os.environ)\n"
    make_function(
        Code={"ZipFile": zip_of({"index.py": source})},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
    )
    env = invoke(lambda_client, function_name, {}).json()
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert env["AWS_LAMBDA_LOG_LEVEL"] == "DEBUG"


def test_text_format_tells_the_runtime_nothing(
    make_function: Callable[..., dict[str, Any]], function_name: str, lambda_client: Any
) -> None:
    source = "import os\ndef handler(event, context):\n    return dict(os.environ)\n"
    make_function(Code={"ZipFile": zip_of({"index.py": source})})
    env = invoke(lambda_client, function_name, {}).json()
    assert "AWS_LAMBDA_LOG_FORMAT" not in env
    assert "AWS_LAMBDA_LOG_LEVEL" not in env


def test_a_custom_log_group_receives_the_logs(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    group = f"/custom/{function_name}"
    source = (
        "import os\n"
        "def handler(event, context):\n"
        "    return os.environ['AWS_LAMBDA_LOG_GROUP_NAME']\n"
    )
    make_function(
        Code={"ZipFile": zip_of({"index.py": source})},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": group},
    )
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.json() == group
    types = [d.get("type") for d in documents(stream_messages(server, group))]
    assert types == ["platform.initStart", "platform.start", "platform.report"]
    logs = server.client("logs")
    default = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function_name}")
    assert default["logGroups"] == []


def test_node_console_writes_json_and_drops_debug_at_info(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    try:
        make_function(
            Runtime="nodejs20.x",
            Code={"ZipFile": zip_of({"index.js": NODE_LOGGER})},
            LoggingConfig={"LogFormat": "JSON"},
        )
    except lambda_client.exceptions.InvalidParameterValueException as error:
        pytest.skip(f"no Node.js 20 here: {error}")
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.json() == "done"
    records = [
        d
        for d in documents(stream_messages(server, f"/aws/lambda/{function_name}"))
        if "level" in d
    ]
    # AWS's Node.js runtime: {timestamp, level, requestId, message}, levels named WARN etc.
    assert [(d["level"], d["message"]) for d in records] == [
        ("INFO", "an info record"),
        ("WARN", "a warning record"),
    ]
    for record in records:
        assert list(record) == ["timestamp", "level", "requestId", "message"]
        assert TIME.fullmatch(record["timestamp"]), record
        assert record["requestId"] == invoked.request_id


def test_awslambdaric_unmodified_writes_json_from_the_variables(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    layer = lambda_client.publish_layer_version(
        LayerName=f"ric-{function_name}"[:64], Content={"ZipFile": awslambdaric_layer()}
    )["LayerVersionArn"]
    make_function(
        Runtime="provided.al2023",
        Layers=[layer],
        Environment={"Variables": {"PYTHONPATH": "/opt/python"}},
        Timeout=9,
        LoggingConfig={"LogFormat": "JSON"},
        Code={
            "ZipFile": package(
                {"bootstrap": AWSLAMBDARIC_BOOTSTRAP, "index.py": PYTHON_LOGGER},
                executables=("bootstrap",),
            )
        },
    )
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.json() == "done", invoked.payload
    lines = stream_messages(server, f"/aws/lambda/{function_name}")
    records = [d for d in documents(lines) if "level" in d]
    assert [(d["level"], d["message"]) for d in records] == [
        ("INFO", "an info record"),
        ("WARNING", "a warning record"),
    ]
    assert all(d["requestId"] == invoked.request_id for d in records)


def test_an_unhandled_error_is_one_json_record(
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    lambda_client: Any,
) -> None:
    source = "def handler(event, context):\n    raise KeyError('missing')\n"
    make_function(
        Code={"ZipFile": zip_of({"index.py": source})}, LoggingConfig={"LogFormat": "JSON"}
    )
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.function_error == "Unhandled"
    records = [
        d
        for d in documents(stream_messages(server, f"/aws/lambda/{function_name}"))
        if "level" in d
    ]
    # awslambdaric's log_error in JSON mode: the error document after a timestamp and level.
    assert len(records) == 1
    record = records[0]
    assert list(record) == [
        "timestamp",
        "level",
        "errorMessage",
        "errorType",
        "requestId",
        "stackTrace",
    ]
    assert (record["level"], record["errorType"]) == ("ERROR", "KeyError")
    assert record["requestId"] == invoked.request_id
    assert PYTHON_TIME.fullmatch(record["timestamp"])
