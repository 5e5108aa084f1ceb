"""The rest-xml protocol (S3), parsed and rendered from botocore's service model.

Like rest-json, an operation is bound to a method and a `requestUri` template, and each member
of its input and output says where it travels (`uri`, `querystring`, `header`, `headers` for a
prefix such as `x-amz-meta-`, `statusCode`, or the body). The body is XML: the payload member's
element (`<CompleteMultipartUpload>`), or the output's other members under one root, lists
wrapped or `flattened` as the model says, timestamps in ISO 8601 (RFC 822 in headers). It is what
botocore's `RestXMLSerializer` writes and `RestXMLParser` reads.

A streaming blob payload (S3's object bodies) is never held whole: a request's arrives spooled
to a file (`HttpRequest.payload`, handed to the handler as an `aws.http.BodyFile`) and a
response's leaves as an `aws.http.FileSlice`. Errors are `xml.RestXmlErrors`.

S3 answers some requests with a status no output member binds (206 for a ranged GET), so a
handler's result may carry it under `STATUS`. A service that names the bucket in the host
(virtual-hosted addressing) gives the codec `host_prefix`, which reads the leading path segment
from a request's Host.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, SubElement, fromstring, tostring

from botocore.model import OperationModel, ServiceModel, Shape

from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import AwsError, ClientError
from gureum.aws.http import BodyFile, FileSlice, HttpResponse, header, query_params
from gureum.aws.protocols.routes import Routed, RouteTable
from gureum.aws.protocols.xml import RestXmlErrors
from gureum.aws.shapes import integer_in_range, render_timestamp
from gureum.aws.sigv4 import HttpRequest

# A handler's result member that sets the response status (see the module docstring).
STATUS = "@status"
# The largest XML body read into memory (S3's DeleteObjects of 1,000 keys is about 200 KB).
XML_BODY_LIMIT = 1 << 20
_INTEGERS = frozenset({"integer", "long", "short", "byte"})
_FLOATS = frozenset({"float", "double"})
_NAMESPACE = re.compile(r"^\{[^}]*\}")


class MalformedXml(ClientError):
    code = "MalformedXML"


class MaxMessageLengthExceeded(ClientError):
    code = "MaxMessageLengthExceeded"


class InvalidArgument(ClientError):
    code = "InvalidArgument"


MALFORMED = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


class RestXmlProtocol:
    """Parses requests for, and renders responses of, one rest-xml service."""

    def __init__(
        self,
        model: ServiceModel,
        renamed: Mapping[str, str] | None = None,
        host_prefix: Callable[[HttpRequest], str | None] | None = None,
    ) -> None:
        self.model = model
        self._routes = RouteTable(model, by_query=True)
        self._errors = RestXmlErrors(model, renamed)
        self._host_prefix = host_prefix

    # --- requests ---------------------------------------------------------------------------

    def route(self, request: HttpRequest) -> Routed:
        return self._routes.route(self._addressed(request))

    def _addressed(self, request: HttpRequest) -> HttpRequest:
        """`request` with the path segment its Host names put back in front of its path."""
        prefix = self._host_prefix(request) if self._host_prefix is not None else None
        if prefix is None:
            return request
        return replace(request, raw_path=f"/{prefix}{request.raw_path or '/'}")

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        try:
            return self._parse(routed, request)
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None

    def parse_failure(self, reason: str) -> AwsError:
        return MalformedXml(MALFORMED)

    def _parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        payload_name = shape.serialization.get("payload")
        query = query_params(request.raw_query)
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            value: Any = None
            if location == "uri":
                if wire_name in routed.path_params:
                    value = _scalar(member, routed.path_params[wire_name])
            elif location == "querystring":
                value = _from_query(member, wire_name, query)
            elif location == "header":
                text = header(request.headers, wire_name)
                value = None if text is None else _header_value(member, text)
            elif location == "headers":
                prefix = wire_name.lower()
                found = {
                    k.lower()[len(prefix) :]: v
                    for k, v in request.headers
                    if k.lower().startswith(prefix)
                }
                value = found or None
            if value is not None:
                params[name] = value
        if payload_name is not None:
            member = shape.members[payload_name]
            if member.type_name in ("blob", "string"):
                params[payload_name] = _raw_payload(request)
            else:
                document = _xml_body(request)
                if document is not None:
                    params[payload_name] = _parse_element(member, document)
        return params

    # --- responses --------------------------------------------------------------------------

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        status = int(result.get(STATUS) or operation.http.get("responseCode", 200))
        headers: list[tuple[str, str]] = [("x-amz-request-id", request_id)]
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, headers)
        payload_name = shape.serialization.get("payload")
        body: bytes = b""
        content: FileSlice | None = None
        root: Element | None = None
        for name, value in result.items():
            member = shape.members.get(name)
            if value is None or member is None:
                continue
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "header":
                headers.append((wire_name, _header_text(member, value)))
            elif location == "headers":
                headers.extend((f"{wire_name}{k}", str(v)) for k, v in value.items())
            elif location == "statusCode":
                status = int(value)
            elif name == payload_name and member.type_name in ("blob", "string"):
                if isinstance(value, FileSlice):
                    content = value
                else:
                    body = value if isinstance(value, bytes) else str(value).encode()
            elif name == payload_name:
                root = _element(member, wire_name)
                _fill(root, member, value)
            elif location is None:
                if root is None:
                    root = _element(shape, shape.serialization.get("name", shape.name))
                _fill_member(root, member, name, value)
        if root is not None:
            body = tostring(root, encoding="utf-8", xml_declaration=True)
            headers.append(("Content-Type", "application/xml"))
        return HttpResponse(status, headers, body, content)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


# --- requests, read ------------------------------------------------------------------------------


def _raw_payload(request: HttpRequest) -> BodyFile | bytes:
    return request.payload if request.payload is not None else request.body


def _xml_body(request: HttpRequest) -> Element | None:
    if request.payload is not None:
        if request.payload.size > XML_BODY_LIMIT:
            raise MaxMessageLengthExceeded("Your request was too big.")
        data = request.payload.path.read_bytes()
    else:
        data = request.body
    if len(data) > XML_BODY_LIMIT:
        raise MaxMessageLengthExceeded("Your request was too big.")
    if not data.strip():
        return None
    # No document type: its entities are the one way XML grows past what was sent.
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise MalformedXml(MALFORMED)
    try:
        return fromstring(data)
    except ParseError:
        raise MalformedXml(MALFORMED) from None


def _local(tag: str) -> str:
    return _NAMESPACE.sub("", tag)


def _parse_element(shape: Shape, node: Element) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed: dict[str, Any] = {}
        children = list(node)
        for name, member in shape.members.items():
            if member.serialization.get("location") is not None:
                continue
            wire = member.serialization.get("name", name)
            if member.type_name == "list" and member.serialization.get("flattened"):
                element = member.member.serialization.get("name", wire)
                items = [c for c in children if _local(c.tag) == element]
                if items:
                    parsed[name] = [_parse_element(member.member, c) for c in items]
                continue
            found = next((c for c in children if _local(c.tag) == wire), None)
            if found is not None:
                parsed[name] = _parse_element(member, found)
        return parsed
    if kind == "list":
        element = shape.member.serialization.get("name", "member")
        return [_parse_element(shape.member, c) for c in node if _local(c.tag) == element]
    if kind == "map":
        raise UnreadableDocument(f"maps are not read from XML bodies ({shape.name})")
    return _scalar(shape, node.text or "")


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
            if text.strip().lower() not in ("true", "false"):
                raise ValueError(text)
            return text.strip().lower() == "true"
        if kind == "timestamp":
            return _timestamp(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, OverflowError, binascii.Error):
        raise InvalidArgument(f"Invalid value '{text}' for {shape.name}") from None
    return text


def _header_value(shape: Shape, text: str) -> Any:
    if shape.type_name == "timestamp":
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return _scalar(shape, text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _scalar(shape, text)


def _timestamp(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _from_query(shape: Shape, wire_name: str, query: list[tuple[str, str]]) -> Any:
    if shape.type_name == "list":
        values = [v for k, v in query if k == wire_name]
        return [_scalar(shape.member, v) for v in values] or None
    for key, value in query:
        if key == wire_name:
            if shape.type_name == "timestamp":
                return _header_value(shape, value)
            return _scalar(shape, value)
    return None


# --- responses, written --------------------------------------------------------------------------


def _element(shape: Shape, name: str) -> Element:
    node = Element(name)
    namespace = shape.serialization.get("xmlNamespace")
    uri = namespace.get("uri") if isinstance(namespace, Mapping) else namespace
    if uri:
        node.set("xmlns", str(uri))
    return node


def _fill_member(node: Element, member: Shape, name: str, value: Any) -> None:
    wire = member.serialization.get("name", name)
    if member.type_name == "list" and member.serialization.get("flattened"):
        element = member.member.serialization.get("name", wire)
        for item in value:
            _fill(SubElement(node, element), member.member, item)
        return
    _fill(SubElement(node, wire), member, value)


def _fill(node: Element, shape: Shape, value: Any) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, Mapping), shape.name
        for name, item in value.items():
            member = shape.members.get(name)
            if item is not None and member is not None:
                _fill_member(node, member, name, item)
    elif kind == "list":
        element = shape.member.serialization.get("name", "member")
        for item in value:
            _fill(SubElement(node, element), shape.member, item)
    elif kind == "map":
        for key, item in value.items():
            entry = SubElement(node, "entry")
            _fill(SubElement(entry, shape.key.serialization.get("name", "key")), shape.key, key)
            _fill(
                SubElement(entry, shape.value.serialization.get("name", "value")), shape.value, item
            )
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
    return str(value)


def _header_text(shape: Shape, value: object) -> str:
    if shape.type_name == "timestamp":
        return str(render_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)
