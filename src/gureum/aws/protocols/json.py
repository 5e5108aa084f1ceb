"""The json protocol (CloudWatch Logs, SQS, KMS, Application Auto Scaling), from botocore's model.

Every request is `POST /` with the operation in `X-Amz-Target: <targetPrefix>.<Operation>` and its
members as a JSON document; responses are JSON documents; errors carry the code in `__type` (and
`x-amzn-ErrorType`) and the message in `message`, which is what botocore's JSON parser reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from gureum.aws.documents import UnreadableDocument, read_document
from gureum.aws.errors import AwsError, JsonSerializationError, UnknownOperation
from gureum.aws.http import HttpResponse, header
from gureum.aws.protocols.routes import Routed
from gureum.aws.shapes import parse_value, render_value
from gureum.aws.sigv4 import HttpRequest


class JsonProtocol:
    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self._content_type = _content_type(model)
        self._prefix = model.metadata["targetPrefix"] + "."
        self._operations = {name: model.operation_model(name) for name in model.operation_names}
        self._errors = JsonErrors(model)

    def route(self, request: HttpRequest) -> Routed:
        target = header(request.headers, "x-amz-target") or ""
        name = target.removeprefix(self._prefix)
        if request.method != "POST" or not target.startswith(self._prefix):
            raise UnknownOperation(f"Unknown operation {target or request.method}")
        operation = self._operations.get(name)
        if operation is None:
            raise UnknownOperation(f"Unknown operation {target}")
        return Routed(operation, {})

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]:
        shape = routed.operation.input_shape
        if shape is None or not request.body:
            return {}
        try:
            document = read_document(request.body)
            if not isinstance(document, dict):
                raise UnreadableDocument("Start of structure or map found where not expected.")
            parsed: dict[str, Any] = parse_value(shape, document)
        except UnreadableDocument as exc:
            raise self.parse_failure(exc.reason) from None
        return parsed

    def parse_failure(self, reason: str) -> AwsError:
        """Coral's answer to a body it cannot read (400 SerializationException)."""
        return JsonSerializationError(reason)

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        shape = operation.output_shape
        document = render_value(shape, result) if shape is not None else {}
        body = json.dumps(document, separators=(",", ":")).encode()
        return HttpResponse(200, [("Content-Type", self._content_type)], body)

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        return self._errors.render_error(error, request_id)


def _content_type(model: ServiceModel | None) -> str:
    version = model.metadata.get("jsonVersion", "1.0") if model is not None else "1.0"
    return f"application/x-amz-json-{version}"


def operation_targeted(model: ServiceModel, request: HttpRequest) -> str | None:
    """The operation `X-Amz-Target` names, if it is one of `model`'s."""
    target = header(request.headers, "x-amz-target") or ""
    prefix, _, name = target.rpartition(".")
    if prefix != model.metadata.get("targetPrefix") or name not in model.operation_names:
        return None
    return name


class JsonErrors:
    """json error bodies (`__type` and `message`, the code again in `x-amzn-ErrorType`), for a
    service gureum serves, one it only answers for, or (no model) one botocore does not know."""

    def __init__(self, model: ServiceModel | None) -> None:
        self.model = model
        self._content_type = _content_type(model)
        shapes = model.error_shapes if model is not None else []
        self._error_shapes = {shape.name: shape for shape in shapes}

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse:
        # The request id travels in `x-amzn-RequestId`, which the front door adds to every
        # response and JSONParser reads from there.
        shape = self._error_shapes.get(error.code)
        modeled = shape.metadata.get("error", {}) if shape is not None else {}
        status = error.status if shape is None else modeled.get("httpStatusCode", 400)
        document: dict[str, Any] = {"__type": error.code, "message": error.message}
        document.update({k: v for k, v in error.fields.items() if v is not None})
        headers = [("x-amzn-ErrorType", error.code), ("Content-Type", self._content_type)]
        if self.model is not None and "awsQueryCompatible" in self.model.metadata:
            # SQS answers in JSON but every error still carries its query-protocol code, which
            # botocore and the JavaScript SDK report as the error's Code
            # (AWS.SimpleQueueService.NonExistentQueue). botocore's JSON model of SQS lost those
            # codes (boto/botocore#3515), so the error class keeps its own.
            query_code = modeled.get("code") or error.query_code or error.code
            fault = "Sender" if error.sender_fault else "Receiver"
            headers.append(("x-amzn-query-error", f"{query_code};{fault}"))
        return HttpResponse(status, headers, json.dumps(document).encode())
