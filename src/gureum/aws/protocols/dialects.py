"""How a service botocore models speaks, as far as refusing one of its requests takes: which of its
protocols the request uses, which operation it names, and that protocol's error codec.

One error codec per protocol, for every service that speaks it: the full codecs of the services
gureum serves render their errors with these, and a service gureum does not serve is refused with
them, so that its SDK reads the error's code and message (botocore cannot parse a JSON error for
an XML service, and shows a parse error instead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from botocore.exceptions import UnsupportedServiceProtocolsError
from botocore.model import ServiceModel

from gureum.aws.errors import AwsError, UnknownOperation
from gureum.aws.http import HttpResponse, header
from gureum.aws.protocols.cbor import CborErrors, operation_in_path
from gureum.aws.protocols.json import JsonErrors, operation_targeted
from gureum.aws.protocols.restjson import RestJsonErrors
from gureum.aws.protocols.routes import RouteTable
from gureum.aws.protocols.xml import Ec2Errors, QueryErrors, RestXmlErrors, query_action
from gureum.aws.sigv4 import HttpRequest


class ErrorCodec(Protocol):
    """Renders an `AwsError` as one protocol's error response, where its SDKs look for the code,
    the message and the request id."""

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse: ...


ERROR_CODECS: Mapping[str, Callable[[ServiceModel], ErrorCodec]] = {
    "query": QueryErrors,
    "ec2": Ec2Errors,
    "rest-xml": RestXmlErrors,
    "json": JsonErrors,
    "rest-json": RestJsonErrors,
    "smithy-rpc-v2-cbor": CborErrors,
}
_CBOR = "smithy-rpc-v2-cbor"
_REST = frozenset({"rest-json", "rest-xml"})


class Dialect:
    """One modeled service's protocols, for requests gureum answers without serving them."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        spoken: list[str] = model.metadata.get("protocols") or [model.protocol]
        # A service may offer several (CloudWatch: rpc-v2-cbor, json, query), in its order of
        # preference.
        self._protocols = [name for name in spoken if name in ERROR_CODECS] or ["json"]
        self._routes: RouteTable | None = None

    def protocol_of(self, request: HttpRequest) -> str:
        """The protocol `request` is in: an older SDK may still send a protocol the service has
        since moved from (CloudWatch's query), and must be answered in it."""
        smithy = header(request.headers, "smithy-protocol")
        if _CBOR in self._protocols and smithy == "rpc-v2-cbor":
            return _CBOR
        if "json" in self._protocols and header(request.headers, "x-amz-target") is not None:
            return "json"
        if "query" in self._protocols and query_action(request) is not None:
            return "query"
        # Otherwise the one botocore itself speaks (CloudWatch: json, before rpc-v2-cbor).
        return self._preferred

    @property
    def _preferred(self) -> str:
        try:
            resolved: str = self.model.resolved_protocol
        except UnsupportedServiceProtocolsError:
            return self._protocols[0]
        return resolved if resolved in self._protocols else self._protocols[0]

    def operation_of(self, request: HttpRequest, protocol: str) -> str | None:
        """The operation `request` names in `protocol`, if it is one of the model's."""
        if protocol == "json":
            return operation_targeted(self.model, request)
        if protocol == _CBOR:
            return operation_in_path(self.model, request)
        if protocol in _REST:
            if self._routes is None:
                self._routes = RouteTable(self.model)
            try:
                name: str = self._routes.route(request).operation.name
            except UnknownOperation:
                return None
            return name
        action = query_action(request)
        return action if action in self.model.operation_names else None

    def errors(self, protocol: str) -> ErrorCodec:
        return ERROR_CODECS[protocol](self.model)
