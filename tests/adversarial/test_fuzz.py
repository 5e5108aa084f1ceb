"""Fuzzing the request readers of every service: whatever the bytes, a request or AWS's 400.

Each test calls a protocol codec the way the front door does (route, parse, validate against the
botocore model) with documents drawn from the operation's own input shape, then bent: members of
the wrong type, numbers past the Java types, NaN, deep nesting, cut-off or flipped bytes, invalid
UTF-8. The only acceptable outcomes are parsed members or an `AwsError` with a 4xx status; any
other exception is what the server would have turned into a 500 (issue #20). Bounded and
derandomized so the file runs in seconds and the same way in CI.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gureum.aws import sigv4
from gureum.aws.documents import UnreadableDocument, read_document
from gureum.aws.errors import AwsError, SerializationError
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.validation import validate
from gureum.lambda_.services.invoker import check_payload
from tests.support import fuzzing

pytestmark = pytest.mark.adversarial

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _outcome(read: Callable[[], object]) -> None:
    """`read` returns, or fails with a client error: nothing else."""
    status = 200
    try:
        read()
    except AwsError as error:
        status = error.status
    assert 200 <= status < 500


# --- the readers -------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=256) | fuzzing.bodies(None))
def test_invoke_payload_check_never_fails_unexpectedly(payload: bytes) -> None:
    _outcome(lambda: check_payload(payload))


@FUZZ
@given(fuzzing.ANY_JSON)
def test_any_json_document_reads_back_as_itself(document: Any) -> None:
    assert read_document(json.dumps(document).encode()) == document


def _read(codec: fuzzing.Codec, request: HttpRequest) -> None:
    routed = codec.route(request)
    params = codec.parse(routed, request)
    if routed.operation.input_shape is not None:
        validate(routed.operation.input_shape, params)


@FUZZ
@given(st.data())
def test_lambda_requests_parse_or_are_client_errors(data: st.DataObject) -> None:
    operation = data.draw(st.sampled_from(fuzzing.operations(fuzzing.LAMBDA)))
    body = data.draw(fuzzing.bodies(operation.input_shape))
    request = fuzzing.rest_request(data, operation, body)
    _outcome(lambda: _read(fuzzing.LAMBDA, request))


@pytest.mark.parametrize("service", sorted(fuzzing.JSON_CODECS))
@FUZZ
@given(data=st.data())
def test_json_protocol_requests_parse_or_are_client_errors(
    service: str, data: st.DataObject
) -> None:
    codec = fuzzing.JSON_CODECS[service]
    operation = data.draw(st.sampled_from(fuzzing.operations(codec)))
    target = codec.model.metadata["targetPrefix"] + "." + operation.name
    body = data.draw(fuzzing.bodies(operation.input_shape))
    request = HttpRequest("POST", "/", "", [("X-Amz-Target", target)], body)
    _outcome(lambda: _read(codec, request))


# --- signatures -------------------------------------------------------------------------------

LATIN_1 = st.text(st.characters(max_codepoint=255), max_size=60)
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={}"
)


@FUZZ
@given(
    st.one_of(
        LATIN_1,
        st.builds(
            AUTHORIZATION.format,
            LATIN_1,
            LATIN_1,
            LATIN_1,
            LATIN_1,
            LATIN_1,
            LATIN_1,
        ),
    ),
    LATIN_1,
    LATIN_1,
)
def test_signatures_of_any_shape_verify_or_fail_as_signature_failures(
    authorization: str, date: str, query: str
) -> None:
    request = HttpRequest(
        "GET",
        "/",
        query,
        [("Authorization", authorization), ("X-Amz-Date", date), ("Host", "h")],
        b"",
    )
    checks: list[Callable[[], object]] = [
        lambda: sigv4.credential_scope(request),
        lambda: sigv4.verify(request, "test", datetime(2026, 1, 1, tzinfo=UTC)),
    ]
    for check in checks:
        with contextlib.suppress(sigv4.SignatureFailure):
            check()


# --- what AWS answers, exactly -----------------------------------------------------------------

PAYLOAD_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
NON_NUMERIC = "enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
TOO_DEEP = (
    "Document nesting depth (1001) exceeds the maximum allowed "
    "(1000, from `StreamReadConstraints.getMaxNestingDepth()`)"
)


@pytest.mark.parametrize("depth", [1001, 5000, 100_000])
def test_payload_nested_past_jacksons_limit_is_refused_as_aws_refuses_it(depth: int) -> None:
    with pytest.raises(SerializationError) as caught:
        check_payload(fuzzing.nested(depth))
    assert caught.value.status == 400
    assert caught.value.message == PAYLOAD_PREFIX + TOO_DEEP


def test_nesting_within_reach_is_read() -> None:
    assert read_document(fuzzing.nested(500)) is not None
    assert read_document(b'["' + b"[[[[" * 400 + b'"]') == ["[[[[" * 400]  # brackets in strings


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b'{"a": NaN}', f"Non-standard token 'NaN': {NON_NUMERIC}"),
        (b"[-Infinity]", f"Non-standard token '-Infinity': {NON_NUMERIC}"),
        (b'["\x87"]', "Invalid UTF-8 start byte 0x87"),
        (b'["\xc3\x28"]', "Invalid UTF-8 middle byte 0xc3"),
        (
            b"[" + b"7" * 1001 + b"]",
            "Number value length (1001) exceeds the maximum allowed "
            "(1000, from `StreamReadConstraints.getMaxNumberLength()`)",
        ),
    ],
)
def test_documents_aws_refuses_are_refused_with_its_reason(document: bytes, reason: str) -> None:
    with pytest.raises(UnreadableDocument) as caught:
        read_document(document)
    assert caught.value.reason == reason


def test_numbers_up_to_jacksons_length_are_read() -> None:
    assert read_document(b"[" + b"7" * 1000 + b"]") == [int("7" * 1000)]
    assert read_document(b'{"a": 1e999}') == {"a": float("inf")}


def test_duplicate_keys_keep_the_last_value_as_jackson_does() -> None:
    assert read_document(b'{"a": 1, "a": 2}') == {"a": 2}


def test_json_protocol_bodies_it_cannot_read_are_serialization_exceptions() -> None:
    codec = fuzzing.JSON_CODECS["sqs"]
    request = HttpRequest(
        "POST",
        "/",
        "",
        [("X-Amz-Target", "AmazonSQS.ListQueues")],
        b'{"x": ' + fuzzing.nested(2000) + b"}",
    )
    with pytest.raises(AwsError) as caught:
        _read(codec, request)
    assert (caught.value.code, caught.value.status) == ("SerializationException", 400)
    assert caught.value.message == TOO_DEEP
