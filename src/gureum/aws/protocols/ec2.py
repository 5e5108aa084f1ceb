"""The ec2 protocol (EC2 alone speaks it), from botocore's model: query's form and XML, with
EC2's differences.

Requests are query forms (`Action=CreateVpc&Version=2016-11-15&...`, read by `query.form_of`),
named the way botocore's `EC2Serializer` writes them: a member's `queryName`, else its
`locationName` with a capital first letter (`dryRun` is sent as `DryRun`), else the member's own
name; list items numbered straight under the list's name (`SubnetId.1`, no `.member`), and an
empty list not sent at all. Scalars read as in query (`query._scalar`).

Responses are what `EC2QueryParser` reads: `<OpResponse xmlns="http://ec2.amazonaws.com/doc/
2016-11-15/"><requestId/>...members...</OpResponse>`, no Result wrapper, lists as `<item>`
elements (the model's member `locationName`), written by query's writer (`query._fill`). Errors
are `xml.Ec2Errors`: `<Response><Errors><Error>` with `<RequestID>`.

A missing required member is EC2's `MissingParameter`, named as the request sends it, found here
because it is the protocol's answer (the model's `ValidationException` is not EC2's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from botocore.model import OperationModel, ServiceModel, Shape

from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import AwsError, ClientError, UnknownOperation
from gureum.aws.http import HttpResponse
from gureum.aws.protocols.query import MalformedQueryString, _fill, _present, _scalar, form_of
from gureum.aws.protocols.routes import Routed
from gureum.aws.protocols.xml import Ec2Errors
from gureum.aws.sigv4 import HttpRequest


class MissingParameter(ClientError):
    code = "MissingParameter"


class InvalidAction(ClientError):
    """EC2's answer to an Action it does not know."""

    code = "InvalidAction"


def query_name(shape: Shape, default: str) -> str:
    """A member's name in an ec2 request, as `EC2Serializer._get_serialized_name` writes it."""
    serialization = shape.serialization
    if "queryName" in serialization:
        name: str = serialization["queryName"]
        return name
    if "name" in serialization:
        located: str = serialization["name"]
        return located[:1].upper() + located[1:]
    return default


class Ec2Protocol:
    """ec2 requests and XML responses (EC2)."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        namespace: str = model.metadata.get("xmlNamespace", "")
        # The model's namespace lacks the slash EC2 ends it with on the wire.
        self._namespace = namespace if namespace.endswith("/") else namespace + "/"
        self._operations = {name: model.operation_model(name) for name in model.operation_names}
        self._errors = Ec2Errors(model)

    def route(self, request: HttpRequest) -> Routed:
        action = form_of(request).get("Action")
        operation = self._operations.get(action or "")
        if operation is None:
            if action:
                raise InvalidAction(f"The action {action} is not valid for this web service.")
            raise UnknownOperation(f"Unknown operation {request.method}")
        return Routed(operation, {})

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None:
            return {}
        try:
            parsed: dict[str, Any] = _parse(shape, form_of(request), "") or {}
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None
        for member in shape.required_members:
            if member not in parsed:
                name = query_name(shape.members[member], member)
                raise MissingParameter(f"The request must contain the parameter {name}")
        return parsed

    def parse_failure(self, reason: str) -> AwsError:
        return MalformedQueryString(reason)

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        root = Element(f"{operation.name}Response")
        root.set("xmlns", self._namespace)
        SubElement(root, "requestId").text = request_id
        shape = operation.output_shape
        if shape is not None:
            _fill(root, shape, result)
        body = tostring(root, encoding="utf-8", xml_declaration=True)
        return HttpResponse(200, [("Content-Type", "text/xml;charset=UTF-8")], body)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


def _parse(shape: Shape, form: Mapping[str, str], prefix: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        parsed = {}
        for member, member_shape in shape.members.items():
            name = query_name(member_shape, member)
            value = _parse(member_shape, form, f"{prefix}.{name}" if prefix else name)
            if value is not None:
                parsed[member] = value
        return parsed if parsed or not prefix else None
    if kind == "list":
        items = []
        index = 1
        while _present(form, f"{prefix}.{index}"):
            item = _parse(shape.member, form, f"{prefix}.{index}")
            # An item sent with none of its structure's members (`Filter.1=x`) is an empty one.
            items.append({} if item is None and shape.member.type_name == "structure" else item)
            index += 1
        return items or None
    if kind == "map":
        # No operation gureum serves takes one; read as EC2Serializer writes it (query's way).
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name, value_name = query_name(shape.key, "key"), query_name(shape.value, "value")
        entries = {}
        index = 1
        while _present(form, f"{base}.{index}"):
            key = form.get(f"{base}.{index}.{key_name}", "")
            entries[key] = _parse(shape.value, form, f"{base}.{index}.{value_name}")
            index += 1
        return entries or None
    text = form.get(prefix)
    return None if text is None else _scalar(shape, text)
