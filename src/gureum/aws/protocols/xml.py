"""The XML protocols' error bodies (query, ec2, rest-xml), and the `Action` that names a query
or ec2 operation.

They answer for the services gureum does not serve (IAM and STS speak query, EC2 its own
dialect of it, S3 rest-xml) so that their SDKs read the error's code and message instead of
failing to parse a JSON body, and for the one it serves in query (CloudWatch's older clients):
the full query codec (`query.QueryProtocol`) renders its errors with `QueryErrors`.

Each shape is what botocore's parser for the protocol reads (botocore/parsers.py):
- query, `QueryParser`: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`;
- ec2, `EC2QueryParser`: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/>`
  (`RequestID`, upper-case D, as EC2 sends it);
- rest-xml, `RestXMLParser`: S3's bare `<Error><Code/><Message/><RequestId/></Error>`, and the
  query shape for the other rest-xml services (Route 53, CloudFront).
The query and ec2 parsers take the request id from the body alone; S3's from `x-amz-request-id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

from botocore.model import ServiceModel

from gureum.aws.errors import AwsError
from gureum.aws.http import HttpResponse, header, query_params
from gureum.aws.sigv4 import HttpRequest

_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class WireIdentity:
    """An error as the model names it on the wire: XML services model a code apart from the
    shape's name (IAM's `NoSuchEntityException` is sent as `NoSuchEntity`, 404)."""

    code: str
    status: int
    sender_fault: bool


def wire_identity(error: AwsError, error_codes: Mapping[str, Mapping[str, Any]]) -> WireIdentity:
    """`error` as the model names it, or as it names itself when the model does not know it."""
    modeled = error_codes.get(error.code)
    if modeled is None:
        return WireIdentity(error.code, error.status, error.sender_fault)
    return WireIdentity(
        modeled.get("code", error.code),
        modeled.get("httpStatusCode", error.status),
        modeled.get("senderFault", error.sender_fault),
    )


def _error_codes(model: ServiceModel) -> dict[str, Mapping[str, Any]]:
    return {shape.name: shape.metadata.get("error", {}) for shape in model.error_shapes}


def _fill(node: Element, identity: WireIdentity, error: AwsError) -> None:
    SubElement(node, "Code").text = identity.code
    SubElement(node, "Message").text = error.message
    # Modeled members (a `Reason`, say) sit beside Code and Message, where the parsers look.
    for name, value in error.fields.items():
        if value is not None:
            SubElement(node, name).text = str(value)


def _error_response(
    namespace: str | None, identity: WireIdentity, error: AwsError, request_id: str
) -> Element:
    """The query shape, which rest-xml services other than S3 share."""
    root = Element("ErrorResponse")
    if namespace:
        root.set("xmlns", namespace)
    node = SubElement(root, "Error")
    SubElement(node, "Type").text = "Sender" if identity.sender_fault else "Receiver"
    _fill(node, identity, error)
    SubElement(root, "RequestId").text = request_id
    return root


def _xml(root: Element, status: int, content_type: str) -> HttpResponse:
    body = tostring(root, encoding="utf-8", xml_declaration=True)
    return HttpResponse(status, [("Content-Type", content_type)], body)


class QueryErrors:
    """query error bodies (IAM, STS, SES, CloudWatch's older clients), in the service's XML
    namespace as AWS sends them."""

    def __init__(self, model: ServiceModel, renamed: Mapping[str, str] | None = None) -> None:
        self._namespace: str | None = model.metadata.get("xmlNamespace")
        self._codes = _error_codes(model)
        # Shared errors the service names its own way (IAM's and STS's `ValidationError`). They
        # win over the model's shape of the same name: STS models an `ExpiredTokenException`
        # (400, for SAML assertions) but answers expired credentials with `ExpiredToken`, 403.
        for code, name in (renamed or {}).items():
            self._codes[code] = {"code": name}

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        identity = wire_identity(error, self._codes)
        root = _error_response(self._namespace, identity, error, request_id)
        return _xml(root, identity.status, "text/xml")


class Ec2Errors:
    """ec2 error bodies: a list of errors, of which AWS sends one."""

    def __init__(self, model: ServiceModel) -> None:
        self._codes = _error_codes(model)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        identity = wire_identity(error, self._codes)
        root = Element("Response")
        _fill(SubElement(SubElement(root, "Errors"), "Error"), identity, error)
        SubElement(root, "RequestID").text = request_id
        return _xml(root, identity.status, "text/xml;charset=UTF-8")


class RestXmlErrors:
    """rest-xml error bodies: S3's bare `<Error>`, the `<ErrorResponse>` of the others."""

    def __init__(self, model: ServiceModel, renamed: Mapping[str, str] | None = None) -> None:
        # S3 alone answers with the bare shape; `RestXMLParser` tells them apart by the root.
        self._bare = model.metadata.get("serviceId") == "S3"
        self._namespace: str | None = model.metadata.get("xmlNamespace")
        self._codes = _error_codes(model)
        # Shared errors the service names its own way (S3's `SignatureDoesNotMatch`).
        for code, name in (renamed or {}).items():
            self._codes[code] = {"code": name}

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        identity = wire_identity(error, self._codes)
        if not self._bare:
            root = _error_response(self._namespace, identity, error, request_id)
            return _xml(root, identity.status, "application/xml")
        root = Element("Error")
        _fill(root, identity, error)
        SubElement(root, "RequestId").text = request_id
        response = _xml(root, identity.status, "application/xml")
        # S3's clients read the request id from this header, not from the body.
        response.headers.append(("x-amz-request-id", request_id))
        return response


def query_action(request: HttpRequest) -> str | None:
    """The `Action` of a query or ec2 request: in the form body of a POST, as the SDKs send it,
    or in the query string of a GET."""
    pairs = query_params(request.raw_query)
    content_type = header(request.headers, "content-type") or ""
    if request.method == "POST" and content_type.split(";")[0].strip().lower() == _FORM:
        text = request.body.decode("utf-8", errors="replace")
        pairs = parse_qsl(text, keep_blank_values=True) + pairs
    return next((value for name, value in pairs if name == "Action"), None)
