"""The Smithy RPC v2 CBOR protocol, from botocore's model: requests, responses and errors.

Some services speak only this protocol in the botocore gureum pins (CloudWatch Omni, EventBridge
v2), and others offer it first (CloudWatch), so an SDK that prefers it sends
`POST /service/<targetPrefix>/operation/<Operation>` with `smithy-protocol: rpc-v2-cbor` and a CBOR
body (RFC 8949), and reads what botocore's `RpcV2CBORParser` reads: a CBOR map of the output
shape's members, errors as a map with `__type` and `message`, the request id in
`x-amzn-RequestId`.

The values are what botocore's `CBORSerializer` writes and its parser takes: timestamps as tag 1
(epoch seconds; botocore sends whole seconds and reads integers or floats), blobs as byte strings,
doubles as 64-bit floats, and None members left out. `cbor2` does the encoding and decoding; the
model drives which Python value each member becomes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import AwsError, ClientError, UnknownOperation
from gureum.aws.http import HttpResponse
from gureum.aws.protocols.routes import Routed
from gureum.aws.shapes import parse_scalar, parse_value
from gureum.aws.sigv4 import HttpRequest

_PATH = re.compile(r"/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)")
_TIMESTAMP_TAG = 1
_HEADERS = (("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor"))


def encode_map(document: Mapping[str, object]) -> bytes:
    """A CBOR map of text keys to plain values."""
    return cbor2.dumps(dict(document))


class CborSerializationError(ClientError):
    """A CBOR body that could not be read. Smithy's servers answer it with this code."""

    code = "SerializationException"


class CborProtocol:
    """rpc-v2-cbor requests and responses for one service gureum serves."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self._prefix = model.metadata["targetPrefix"]
        self._operations = {name: model.operation_model(name) for name in model.operation_names}
        self._errors = CborErrors(model)

    def route(self, request: HttpRequest) -> Routed:
        match = _PATH.fullmatch(request.raw_path)
        if request.method != "POST" or match is None or match["service"] != self._prefix:
            raise UnknownOperation(f"Unknown operation {request.method} {request.raw_path}")
        operation = self._operations.get(match["operation"])
        if operation is None:
            raise UnknownOperation(f"Unknown operation {match['operation']}")
        return Routed(operation, {})

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None or not request.body:
            return {}
        try:
            document = cbor2.loads(request.body)
        except (cbor2.CBORDecodeError, ValueError) as exc:
            raise self.parse_failure(f"Invalid CBOR: {exc}") from None
        if not isinstance(document, dict):
            raise self.parse_failure("Expected a CBOR map for the operation's input")
        try:
            parsed: dict[str, Any] = parse_cbor(shape, document)
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None
        return parsed

    def parse_failure(self, reason: str) -> AwsError:
        return CborSerializationError(reason)

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        shape = operation.output_shape
        document = render_cbor(shape, result) if shape is not None else {}
        return HttpResponse(200, list(_HEADERS), cbor2.dumps(document))

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


def _unreadable(shape: Shape, value: object) -> UnreadableDocument:
    return UnreadableDocument(f"Unexpected CBOR {type(value).__name__} for {shape.name}")


def parse_cbor(shape: Shape, value: object) -> Any:
    """One decoded CBOR value as the Python value of `shape` (bytes, datetime, int, float...)."""
    return parse_value(shape, value, _cbor_scalar, _unreadable)


def _cbor_scalar(shape: Shape, value: object) -> Any:
    """CBOR's own scalars: byte strings, tagged epoch timestamps, and floats JSON cannot say."""
    kind = shape.type_name
    if kind == "blob":
        if not isinstance(value, bytes):
            raise _unreadable(shape, value)
        return value
    if kind == "timestamp":
        return _timestamp(shape, value)
    if kind in ("float", "double") and isinstance(value, float):
        return value  # NaN and the infinities included, which JSON's parser has no words for
    return parse_scalar(shape, value)


def _timestamp(shape: Shape, value: object) -> datetime:
    if isinstance(value, datetime):  # cbor2 decodes tag 1 itself
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, cbor2.CBORTag) and value.tag == _TIMESTAMP_TAG:
        value = value.value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):
            pass
    raise _unreadable(shape, value)


def render_cbor(shape: Shape, value: object) -> Any:
    """A handler's Python value as the CBOR value of `shape`, ready for `cbor2.dumps`."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, Mapping), shape.name
        members = shape.members
        return {
            name: render_cbor(members[name], item)
            for name, item in value.items()
            if item is not None and name in members
        }
    if kind == "list":
        assert isinstance(value, list | tuple), shape.name
        return [render_cbor(shape.member, item) for item in value]
    if kind == "map":
        assert isinstance(value, Mapping), shape.name
        return {k: render_cbor(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, datetime):
            value = value.timestamp()
        assert isinstance(value, int | float), shape.name
        whole = int(value)
        return cbor2.CBORTag(_TIMESTAMP_TAG, whole if whole == value else float(value))
    if kind in ("float", "double"):
        assert isinstance(value, int | float), shape.name
        return float(value)
    return value


class CborErrors:
    """rpc-v2-cbor error bodies."""

    def __init__(self, model: ServiceModel) -> None:
        self._codes = {shape.name: shape.metadata.get("error", {}) for shape in model.error_shapes}
        self._query_compatible = "awsQueryCompatible" in model.metadata

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        # The request id travels in `x-amzn-RequestId`, which the front door adds.
        modeled = self._codes.get(error.code)
        status = error.status if modeled is None else modeled.get("httpStatusCode", 400)
        document: dict[str, object] = {"__type": error.code, "message": error.message}
        document.update({k: v for k, v in error.fields.items() if v is not None})
        headers = list(_HEADERS)
        if self._query_compatible:
            # A service that moved from the query protocol (CloudWatch) still names its errors
            # by their query codes, which botocore reads from here (InvalidParameterValue).
            query_code = (modeled or {}).get("code") or error.query_code or error.code
            fault = "Sender" if error.sender_fault else "Receiver"
            headers.append(("x-amzn-query-error", f"{query_code};{fault}"))
        return HttpResponse(int(status), headers, encode_map(document))


def operation_in_path(model: ServiceModel, request: HttpRequest) -> str | None:
    """The operation `/service/<targetPrefix>/operation/<Operation>` names, if it is the model's."""
    match = _PATH.fullmatch(request.raw_path)
    if match is None or match["service"] != model.metadata.get("targetPrefix"):
        return None
    name = match["operation"]
    return name if name in model.operation_names else None
