"""An in-memory `NotificationTarget`, shipped with the product for tests and embedding."""

from __future__ import annotations

from dataclasses import dataclass, field

from gureum.s3.services.ports import UndeliverableNotification


@dataclass
class RecordingTarget:
    """Remembers what was delivered; `functions` are the ARNs that exist."""

    functions: set[str] = field(default_factory=set)
    delivered: list[tuple[str, bytes, str]] = field(default_factory=list)
    failures: int = 0  # the next deliveries that fail (then are retried)

    def function_exists(self, account: str, region: str, function_arn: str) -> bool:
        return function_arn in self.functions

    async def deliver(
        self,
        account: str,
        region: str,
        function_arn: str,
        payload: bytes,
        request_id: str,
        trace_header: str | None = None,
    ) -> None:
        if function_arn not in self.functions:
            raise UndeliverableNotification(function_arn)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the destination is not reachable")
        self.delivered.append((function_arn, payload, request_id))
