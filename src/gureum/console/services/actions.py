"""What the console's forms do, through the same services and the same checks as the API.

A form's fields become the operation's input members and are checked against botocore's model
of the operation (`aws.validation`, AWS's own messages), then the same service method the API
handler calls runs. Errors are the services' own `AwsError`s: the page shows their code and
message exactly as an SDK would see them.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from gureum.aws.validation import validate
from gureum.console.domain.sessions import Session
from gureum.console.services.sources import Sources
from gureum.lambda_.domain.arns import resolve_function
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import InvocationType
from gureum.sqs.domain.queues import QueueKey


@dataclass(frozen=True, slots=True)
class Invoked:
    status: int
    payload: str
    executed_version: str | None
    function_error: str | None
    logs: str  # the tail of the invocation's log, REPORT line included
    request_id: str


class Actions:
    def __init__(self, sources: Sources) -> None:
        self._s = sources

    def _checked(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        shape = self._s.lambda_model.operation_model(operation).input_shape
        validate(shape, params)
        return params

    async def invoke(
        self, session: Session, name: str, qualifier: str, payload: str, asynchronous: bool
    ) -> Invoked:
        params: dict[str, Any] = {
            "FunctionName": name,
            "Payload": payload.encode(),
            "InvocationType": "Event" if asynchronous else "RequestResponse",
            "LogType": "Tail",
        }
        if qualifier:
            params["Qualifier"] = qualifier
        self._checked("Invoke", params)
        ref = resolve_function(
            name,
            params.get("Qualifier"),
            region=session.region,
            account=session.account,
            operation="Invoke",
        )
        request_id = str(uuid.uuid4())
        result = await self._s.invoker.invoke(
            Caller(session.account, session.region),
            ref,
            params["Payload"],
            InvocationType(params["InvocationType"]),
            True,
            None,
            request_id,
        )
        logs = (
            base64.b64decode(result.log_result).decode(errors="replace")
            if result.log_result
            else ""
        )
        return Invoked(
            result.status,
            result.payload.decode(errors="replace"),
            result.executed_version,
            result.function_error,
            logs,
            request_id,
        )

    def put_concurrency(self, session: Session, name: str, value: str) -> int:
        """PutFunctionConcurrency; the field is text, so a non-number is the model's own
        ValidationException (null is what a missing integer is on the wire)."""
        number: int | None = int(value) if value.strip().lstrip("-").isdigit() else None
        params = self._checked(
            "PutFunctionConcurrency",
            {"FunctionName": name, "ReservedConcurrentExecutions": number},
        )
        ref = resolve_function(
            name,
            None,
            region=session.region,
            account=session.account,
            operation="PutFunctionConcurrency",
        )
        return self._s.functions.put_concurrency(
            Caller(session.account, session.region),
            ref,
            params["ReservedConcurrentExecutions"],
            self._s.limits,
        )

    def redrive(self, session: Session, queue: str) -> int:
        return self._s.queues.redrive(QueueKey(session.account, session.region, queue))
