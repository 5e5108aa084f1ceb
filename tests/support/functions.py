"""Running functions from contract tests: packages, invocations, versions and AWS's own runtime.

Everything here goes through the public API (boto3 over HTTP); nothing reaches into the server.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
REGION = "us-east-1"
WAIT = {"Delay": 0.1, "MaxAttempts": 300}

# awslambdaric and what it imports at run time: its C extension (a top-level module), the JSON
# library its marshaller uses, and the SnapStart hooks module its bootstrap imports.
AWSLAMBDARIC_MODULES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")


def function_arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier is not None else base


def package(files: Mapping[str, str | bytes], executables: Iterable[str] = ()) -> bytes:
    """A deployment package; the names in `executables` are marked 0755 (a `bootstrap`)."""
    runnable = set(executables)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o755 if name in runnable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def bootstrap_package(script: str, **files: str | bytes) -> bytes:
    """A custom runtime's package: an executable `bootstrap` plus any other files."""
    return package({"bootstrap": script, **files}, executables=("bootstrap",))


@dataclass(frozen=True, slots=True)
class Invoked:
    """One synchronous Invoke's answer, read completely (the stream is closed)."""

    status: int
    payload: bytes
    request_id: str
    executed_version: str | None
    function_error: str | None
    log: str | None
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.payload)


def invoke(client: Any, name: str, event: Any = None, **params: Any) -> Invoked:
    """Invokes `name` with `event` as JSON (or a raw `Payload`), returning everything it said."""
    if event is not None and "Payload" not in params:
        params["Payload"] = json.dumps(event).encode()
    response = client.invoke(FunctionName=name, **params)
    stream = response["Payload"]
    try:
        data: bytes = stream.read()
    finally:
        stream.close()
    log = response.get("LogResult")
    metadata = response["ResponseMetadata"]
    return Invoked(
        status=response["StatusCode"],
        payload=data,
        request_id=metadata["RequestId"],
        executed_version=response.get("ExecutedVersion"),
        function_error=response.get("FunctionError"),
        log=base64.b64decode(log).decode("utf-8") if log is not None else None,
        headers=metadata["HTTPHeaders"],
    )


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def create(client: Any, name: str, **params: Any) -> dict[str, Any]:
    """CreateFunction with the contract tests' defaults, waiting until it is Active."""
    request: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        "Handler": "index.handler",
    }
    request.update(params)
    created: dict[str, Any] = client.create_function(**request)
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    return created


def publish_with(client: Any, name: str, variables: Mapping[str, str]) -> str:
    """Sets the function's environment, then publishes it; returns the new version number."""
    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": dict(variables)}
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    version: str = client.publish_version(FunctionName=name)["Version"]
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier=version, WaiterConfig=WAIT
    )
    return version


def _module_files(module: str) -> list[tuple[Path, str]]:
    """The installed files of a top-level module, as (path, name relative to site-packages)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} is not installed"
    assert spec.origin is not None, f"{module} has no file"
    origin = Path(spec.origin)
    if spec.submodule_search_locations is None:
        return [(origin, origin.name)]
    root = origin.parent
    return [
        (path, f"{root.name}/{path.relative_to(root).as_posix()}")
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and "tests" not in path.parts
    ]


def awslambdaric_layer() -> bytes:
    """A layer holding awslambdaric, unmodified, and its dependencies under `python/`."""
    files: dict[str, str | bytes] = {}
    for module in AWSLAMBDARIC_MODULES:
        for path, name in _module_files(module):
            files[f"python/{name}"] = path.read_bytes()
    return package(files)


def stream_messages(server: GureumProcess, group: str) -> list[str]:
    """Every message of a log group's one stream, in order, read through CloudWatch Logs."""
    logs = server.client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1, streams
    events = logs.get_log_events(
        logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True
    )["events"]
    return [event["message"] for event in events]
