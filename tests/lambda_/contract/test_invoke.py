"""Invoke over the wire (spec 10, 2.3, 6.2): results, request ids, versions, logs and errors."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import (
    ACCOUNT,
    create,
    error_of,
    function_arn,
    invoke,
    publish_with,
)
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

RETURN_VALUE = "def handler(event, context):\n    return event['value']\n"
ECHO = "def handler(event, context):\n    return event\n"

CONTEXT = """\
import os

def handler(event, context):
    return {
        "request_id": context.aws_request_id,
        "invoked_arn": context.invoked_function_arn,
        "version": context.function_version,
        "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "generation": os.environ.get("GENERATION"),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "env_log_stream": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
        "remaining": context.get_remaining_time_in_millis(),
    }
"""

STATEFUL = """\
import os

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("hello from the handler")
    if event.get("write"):
        with open("/tmp/state", "w") as handle:
            handle.write(event["write"])
    seen = None
    if os.path.exists("/tmp/state"):
        with open("/tmp/state") as handle:
            seen = handle.read()
    return {"count": COUNT, "seen": seen, "request_id": context.aws_request_id}
"""

NOISY = """\
def handler(event, context):
    for number in range(3000):
        print(f"line-{number:04d}")
    return "done"
"""

CLIENT_CONTEXT = """\
def handler(event, context):
    client_context = context.client_context
    return {
        "custom": client_context.custom,
        "env": client_context.env,
        "app_title": client_context.client.app_title,
    }
"""

SLOW = """\
import os
import time

def handler(event, context):
    time.sleep(event["sleep"])
    return {"stream": context.log_stream_name, "marker": os.environ.get("MARKER")}
"""

LENGTH = "def handler(event, context):\n    return len(event)\n"

PARSE_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
PENDING = (
    "The operation cannot be performed at this time. The function is currently in the "
    "following state: Pending"
)
SYNC_LIMIT = 6_291_456

CONTENT_TYPE = (
    "Invoke's 200 answer has no Content-Type (spec 10.2: application/json): the rest-json "
    "renderer adds none for a blob payload member (aws/protocols/restjson.py render)"
)
CLIENT_CONTEXT_OBJECT = (
    "gureum's Python runtime gives context.client_context as a plain dict; AWS's (awslambdaric) "
    "gives a ClientContext object, so `context.client_context.custom` raises AttributeError "
    "(sandbox/guest/runtime.py Context)"
)
MISSING_LATEST = (
    "spec 0.4/10.6: Invoke on a missing function without qualifier names ':$LATEST'; gureum "
    "answers with the unqualified ARN (services/functions.py require_function via "
    "services/invoker.py target)"
)
INIT_START_FORMAT = (
    "spec 6.2: `INIT_START Runtime Version: python:3.12.v<N>`; gureum writes `python3.12.v1` "
    "(sandbox/environment.py _init)"
)

START = re.compile(r"START RequestId: (?P<id>[0-9a-f-]{36}) Version: (?P<version>\S+)")
END = re.compile(r"END RequestId: (?P<id>[0-9a-f-]{36})")
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: (?P<used>\d+) MB\t(?:Init Duration: (?P<init>\d+\.\d\d) ms\t)?"
)
INIT_START = re.compile(
    r"INIT_START Runtime Version: \S+\tRuntime Version ARN: "
    r"arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}"
)


def code(source: str) -> dict[str, bytes]:
    return {"ZipFile": zip_of({"index.py": source})}


def platform_lines(log: str) -> list[str]:
    """The lines of a tail that are not INIT_START (which AWS may or may not include)."""
    assert log.endswith("\n"), repr(log)
    lines = log[:-1].split("\n")
    if lines and lines[0].startswith("INIT_START"):
        assert INIT_START.fullmatch(lines[0]), lines[0]
        lines = lines[1:]
    return lines


# --- results --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "body"),
    [
        (None, b"null"),
        ("a string", b'"a string"'),
        (0, b"0"),
        ({"nested": [1, 2.5, True, None]}, None),
    ],
    ids=["none-is-null", "str-is-quoted", "number", "object"],
)
def test_request_response_returns_the_handlers_json(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    value: Any,
    body: bytes | None,
) -> None:
    make_function(Code=code(RETURN_VALUE))
    invoked = invoke(lambda_client, function_name, {"value": value})
    assert invoked.status == 200
    assert invoked.function_error is None
    if body is not None:
        assert invoked.payload == body
    assert invoked.json() == value


def test_sync_response_is_application_json(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(ECHO))
    invoked = invoke(lambda_client, function_name, {"a": 1})
    assert invoked.headers.get("content-type") == "application/json"


@pytest.mark.parametrize("payload", [b"", None], ids=["empty-body", "no-payload"])
def test_an_empty_payload_gives_the_handler_an_empty_object(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    payload: bytes | None,
) -> None:
    make_function(Code=code(ECHO))
    params = {} if payload is None else {"Payload": payload}
    invoked = invoke(lambda_client, function_name, **params)
    assert (invoked.status, invoked.function_error) == (200, None)
    assert invoked.json() == {}


def test_request_id_is_the_same_everywhere(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(STATEFUL))
    for _ in range(2):
        invoked = invoke(lambda_client, function_name, {}, LogType="Tail")
        request_id = invoked.request_id
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", request_id
        )
        assert invoked.headers["x-amzn-requestid"] == request_id
        assert invoked.json()["request_id"] == request_id
        assert invoked.log is not None
        lines = platform_lines(invoked.log)
        starts = [m["id"] for m in map(START.fullmatch, lines) if m]
        ends = [m["id"] for m in map(END.fullmatch, lines) if m]
        reports = [m["id"] for m in map(REPORT.fullmatch, lines) if m]
        assert starts == ends == reports == [request_id]


# --- versions, aliases and the context -------------------------------------------------------


NAME = "invoke-versioned"
PARTIAL = f"{ACCOUNT}:function:{NAME}"


@pytest.fixture(scope="module")
def versioned(lambda_client: Any) -> str:
    """Versions 1 and 2, alias `live` -> 1, and `$LATEST` changed since (GENERATION=latest)."""
    name = NAME
    create(lambda_client, name, Code=code(CONTEXT), Timeout=7, MemorySize=256)
    assert publish_with(lambda_client, name, {"GENERATION": "one"}) == "1"
    assert publish_with(lambda_client, name, {"GENERATION": "two"}) == "2"
    lambda_client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GENERATION": "latest"}}
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1}
    )
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return name


@pytest.mark.parametrize(
    ("function", "qualifier", "executed", "invoked_arn", "generation"),
    [
        (NAME, None, "$LATEST", function_arn(NAME), "latest"),
        (NAME, "$LATEST", "$LATEST", function_arn(NAME, "$LATEST"), "latest"),
        (f"{NAME}:$LATEST", None, "$LATEST", function_arn(NAME, "$LATEST"), "latest"),
        (NAME, "1", "1", function_arn(NAME, "1"), "one"),
        (f"{NAME}:2", None, "2", function_arn(NAME, "2"), "two"),
        (function_arn(NAME), "2", "2", function_arn(NAME, "2"), "two"),
        (f"{PARTIAL}:2", None, "2", function_arn(NAME, "2"), "two"),
        (NAME, "live", "1", function_arn(NAME, "live"), "one"),
        (function_arn(NAME, "live"), None, "1", function_arn(NAME, "live"), "one"),
    ],
    ids=[
        "unqualified",
        "latest-qualifier",
        "latest-in-name",
        "version-qualifier",
        "version-in-name",
        "arn-with-qualifier",
        "partial-arn",
        "alias-qualifier",
        "alias-arn",
    ],
)
def test_executed_version_and_context_follow_the_qualifier(
    lambda_client: Any,
    versioned: str,
    function: str,
    qualifier: str | None,
    executed: str,
    invoked_arn: str,
    generation: str,
) -> None:
    params: dict[str, Any] = {"LogType": "Tail"}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    invoked = invoke(lambda_client, function, {}, **params)
    assert (invoked.status, invoked.function_error) == (200, None)
    assert invoked.executed_version == executed
    result = invoked.json()
    # The context has the ARN as invoked and the version that actually ran (spec 2.3).
    assert result["invoked_arn"] == invoked_arn
    assert result["version"] == result["env_version"] == executed
    assert result["generation"] == generation
    assert invoked.log is not None
    assert f"START RequestId: {invoked.request_id} Version: {executed}\n" in invoked.log


def test_context_attributes(lambda_client: Any, versioned: str) -> None:
    result = invoke(lambda_client, versioned, {}).json()
    assert result["function_name"] == versioned
    assert result["memory"] == "256"
    assert result["log_group"] == f"/aws/lambda/{versioned}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", result["log_stream"])
    assert result["log_stream"] == result["env_log_stream"]
    assert 5000 < result["remaining"] <= 7000


def test_weighted_alias_splits_traffic(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CONTEXT))
    assert publish_with(lambda_client, function_name, {"GENERATION": "one"}) == "1"
    assert publish_with(lambda_client, function_name, {"GENERATION": "two"}) == "2"
    lambda_client.create_alias(
        FunctionName=function_name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
    )
    landed = {"1": 0, "2": 0}
    for _ in range(300):
        invoked = invoke(lambda_client, function_name, {}, Qualifier="canary")
        assert invoked.executed_version in landed
        result = invoked.json()
        assert result["version"] == invoked.executed_version
        assert result["generation"] == {"1": "one", "2": "two"}[invoked.executed_version]
        assert result["invoked_arn"] == function_arn(function_name, "canary")
        landed[invoked.executed_version] += 1
    # Binomial(300, 0.3): mean 90, standard deviation about 7.9; this band is about 3.8 sigma.
    assert 60 <= landed["2"] <= 120, landed


# --- warm environments --------------------------------------------------------------------------


def test_warm_reuse_keeps_globals_and_tmp(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(STATEFUL))
    first = invoke(lambda_client, function_name, {"write": "kept"}).json()
    second = invoke(lambda_client, function_name, {}).json()
    third = invoke(lambda_client, function_name, {}).json()
    assert [first["count"], second["count"], third["count"]] == [1, 2, 3]
    assert [first["seen"], second["seen"], third["seen"]] == ["kept", "kept", "kept"]


def test_concurrent_invocations_get_separate_environments(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(SLOW))
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        calls = [
            pool.submit(invoke, lambda_client, function_name, {"sleep": 0.6}) for _ in range(3)
        ]
        results = [call.result() for call in calls]
    # One invocation at a time per environment: three at once are three environments.
    assert time.monotonic() - began < 1.7
    assert all(result.function_error is None for result in results)
    assert len({result.json()["stream"] for result in results}) == 3


def test_new_code_and_configuration_are_used_by_the_next_invocation(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(SLOW))
    first = invoke(lambda_client, function_name, {"sleep": 0}).json()
    assert first["marker"] is None
    lambda_client.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": {"MARKER": "configured"}}
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    second = invoke(lambda_client, function_name, {"sleep": 0}).json()
    assert second["marker"] == "configured"
    assert second["stream"] != first["stream"]  # a new environment for the new configuration
    lambda_client.update_function_code(
        FunctionName=function_name, ZipFile=zip_of({"index.py": ECHO})
    )
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    assert invoke(lambda_client, function_name, {"new": "code"}).json() == {"new": "code"}


@pytest.fixture
def forgetful_server(tmp_path: Path) -> Iterator[GureumProcess]:
    """A server that reaps environments idle for half a second."""
    process = GureumProcess(tmp_path / "data", "--keep-alive", "0.5").start()
    yield process
    process.stop()


def test_idle_environments_are_reaped_after_the_keep_alive(
    forgetful_server: GureumProcess,
) -> None:
    client = forgetful_server.client()
    create(client, "reaped", Code=code(STATEFUL))
    assert invoke(client, "reaped", {}).json()["count"] == 1
    assert forgetful_server.health()["environments"] == 1
    deadline = time.monotonic() + 5
    while forgetful_server.health()["environments"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert forgetful_server.health()["environments"] == 0
    again = invoke(client, "reaped", {}, LogType="Tail")
    assert again.json()["count"] == 1  # a new environment ran Init again
    assert again.log is not None
    assert "\tInit Duration: " in again.log


# --- LogType=Tail (spec 6.2, 10.4) ------------------------------------------------------------


def test_tail_log_has_aws_platform_lines_cold_then_warm(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(STATEFUL), MemorySize=256)
    for cold in (True, False):
        invoked = invoke(lambda_client, function_name, {}, LogType="Tail")
        assert invoked.log is not None
        request_id = invoked.request_id
        lines = platform_lines(invoked.log)
        assert lines[:3] == [
            f"START RequestId: {request_id} Version: $LATEST",
            "hello from the handler",
            f"END RequestId: {request_id}",
        ]
        assert len(lines) == 4
        report = REPORT.fullmatch(lines[3])
        assert report is not None, lines[3]
        assert invoked.log.endswith(" MB\t\n" if not cold else " ms\t\n")  # a trailing tab
        assert report["id"] == request_id
        assert report["memory"] == "256"
        assert int(report["used"]) <= 256  # its accuracy: test_out_of_memory_kills_the_runtime
        duration = float(report["duration"])
        billed = int(report["billed"])
        if cold:
            assert report["init"] is not None, "a cold start reports Init Duration"
            # Since August 2025 the init phase of on-demand functions is billed too.
            spent = duration + float(report["init"])
        else:
            assert report["init"] is None, "a warm start has no Init Duration"
            spent = duration
        assert spent - 0.02 <= billed <= math.ceil(spent) + 1


def test_init_start_line_names_the_runtime_version_as_aws_does(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code=code(ECHO))
    invoke(lambda_client, function_name, {})
    # The stream's first event; the tail has none (spec 10.4).
    logs = server.client("logs")
    group = f"/aws/lambda/{function_name}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    first = events["events"][0]["message"].removesuffix("\n")
    assert re.fullmatch(
        r"INIT_START Runtime Version: python:3\.12\.v\d+\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        first,
    ), first


def test_tail_is_the_last_4096_bytes(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(NOISY))
    response = lambda_client.invoke(FunctionName=function_name, LogType="Tail")
    response["Payload"].read()
    response["Payload"].close()
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    text = tail.decode("ascii")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert "START RequestId" not in text
    assert f"line-2999\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\t" in text
    assert text.endswith("\t\n")


def test_no_log_result_without_tail(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(ECHO))
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.log is None
    assert "x-amz-log-result" not in invoked.headers


# --- DryRun --------------------------------------------------------------------------------------


def test_dry_run_answers_204_and_does_not_run_the_function(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(STATEFUL))
    dry = invoke(lambda_client, function_name, {"write": "dry"}, InvocationType="DryRun")
    assert dry.status == 204
    assert dry.payload == b""
    assert dry.executed_version is None  # absent for DryRun (spec 2.3)
    assert dry.function_error is None
    real = invoke(lambda_client, function_name, {}, LogType="Tail")
    # The first real call is the cold start and the first run of the handler: DryRun ran nothing.
    assert real.json()["count"] == 1
    assert real.json()["seen"] is None
    assert real.log is not None
    assert "\tInit Duration: " in real.log


# --- ClientContext ---------------------------------------------------------------------------


def test_client_context_reaches_the_function(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CLIENT_CONTEXT))
    document = {
        "client": {"app_title": "gureum tests", "installation_id": "i-1"},
        "custom": {"tenant": "blue"},
        "env": {"platform": "linux"},
    }
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    invoked = invoke(lambda_client, function_name, {}, ClientContext=encoded)
    assert invoked.function_error is None, invoked.payload
    assert invoked.json() == {
        "custom": {"tenant": "blue"},
        "env": {"platform": "linux"},
        "app_title": "gureum tests",
    }


@pytest.mark.parametrize(
    "client_context",
    [
        "not base64 at all!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
    ],
    ids=["not-base64", "not-json", "not-an-object"],
)
def test_bad_client_context_is_refused(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    client_context: str,
) -> None:
    make_function(Code=code(ECHO))
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=function_name, ClientContext=client_context
    )
    assert (status, error) == (400, "InvalidRequestContentException")
    assert message == "Client context must be a valid Base64-encoded JSON object."


# --- payload checks ---------------------------------------------------------------------------


def test_non_json_payload_is_refused(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(ECHO))
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Payload=b"value"
    )
    assert (status, error) == (400, "InvalidRequestContentException")
    assert message.startswith(PARSE_PREFIX)
    assert len(message) > len(PARSE_PREFIX)


def test_invalid_utf8_payload_is_refused(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(ECHO))
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Payload=b'["\x87"]'
    )
    assert (status, error) == (400, "InvalidRequestContentException")
    assert message.startswith(PARSE_PREFIX + "Invalid UTF-8 start byte 0x87")


def test_payload_limit_is_6291456_bytes(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(LENGTH), MemorySize=512)
    at_limit = b'"' + b"x" * (SYNC_LIMIT - 2) + b'"'
    invoked = invoke(lambda_client, function_name, Payload=at_limit)
    assert (invoked.status, invoked.function_error) == (200, None)
    assert invoked.json() == SYNC_LIMIT - 2
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Payload=at_limit + b" "
    )
    assert (status, error) == (413, "RequestEntityTooLargeException")
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


# --- invocation errors -------------------------------------------------------------------------


def test_invoking_a_missing_function_names_latest(lambda_client: Any, function_name: str) -> None:
    status, error, message = error_of(lambda_client.invoke, FunctionName=function_name)
    assert (status, error) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {function_arn(function_name, '$LATEST')}"


@pytest.mark.parametrize("qualifier", ["7", "nosuchalias"])
def test_invoking_a_missing_version_or_alias(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    qualifier: str,
) -> None:
    make_function(Code=code(ECHO))
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=function_name, Qualifier=qualifier
    )
    assert (status, error) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {function_arn(function_name, qualifier)}"


def test_qualifier_mismatch_is_refused(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(ECHO), Publish=True)
    status, error, message = error_of(
        lambda_client.invoke, FunctionName=f"{function_name}:1", Qualifier="2"
    )
    assert (status, error) == (400, "InvalidParameterValueException")
    assert message == (
        "The derived qualifier from the function name does not match the specified qualifier."
    )


@pytest.fixture
def settling_server(tmp_path: Path) -> Iterator[GureumProcess]:
    """A server whose new functions stay Pending for two seconds."""
    process = GureumProcess(tmp_path / "data", "--settle-delay", "2").start()
    yield process
    process.stop()


def test_invoking_a_pending_function_is_a_conflict(settling_server: GureumProcess) -> None:
    client = settling_server.client()
    created = client.create_function(
        FunctionName="pending",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        Handler="index.handler",
        Code=code(ECHO),
    )
    assert created["State"] == "Pending"
    status, error, message = error_of(client.invoke, FunctionName="pending", Payload=b"{}")
    assert (status, error) == (409, "ResourceConflictException")
    assert message == PENDING
    client.get_waiter("function_active_v2").wait(
        FunctionName="pending", WaiterConfig={"Delay": 0.1}
    )
    assert invoke(client, "pending", {"ok": True}).json() == {"ok": True}


def test_max_memory_used_counts_the_runtime_and_what_the_function_takes(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # AWS's figure is the environment's memory: the interpreter and runtime included (a Python
    # hello world reports about 35 MB there). A runtime forked from a zygote shares its pages,
    # charged to the zygote, so the memory group alone said 3 MB.
    def used(name: str) -> int:
        invoked = invoke(lambda_client, name, {}, LogType="Tail")
        assert invoked.log is not None
        found = REPORT.search(invoked.log)
        assert found is not None, invoked.log
        return int(found.group("used"))

    make_function(Code=code("def handler(event, context):\n    return 1\n"))
    assert used(function_name) >= 10
    holder = f"{function_name}-holds"
    source = "HOLD = bytearray(60 * 1024 * 1024)\n\ndef handler(event, context):\n    return 1\n"
    make_function(name=holder, Code=code(source), MemorySize=256)
    assert used(holder) >= 60
