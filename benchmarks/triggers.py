"""Triggers (issue #15): a function URL against the Invoke API on the same no-op function and
the same 8 clients, and an SQS event source mapping's throughput (messages per second from a
full queue to an empty one, BatchSize 10).

Only gureum has them among the targets: serverless-offline serves no function URLs by this
path, and MiniStack's mappings are not measured here.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import uvloop

from benchmarks.concurrent import _errors, _for_duration
from benchmarks.plan import Plan
from benchmarks.results import Results
from benchmarks.sigv4 import Request, invoke_request
from benchmarks.targets import HOST, Gureum

CLIENTS = 8
MESSAGES_PER_BATCH = 10


class _Unsigned:
    """Renders a request as is: a function URL with AuthType NONE takes no signature."""

    def render(self, request: Request) -> bytes:
        head = f"{request.method} {request.path} HTTP/1.1\r\nHost: {HOST}\r\n"
        head += f"Content-Length: {len(request.body)}\r\n\r\n"
        return head.encode() + request.body


def function_urls(target: Gureum, function: str, results: Results, plan: Plan) -> None:
    """Requests per second through a function URL beside Invoke, 8 clients each."""
    lam = target.boto3_client("lambda")
    url = lam.create_function_url_config(FunctionName=function, AuthType="NONE")["FunctionUrl"]
    path = urlsplit(url).path or "/"
    for key, signer, request in (
        ("url_tput_8", _Unsigned(), Request("GET", path, b"")),
        ("url_invoke_tput_8", target.signer(), invoke_request(function)),
    ):
        run = _for_duration(target.port, signer, request, CLIENTS, plan.tput_warmup)  # type: ignore[arg-type]
        uvloop.run(run)
        tally = uvloop.run(
            _for_duration(target.port, signer, request, CLIENTS, plan.tput_seconds)  # type: ignore[arg-type]
        )
        done = tally.statuses.get(200, 0)
        results.set(key, target.name, done / tally.seconds, _errors(tally.statuses, 200))


def sqs_mapping(target: Gureum, function: str, results: Results, plan: Plan) -> None:
    """Messages per second an SQS mapping (BatchSize 10) takes from a full queue to empty."""
    sqs, lam = target.boto3_client("sqs"), target.boto3_client("lambda")
    queue = sqs.create_queue(QueueName=f"bench-mapping-{function}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    count = plan.async_count
    for start in range(0, count, MESSAGES_PER_BATCH):
        entries = [
            {"Id": str(n), "MessageBody": f'{{"n": {start + n}}}'}
            for n in range(min(MESSAGES_PER_BATCH, count - start))
        ]
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)
    began = time.perf_counter()
    lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, BatchSize=MESSAGES_PER_BATCH
    )
    deadline = began + plan.drain_cap
    left = count
    while time.perf_counter() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        left = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        if left == 0:
            break
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    note = f"{count} messages" + (f", {left} left after {plan.drain_cap:g} s" if left else "")
    results.set("sqs_mapping_mps", target.name, (count - left) / seconds, note)
