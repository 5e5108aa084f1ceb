"""What S3 needs of other services, as ports the composition root fills.

S3 imports no other service: notifications reach Lambda through a `NotificationTarget`, which
`app.py` fills with an adapter over Lambda's asynchronous invocation (its durable event queue).
`services.fakes` has the in-memory one the service tests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class UndeliverableNotification(Exception):
    """The destination is gone (its function deleted): the notification is dropped, as S3
    drops one whose function no longer exists."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who made a request, as event records name them."""

    account: str
    region: str
    request_id: str
    principal: str = ""
    source_ip: str = "127.0.0.1"
    # X-Amzn-Trace-Id of the request (an SDK inside a function sends its invocation's): the
    # notifications it causes carry it, so Lambda sees a loop through the bucket.
    trace_header: str | None = None


class NotificationTarget(Protocol):
    """Where event notifications go: Lambda functions, invoked asynchronously."""

    def function_exists(self, account: str, region: str, function_arn: str) -> bool:
        """Whether the function (or its alias or version) exists now. Blocking: called from a
        worker thread, by PutBucketNotificationConfiguration."""
        ...

    async def deliver(
        self,
        account: str,
        region: str,
        function_arn: str,
        payload: bytes,
        request_id: str,
        trace_header: str | None = None,
    ) -> None:
        """Queues one Event invocation of the function with `payload`; returns once it is
        durable in the destination's own queue. Raises UndeliverableNotification when the
        function is gone; any other failure is retried later."""
        ...
