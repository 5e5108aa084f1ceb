"""Runtimes (issue 3, "Runtimes"): custom runtimes in any language, layers, AWS's own Python
runtime client unmodified, Node.js, and Python on the minor version the function names.
"""

from __future__ import annotations

import base64
import json
import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import (
    awslambdaric_layer,
    bootstrap_package,
    error_of,
    invoke,
    package,
)
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

# The custom runtime of AWS's tutorial: a shell script that speaks the Runtime API with curl.
CURL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  REQUEST_ID="$(tr -d '\\r' < "$HEADERS" | sed -n 's/^lambda-runtime-aws-request-id: //Ip')"
  rm -f "$HEADERS"
  echo "serving $REQUEST_ID"
  curl -sS -o /dev/null -X POST "$API/invocation/$REQUEST_ID/response" \\
    -d "{\\"event\\": $EVENT, \\"requestId\\": \\"$REQUEST_ID\\", \\"handler\\": \\"$_HANDLER\\"}"
done
"""

AWSLAMBDARIC_BOOTSTRAP = """\
#!/bin/sh
cd $LAMBDA_TASK_ROOT
exec /usr/bin/python3 -m awslambdaric index.handler
"""

RIC_HANDLER = """\
import sys

def handler(event, context):
    if event.get("fail"):
        raise KeyError("no such thing")
    print("hello from awslambdaric")
    client_context = context.client_context
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "invoked_arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "custom": client_context.custom if client_context else None,
        "python": list(sys.version_info[:2]),
    }
"""

NODE_ASYNC = """\
exports.handler = async (event, context) => {
  console.log("hello from node");
  return { event, requestId: context.awsRequestId, arn: context.invokedFunctionArn };
};
"""

NODE_CALLBACK = """\
exports.handler = (event, context, callback) => {
  console.log("hello from a callback");
  setTimeout(() => callback(null, { event, requestId: context.awsRequestId }), 5);
};
"""

CONTEXT = """\
def handler(event, context):
    client_context = context.client_context
    return {
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "identity": [
            context.identity.cognito_identity_id,
            context.identity.cognito_identity_pool_id,
        ],
        "client_context": [
            client_context.custom,
            client_context.env,
            client_context.client.app_title,
            client_context.client.installation_id,
        ],
        "remaining": type(context.get_remaining_time_in_millis()).__name__,
    }
"""

CARETS = (
    "gureum's runtime formats FrameSummary objects, so Python 3.11+ adds `~~^~~` lines to "
    "stackTrace; awslambdaric formats plain tuples and never does (runtime.py user_frames)"
)
SYNTAX_TRACE = (
    "gureum's runtime indents the syntax error's source line by 8 spaces and strips it; "
    "awslambdaric writes 4 spaces then the line as Python gives it (runtime.py load_handler)"
)
CONTEXT_OBJECTS = (
    "gureum's runtime gives context.client_context as a dict and context.identity as None; "
    "awslambdaric gives objects with attributes (ClientContext/Client/CognitoIdentity), so "
    "code written for AWS (`context.client_context.custom`) fails (runtime.py Context)"
)

VERSION = "import sys\n\ndef handler(event, context):\n    return list(sys.version_info[:2])\n"


# --- custom runtimes ---------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"], ids=["al2023", "al2"])
def test_shell_bootstrap_with_curl(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    runtime: str,
) -> None:
    make_function(
        Runtime=runtime,
        Handler="function.handler",
        Code={"ZipFile": bootstrap_package(CURL_BOOTSTRAP)},
    )
    for event in ({"hello": "world"}, {"second": [1, 2]}):
        invoked = invoke(lambda_client, function_name, event, LogType="Tail")
        assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
        assert invoked.json() == {
            "event": event,
            "requestId": invoked.request_id,
            "handler": "function.handler",
        }
        assert invoked.log is not None
        assert f"serving {invoked.request_id}\n" in invoked.log


def test_bootstrap_from_a_layer(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    layer = lambda_client.publish_layer_version(
        LayerName=f"bootstrap-{function_name}"[:64],
        Content={"ZipFile": bootstrap_package(CURL_BOOTSTRAP)},
    )
    make_function(
        Runtime="provided.al2023",
        Handler="function.handler",
        Layers=[layer["LayerVersionArn"]],
        Code={"ZipFile": package({"function.sh": "# nothing to see\n"})},
    )
    invoked = invoke(lambda_client, function_name, {"from": "layer"})
    assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
    assert invoked.json()["event"] == {"from": "layer"}


def test_custom_runtime_has_no_execution_env(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    script = CURL_BOOTSTRAP.replace(
        '\\"handler\\": \\"$_HANDLER\\"', '\\"env\\": \\"${AWS_EXECUTION_ENV:-unset}\\"'
    )
    make_function(
        Runtime="provided.al2023", Handler="x", Code={"ZipFile": bootstrap_package(script)}
    )
    assert invoke(lambda_client, function_name, {}).json()["env"] == "unset"


def test_custom_runtime_starts_with_no_signal_ignored(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # gureum's sandboxes are forked from Python, which ignores SIGPIPE and SIGXFSZ, and ignored
    # signals survive exec; a runtime must start with the defaults. (bash as pid 1 ignores
    # SIGQUIT itself: the mask is checked for Python's two only.)
    script = CURL_BOOTSTRAP.replace(
        '\\"handler\\": \\"$_HANDLER\\"',
        '\\"ignored\\": \\"$(grep SigIgn /proc/$$/status | cut -f2)\\"',
    )
    assert script != CURL_BOOTSTRAP
    make_function(
        Runtime="provided.al2023", Handler="x", Code={"ZipFile": bootstrap_package(script)}
    )
    ignored = int(invoke(lambda_client, function_name, {}).json()["ignored"], 16)
    assert ignored & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)) == 0


# --- layers for Python ---------------------------------------------------------------------------


def test_python_layer_module_is_importable(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    layer = lambda_client.publish_layer_version(
        LayerName=f"shared-{function_name}"[:64],
        Content={"ZipFile": zip_of({"python/shared_thing.py": "ANSWER = 42\n"})},
        CompatibleRuntimes=["python3.12"],
    )
    source = (
        "import shared_thing\n\n"
        "def handler(event, context):\n"
        "    return {'answer': shared_thing.ANSWER, 'file': shared_thing.__file__}\n"
    )
    make_function(Layers=[layer["LayerVersionArn"]], Code={"ZipFile": zip_of({"index.py": source})})
    assert invoke(lambda_client, function_name, {}).json() == {
        "answer": 42,
        "file": "/opt/python/shared_thing.py",
    }


def test_layers_are_extracted_in_order(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    arns = [
        lambda_client.publish_layer_version(
            LayerName=f"order-{index}-{function_name}"[:64],
            Content={"ZipFile": zip_of({"python/which.py": f"LAYER = {index}\n"})},
        )["LayerVersionArn"]
        for index in (1, 2)
    ]
    source = "import which\n\ndef handler(event, context):\n    return which.LAYER\n"
    make_function(Layers=arns, Code={"ZipFile": zip_of({"index.py": source})})
    # A later layer's file replaces an earlier one's at the same path.
    assert invoke(lambda_client, function_name, {}).json() == 2


# --- awslambdaric, unmodified -----------------------------------------------------------------


@pytest.fixture(scope="module")
def awslambdaric_arn(lambda_client: Any) -> str:
    layer = lambda_client.publish_layer_version(
        LayerName="awslambdaric", Content={"ZipFile": awslambdaric_layer()}
    )
    arn: str = layer["LayerVersionArn"]
    return arn


@pytest.fixture
def ric_function(
    make_function: Callable[..., dict[str, Any]], function_name: str, awslambdaric_arn: str
) -> Callable[[str], str]:
    def create(source: str) -> str:
        make_function(
            Runtime="provided.al2023",
            Handler="index.handler",
            Layers=[awslambdaric_arn],
            Environment={"Variables": {"PYTHONPATH": "/opt/python"}},
            Timeout=9,
            Code={
                "ZipFile": package(
                    {"bootstrap": AWSLAMBDARIC_BOOTSTRAP, "index.py": source},
                    executables=("bootstrap",),
                )
            },
        )
        return function_name

    return create


def test_awslambdaric_serves_invocations(
    lambda_client: Any, ric_function: Callable[[str], str]
) -> None:
    name = ric_function(RIC_HANDLER)
    custom = {"custom": {"tenant": "blue"}, "client": {}, "env": {}}
    encoded = base64.b64encode(json.dumps(custom).encode()).decode()
    for _ in range(2):  # cold, then warm
        invoked = invoke(
            lambda_client, name, {"hello": "ric"}, LogType="Tail", ClientContext=encoded
        )
        assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
        result = invoked.json()
        assert result["event"] == {"hello": "ric"}
        assert result["request_id"] == invoked.request_id
        assert result["invoked_arn"].endswith(f":function:{name}")
        assert 7000 < result["remaining"] <= 9000
        assert result["custom"] == {"tenant": "blue"}
        assert result["python"] == [3, 11]
        assert invoked.log is not None
        assert "hello from awslambdaric\n" in invoked.log
        assert f"END RequestId: {invoked.request_id}\n" in invoked.log


def test_awslambdaric_exception_payload(
    lambda_client: Any, ric_function: Callable[[str], str]
) -> None:
    name = ric_function(RIC_HANDLER)
    invoked = invoke(lambda_client, name, {"fail": True})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorMessage": "'no such thing'",
        "errorType": "KeyError",
        "requestId": invoked.request_id,
        "stackTrace": [
            '  File "/var/task/index.py", line 5, in handler\n    raise KeyError("no such thing")\n'
        ],
    }
    # The runtime reported the error and goes on: the next call is served warm.
    assert invoke(lambda_client, name, {}).function_error is None


def test_awslambdaric_init_error(lambda_client: Any, ric_function: Callable[[str], str]) -> None:
    name = ric_function("import nosuchmod\n")
    invoked = invoke(lambda_client, name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorMessage": "Unable to import module 'index': No module named 'nosuchmod'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


@pytest.mark.parametrize(
    "source",
    [
        'def handler(event, context):\n    raise ValueError("boom")\n',
        "import nosuchmod\n",
        "def other(event, context):\n    return 1\n",
        "def handler(event, context):\n    return (\n",
        "def handler(event, context):\n    return {1, 2}\n",
        pytest.param(
            'def handler(event, context):\n    return {"x": 1 / event["zero"]}\n',
        ),
        pytest.param(
            "def handler(event, context:\n    return 1\n",
        ),
    ],
    ids=[
        "exception",
        "missing-module",
        "missing-handler",
        "indented-syntax-error",
        "unserializable-result",
        "exception-in-a-subexpression",
        "top-level-syntax-error",
    ],
)
def test_builtin_runtime_errors_match_awslambdaric(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    ric_function: Callable[[str], str],
    source: str,
) -> None:
    """A caller cannot tell gureum's Python runtime from AWS's (same Python minor, 3.11)."""
    ric = invoke(lambda_client, ric_function(source), {}).json()
    builtin_name = f"{function_name}-builtin"
    make_function(
        name=builtin_name, Runtime="python3.11", Code={"ZipFile": zip_of({"index.py": source})}
    )
    builtin = invoke(lambda_client, builtin_name, {}).json()
    ric.pop("requestId")
    builtin.pop("requestId")
    assert builtin == ric


def test_builtin_context_object_matches_awslambdaric(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    ric_function: Callable[[str], str],
) -> None:
    document = {"client": {"app_title": "t", "installation_id": "i"}, "custom": {"k": 1}, "env": {}}
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    ric = invoke(lambda_client, ric_function(CONTEXT), {}, ClientContext=encoded)
    assert ric.function_error is None, ric.payload
    builtin_name = f"{function_name}-builtin"
    make_function(
        name=builtin_name, Runtime="python3.11", Code={"ZipFile": zip_of({"index.py": CONTEXT})}
    )
    builtin = invoke(lambda_client, builtin_name, {}, ClientContext=encoded)
    assert builtin.function_error is None, builtin.payload
    assert builtin.json() == ric.json()


# --- Node.js -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "line"),
    [(NODE_ASYNC, "hello from node"), (NODE_CALLBACK, "hello from a callback")],
    ids=["async", "callback"],
)
def test_nodejs_handler(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    source: str,
    line: str,
) -> None:
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of({"index.js": source})})
    invoked = invoke(lambda_client, function_name, {"n": 1}, LogType="Tail")
    assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
    result = invoked.json()
    assert result["event"] == {"n": 1}
    assert result["requestId"] == invoked.request_id
    assert invoked.log is not None
    assert line in invoked.log
    assert f"START RequestId: {invoked.request_id} Version: $LATEST\n" in invoked.log


def test_nodejs_execution_env(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    source = "exports.handler = async () => process.env.AWS_EXECUTION_ENV;\n"
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of({"index.js": source})})
    assert invoke(lambda_client, function_name, {}).json() == "AWS_Lambda_nodejs20.x"


# --- which runtimes ------------------------------------------------------------------------------


def test_unsupported_runtime_names_the_ones_that_run(
    lambda_client: Any, server: GureumProcess, function_name: str
) -> None:
    runnable = server.health()["runtimes"]
    assert {"python3.12", "provided.al2023", "nodejs20.x"} <= set(runnable)
    status, code, message = error_of(
        lambda_client.create_function,
        FunctionName=function_name,
        Runtime="java21",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="example.Handler::handleRequest",
        Code={"ZipFile": zip_of()},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "java21" in message
    for runtime in runnable:
        assert runtime in message


@pytest.mark.parametrize("minor", [9, 13])
def test_python_minor_version_matches_the_runtime(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    minor: int,
) -> None:
    make_function(Runtime=f"python3.{minor}", Code={"ZipFile": zip_of({"index.py": VERSION})})
    assert invoke(lambda_client, function_name, {}).json() == [3, minor]


# --- Node.js ES modules (as AWS's Node.js 18+ runtimes load them) ---------------------------------

ESM_HANDLER = """\
const started = await Promise.resolve("top-level await ran");
export const handler = async (event) => ({ started, event, kind: typeof require });
"""


@pytest.mark.parametrize(
    "files",
    [
        {"index.mjs": ESM_HANDLER},
        {"index.js": ESM_HANDLER, "package.json": '{"type": "module"}'},
    ],
    ids=["mjs", "type-module"],
)
def test_nodejs_es_module_handlers(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    files: dict[str, str],
) -> None:
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of(files)})
    invoked = invoke(lambda_client, function_name, {"n": 1})
    assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
    # `require` does not exist in an ES module: it really was loaded as one.
    assert invoked.json() == {
        "started": "top-level await ran",
        "event": {"n": 1},
        "kind": "undefined",
    }


def test_nodejs_cjs_beside_a_module_package(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    files = {
        "index.cjs": "exports.handler = async () => typeof require;\n",
        "package.json": '{"type": "module"}',
    }
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of(files)})
    assert invoke(lambda_client, function_name, {}).json() == "function"


def test_nodejs_es_module_missing_import_is_an_import_error(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    source = 'import nothing from "no-such-package";\nexport const handler = async () => 1;\n'
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of({"index.mjs": source})})
    error = invoke(lambda_client, function_name, {}).json()
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith("Error: Cannot find package 'no-such-package'")


# --- AWS_LAMBDA_EXEC_WRAPPER (the mechanism observability layers use) ---------------------------

WRAPPER = """\
#!/bin/sh
# Records what it was given, changes the environment, then runs the runtime as AWS's wrappers do.
export WRAPPED_ARGS="$*"
export WRAPPED_BY=wrapper
exec "$@"
"""
REPORTS_WRAPPING_PY = """\
import os

def handler(event, context):
    print("logged through the wrapped runtime")
    return {"by": os.environ.get("WRAPPED_BY"), "args": os.environ.get("WRAPPED_ARGS"),
            "event": event}
"""
REPORTS_WRAPPING_JS = """\
exports.handler = async (event) => ({
  by: process.env.WRAPPED_BY, args: process.env.WRAPPED_ARGS, event,
});
"""


@pytest.mark.parametrize(
    ("runtime", "files"),
    [
        ("python3.12", {"index.py": REPORTS_WRAPPING_PY}),
        ("nodejs20.x", {"index.js": REPORTS_WRAPPING_JS}),
    ],
    ids=["python", "node"],
)
def test_exec_wrapper_runs_the_runtime(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    runtime: str,
    files: dict[str, str],
) -> None:
    code = package({**files, "wrapper.sh": WRAPPER}, executables=("wrapper.sh",))
    make_function(
        Runtime=runtime,
        Code={"ZipFile": code},
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}},
    )
    for n in range(2):  # a cold start, then a warm invoke of the same wrapped runtime
        invoked = invoke(lambda_client, function_name, {"n": n}, LogType="Tail")
        assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
        result = invoked.json()
        assert result["by"] == "wrapper"
        assert result["event"] == {"n": n}
        # The runtime's own command line: its interpreter, then the runtime's program.
        assert result["args"].split()[-1] in (
            "/var/runtime/bootstrap.py",
            "/var/runtime/node_runtime.js",
        )
    assert invoked.log is not None
    if runtime.startswith("python"):
        assert "logged through the wrapped runtime" in invoked.log


def test_a_missing_exec_wrapper_fails_init_with_exit_status_127(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/no-such-wrapper"}})
    invoked = invoke(lambda_client, function_name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: exit status 127"
        ),
    }
