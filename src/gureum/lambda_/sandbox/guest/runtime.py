"""gureum's built-in Python runtime: runs a handler inside an execution environment.

This file runs in the sandbox, under whatever Python the function's runtime names (3.9 and up),
so it imports nothing from gureum and only the standard library. It speaks the Lambda Runtime
API over HTTP exactly as any runtime client does (spec 9): `next`, `response`, `error`,
`init/error`, and reports errors in the shapes AWS's own Python runtime uses (spec 9.3), so a
caller cannot tell it from `awslambdaric`.

The zygote imports this module before forking, so a new environment pays for none of it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]

# A descriptor of a connection to the Runtime API made by gureum (set by zygote.py when this
# runtime runs in the process it forked); None: connect to AWS_LAMBDA_RUNTIME_API.
CHANNEL: int | None = None
# In a SnapStart template (set by zygote.py): serves restore orders after Init, and returns only
# in a restored environment, whose Runtime API channel is then CHANNEL's descriptor.
SNAPSHOT: Callable[[], None] | None = None
SNAP_START = "snap-start"
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_ERROR_INDENT = "\u00a0"
# LoggingConfig.LogFormat=JSON: the platform sets AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL,
# and the runtime writes each `logging` record as one JSON line in awslambdaric's shape
# (lambda_runtime_log_utils.JsonFormatter): timestamp to the second, Python's level names.
_JSON_TIME = "%Y-%m-%dT%H:%M:%SZ"
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "aws_request_id",
    "message",
    "asctime",
}


class _Current:
    """The request being served, for the log formatter."""

    request_id = ""


class RuntimeApi:
    """A keep-alive HTTP/1.1 client for `AWS_LAMBDA_RUNTIME_API`, on a bare socket.

    The warm invoke path crosses it twice per invocation; http.client's header parsing (through
    the email package) costs more than the rest of the round trip, and the platform's answers
    are simple: a status line, a few headers, a Content-Length body.
    """

    def __init__(self, address: str, channel: int | None = None) -> None:
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._host = address.encode()
        self._socket: socket.socket | None = None
        self._held = b""  # answers not sent yet (`_hold`)
        self._pending = 0  # how many replies to them are still to be read
        if channel is not None:  # a connection gureum made for us (zygote.become_runtime)
            self._socket = socket.socket(fileno=channel)
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._socket is None:
            # A numeric address (AWS's is always 127.0.0.1:9001) is connected to directly:
            # create_connection's getaddrinfo costs 3-4 ms on a sandbox's first call (measured
            # here), all of it on the cold-start path.
            try:
                family = socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET
                socket.inet_pton(family, self._address[0])
            except OSError:
                self._socket = socket.create_connection(self._address)
            else:
                self._socket = socket.socket(family, socket.SOCK_STREAM)
                self._socket.connect(self._address)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._buffer = b""
        return self._socket

    def _request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> bytes:
        lines = [f"{method} /2018-06-01/runtime{path} HTTP/1.1".encode(), b"Host: " + self._host]
        lines += [f"{name}: {value}".encode() for name, value in (headers or {}).items()]
        lines.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Sends a request (after any answer held back, see `_hold`) and reads its reply."""
        connection = self._connect()
        connection.sendall(self._held + self._request(method, path, body, headers))
        self._held, pending, self._pending = b"", self._pending, 0
        for _ in range(pending):  # their 202s: nothing to act on (nor did we before)
            self._read(connection)
        return self._read(connection)

    def _hold(self, request: bytes) -> None:
        """Keeps an answer (`response`, `error`) to send with the next request, the `next` that
        always follows it: one write and one wake-up of the platform instead of two."""
        self._held += request
        self._pending += 1

    def _read(self, connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self._buffer:
            self._receive(connection)
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._receive(connection)
        data, self._buffer = self._buffer[:length], self._buffer[length:]
        return int(status_line.split(" ", 2)[1]), headers, data

    def _receive(self, connection: socket.socket) -> None:
        chunk = connection.recv(1 << 20)
        if not chunk:
            self._socket = None
            raise ConnectionError("the Runtime API closed the connection")
        self._buffer += chunk

    def next(self) -> tuple[dict[str, str], bytes]:
        status, headers, body = self._call("GET", "/invocation/next")
        if status != 200:
            # The platform refused us (a state error): a runtime cannot recover from that.
            raise SystemExit(f"Runtime API /next answered {status}: {body[:200]!r}")
        return headers, body

    def respond(self, request_id: str, body: bytes) -> None:
        self._hold(self._request("POST", f"/invocation/{request_id}/response", body))

    def fail(self, request_id: str, error: dict[str, Any]) -> None:
        headers = {"Lambda-Runtime-Function-Error-Type": str(error.get("errorType", "Unhandled"))}
        document = json.dumps(error).encode()
        self._hold(self._request("POST", f"/invocation/{request_id}/error", document, headers))

    def fail_init(self, error: dict[str, Any], error_type: str | None = None) -> None:
        kind = error_type or str(error.get("errorType", "Unhandled"))
        headers = {"Lambda-Runtime-Function-Error-Type": kind}
        self._call("POST", "/init/error", json.dumps(error).encode(), headers)

    def restore_next(self) -> None:
        """`restore/next`: the snapshot is taken while it waits; it returns once restored.

        In a template gureum made (SNAPSHOT), the request tells the platform Init is done, and
        the restore point forks a restored environment for each order: this returns in each of
        them, which asks again on its own channel and is answered at once.
        """
        if SNAPSHOT is not None:
            connection = self._connect()
            connection.sendall(self._held + self._request("GET", "/restore/next"))
            self._held, self._pending = b"", 0
            SNAPSHOT()
            self._adopt(CHANNEL_FD)
        status, _, body = self._call("GET", "/restore/next")
        if status != 200:
            raise SystemExit(f"Runtime API /restore/next answered {status}: {body[:200]!r}")

    def _adopt(self, channel: int) -> None:
        """Speaks on `channel` from now on: a restored environment's own."""
        old = self._socket
        if old is not None:
            if old.fileno() == channel:
                old.detach()  # the descriptor is the new channel now: not ours to close
            else:
                old.close()  # the template's connection; the template keeps its own copy
        self._socket = socket.socket(fileno=channel)
        self._buffer = b""

    def fail_restore(self, error: dict[str, Any]) -> None:
        headers = {"Lambda-Runtime-Function-Error-Type": "Runtime.AfterRestoreError"}
        self._call("POST", "/restore/error", json.dumps(error).encode(), headers)


class InitError(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_document(
    error_type: str, message: str, request_id: str, trace: list[str]
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def user_frames(exc: BaseException) -> list[str]:
    """The traceback without the runtime's own frames, as AWS's runtime reports it: plain
    (file, line, name, text) entries, so Python 3.11+'s `~~^~~` markers are not added."""
    frames = [
        (f.filename, f.lineno, f.name, f.line)
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename != __file__
    ]
    return traceback.format_list(frames)  # type: ignore[arg-type]


def exception_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    return error_document(type(exc).__name__, str(exc), request_id, user_frames(exc))


def _json_logs() -> bool:
    return os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def log_error(error: dict[str, Any]) -> None:
    """Writes an error as AWS's Python runtime does: one record, `\\r` between lines (or one
    JSON line, at level ERROR)."""
    if _json_logs():
        stamp = time.strftime(_JSON_TIME, time.gmtime())
        document = {"timestamp": stamp, "level": "ERROR", **error}
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    trace = error.get("stackTrace")
    if trace:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(_ERROR_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


def load_handler(spec: str) -> Handler:
    """Imports `module.function` from the task root, with AWS's init error types."""
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        where = f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}'
        raise InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", [where]
        ) from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler  # type: ignore[no-any-return]


class _Fields:
    """An object whose attributes are the named fields of a JSON object (absent: None)."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, document: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, document.get(name))

    def __repr__(self) -> str:
        fields = ",".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"{type(self).__name__}([{fields}])"


class CognitoIdentity(_Fields):
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, document: dict[str, Any]) -> None:
        self.cognito_identity_id = document.get("cognitoIdentityId")
        self.cognito_identity_pool_id = document.get("cognitoIdentityPoolId")


class Client(_Fields):
    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )


class ClientContext(_Fields):
    """`context.client_context`, shaped as AWS's runtime shapes it (client, custom, env)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document)
        client = document.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


class Context:
    """The `context` argument, from the `next` headers and the environment (spec 9.7)."""

    def __init__(self, request_id: str, headers: dict[str, str]) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn", "")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", "0"))
        identity = _json_or_none(headers.get("lambda-runtime-cognito-identity")) or {}
        self.identity = CognitoIdentity(identity)
        context = _json_or_none(headers.get("lambda-runtime-client-context"))
        self.client_context = ClientContext(context) if isinstance(context, dict) else None

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _json_or_none(text: str | None) -> Any:
    return json.loads(text) if text else None


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _Current.request_id
        return True


class _JsonFormatter(logging.Formatter):
    """A record as awslambdaric's JSON line: its fields in its order, `extra` fields after."""

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        message = record.msg if isinstance(record.msg, dict) and not record.args else None
        document: dict[str, Any] = {
            "timestamp": time.strftime(_JSON_TIME, time.gmtime(record.created)),
            "level": logging.getLevelName(level),
            "message": message if message is not None else record.getMessage(),
            "logger": record.name,
        }
        failure = record.exc_info
        if failure and failure[0] is not None:
            document["stackTrace"] = traceback.format_tb(failure[2])
            document["errorType"] = failure[0].__name__
            document["errorMessage"] = str(failure[1])
        document["requestId"] = getattr(record, "aws_request_id", None) or None
        if failure:
            document["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in document:
                document[name] = value
        present = {name: value for name, value in document.items() if value is not None}
        return json.dumps(present, ensure_ascii=False, default=str) + "\n"


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    if _json_logs():
        formatter: logging.Formatter = _JsonFormatter()
    else:
        formatter = logging.Formatter(_LOG_FORMAT, "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    handler.terminator = ""
    root = logging.getLogger()
    root.handlers = [handler]
    # AWS_LAMBDA_LOG_LEVEL (LoggingConfig.ApplicationLogLevel) sets the root logger's level, as
    # awslambdaric does; Python has no TRACE, which counts as DEBUG.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level
    if level and isinstance(logging.getLevelName(level), int):
        root.setLevel(level)


def handle(api: RuntimeApi, handler: Handler, headers: dict[str, str], body: bytes) -> None:
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    _Current.request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    try:
        event = json.loads(body) if body else {}
    except ValueError as exc:
        error = error_document(
            "Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", request_id, []
        )
        log_error(error)
        api.fail(request_id, error)
        return
    try:
        result = handler(event, Context(request_id, headers))
    except Exception as exc:
        error = exception_document(exc, request_id)
        log_error(error)
        api.fail(request_id, error)
        return
    try:
        payload = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        error = error_document(
            "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id, []
        )
        log_error(error)
        api.fail(request_id, error)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    api.respond(request_id, payload)


CHANNEL_FD = 3  # where a restored environment's channel is (zygote.become_restored)


def _hooks(name: str) -> list[Any]:
    """The hooks registered with AWS's snapshot_restore_py (none if it was never imported)."""
    module = sys.modules.get("snapshot_restore_py")
    return list(getattr(module, name)()) if module is not None else []


def on_init_complete(api: RuntimeApi) -> None:
    """SnapStart, as AWS's runtime does it: the before-snapshot hooks in reverse order of
    registration, the snapshot (`restore/next`), then the after-restore hooks in order. A hook
    that raises fails Init (exit 64) or the restore (exit 65)."""
    try:
        hooks = _hooks("get_before_snapshot")
        module = sys.modules.get("snapshot_restore_py")
        if module is not None:
            module.get_before_snapshot().clear()
        for function, args, kwargs in reversed(hooks):
            function(*args, **kwargs)
        api.restore_next()
    except Exception as exc:
        error = exception_document(exc, "")
        log_error(error)
        api.fail_init(error, "Runtime.BeforeSnapshotError")
        sys.exit(64)
    try:
        for function, args, kwargs in _hooks("get_after_restore"):
            function(*args, **kwargs)
    except Exception as exc:
        error = exception_document(exc, "")
        log_error(error)
        api.fail_restore(error)
        sys.exit(65)


def start_debugger() -> None:
    """Debug mode (gureum's `--debug-functions`): debugpy listens inside the environment on the
    port gureum names, and with `--debug-wait` Init waits for a debugger before the handler's
    module is even imported (gureum bounds that wait). Nothing of it is left in the function's
    environment variables."""
    port = os.environ.pop("_GUREUM_DEBUG_PORT", "")
    wait = os.environ.pop("_GUREUM_DEBUG_WAIT", "") == "1"
    if not port:
        return
    import debugpy  # bound into /var/runtime with gureum's own copy  # noqa: PLC0415

    debugpy.listen(("127.0.0.1", int(port)), in_process_debug_adapter=True)
    if wait:
        debugpy.wait_for_client()


def main() -> None:
    """The runtime loop: init once, then serve invocations until the platform stops us."""
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"], CHANNEL)
    setup_logging()
    start_debugger()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except InitError as exc:
        error = error_document(exc.error_type, exc.message, "", exc.trace)
    except Exception as exc:  # an exception raised by the module's own top-level code
        error = exception_document(exc, "")
    else:
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == SNAP_START:
            on_init_complete(api)
        while True:
            headers, body = api.next()
            handle(api, handler, headers, body)
    log_error(error)
    api.fail_init(error)
    sys.exit(1)


if __name__ == "__main__":
    # Started as a program, `/var/runtime/bootstrap.py`, instead of forked from the zygote: the
    # command line an AWS_LAMBDA_EXEC_WRAPPER script is given. Lines reach the log as they are
    # written, as in a forked environment.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    main()
