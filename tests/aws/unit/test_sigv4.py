"""SigV4 verification against requests signed by botocore itself (and boto3 clients)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from gureum.aws import sigv4
from gureum.aws.sigv4 import (
    MISMATCH_MESSAGE,
    UNSIGNED_PAYLOAD,
    CredentialScope,
    HttpRequest,
    SignatureFailure,
    SignatureProblem,
    canonical_request,
    credential_scope,
    verify,
)

ENDPOINT = "http://localhost:9001"
CREDENTIALS = Credentials("test", "test")
TS = "%Y%m%dT%H%M%SZ"


# --- helpers -------------------------------------------------------------------------------------


def to_http(prepared: Any) -> HttpRequest:
    """What a server sees for a botocore (prepared) request; urllib3 adds Host on the wire."""
    parts = urlsplit(prepared.url)
    headers = [
        (name, value.decode() if isinstance(value, bytes) else value)
        for name, value in prepared.headers.items()
    ]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", parts.netloc))
    body = prepared.body or b""
    body = body.encode() if isinstance(body, str) else body
    return HttpRequest(prepared.method, parts.path, parts.query, headers, body)


def signed_at(request: HttpRequest) -> datetime:
    value = next(v for k, v in request.headers if k.lower() == "x-amz-date")
    return datetime.strptime(value, TS).replace(tzinfo=UTC)


def sign(
    method: str,
    url: str,
    *,
    service: str = "lambda",
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    credentials: Credentials = CREDENTIALS,
) -> HttpRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=body)
    SigV4Auth(credentials, service, region).add_auth(request)
    return to_http(request.prepare())


def presign(
    url: str, expires: int, *, method: str = "GET", signer: type[SigV4QueryAuth] = SigV4QueryAuth
) -> tuple[HttpRequest, datetime]:
    request = AWSRequest(method=method, url=url)
    signer(CREDENTIALS, "lambda", "us-east-1", expires=expires).add_auth(request)
    http = to_http(request.prepare())
    date = dict(p.split("=", 1) for p in http.raw_query.split("&"))["X-Amz-Date"]
    return http, datetime.strptime(date, TS).replace(tzinfo=UTC)


def with_header(request: HttpRequest, name: str, value: str) -> HttpRequest:
    headers = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    return dataclasses.replace(request, headers=[*headers, (name, value)])


def failure(request: HttpRequest, now: datetime, secret: str = "test") -> SignatureFailure:
    with pytest.raises(SignatureFailure) as caught:
        verify(request, secret, now)
    return caught.value


class _Raw:
    """Just enough of a urllib3 response for botocore's parsers."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self._body.read()

    def read(self, *args: int) -> bytes:
        return self._body.read(*args)


@pytest.fixture
def lambda_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[tuple[Any, list[HttpRequest]]]:
    """A real boto3 Lambda client whose requests are captured instead of sent."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    client = boto3.client(
        "lambda",
        endpoint_url=ENDPOINT,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    captured: list[HttpRequest] = []

    def capture(request: Any, **_: object) -> AWSResponse:
        captured.append(to_http(request))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(b"{}"))

    client.meta.events.register("before-send.lambda.*", capture)
    yield client, captured
    client.close()


# --- the real client flow ------------------------------------------------------------------------


def test_boto3_get_function_with_qualifier_in_the_path(
    lambda_client: tuple[Any, list[HttpRequest]],
) -> None:
    client, captured = lambda_client
    client.get_function(FunctionName="my-fn:$LATEST")
    (request,) = captured
    assert request.raw_path == "/2015-03-31/functions/my-fn%3A%24LATEST"
    assert verify(request, "test", signed_at(request)) == CredentialScope(
        "test", signed_at(request).strftime("%Y%m%d"), "us-east-1", "lambda"
    )
    # botocore encodes the already-encoded wire path a second time.
    creq = canonical_request(request, ["host"], UNSIGNED_PAYLOAD, presigned=False)
    assert creq.splitlines()[1] == "/2015-03-31/functions/my-fn%253A%2524LATEST"


def test_boto3_list_functions_with_query(lambda_client: tuple[Any, list[HttpRequest]]) -> None:
    client, captured = lambda_client
    client.list_functions(MaxItems=5, Marker="a b/c+d=e~f*")
    (request,) = captured
    assert "MaxItems=5" in request.raw_query
    assert "Marker=" in request.raw_query
    verify(request, "test", signed_at(request))
    tampered = dataclasses.replace(request, raw_query=request.raw_query.replace("5", "6"))
    assert failure(tampered, signed_at(request)).problem is SignatureProblem.MISMATCH


def test_boto3_invoke_with_binary_body(lambda_client: tuple[Any, list[HttpRequest]]) -> None:
    client, captured = lambda_client
    payload = bytes(range(256)) * 3
    client.invoke(FunctionName="my-fn", Payload=payload, Qualifier="$LATEST")
    (request,) = captured
    assert request.body == payload
    now = signed_at(request)
    assert verify(request, "test", now).service == "lambda"
    tampered = dataclasses.replace(request, body=payload[:-1] + b"\x00")
    assert failure(tampered, now).problem is SignatureProblem.MISMATCH


# --- botocore's signer directly ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/2015-03-31/functions/my-fn%3A%24LATEST/invocations",
        "/a//b/./c/../d/",
        "/%E2%82%AC/%2F/~user/a+b/%20",
        "/unicode-ü",
    ],
)
def test_paths_match_botocore(path: str) -> None:
    request = sign("GET", f"{ENDPOINT}{path}")
    verify(request, "test", signed_at(request))


@pytest.mark.parametrize(
    "query",
    [
        "b=2&a=1&a=0",
        "Marker=a%20b%2Fc%2Bd&MaxItems=5",
        "flag&empty=&x=~-_.&y=%21%2A%27%28%29",
        "Qualifier=%24LATEST",
    ],
)
def test_queries_match_botocore(query: str) -> None:
    request = sign("GET", f"{ENDPOINT}/2015-03-31/functions/?{query}")
    verify(request, "test", signed_at(request))


def test_plus_in_a_query_is_a_space() -> None:
    # botocore sends %20; SDKs that form-encode (e.g. Go's url.Values) send '+' but sign %20.
    request = sign("GET", f"{ENDPOINT}/2015-03-31/functions/?Marker=a%20b%2Bc")
    plus = dataclasses.replace(request, raw_query="Marker=a+b%2Bc")
    verify(plus, "test", signed_at(request))


def test_header_values_are_trimmed_and_security_token_is_just_a_header() -> None:
    request = sign(
        "POST",
        f"{ENDPOINT}/2015-03-31/functions",
        headers={"X-Custom": "  a   b\tc  ", "Content-Type": "application/json"},
        body=b'{"FunctionName": "f"}',
        credentials=Credentials("ASIAEXAMPLE", "s3cr3t", token="session-token"),
    )
    assert ("X-Amz-Security-Token", "session-token") in request.headers
    verify(request, "s3cr3t", signed_at(request))
    tampered = with_header(request, "X-Amz-Security-Token", "other-token")
    assert failure(tampered, signed_at(request), "s3cr3t").problem is SignatureProblem.MISMATCH


def test_repeated_headers_are_joined_with_commas() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/", headers={"X-Multi": "one"})
    request.headers["x-multi"] = "  two   three "  # HTTPHeaders keeps both; prepare() would not
    SigV4Auth(CREDENTIALS, "lambda", "us-east-1").add_auth(request)
    http = to_http(request)
    assert [v for k, v in http.headers if k.lower() == "x-multi"] == ["one", "  two   three "]
    creq = canonical_request(http, ["host", "x-multi"], UNSIGNED_PAYLOAD, presigned=False)
    assert "\nx-multi:one,two three\n" in creq
    verify(http, "test", signed_at(http))
    swapped = dataclasses.replace(http, headers=list(reversed(http.headers)))
    assert failure(swapped, signed_at(http)).problem is SignatureProblem.MISMATCH


@pytest.mark.parametrize(
    ("service", "target"),
    [("sqs", "AmazonSQS.ListQueues"), ("kms", "TrentService.ListKeys")],
)
def test_other_json_services(service: str, target: str) -> None:
    request = sign(
        "POST",
        f"https://{service}.eu-west-1.amazonaws.com/",
        service=service,
        region="eu-west-1",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
        body=b"{}",
    )
    scope = verify(request, "test", signed_at(request))
    assert (scope.region, scope.service) == ("eu-west-1", service)
    tampered = with_header(request, "X-Amz-Target", f"{target}X")
    assert failure(tampered, signed_at(request)).problem is SignatureProblem.MISMATCH


def test_unsigned_payload_header() -> None:
    request = sign("POST", f"{ENDPOINT}/", headers={"X-Amz-Content-SHA256": UNSIGNED_PAYLOAD})
    verify(dataclasses.replace(request, body=b"anything"), "test", signed_at(request))


def test_declared_payload_hash_must_match_body() -> None:
    body = b"payload"
    digest = "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"
    request = sign("POST", f"{ENDPOINT}/", headers={"X-Amz-Content-SHA256": digest}, body=body)
    verify(request, "test", signed_at(request))
    caught = failure(dataclasses.replace(request, body=b"other"), signed_at(request))
    assert caught.problem is SignatureProblem.MISMATCH
    assert "x-amz-content-sha256" in caught.detail


def test_date_header_instead_of_x_amz_date() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/", headers={"Date": "placeholder"})
    SigV4Auth(CREDENTIALS, "lambda", "us-east-1").add_auth(request)
    http = to_http(request.prepare())
    assert not any(k.lower() == "x-amz-date" for k, _ in http.headers)
    date = parsedate_to_datetime(next(v for k, v in http.headers if k == "Date"))
    verify(http, "test", date.replace(tzinfo=UTC))
    stale = with_header(http, "Date", format_datetime(date - timedelta(hours=1), usegmt=False))
    assert failure(stale, date.replace(tzinfo=UTC)).problem is SignatureProblem.EXPIRED


# --- presigned URLs ------------------------------------------------------------------------------


def test_presigned_url_is_valid_until_it_expires() -> None:
    request, signed = presign(f"{ENDPOINT}/2015-03-31/functions/my-fn%3A1?Marker=x%20y", 60)
    assert "X-Amz-Signature=" in request.raw_query
    assert verify(request, "test", signed).access_key == "test"
    verify(request, "test", signed + timedelta(seconds=60))
    caught = failure(request, signed + timedelta(seconds=61))
    assert caught.problem is SignatureProblem.EXPIRED
    assert "60 sec" in caught.detail
    future = failure(request, signed - timedelta(minutes=16))
    assert future.problem is SignatureProblem.NOT_YET_VALID


def test_presigned_url_signs_the_body_hash_like_botocore() -> None:
    # botocore's SigV4QueryAuth (non-S3) signs sha256(body), not UNSIGNED-PAYLOAD.
    request, signed = presign(f"{ENDPOINT}/2015-03-31/functions/my-fn", 60)
    creq = canonical_request(request, ["host"], UNSIGNED_PAYLOAD, presigned=True)
    assert "X-Amz-Signature" not in creq
    verify(request, "test", signed)
    with_body = dataclasses.replace(request, body=b"smuggled")
    assert failure(with_body, signed).problem is SignatureProblem.MISMATCH


def test_presigned_with_unsigned_payload_is_accepted() -> None:
    request, signed = presign(f"{ENDPOINT}/2015-03-31/functions", 60, signer=S3SigV4QueryAuth)
    verify(dataclasses.replace(request, body=b"any body"), "test", signed)


def test_presigned_url_tampering() -> None:
    request, signed = presign(f"{ENDPOINT}/2015-03-31/functions/my-fn", 3600)
    longer = request.raw_query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    assert failure(dataclasses.replace(request, raw_query=longer), signed).problem is (
        SignatureProblem.MISMATCH
    )
    other_path = dataclasses.replace(request, raw_path="/2015-03-31/functions/other-fn")
    assert failure(other_path, signed).problem is SignatureProblem.MISMATCH
    too_long = request.raw_query.replace("X-Amz-Expires=3600", "X-Amz-Expires=604801")
    assert failure(dataclasses.replace(request, raw_query=too_long), signed).problem is (
        SignatureProblem.MALFORMED
    )


def test_presigned_and_authorization_header_together_is_malformed() -> None:
    request, signed = presign(f"{ENDPOINT}/", 60)
    both = with_header(request, "Authorization", "AWS4-HMAC-SHA256 Credential=x")
    assert failure(both, signed).problem is SignatureProblem.MALFORMED


# --- failures ------------------------------------------------------------------------------------


def test_wrong_secret_is_a_mismatch_with_debugging_aid() -> None:
    request = sign("GET", f"{ENDPOINT}/2015-03-31/functions/")
    caught = failure(request, signed_at(request), secret="wrong")
    assert caught.problem is SignatureProblem.MISMATCH
    assert caught.detail == MISMATCH_MESSAGE
    assert caught.canonical_request.startswith("GET\n/2015-03-31/functions/\n")
    assert caught.string_to_sign.startswith("AWS4-HMAC-SHA256\n")


def test_tampered_path_header_and_method_are_mismatches() -> None:
    request = sign("GET", f"{ENDPOINT}/2015-03-31/functions/a", headers={"X-Custom": "1"})
    now = signed_at(request)
    for tampered in (
        dataclasses.replace(request, raw_path="/2015-03-31/functions/b"),
        dataclasses.replace(request, method="DELETE"),
        with_header(request, "X-Custom", "2"),
        with_header(request, "Host", "localhost:9002"),
    ):
        assert failure(tampered, now).problem is SignatureProblem.MISMATCH


def test_clock_skew_limits() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    signed = signed_at(request)
    verify(request, "test", signed + timedelta(minutes=15))
    verify(request, "test", signed - timedelta(minutes=15))
    old = failure(request, signed + timedelta(minutes=15, seconds=1))
    assert old.problem is SignatureProblem.EXPIRED
    now = signed + timedelta(minutes=15, seconds=1)
    assert old.detail == (
        f"Signature expired: {signed:{TS}} is now earlier than "
        f"{now - timedelta(minutes=15):{TS}} ({now:{TS}} - 15 min.)"
    )
    early = failure(request, signed - timedelta(minutes=20))
    assert early.problem is SignatureProblem.NOT_YET_VALID
    assert early.detail.startswith(f"Signature not yet current: {signed:{TS}} is still later than")


def test_exact_aws_wording_for_a_five_minute_window() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    request = with_header(request, "X-Amz-Date", "20260101T000000Z")
    now = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    with pytest.raises(SignatureFailure) as caught:
        verify(request, "test", now, max_skew=timedelta(minutes=5))
    assert caught.value.detail == (
        "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z "
        "(20260101T001000Z - 5 min.)"
    )


def test_credential_date_must_match_request_date() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    now = signed_at(request)
    later = now + timedelta(days=1)
    moved = with_header(request, "X-Amz-Date", f"{later:{TS}}")
    caught = failure(moved, later)
    assert caught.problem is SignatureProblem.MISMATCH
    assert "Date in Credential scope does not match" in caught.detail


def test_missing_authorization() -> None:
    request = HttpRequest("GET", "/2015-03-31/functions/", "", [("Host", "localhost")], b"")
    with pytest.raises(SignatureFailure) as caught:
        credential_scope(request)
    assert caught.value.problem is SignatureProblem.MISSING
    assert failure(request, datetime.now(UTC)).problem is SignatureProblem.MISSING


@pytest.mark.parametrize(
    "authorization",
    [
        "garbage",
        "Bearer abc",
        "AWS test:signature",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request",
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda, SignedHeaders=host, "
        "Signature=00",
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, "
        "SignedHeaders=host, Signature=00, Signature=11",
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request SignedHeaders",
    ],
)
def test_garbled_authorization_is_malformed(authorization: str) -> None:
    headers = [("Host", "h"), ("X-Amz-Date", "20260101T000000Z"), ("Authorization", authorization)]
    request = HttpRequest("GET", "/", "", headers, b"")
    with pytest.raises(SignatureFailure) as caught:
        credential_scope(request)
    assert caught.value.problem is SignatureProblem.MALFORMED
    assert "Date" not in caught.value.detail


def test_missing_or_garbled_date_is_malformed() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    now = signed_at(request)
    no_date = dataclasses.replace(
        request, headers=[(k, v) for k, v in request.headers if k.lower() != "x-amz-date"]
    )
    assert failure(no_date, now).problem is SignatureProblem.MALFORMED
    assert failure(with_header(request, "X-Amz-Date", "yesterday"), now).problem is (
        SignatureProblem.MALFORMED
    )
    assert failure(with_header(request, "X-Amz-Date", "20261399T000000Z"), now).problem is (
        SignatureProblem.MALFORMED
    )
    # Digits, but not ASCII ones (FULLWIDTH DIGIT ...): never a timestamp.
    fullwidth = "".join(chr(0xFF10 + int(c)) for c in "20260101") + "T000000Z"
    assert failure(with_header(request, "X-Amz-Date", fullwidth), now).problem is (
        SignatureProblem.MALFORMED
    )


def test_a_claim_read_once_verifies_like_the_request() -> None:
    request = sign("POST", f"{ENDPOINT}/2015-03-31/functions/f/invocations", body=b"{}")
    now = signed_at(request)
    claimed = sigv4.claim(request)
    assert sigv4.verify(request, "test", now, claimed=claimed) == claimed.scope
    assert claimed.scope == sigv4.credential_scope(request)


def test_expires_in_authorization_header_does_not_extend_validity() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    now = signed_at(request) + timedelta(hours=1)
    header = next(v for k, v in request.headers if k == "Authorization")
    stretched = with_header(request, "Authorization", f"{header}, Expires=604800, Date=x")
    assert failure(stretched, now).problem is SignatureProblem.EXPIRED


def test_credential_scope_parsing() -> None:
    request = sign(
        "POST",
        "https://sqs.ap-northeast-2.amazonaws.com/",
        service="sqs",
        region="ap-northeast-2",
        credentials=Credentials("AKIDEXAMPLE", "secret"),
    )
    assert credential_scope(request) == CredentialScope(
        "AKIDEXAMPLE", signed_at(request).strftime("%Y%m%d"), "ap-northeast-2", "sqs"
    )
    presigned, signed = presign(f"{ENDPOINT}/", 60)
    assert credential_scope(presigned) == CredentialScope(
        "test", signed.strftime("%Y%m%d"), "us-east-1", "lambda"
    )
    # Comma-only separators, as some clients send them.
    compact = (
        "AWS4-HMAC-SHA256 Credential=AK/20260101/r/s/aws4_request,SignedHeaders=host,Signature=0"
    )
    headers = [("authorization", compact), ("host", "h"), ("x-amz-date", "20260101T000000Z")]
    bare = HttpRequest("GET", "/", "", headers, b"")
    assert credential_scope(bare) == CredentialScope("AK", "20260101", "r", "s")


def test_naive_now_is_rejected() -> None:
    request = sign("GET", f"{ENDPOINT}/")
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(request, "test", signed_at(request).replace(tzinfo=None))


def test_a_request_and_its_head_are_parsed_once_and_other_requests_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server reads a request's head for its scope, then checks the request with its body
    (the same headers): one parse. A request with other headers or another query is read
    afresh, never given the claim of the one before."""
    parsed: list[HttpRequest] = []
    afresh = sigv4._parse_afresh

    def counting(request: HttpRequest) -> sigv4.Claim:
        parsed.append(request)
        return afresh(request)

    monkeypatch.setattr(sigv4, "_parse_afresh", counting)
    body = b'{"k": 1}'
    request = sign("POST", f"{ENDPOINT}/2015-03-31/functions/f/invocations", body=body)
    head = dataclasses.replace(request, body=b"")
    assert sigv4.credential_scope(head).service == "lambda"
    verify(dataclasses.replace(head, body=body), "test", signed_at(request))
    assert len(parsed) == 1

    other = sign("POST", f"{ENDPOINT}/", service="sqs", body=b"x")
    assert sigv4.credential_scope(other).service == "sqs"
    requery = dataclasses.replace(other, raw_query="a=1")
    assert sigv4.credential_scope(requery).service == "sqs"
    assert len(parsed) == 3
    # The same headers under another list (a copy) are read afresh too.
    copied = dataclasses.replace(request, headers=list(request.headers))
    assert sigv4.credential_scope(copied).service == "lambda"
    assert len(parsed) == 4
