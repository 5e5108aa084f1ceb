"""The Smithy RPC v2 CBOR protocol's error bodies, and the operation its path names.

Some services speak only this protocol in the botocore gureum pins (CloudWatch Omni, EventBridge
v2), and others offer it first (CloudWatch), so an SDK that prefers it sends
`POST /service/<targetPrefix>/operation/<Operation>` with a CBOR body and reads errors as
`RpcV2CBORParser` does: a CBOR map with `__type` and `message`, the request id in
`x-amzn-RequestId`. Only the few CBOR types an error needs are encoded (RFC 8949): text strings,
integers, booleans and a map of them.
"""

from __future__ import annotations

import re

from botocore.model import ServiceModel

from gureum.aws.errors import AwsError
from gureum.aws.http import HttpResponse
from gureum.aws.sigv4 import HttpRequest

_PATH = re.compile(r"/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)")
_UNSIGNED, _NEGATIVE, _TEXT, _MAP = 0, 1, 3, 5


def _head(major: int, length: int) -> bytes:
    """A data item's initial byte(s): major type and length (or value)."""
    if length < 24:
        return bytes([major << 5 | length])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
    raise ValueError(f"{length} does not fit in a CBOR head")


def _item(value: object) -> bytes:
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return _head(_UNSIGNED, value) if value >= 0 else _head(_NEGATIVE, -1 - value)
    text = str(value).encode()
    return _head(_TEXT, len(text)) + text


def encode_map(document: dict[str, object]) -> bytes:
    """A CBOR map of text keys to scalars."""
    items = b"".join(_item(key) + _item(value) for key, value in document.items())
    return _head(_MAP, len(document)) + items


class CborErrors:
    """rpc-v2-cbor error bodies."""

    def __init__(self, model: ServiceModel) -> None:
        self._codes = {shape.name: shape.metadata.get("error", {}) for shape in model.error_shapes}

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        # The request id travels in `x-amzn-RequestId`, which the front door adds.
        modeled = self._codes.get(error.code)
        status = error.status if modeled is None else modeled.get("httpStatusCode", 400)
        document: dict[str, object] = {"__type": error.code, "message": error.message}
        document.update({k: v for k, v in error.fields.items() if v is not None})
        headers = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
        return HttpResponse(int(status), headers, encode_map(document))


def operation_in_path(model: ServiceModel, request: HttpRequest) -> str | None:
    """The operation `/service/<targetPrefix>/operation/<Operation>` names, if it is the model's."""
    match = _PATH.fullmatch(request.raw_path)
    if match is None or match["service"] != model.metadata.get("targetPrefix"):
        return None
    name = match["operation"]
    return name if name in model.operation_names else None
