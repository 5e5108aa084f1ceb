"""The file system, environment and limits a function sees, checked from inside real functions
(issue #21, item 11), and how its output reaches the log and the LogType=Tail tail.

Sources: the spec's sections 3.2 (the environment observed in a python3.14 function on AWS),
6.2 (log lines) and 10.4 (the tail), and AWS's documentation, cited at each test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import bootstrap_package, create, invoke, stream_messages
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

PROBE = """\
import json
import os
import resource
import subprocess
import sys


def handler(event, context):
    action = event["action"]
    if action == "env":
        return dict(os.environ)
    if action == "rlimits":
        names = ("RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_MEMLOCK")
        return {name: list(resource.getrlimit(getattr(resource, name))) for name in names}
    if action == "listdir":
        return sorted(os.listdir(event["path"]))
    if action == "print":
        print(event["text"])
        return None
    if action == "raise":
        json.loads("{")
    if action == "python":
        return {"executable": sys.executable, "prefix": sys.prefix, "json": json.__file__}
    raise ValueError(action)
"""

# The variables AWS sets for a python3.14 function (spec 3.2, observed on AWS), less
# `_X_AMZN_TRACE_ID`, which the runtime sets when an invocation arrives and is checked apart.
AWS_PYTHON_VARIABLES = {
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_EXECUTION_ENV",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "PWD",
    "_HANDLER",
    "TZ",
    "LAMBDA_TASK_ROOT",
    "LANG",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "LAMBDA_RUNTIME_DIR",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "SHLVL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LD_LIBRARY_PATH",
    "AWS_LAMBDA_FUNCTION_NAME",
    "PATH",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_XRAY_CONTEXT_MISSING",
    "LC_CTYPE",
    "PYTHONPATH",
}
# gureum's own: SDKs in the function must reach this server, not AWS (documented in README).
GUREUM_VARIABLES = {"AWS_ENDPOINT_URL"}


@pytest.fixture
def probe(make_function: Callable[..., dict[str, Any]], function_name: str) -> str:
    make_function(Code={"ZipFile": zip_of({"index.py": PROBE})})
    return function_name


def ask(client: Any, name: str, action: str, **event: Any) -> Any:
    invoked = invoke(client, name, {"action": action, **event})
    assert invoked.function_error is None, invoked.payload
    return invoked.json()


# --- the environment ---------------------------------------------------------------------------


def test_the_variables_are_awss_set_and_no_others(lambda_client: Any, probe: str) -> None:
    env = ask(lambda_client, probe, "env")
    assert set(env) - {"_X_AMZN_TRACE_ID"} == AWS_PYTHON_VARIABLES | GUREUM_VARIABLES
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    # Values as observed on AWS (spec 3.2).
    assert env["PWD"] == "/var/task"
    assert env["LC_CTYPE"] == "C.UTF-8"
    assert env["SHLVL"] == "0"
    assert env["PYTHONPATH"] == "/var/runtime"
    host, port = env["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    assert (env["_AWS_XRAY_DAEMON_ADDRESS"], env["_AWS_XRAY_DAEMON_PORT"]) == (host, "2000")
    assert port == "2000"
    assert env["AWS_SESSION_TOKEN"]
    assert "NODE_PATH" not in env, "AWS sets NODE_PATH for Node.js runtimes only"


def test_a_provided_runtime_has_no_language_paths_and_bash_as_bin_sh(
    lambda_client: Any, function_name: str
) -> None:
    # AL2023 (provided.al2023's OS) links /bin/sh to bash; Debian hosts link it to dash.
    script = """#!/bin/sh
set -eu
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
headers=$(mktemp)
while true; do
  body=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i 'Lambda-Runtime-Aws-Request-Id' "$headers" | tr -d '\\r' | cut -d' ' -f2)
  answer="{\\"sh\\": \\"$(readlink /bin/sh)\\", \\"bash\\": \\"${BASH_VERSION:-}\\",\
 \\"pythonpath\\": \\"${PYTHONPATH:-unset}\\", \\"node_path\\": \\"${NODE_PATH:-unset}\\",\
 \\"execution_env\\": \\"${AWS_EXECUTION_ENV:-unset}\\"}"
  curl -sS -X POST "$api/invocation/$id/response" -d "$answer" > /dev/null
done
"""
    create(
        lambda_client,
        function_name,
        Runtime="provided.al2023",
        Handler="unused",
        Code={"ZipFile": bootstrap_package(script)},
    )
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.function_error is None, invoked.payload
    seen = invoked.json()
    assert seen["sh"] == "bash"
    assert seen["bash"], "/bin/sh runs bash"
    assert seen["pythonpath"] == "unset"
    assert seen["node_path"] == "unset"
    assert seen["execution_env"] == "unset"  # spec 3.2: not set for provided* runtimes


def test_opt_exists_and_is_empty_without_layers(lambda_client: Any, probe: str) -> None:
    assert ask(lambda_client, probe, "listdir", path="/opt") == []


def test_resource_limits_are_awss(lambda_client: Any, probe: str) -> None:
    limits = ask(lambda_client, probe, "rlimits")
    # "File descriptors: 1,024" and "Execution processes/threads: 1,024"
    # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
    assert limits["RLIMIT_NOFILE"] == [1024, 1024]
    assert limits["RLIMIT_NPROC"] == [1024, 1024]
    # Undocumented by AWS: Linux's defaults, never the server's own (root's) limits.
    assert limits["RLIMIT_CORE"] == [0, 0]
    assert limits["RLIMIT_MEMLOCK"] == [65536, 65536]


# --- the runtime's paths -----------------------------------------------------------------------


def test_the_python_runtime_is_under_var_lang_as_on_aws(lambda_client: Any, probe: str) -> None:
    # AWS's Python runtimes run /var/lang/bin/python3.X with the standard library under
    # /var/lang/lib (spec 3.2: PATH and LD_LIBRARY_PATH start with /var/lang). Sandboxed, gureum
    # mounts the interpreter's prefix there; without isolation the host's paths show instead.
    seen = ask(lambda_client, probe, "python")
    assert seen == {
        "executable": "/var/lang/bin/python3.12",
        "prefix": "/var/lang",
        "json": "/var/lang/lib/python3.12/json/__init__.py",
    }


def test_a_traceback_shows_the_standard_library_under_var_lang(
    lambda_client: Any, probe: str
) -> None:
    invoked = invoke(lambda_client, probe, {"action": "raise"})
    assert invoked.function_error == "Unhandled"
    error = invoked.json()
    assert error["errorType"] == "JSONDecodeError"
    frames = error["stackTrace"]
    assert frames[0].startswith('  File "/var/task/index.py", line ')
    library = frames[1:]
    assert library, frames
    for frame in library:
        assert frame.startswith('  File "/var/lang/lib/python3.12/json/'), frame
        # The source line is there: the file is where the traceback says.
        assert len(frame.rstrip("\n").split("\n")) == 2, frame


# --- the log and the tail ----------------------------------------------------------------------


def test_a_leading_newline_is_an_empty_event_then_the_text(
    server: GureumProcess, lambda_client: Any, probe: str
) -> None:
    # Each line of a function's output is one log event (spec 6.2); an empty line is one too.
    invoked = invoke(lambda_client, probe, {"action": "print", "text": "\nx"}, LogType="Tail")
    assert invoked.log is not None
    assert f"Version: $LATEST\n\nx\nEND RequestId: {invoked.request_id}\n" in invoked.log
    messages = stream_messages(server, f"/aws/lambda/{probe}")
    start = messages.index(f"START RequestId: {invoked.request_id} Version: $LATEST\n")
    end = f"END RequestId: {invoked.request_id}\n"
    assert messages[start + 1 : start + 4] == ["\n", "x\n", end]


def test_the_tail_starts_at_start_without_init_start(
    server: GureumProcess, lambda_client: Any, probe: str
) -> None:
    # spec 10.4: the tail is the invocation's START .. REPORT; INIT_START stays in the stream.
    invoked = invoke(lambda_client, probe, {"action": "env"}, LogType="Tail")
    assert invoked.log is not None
    assert invoked.log.startswith(f"START RequestId: {invoked.request_id} Version: $LATEST\n")
    assert "INIT_START" not in invoked.log
    assert stream_messages(server, f"/aws/lambda/{probe}")[0].startswith("INIT_START ")
