"""The rest-json protocol (Lambda, EFS, ...), parsed and rendered from botocore's service model.

Routing, request parsing and response rendering all read the operation's HTTP bindings from the
model (`requestUri`, `location` of each member, `payload`), so an operation costs a handler and
nothing here. Error bodies follow what botocore's `RestJSONParser` reads (spec 0.2): the code in
`x-amzn-ErrorType`, the message under the member name the model gives the error shape (`message`
or `Message`), and `Type` for Lambda's modeled errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from gureum.aws.documents import UnreadableDocument, read_document
from gureum.aws.errors import AwsError, SerializationError
from gureum.aws.http import HttpResponse, header, query_params
from gureum.aws.protocols.eventstream import encode_stream
from gureum.aws.protocols.routes import Routed, RouteTable
from gureum.aws.shapes import (
    integer_in_range,
    parse_scalar,
    parse_value,
    render_timestamp,
    render_value,
)
from gureum.aws.sigv4 import HttpRequest

_JSON = "application/json"


class RestJsonErrors:
    """rest-json error bodies, for a service gureum serves or one it only answers for."""

    def __init__(self, model: ServiceModel) -> None:
        self._error_shapes = {shape.name: shape for shape in model.error_shapes}

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        # The request id travels in `x-amzn-RequestId`, which the front door adds to every
        # response and RestJSONParser reads from there.
        shape = self._error_shapes.get(error.code)
        document: dict[str, Any] = {}
        message_key = "message"
        if shape is not None:
            members = shape.members
            message_key = "Message" if "Message" in members else "message"
            if "Type" in members:
                document["Type"] = "User" if error.sender_fault else "Service"
        # An error with no message carries a null one, as AWS's does (Lambda's AccessDenied for
        # CreateFunction with another account's ARN: botocore reads the message as None).
        document[message_key] = error.message or None
        document.update(error.fields)
        # A field set to None removes a member AWS leaves out (e.g. `Type` on some Lambda errors).
        document = {
            key: value for key, value in document.items() if value is not None or key == message_key
        }
        headers = [("x-amzn-ErrorType", error.code), ("Content-Type", _JSON)]
        return HttpResponse(error.status, headers, json.dumps(document).encode())


class RestJsonProtocol:
    """Parses requests for, and renders responses of, one rest-json service."""

    def __init__(self, model: ServiceModel, blob_content_type: str | None = None) -> None:
        self.model = model
        # The Content-Type of a raw (blob) response payload; Lambda's Invoke answers JSON.
        self._blob_type = blob_content_type
        self._routes = RouteTable(model)
        self._errors = RestJsonErrors(model)

    # --- requests ---------------------------------------------------------------------------

    def route(self, request: HttpRequest) -> Routed:
        return self._routes.route(request)

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        try:
            return self._parse(routed, request)
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None

    def parse_failure(self, reason: str) -> AwsError:
        """Lambda's answer to a body it cannot read (spec 10.6)."""
        return SerializationError(f"Could not parse request body into json: {reason}")

    def _parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        payload_name = shape.serialization.get("payload")
        body_members: dict[str, Shape] = {}
        query = query_params(request.raw_query)
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri":
                if wire_name in routed.path_params:
                    params[name] = _scalar_from_text(member, routed.path_params[wire_name])
            elif location == "querystring":
                value = _from_query(member, wire_name, query)
                if value is not None:
                    params[name] = value
            elif location == "header":
                text = header(request.headers, wire_name)
                if text is not None:
                    params[name] = _scalar_from_text(member, text)
            elif location is None and name != payload_name:
                body_members[name] = member
        if payload_name is not None:
            member = shape.members[payload_name]
            if member.type_name in ("blob", "string"):
                params[payload_name] = request.body
            elif request.body:
                params[payload_name] = parse_value(member, read_document(request.body))
        elif body_members and request.body:
            document = read_document(request.body)
            if not isinstance(document, dict):
                raise UnreadableDocument("expected an object")
            for name, member in body_members.items():
                if document.get(name) is not None:
                    params[name] = parse_value(member, document[name])
        return params

    # --- responses --------------------------------------------------------------------------

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        status = int(operation.http.get("responseCode", 200))
        headers: list[tuple[str, str]] = []
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, headers)
        payload_name = shape.serialization.get("payload")
        document: dict[str, Any] = {}
        body: bytes | None = None
        stream = None
        for name, value in result.items():
            if value is None or name not in shape.members:
                continue
            member = shape.members[name]
            location = member.serialization.get("location")
            if location == "statusCode":
                status = int(value)
            elif location == "header":
                headers.append(
                    (member.serialization.get("name", name), _header_text(member, value))
                )
            elif name == payload_name and member.serialization.get("eventstream"):
                # The handler gives the events as they happen: (event name, members) pairs.
                stream = encode_stream(member, value)
                body = b""
            elif name == payload_name:
                if member.type_name in ("blob", "string"):
                    body = value if isinstance(value, bytes) else str(value).encode()
                    if self._blob_type is not None:
                        headers.append(("Content-Type", self._blob_type))
                else:
                    body = json.dumps(render_value(member, value)).encode()
                    headers.append(("Content-Type", _JSON))
            elif location is None:
                document[name] = render_value(member, value)
        if body is None:
            if payload_name is not None or (not document and status == 204):
                body = b""
            else:
                body = json.dumps(document, separators=(",", ":")).encode()
                headers.append(("Content-Type", _JSON))
        return HttpResponse(status, headers, body, stream=stream)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


def _scalar_from_text(shape: Shape, text: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            value = int(text)
        except ValueError:
            raise SerializationError(f"Invalid value for {shape.name}: {text!r}") from None
        if not integer_in_range(shape, value):
            raise SerializationError(f"Invalid value for {shape.name}: {text!r}")
        return value
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise SerializationError(f"Invalid value for {shape.name}: {text!r}") from None
    if kind == "boolean":
        return text.lower() == "true"
    if kind == "timestamp":
        return parse_scalar(shape, text)
    return text


def _from_query(shape: Shape, wire_name: str, query: list[tuple[str, str]]) -> Any:
    if shape.type_name == "list":
        values = [v for k, v in query if k == wire_name]
        return [_scalar_from_text(shape.member, v) for v in values] or None
    for key, value in query:
        if key == wire_name:
            return _scalar_from_text(shape, value)
    return None


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(render_timestamp(value, "rfc822"))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return str(value)
