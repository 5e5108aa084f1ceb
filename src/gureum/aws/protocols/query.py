"""The query protocol (CloudWatch's older clients; later SNS, STS, IAM), from botocore's model.

A request is a form, `Action=<Operation>&Version=<apiVersion>&...`, in a POST body (or a GET's
query string), its members flattened the way botocore's `QuerySerializer` writes them: structure
members joined with dots (`Metric.Namespace`), list items numbered from 1 under `member`
(`Dimensions.member.1.Name`, or `Name.1` for a flattened list), map entries as
`Name.entry.N.key` / `.value`, an empty list as the bare name, timestamps in ISO 8601, booleans as
`true` / `false`, blobs in base64.

A response is what `QueryParser` reads: `<OpResponse xmlns=...><OpResult>...</OpResult>
<ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>`, lists as `<member>` elements,
maps as `<entry><key/><value/></entry>`. Errors are `xml.QueryErrors`.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

from botocore.model import OperationModel, ServiceModel, Shape

from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import AwsError, ClientError, UnknownOperation
from gureum.aws.http import HttpResponse, header, query_params
from gureum.aws.protocols.routes import Routed
from gureum.aws.protocols.xml import QueryErrors
from gureum.aws.shapes import integer_in_range, render_timestamp
from gureum.aws.sigv4 import HttpRequest

_FORM = "application/x-www-form-urlencoded"
_INTEGERS = frozenset({"integer", "long", "short", "byte"})
_FLOATS = frozenset({"float", "double"})


class MalformedQueryString(ClientError):
    """A form member that cannot be read as its shape's type (AWS's query services)."""

    code = "MalformedQueryString"


def form_of(request: HttpRequest) -> dict[str, str]:
    """The request's form members: a POST's body and the query string (first value wins)."""
    pairs = query_params(request.raw_query)
    content_type = header(request.headers, "content-type") or ""
    if request.method == "POST" and content_type.split(";")[0].strip().lower() == _FORM:
        pairs = parse_qsl(request.body.decode("utf-8", errors="replace"), True) + pairs
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


class QueryProtocol:
    """query requests and XML responses for one service gureum serves."""

    def __init__(self, model: ServiceModel, renamed: Mapping[str, str] | None = None) -> None:
        """`renamed`: shared error codes this service names its own way on the wire."""
        self.model = model
        self._namespace: str | None = model.metadata.get("xmlNamespace")
        self._operations = {name: model.operation_model(name) for name in model.operation_names}
        self._errors = QueryErrors(model, renamed)

    def route(self, request: HttpRequest) -> Routed:
        action = form_of(request).get("Action")
        operation = self._operations.get(action or "")
        if operation is None:
            raise UnknownOperation(f"Unknown operation {action or request.method}")
        return Routed(operation, {})

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None:
            return {}
        try:
            parsed: dict[str, Any] = _parse(shape, form_of(request), "") or {}
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None
        return parsed

    def parse_failure(self, reason: str) -> AwsError:
        return MalformedQueryString(reason)

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        root = Element(f"{operation.name}Response")
        if self._namespace:
            root.set("xmlns", self._namespace)
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper", f"{operation.name}Result")
            _fill(SubElement(root, wrapper), shape, result)
        SubElement(SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
        body = tostring(root, encoding="utf-8", xml_declaration=True)
        return HttpResponse(200, [("Content-Type", "text/xml")], body)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


# --- the form, read ------------------------------------------------------------------------------


def _name(shape: Shape, default: str) -> str:
    name: str = shape.serialization.get("name", default)
    return name


def _parse(shape: Shape, form: Mapping[str, str], prefix: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        for member, member_shape in shape.members.items():
            name = _name(member_shape, member)
            value = _parse(member_shape, form, f"{prefix}.{name}" if prefix else name)
            if value is not None:
                parsed[member] = value
        return parsed if parsed or not prefix else None
    if kind == "list":
        return _parse_list(shape, form, prefix)
    if kind == "map":
        return _parse_map(shape, form, prefix)
    text = form.get(prefix)
    return None if text is None else _scalar(shape, text)


def _present(form: Mapping[str, str], prefix: str) -> bool:
    return prefix in form or any(key.startswith(prefix + ".") for key in form)


def _parse_list(shape: Shape, form: Mapping[str, str], prefix: str) -> list[Any] | None:
    if form.get(prefix) == "":
        return []  # the query protocol's empty list
    if shape.serialization.get("flattened"):
        base = prefix
    else:
        base = f"{prefix}.{_name(shape.member, 'member')}"
    items = []
    index = 1
    while _present(form, f"{base}.{index}"):
        items.append(_parse(shape.member, form, f"{base}.{index}"))
        index += 1
    return items or None


def _parse_map(shape: Shape, form: Mapping[str, str], prefix: str) -> dict[str, Any] | None:
    base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_name, value_name = _name(shape.key, "key"), _name(shape.value, "value")
    parsed = {}
    index = 1
    while _present(form, f"{base}.{index}"):
        key = form.get(f"{base}.{index}.{key_name}", "")
        parsed[key] = _parse(shape.value, form, f"{base}.{index}.{value_name}")
        index += 1
    return parsed or None


def _scalar(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    try:
        if kind in _INTEGERS:
            number = int(text)
            if not integer_in_range(shape, number):
                raise ValueError(text)
            return number
        if kind in _FLOATS:
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return _timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, OverflowError, binascii.Error):
        raise UnreadableDocument(f"Invalid value '{text}' for {shape.name}") from None
    return text


def _timestamp(text: str) -> datetime:
    try:
        seconds = float(text)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if not math.isfinite(seconds):
        raise ValueError(text)
    return datetime.fromtimestamp(seconds, UTC)


# --- the response, written -----------------------------------------------------------------------


def _fill(node: Element, shape: Shape, value: object) -> None:
    """Writes `value` of `shape` as the content of `node`."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, Mapping), shape.name
        for member, item in value.items():
            member_shape = shape.members.get(member)
            if item is None or member_shape is None:
                continue
            if member_shape.type_name == "list" and member_shape.serialization.get("flattened"):
                element = _name(member_shape.member, _name(member_shape, member))
                for entry in item:
                    _fill(SubElement(node, element), member_shape.member, entry)
                continue
            _fill(SubElement(node, _name(member_shape, member)), member_shape, item)
    elif kind == "list":
        assert isinstance(value, list | tuple), shape.name
        element = _name(shape.member, "member")
        for entry in value:
            _fill(SubElement(node, element), shape.member, entry)
    elif kind == "map":
        assert isinstance(value, Mapping), shape.name
        for key, item in value.items():
            entry = SubElement(node, "entry")
            _fill(SubElement(entry, _name(shape.key, "key")), shape.key, key)
            _fill(SubElement(entry, _name(shape.value, "value")), shape.value, item)
    else:
        node.text = _text(shape, value)


def _text(shape: Shape, value: object) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        timestamp_format = shape.serialization.get("timestampFormat", "iso8601")
        return str(render_timestamp(value, timestamp_format))
    if kind == "blob":
        assert isinstance(value, bytes), shape.name
        return base64.b64encode(value).decode("ascii")
    if kind in _FLOATS:
        assert isinstance(value, int | float), shape.name
        return repr(float(value))
    return str(value)


# The query services that are older than the JSON ones (IAM, STS) name the shared
# authentication errors their own way, with the same messages.
QUERY_AUTH_ERRORS = {
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "ValidationException": "ValidationError",
    "AccessDeniedException": "AccessDenied",
}
