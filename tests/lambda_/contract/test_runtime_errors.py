"""Function errors (spec 9.3, 9.4, 6.1): each comes back as HTTP 200, `FunctionError: Unhandled`
and AWS's exact payload; after a crash or a timeout the environment re-initializes and keeps /tmp.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.functions import bootstrap_package, invoke, package
from tests.support.packages import zip_of

RAISES = 'def handler(event, context):\n    raise ValueError("boom")\n'
RAISES_IN_EXPRESSION = 'def handler(event, context):\n    return {"x": 1 / event["zero"]}\n'

CARETS = (
    "gureum's runtime formats FrameSummary objects, so Python 3.11+ adds `~~^~~` lines to "
    "stackTrace; awslambdaric formats plain tuples and never does (guest/runtime.py user_frames)"
)
SYNTAX_TRACE = (
    "gureum's runtime indents the syntax error's source line by 8 spaces and strips it; "
    "awslambdaric writes 4 spaces then the line unstripped (guest/runtime.py load_handler)"
)

LIMIT_ESCAPE = (
    "the runtime starts before it is moved into its memory cgroup (guest/zygote.py keeper: "
    "join_cgroups after fork, 'off-path cgroup join'), and the move often lands a second or "
    "more later; cgroup v1 does not move charges, so what it allocates meanwhile is neither "
    "limited nor counted: about every other cold start a 128 MB function keeps 160 MB taken "
    "at import, and REPORT says Max Memory Used: 0-1 MB"
)

# One function that can be told to crash in each way; /tmp and a global tell a reset from reuse.
CRASHES = """\
import os
import time

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if "write" in event:
        with open("/tmp/survivor", "w") as handle:
            handle.write(event["write"])
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "exit" in event:
        os._exit(event["exit"])
    if "kill" in event:  # the kernel's SIGKILL at a hard CPU limit (pid 1 cannot kill itself)
        import resource
        usage = resource.getrusage(resource.RUSAGE_SELF)
        limit = int(usage.ru_utime + usage.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit))
        while True:
            pass
    if "allocate_mb" in event:
        hold = b"\\x01" * (event["allocate_mb"] * 1024 * 1024)
        return len(hold)
    if "respond_bytes" in event:
        return "x" * event["respond_bytes"]
    seen = None
    if os.path.exists("/tmp/survivor"):
        with open("/tmp/survivor") as handle:
            seen = handle.read()
    return {"count": COUNT, "seen": seen}
"""


def code(source: str) -> dict[str, bytes]:
    return {"ZipFile": zip_of({"index.py": source})}


def assert_reset_kept_tmp(client: Any, name: str, written: str) -> None:
    """The invocation after a crash runs in a fresh runtime (globals reset), /tmp intact."""
    after = invoke(client, name, {}, LogType="Tail")
    assert (after.status, after.function_error) == (200, None), after.payload
    assert after.json() == {"count": 1, "seen": written}
    # A suppressed init (spec 6.1) is folded into Duration, not reported as Init Duration.
    assert after.log is not None
    assert "Init Duration" not in after.log


# --- handler exceptions (spec 9.3) -----------------------------------------------------------


def test_handler_exception(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(RAISES))
    invoked = invoke(lambda_client, function_name, {}, LogType="Tail")
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "requestId": invoked.request_id,
        "stackTrace": [
            '  File "/var/task/index.py", line 2, in handler\n    raise ValueError("boom")\n'
        ],
    }
    # AWS's Python runtime logs the error as one record, `\r` between lines, U+00A0 indents.
    assert invoked.log is not None
    nbsp = "\u00a0"
    assert (
        "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
        f'{nbsp * 2}File "/var/task/index.py", line 2, in handler\r'
        f'{nbsp * 4}raise ValueError("boom")\n'
    ) in invoked.log


def test_handler_exception_stack_trace_has_no_caret_lines(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    """awslambdaric formats frames from plain tuples, so Python 3.11+'s `^^^^` lines never show."""
    make_function(Code=code(RAISES_IN_EXPRESSION))
    invoked = invoke(lambda_client, function_name, {"zero": 0})
    assert invoked.function_error == "Unhandled"
    error = invoked.json()
    assert (error["errorType"], error["errorMessage"]) == ("ZeroDivisionError", "division by zero")
    assert error["stackTrace"] == [
        '  File "/var/task/index.py", line 2, in handler\n    return {"x": 1 / event["zero"]}\n'
    ]


def test_an_error_leaves_the_environment_warm(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    source = CRASHES.replace(
        "    seen = None\n",
        '    if event.get("raise"):\n        raise RuntimeError("x")\n    seen = None\n',
    )
    make_function(Code=code(source))
    assert invoke(lambda_client, function_name, {"raise": True}).function_error == "Unhandled"
    # A handled exception is not a crash: the same runtime serves the next call.
    assert invoke(lambda_client, function_name, {}).json() == {"count": 2, "seen": None}


# --- platform errors (spec 9.4) ------------------------------------------------------------------


def test_timeout(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES), Timeout=1)
    began = time.monotonic()
    invoked = invoke(lambda_client, function_name, {"write": "before the timeout", "sleep": 30})
    assert time.monotonic() - began < 5
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {invoked.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert_reset_kept_tmp(lambda_client, function_name, "before the timeout")


def test_runtime_exit_with_a_status(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES))
    invoked = invoke(lambda_client, function_name, {"write": "before the exit", "exit": 3})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: exit status 3"
        ),
    }
    assert_reset_kept_tmp(lambda_client, function_name, "before the exit")


def test_a_kill_that_is_not_out_of_memory_is_an_exit_error(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES), MemorySize=128)
    invoked = invoke(lambda_client, function_name, {"write": "before the kill", "kill": True})
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: signal: killed"
        ),
    }
    assert_reset_kept_tmp(lambda_client, function_name, "before the kill")


def test_nodejs_out_of_memory(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    source = (
        "exports.handler = async () => {\n"
        "  const hold = [];\n"
        "  for (let i = 0; i < 40; i++) hold.push(Buffer.alloc(10 * 1024 * 1024, 1));\n"
        "  return hold.length;\n"
        "};\n"
    )
    make_function(Runtime="nodejs20.x", Code={"ZipFile": zip_of({"index.js": source})})
    invoked = invoke(lambda_client, function_name, {})
    assert invoked.function_error == "Unhandled"
    assert invoked.json() == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: signal: killed"
        ),
    }


def test_runtime_exit_without_a_reason(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES))
    invoked = invoke(lambda_client, function_name, {"write": "before the exit", "exit": 0})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited without providing a reason"
        ),
    }
    assert_reset_kept_tmp(lambda_client, function_name, "before the exit")


ALLOCATES_AT_IMPORT = """\
HOLD = b"\\x01" * (160 * 1024 * 1024)

def handler(event, context):
    return len(HOLD)
"""


def max_memory_used(log: str | None) -> int:
    assert log is not None
    return int(log.split("Max Memory Used: ")[1].split(" MB")[0])


def test_out_of_memory_kills_the_runtime(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # The limit holds for every environment from its first moment: ten fresh ones that take
    # 160 MB of 128 while they initialize are all killed.
    for attempt in range(10):
        name = f"{function_name}-{attempt}"
        make_function(name=name, Code=code(ALLOCATES_AT_IMPORT), MemorySize=128)
        invoked = invoke(lambda_client, name, {}, LogType="Tail")
        assert invoked.function_error == "Unhandled", (attempt, invoked.payload, invoked.log)
        error = invoked.json()
        assert error["errorType"] == "Runtime.OutOfMemory"
        assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
        assert invoked.log is not None
        assert "Status: error\tError Type: Runtime.OutOfMemory\t\n" in invoked.log
    # Going over the limit in an invocation: AWS's payload (current Python and Node.js
    # runtimes: Runtime.OutOfMemory, with the message a SIGKILL always has), its log lines,
    # then a reset that keeps /tmp.
    make_function(Code=code(CRASHES), MemorySize=128)
    invoked = invoke(
        lambda_client,
        function_name,
        {"write": "before the oom", "allocate_mb": 300},
        LogType="Tail",
    )
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: signal: killed"
        ),
    }
    assert invoked.log is not None
    assert (
        f"RequestId: {invoked.request_id} Error: Runtime exited with error: signal: killed\n"
        "Runtime.OutOfMemory\n"
    ) in invoked.log
    report = invoked.log.split("REPORT RequestId: ")[1]
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB\t" in report
    assert report.endswith("Status: error\tError Type: Runtime.OutOfMemory\t\n")
    assert_reset_kept_tmp(lambda_client, function_name, "before the oom")
    # What a function takes from its first moment is what REPORT says it used.
    roomy = f"{function_name}-roomy"
    make_function(name=roomy, Code=code(ALLOCATES_AT_IMPORT), MemorySize=512)
    assert max_memory_used(invoke(lambda_client, roomy, {}, LogType="Tail").log) >= 160


def test_memory_within_the_limit_is_fine(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES), MemorySize=512)
    invoked = invoke(lambda_client, function_name, {"allocate_mb": 300}, LogType="Tail")
    assert (invoked.status, invoked.function_error) == (200, None)
    assert invoked.json() == 300 * 1024 * 1024
    assert max_memory_used(invoked.log) <= 512  # >= 300: test_out_of_memory_kills_the_runtime


def test_response_too_large(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES), MemorySize=512)
    invoked = invoke(lambda_client, function_name, {"respond_bytes": 7_000_000})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorMessage": (
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        ),
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert invoke(lambda_client, function_name, {}).function_error is None


def test_response_under_the_limit_is_returned(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code(CRASHES), MemorySize=512)
    invoked = invoke(lambda_client, function_name, {"respond_bytes": 6_000_000})
    assert (invoked.status, invoked.function_error) == (200, None)
    assert len(invoked.payload) == 6_000_002


# --- init failures (spec 9.3, 6.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "error_type", "message"),
    [
        (
            "import nosuchmod\n\ndef handler(event, context):\n    return 1\n",
            "Runtime.ImportModuleError",
            "Unable to import module 'index': No module named 'nosuchmod'",
        ),
        (
            "def other(event, context):\n    return 1\n",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'index'",
        ),
    ],
    ids=["missing-module", "missing-handler"],
)
def test_init_failure(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
    source: str,
    error_type: str,
    message: str,
) -> None:
    make_function(Code=code(source))
    # The environment is discarded: the second call runs Init again and fails the same way.
    for _ in range(2):
        invoked = invoke(lambda_client, function_name, {})
        assert (invoked.status, invoked.function_error) == (200, "Unhandled")
        assert invoked.json() == {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "",
            "stackTrace": [],
        }


SYNTAX_ERROR = "def handler(event, context):\n    return (\n"


def _syntax_error() -> SyntaxError:
    try:
        compile(SYNTAX_ERROR, "/var/task/index.py", "exec")
    except SyntaxError as error:
        return error
    raise AssertionError("the source compiled")


def test_init_failure_syntax_error(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # python3.11, the interpreter running these tests, so that Python's message is known here.
    make_function(Code=code(SYNTAX_ERROR), Runtime="python3.11")
    invoked = invoke(lambda_client, function_name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    error = invoked.json()
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"] == f"Syntax error in module 'index': {_syntax_error()}"
    assert error["requestId"] == ""


def test_syntax_error_stack_trace_is_awslambdarics(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    """awslambdaric: `'  File "%s" Line %s\\n    %s' % (filename, lineno, text)`, text unstripped.

    The expected frame is what awslambdaric 4.2.2 itself answers for this module inside gureum.
    """
    source = "def handler(event, context:\n    return 1\n"
    make_function(Code=code(source), Runtime="python3.11")
    error = invoke(lambda_client, function_name, {}).json()
    assert error["stackTrace"] == [
        '  File "/var/task/index.py" Line 1\n    def handler(event, context:\n'
    ]


def test_init_failure_exception_at_import(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=code('raise Exception("Runtime startup fails")\n'))
    invoked = invoke(lambda_client, function_name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    error = invoked.json()
    assert error["errorType"] == "Exception"
    assert error["errorMessage"] == "Runtime startup fails"
    assert error["requestId"] == ""
    # importlib's frames, then the module's; never the runtime's own.
    assert error["stackTrace"][-1] == (
        '  File "/var/task/index.py", line 1, in <module>\n'
        '    raise Exception("Runtime startup fails")\n'
    )
    assert not any("gureum" in frame or "runtime.py" in frame for frame in error["stackTrace"])


def test_bootstrap_not_found(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(
        Runtime="provided.al2023",
        Handler="unused",
        Code={"ZipFile": package({"README.txt": "no bootstrap here\n"})},
    )
    invoked = invoke(lambda_client, function_name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: exit status 127"
        ),
    }


def test_custom_runtime_exiting_during_an_invocation(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    script = (
        "#!/bin/sh\n"
        'curl -sS "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next" >/dev/null\n'
        "exit 2\n"
    )
    make_function(
        Runtime="provided.al2023", Handler="unused", Code={"ZipFile": bootstrap_package(script)}
    )
    invoked = invoke(lambda_client, function_name, {})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.json() == {
        "errorType": "Runtime.ExitError",
        "errorMessage": (
            f"RequestId: {invoked.request_id} Error: Runtime exited with error: exit status 2"
        ),
    }
