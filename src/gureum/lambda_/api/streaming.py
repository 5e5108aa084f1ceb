"""InvokeWithResponseStream's wire adapter: parse, start the invocation, answer its events.

The answer's body is AWS's event stream (rendered by the rest-json codec from the model's
`eventstream` member), written as the function writes: see `services.streaming`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.lambda_.api.handlers import caller, function_ref
from gureum.lambda_.services.invoker import InvocationType
from gureum.lambda_.services.streaming import EVENT_STREAM_TYPE, ResponseStreaming


class StreamingApi:
    def __init__(self, streaming: ResponseStreaming) -> None:
        self._streaming = streaming

    def handlers(self) -> Mapping[str, Handler]:
        return {"InvokeWithResponseStream": self.invoke_with_response_stream}

    async def invoke_with_response_stream(
        self, ctx: CallContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        invocation = await self._streaming.invoke(
            caller(ctx),
            function_ref(ctx, params),
            params.get("Payload", b""),
            InvocationType(params.get("InvocationType", "RequestResponse")),
            params.get("LogType") == "Tail",
            params.get("ClientContext"),
            ctx.request_id,
            ctx.trace_header,
        )
        return {
            "StatusCode": invocation.status,
            "ExecutedVersion": invocation.executed_version,
            "ResponseStreamContentType": EVENT_STREAM_TYPE,
            "EventStream": invocation.events(),
        }
