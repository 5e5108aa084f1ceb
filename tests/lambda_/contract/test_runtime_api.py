"""The Runtime API (spec 9) as a custom runtime sees it from inside its environment.

The runtime below is a `provided.al2023` bootstrap written against the standard library only. It
does what each event asks of the API and reports what it observed in its response payload (or,
for what happens after the response, in a note in /tmp that the next invocation returns).
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from tests.support.functions import bootstrap_package, create, function_arn, invoke

PROBE = """\
#!/usr/bin/python3
import http.client
import json
import os
import sys
import time
import uuid

ADDRESS = os.environ["AWS_LAMBDA_RUNTIME_API"]
NOTES = "/tmp/notes.json"


def call(method, path, body=b"", headers=None):
    connection = http.client.HTTPConnection(ADDRESS)
    try:
        connection.request(method, "/2018-06-01/runtime" + path, body, headers or {})
        reply = connection.getresponse()
        return {
            "status": reply.status,
            "headers": {name.lower(): value for name, value in reply.getheaders()},
            "body": reply.read().decode(),
        }
    finally:
        connection.close()


def respond(request_id, document):
    call("POST", f"/invocation/{request_id}/response", json.dumps(document).encode())


if os.environ.get("FAIL_INIT"):
    error_type = {"Lambda-Runtime-Function-Error-Type": "Custom.InitFailed"}
    call("POST", "/init/error", os.environ["FAIL_INIT"].encode(), error_type)
    sys.exit(1)

while True:
    received = call("GET", "/invocation/next")
    received_ms = time.time() * 1000
    request_id = received["headers"]["lambda-runtime-aws-request-id"]
    event = json.loads(received["body"])
    action = event["action"]
    if action == "observe":
        respond(request_id, {"next": received, "received_ms": received_ms})
    elif action == "respond-twice":
        call("POST", f"/invocation/{request_id}/response", b'"first"')
        second = call("POST", f"/invocation/{request_id}/response", b'"second"')
        late_error = call("POST", f"/invocation/{request_id}/error", b"{}")
        with open(NOTES, "w") as handle:
            json.dump({"second": second, "late_error": late_error}, handle)
    elif action == "notes":
        with open(NOTES) as handle:
            call("POST", f"/invocation/{request_id}/response", handle.read().encode())
    elif action == "unknown-id":
        stranger = str(uuid.uuid4())
        response = call("POST", f"/invocation/{stranger}/response", b'"not yours"')
        error = call("POST", f"/invocation/{stranger}/error", b"{}")
        respond(request_id, {"response": response, "error": error})
    elif action == "error":
        error_type = {"Lambda-Runtime-Function-Error-Type": "Custom.Failure"}
        call("POST", f"/invocation/{request_id}/error", event["body"].encode(), error_type)
    elif action == "init-error-now":
        respond(request_id, call("POST", "/init/error", b"{}"))
"""

NAME = "runtime-api-probe"
TIMEOUT = 7
ERROR_BODY = (
    '{"errorMessage":"custom failure","errorType":"Custom.Failure",'
    '"stackTrace":["frame one","frame two"],"extra": {"kept":  true}}'
)
INVALID_REQUEST_ID = {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
TRACE_ID = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")


@pytest.fixture(scope="module")
def probe(lambda_client: Any) -> str:
    create(
        lambda_client,
        NAME,
        Runtime="provided.al2023",
        Handler="unused",
        Timeout=TIMEOUT,
        Code={"ZipFile": bootstrap_package(PROBE)},
        Publish=True,
    )
    lambda_client.create_alias(FunctionName=NAME, Name="live", FunctionVersion="1")
    return NAME


def observe(client: Any, **params: Any) -> tuple[Any, dict[str, Any], float]:
    """Invokes the probe's `observe`; returns (invocation, what `next` answered, when)."""
    sent = time.time() * 1000
    invoked = invoke(client, NAME, **params)
    assert (invoked.status, invoked.function_error) == (200, None), invoked.payload
    observed = invoked.json()
    assert observed["next"]["status"] == 200
    return invoked, observed, sent


def test_next_gives_the_event_verbatim_with_aws_headers(lambda_client: Any, probe: str) -> None:
    payload = b'{"action": "observe",   "spacing": [1,2 ,3], "text": "caf\\u00e9"}'
    invoked, observed, _ = observe(lambda_client, Payload=payload)
    assert observed["next"]["body"].encode() == payload
    headers = observed["next"]["headers"]
    assert headers["lambda-runtime-aws-request-id"] == invoked.request_id
    assert headers["lambda-runtime-invoked-function-arn"] == function_arn(NAME)
    assert TRACE_ID.match(headers["lambda-runtime-trace-id"]), headers["lambda-runtime-trace-id"]
    assert headers["content-type"] == "application/json"
    # Headers with no value are left out (no client context, no Cognito identity here).
    assert "lambda-runtime-client-context" not in headers
    assert "lambda-runtime-cognito-identity" not in headers


def test_deadline_is_absolute_epoch_milliseconds(lambda_client: Any, probe: str) -> None:
    _, observed, sent = observe(lambda_client, Payload=b'{"action": "observe"}')
    deadline = int(observed["next"]["headers"]["lambda-runtime-deadline-ms"])
    received = observed["received_ms"]
    assert sent - 1000 <= received <= time.time() * 1000 + 1000
    assert abs(deadline - (received + TIMEOUT * 1000)) < 1000


@pytest.mark.parametrize(
    ("qualifier", "arn"),
    [
        (None, function_arn(NAME)),
        ("$LATEST", function_arn(NAME, "$LATEST")),
        ("1", function_arn(NAME, "1")),
        ("live", function_arn(NAME, "live")),
    ],
    ids=["unqualified", "latest", "version", "alias"],
)
def test_invoked_function_arn_is_as_invoked(
    lambda_client: Any, probe: str, qualifier: str | None, arn: str
) -> None:
    params: dict[str, Any] = {"Payload": b'{"action": "observe"}'}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    _, observed, _ = observe(lambda_client, **params)
    assert observed["next"]["headers"]["lambda-runtime-invoked-function-arn"] == arn


def test_client_context_header_is_the_decoded_json(lambda_client: Any, probe: str) -> None:
    document = {"client": {"app_title": "t"}, "custom": {"k": "v"}, "env": {"e": "1"}}
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    _, observed, _ = observe(lambda_client, Payload=b'{"action": "observe"}', ClientContext=encoded)
    header = observed["next"]["headers"]["lambda-runtime-client-context"]
    assert json.loads(header) == document


def test_second_response_for_the_same_id_is_refused(lambda_client: Any, probe: str) -> None:
    first = invoke(lambda_client, NAME, {"action": "respond-twice"})
    assert (first.function_error, first.payload) == (None, b'"first"')
    notes = invoke(lambda_client, NAME, {"action": "notes"}).json()
    assert notes["second"]["status"] == 400
    assert json.loads(notes["second"]["body"]) == INVALID_REQUEST_ID
    assert notes["late_error"]["status"] == 400
    assert json.loads(notes["late_error"]["body"]) == INVALID_REQUEST_ID


def test_response_for_an_unknown_id_is_refused(lambda_client: Any, probe: str) -> None:
    observed = invoke(lambda_client, NAME, {"action": "unknown-id"}).json()
    for attempt in (observed["response"], observed["error"]):
        assert attempt["status"] == 400
        assert json.loads(attempt["body"]) == INVALID_REQUEST_ID


def test_invocation_error_body_reaches_the_caller_verbatim(lambda_client: Any, probe: str) -> None:
    invoked = invoke(lambda_client, NAME, {"action": "error", "body": ERROR_BODY})
    assert (invoked.status, invoked.function_error) == (200, "Unhandled")
    assert invoked.payload == ERROR_BODY.encode()
    # Reporting an error is not a crash: the runtime goes on serving.
    after = invoke(lambda_client, NAME, {"action": "observe"})
    assert after.function_error is None


def test_init_error_after_init_is_an_invalid_state_transition(
    lambda_client: Any, probe: str
) -> None:
    answer = invoke(lambda_client, NAME, {"action": "init-error-now"}).json()
    assert answer["status"] == 403
    assert json.loads(answer["body"])["errorType"] == "InvalidStateTransition"


def test_init_error_fails_the_invocation_with_its_body(lambda_client: Any) -> None:
    name = "runtime-api-init-error"
    body = '{"errorMessage":"could not start","errorType":"Custom.InitFailed","stackTrace":[]}'
    create(
        lambda_client,
        name,
        Runtime="provided.al2023",
        Handler="unused",
        Code={"ZipFile": bootstrap_package(PROBE)},
        Environment={"Variables": {"FAIL_INIT": body}},
    )
    for _ in range(2):  # the environment is discarded; the next invocation runs Init again
        invoked = invoke(lambda_client, name, {"action": "observe"})
        assert (invoked.status, invoked.function_error) == (200, "Unhandled")
        assert invoked.payload == body.encode()
