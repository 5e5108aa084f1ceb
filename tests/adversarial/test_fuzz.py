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
from urllib.parse import quote

import botocore.session
import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gureum.aws import sigv4
from gureum.aws.protocols.json import JsonProtocol
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.validation import validate
from gureum.lambda_.services.invoker import check_payload

pytestmark = pytest.mark.adversarial

SESSION = botocore.session.get_session()
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
Codec = RestJsonProtocol | JsonProtocol

# --- documents ---------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.text(st.characters(exclude_categories=()), max_size=4)  # lone surrogates too
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _value_for(shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    """Mostly what the shape wants, sometimes anything at all."""
    if depth > 4:
        return ANY_JSON
    kind = shape.type_name
    wanted: st.SearchStrategy[Any]
    if kind == "structure":
        members = {name: _value_for(member, depth + 1) for name, member in shape.members.items()}
        wanted = st.fixed_dictionaries({}, optional=members)
    elif kind == "list":
        wanted = st.lists(_value_for(shape.member, depth + 1), max_size=3)
    elif kind == "map":
        wanted = st.dictionaries(
            st.text(max_size=8), _value_for(shape.value, depth + 1), max_size=3
        )
    elif kind in ("integer", "long"):
        wanted = st.integers(min_value=-(2**70), max_value=2**70)
    elif kind in ("float", "double"):
        wanted = st.floats()
    elif kind == "boolean":
        wanted = st.booleans()
    elif kind == "timestamp":
        wanted = st.floats() | st.integers() | st.text(max_size=30)
    elif kind == "blob":
        wanted = st.text(max_size=12)  # mostly not base64
    else:
        wanted = st.text(max_size=30)
    return st.one_of(wanted, wanted, ANY_JSON)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@st.composite
def bodies(draw: st.DrawFn, shape: Shape | None) -> bytes:
    """A JSON body for `shape`, possibly damaged on the way."""
    document = draw(_value_for(shape, 0)) if shape is not None else draw(ANY_JSON)
    text = json.dumps(document)  # NaN and Infinity included, as Python writes them
    body = text.encode("utf-8", "surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip", "nest", "bytes", "digits"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0x80, 0xFF))]) + body[at + 1 :]
    elif damage == "nest":
        body = b'{"x": ' + _nested(draw(st.sampled_from([999, 1001, 5000, 100_000]))) + b"}"
    elif damage == "bytes":
        body = draw(st.binary(max_size=64))
    elif damage == "digits":
        body = b'{"x": ' + b"9" * draw(st.sampled_from([1001, 4301, 20_000])) + b"}"
    return body


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
@given(st.binary(max_size=256) | bodies(None))
def test_invoke_payload_check_never_fails_unexpectedly(payload: bytes) -> None:
    _outcome(lambda: check_payload(payload))


@FUZZ
@given(ANY_JSON)
def test_any_json_document_reads_back_as_itself(document: Any) -> None:
    assert read_document(json.dumps(document).encode()) == document


def _operations(codec: Codec) -> list[OperationModel]:
    return [codec.model.operation_model(name) for name in sorted(codec.model.operation_names)]


def _rest_request(data: st.DataObject, operation: OperationModel, body: bytes) -> HttpRequest:
    """A request on the operation's own URI; labels, query and header members hold any text."""
    path, _, query = operation.http["requestUri"].partition("?")
    for label in [part.split("}")[0] for part in path.split("{")[1:]]:
        text = data.draw(st.text(min_size=1, max_size=12))
        path = path.replace("{" + label + "}", quote(text, safe=""))
    headers: list[tuple[str, str]] = []
    shape = operation.input_shape
    for name, member in shape.members.items() if shape is not None else []:
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        value = data.draw(st.none() | st.text(st.characters(max_codepoint=255), max_size=12))
        if value is None:
            continue
        if location == "header":
            headers.append((wire_name, value))
        elif location == "querystring":
            query += f"&{quote(wire_name)}={quote(value, safe='')}"
    return HttpRequest(operation.http["method"], path, query.lstrip("&"), headers, body)


def _read(codec: Codec, request: HttpRequest) -> None:
    routed = codec.route(request)
    params = codec.parse(routed, request)
    if routed.operation.input_shape is not None:
        validate(routed.operation.input_shape, params)


LAMBDA = RestJsonProtocol(SESSION.get_service_model("lambda"), "application/json")


@FUZZ
@given(st.data())
def test_lambda_requests_parse_or_are_client_errors(data: st.DataObject) -> None:
    operation = data.draw(st.sampled_from(_operations(LAMBDA)))
    body = data.draw(bodies(operation.input_shape))
    request = _rest_request(data, operation, body)
    _outcome(lambda: _read(LAMBDA, request))


@pytest.mark.parametrize("service", ["sqs", "kms", "logs"])
@FUZZ
@given(data=st.data())
def test_json_protocol_requests_parse_or_are_client_errors(
    service: str, data: st.DataObject
) -> None:
    codec = JSON_CODECS[service]
    operation = data.draw(st.sampled_from(_operations(codec)))
    target = codec.model.metadata["targetPrefix"] + "." + operation.name
    body = data.draw(bodies(operation.input_shape))
    request = HttpRequest("POST", "/", "", [("X-Amz-Target", target)], body)
    _outcome(lambda: _read(codec, request))


JSON_CODECS = {
    name: JsonProtocol(SESSION.get_service_model(name)) for name in ("sqs", "kms", "logs")
}


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
        check_payload(_nested(depth))
    assert caught.value.status == 400
    assert caught.value.message == PAYLOAD_PREFIX + TOO_DEEP


def test_nesting_within_reach_is_read() -> None:
    assert read_document(_nested(500)) is not None
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
    codec = JSON_CODECS["sqs"]
    request = HttpRequest(
        "POST",
        "/",
        "",
        [("X-Amz-Target", "AmazonSQS.ListQueues")],
        b'{"x": ' + _nested(2000) + b"}",
    )
    with pytest.raises(AwsError) as caught:
        _read(codec, request)
    assert (caught.value.code, caught.value.status) == ("SerializationException", 400)
    assert caught.value.message == TOO_DEEP
