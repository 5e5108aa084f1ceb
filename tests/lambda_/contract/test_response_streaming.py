"""InvokeWithResponseStream against a real server, read with boto3's own EventStream parser.

A Node.js handler wrapped in `awslambda.streamifyResponse` streams through the Runtime API's
`streaming` response mode; the first chunk must reach the caller while the handler is still
running (seen in order: the chunk arrives before the invocation's END line is in its log), a
failure after the first byte comes back in InvokeComplete, a client that goes away frees the
environment, and a buffered (Python) function answers in one chunk, as AWS's do.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse
from typing import Any

import pytest

from tests.support.functions import bootstrap_package, create, error_of, function_arn
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

STREAMING_JS = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  responseStream.write("first ");
  console.log("wrote first");
  await new Promise((resolve) => setTimeout(resolve, event.pause || 0));
  if (event.fail) throw new TypeError("broke after the first chunk");
  for (let i = 0; i < (event.more || 0); i++) responseStream.write("x".repeat(65536));
  responseStream.write("second");
  responseStream.end();
});
"""

URL_JS = """\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  if (event.rawPath === "/raw") {
    responseStream.setContentType("text/csv");
    responseStream.write("a,b\\n");
    responseStream.end("1,2\\n");
    return;
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/plain", "x-streamed": "yes" },
  });
  stream.write("hello ");
  await new Promise((resolve) => setTimeout(resolve, 500));
  stream.end("world");
});
"""

BUFFERED_PY = """\
def handler(event, context):
    if event.get("fail"):
        raise ValueError("no luck")
    return {"hello": event.get("name", "world")}
"""


def _events(response: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, value) for event in response["EventStream"] for name, value in event.items()]


def _logs(server: GureumProcess, name: str) -> str:
    logs = server.client("logs")
    found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")
    return "".join(event["message"] for event in found["events"])


@pytest.fixture
def streaming(lambda_client: Any, function_name: str) -> str:
    create(
        lambda_client,
        function_name,
        Runtime="nodejs20.x",
        Code={"ZipFile": zip_of({"index.js": STREAMING_JS})},
        Timeout=30,
    )
    return function_name


def test_the_first_chunk_arrives_before_the_handler_returns(
    lambda_client: Any, server: GureumProcess, streaming: str
) -> None:
    response = lambda_client.invoke_with_response_stream(
        FunctionName=streaming, Payload=json.dumps({"pause": 3000}).encode(), LogType="Tail"
    )
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = iter(response["EventStream"])
    first = next(events)
    assert first == {"PayloadChunk": {"Payload": b"first "}}
    # Order, not time: the chunk is here and the invocation has not ended yet.
    request_id = response["ResponseMetadata"]["RequestId"]
    assert "END RequestId" not in _logs(server, streaming), request_id
    rest = [(name, value) for event in events for name, value in event.items()]
    assert rest[:-1] == [("PayloadChunk", {"Payload": b"second"})]
    name, complete = rest[-1]
    assert name == "InvokeComplete"
    assert "ErrorCode" not in complete
    assert "wrote first" in base64.b64decode(complete["LogResult"]).decode()
    assert "END RequestId" in _logs(server, streaming)


def test_a_failure_after_the_first_chunk_is_in_invoke_complete(
    lambda_client: Any, streaming: str
) -> None:
    response = lambda_client.invoke_with_response_stream(
        FunctionName=streaming, Payload=json.dumps({"fail": True}).encode()
    )
    events = _events(response)
    assert events[0] == ("PayloadChunk", {"Payload": b"first "})
    assert events[-1] == (
        "InvokeComplete",
        {"ErrorCode": "TypeError", "ErrorDetails": "broke after the first chunk"},
    )


def test_a_large_stream_arrives_whole(lambda_client: Any, streaming: str) -> None:
    response = lambda_client.invoke_with_response_stream(
        FunctionName=streaming, Payload=json.dumps({"more": 200}).encode()
    )
    events = _events(response)
    body = b"".join(value["Payload"] for name, value in events if name == "PayloadChunk")
    assert body == b"first " + b"x" * 65536 * 200 + b"second"
    assert events[-1] == ("InvokeComplete", {})


def test_invoke_buffers_a_streaming_function(lambda_client: Any, streaming: str) -> None:
    response = lambda_client.invoke(FunctionName=streaming, Payload=b"{}")
    assert response["Payload"].read() == b"first second"


def test_a_client_that_goes_away_frees_the_environment(
    lambda_client: Any, server: GureumProcess, streaming: str
) -> None:
    response = lambda_client.invoke_with_response_stream(
        FunctionName=streaming, Payload=json.dumps({"pause": 20000}).encode()
    )
    stream = response["EventStream"]
    assert next(iter(stream)) == {"PayloadChunk": {"Payload": b"first "}}
    stream.close()  # the client is gone while the handler sleeps
    # With reserved concurrency 1, the next invocation gets the environment only if the
    # abandoned one was given back; it would be throttled (429) while the handler slept.
    lambda_client.put_function_concurrency(FunctionName=streaming, ReservedConcurrentExecutions=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            again = lambda_client.invoke_with_response_stream(FunctionName=streaming, Payload=b"{}")
            break
        except lambda_client.exceptions.TooManyRequestsException:
            assert time.monotonic() < deadline, "the abandoned invocation kept its environment"
            time.sleep(0.1)
    body = b"".join(v["Payload"] for n, v in _events(again) if n == "PayloadChunk")
    assert body == b"first second"


def test_a_buffered_function_answers_in_one_chunk(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": zip_of({"index.py": BUFFERED_PY})})
    response = lambda_client.invoke_with_response_stream(
        FunctionName=function_name, Payload=b'{"name": "gureum"}'
    )
    assert _events(response) == [
        ("PayloadChunk", {"Payload": b'{"hello": "gureum"}'}),
        ("InvokeComplete", {}),
    ]
    failed = lambda_client.invoke_with_response_stream(
        FunctionName=function_name, Payload=b'{"fail": true}'
    )
    assert _events(failed) == [
        ("InvokeComplete", {"ErrorCode": "ValueError", "ErrorDetails": "no luck"})
    ]


def test_errors_before_the_stream_are_the_operations_own(lambda_client: Any) -> None:
    missing = "no-such-streaming-function"
    assert error_of(
        lambda_client.invoke_with_response_stream, FunctionName=missing, Payload=b"{}"
    ) == (
        404,
        "ResourceNotFoundException",
        f"Function not found: {function_arn(missing, '$LATEST')}",
    )


def test_dry_run_answers_204(lambda_client: Any, function_name: str) -> None:
    create(lambda_client, function_name, Code={"ZipFile": zip_of({"index.py": BUFFERED_PY})})
    response = lambda_client.invoke_with_response_stream(
        FunctionName=function_name, InvocationType="DryRun"
    )
    assert response["StatusCode"] == 204
    assert _events(response) == []


def test_a_response_stream_function_url(lambda_client: Any, function_name: str) -> None:
    create(
        lambda_client,
        function_name,
        Runtime="nodejs20.x",
        Code={"ZipFile": zip_of({"index.js": URL_JS})},
    )
    url = lambda_client.create_function_url_config(
        FunctionName=function_name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    assert lambda_client.get_function_url_config(FunctionName=function_name)["InvokeMode"] == (
        "RESPONSE_STREAM"
    )
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.request("GET", parts.path + "greet")
    reply = connection.getresponse()
    assert reply.status == 201
    assert reply.getheader("x-streamed") == "yes"
    assert reply.getheader("content-type") == "text/plain"
    assert reply.getheader("transfer-encoding") == "chunked"
    assert reply.read() == b"hello world"
    connection.request("GET", parts.path + "raw")
    raw = connection.getresponse()
    assert (raw.status, raw.getheader("content-type")) == (200, "text/csv")
    assert raw.read() == b"a,b\n1,2\n"
    connection.close()


CUSTOM_STREAMING = """#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
headers=$(mktemp)
while true; do
  curl -sS -D "$headers" -o /dev/null "$api/invocation/next"
  id=$(grep -i 'Lambda-Runtime-Aws-Request-Id' "$headers" | tr -d '\\r' | cut -d' ' -f2)
  { printf 'one '; sleep 2; printf 'two'; } | curl -sS -X POST -T - \\
      -H 'Lambda-Runtime-Function-Response-Mode: streaming' -H 'Content-Type: text/plain' \\
      "$api/invocation/$id/response" > /dev/null
done
"""


def test_a_custom_runtime_streams_unmodified(
    lambda_client: Any, server: GureumProcess, function_name: str
) -> None:
    create(
        lambda_client,
        function_name,
        Runtime="provided.al2023",
        Handler="none",
        Code={"ZipFile": bootstrap_package(CUSTOM_STREAMING)},
        Timeout=30,
    )
    response = lambda_client.invoke_with_response_stream(FunctionName=function_name)
    events = iter(response["EventStream"])
    assert next(events) == {"PayloadChunk": {"Payload": b"one "}}
    assert "END RequestId" not in _logs(server, function_name)
    rest = [(name, value) for event in events for name, value in event.items()]
    assert rest == [("PayloadChunk", {"Payload": b"two"}), ("InvokeComplete", {})]
