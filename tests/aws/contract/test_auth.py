"""Authentication over the wire: SigV4 in both forms, AWS's 403s, regions, request ids."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.packages import zip_of
from tests.support.server import GureumProcess
from tests.support.signing import send

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
AMZ_DATE = "%Y%m%dT%H%M%SZ"


def failure(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return response


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = response["ResponseMetadata"]["HTTPHeaders"]
    return headers


def test_wrong_secret_is_an_invalid_signature(server: GureumProcess) -> None:
    client = server.client(aws_secret_access_key="not-the-secret")
    response = failure(client.list_functions)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    message = response["Error"]["Message"]
    assert message.startswith(BAD_SIGNATURE)
    # Like AWS, the message shows what should have been signed, to debug a client with.
    expected_canonical = (
        "The Canonical String for this request should have been\n'GET\n/2015-03-31/"
    )
    assert expected_canonical in message
    assert "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message


def test_unknown_access_key_is_unrecognized(server: GureumProcess) -> None:
    client = server.client(aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key="whatever")
    response = failure(client.get_function, FunctionName="anything")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "UnrecognizedClientException"
    assert response["Error"]["Message"] == "The security token included in the request is invalid."


def test_unsigned_request_is_missing_a_token(server: GureumProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.url}/2015-03-31/functions/", timeout=10)
    with caught.value as reply:
        assert reply.code == 403
        assert reply.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationToken")
        assert UUID.fullmatch(reply.headers["x-amzn-RequestId"])
        assert json.loads(reply.read()) == {"message": "Missing Authentication Token"}


def test_expired_signature_is_refused(
    server: GureumProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client whose clock runs 20 minutes slow signs every request 20 minutes in the past.
    signed_at = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    response = failure(server.client().list_functions)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    message = response["Error"]["Message"]
    match = re.fullmatch(
        r"Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) "
        r"\((\d{8}T\d{6}Z) - 5 min\.\)",
        message,
    )
    assert match is not None, message
    signed, earliest, now = (datetime.strptime(text, AMZ_DATE) for text in match.groups())
    assert signed == signed_at
    assert now - earliest == timedelta(minutes=5)
    assert abs(now - (signed_at + timedelta(minutes=20))) < timedelta(minutes=1)


def test_slightly_slow_clock_is_tolerated(
    server: GureumProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=3)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    assert "Functions" in server.client().list_functions()


def test_signature_from_the_future_is_refused(
    server: GureumProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
    response = failure(server.client().list_functions)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"].startswith("Signature not yet current: ")
    assert response["Error"]["Message"].endswith(" + 5 min.)")


def test_presigned_url_works(
    server: GureumProcess, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function()
    request = AWSRequest(method="GET", url=f"{server.url}/2015-03-31/functions/{function_name}")
    SigV4QueryAuth(Credentials("test", "test"), "lambda", "us-east-1", expires=60).add_auth(request)
    assert "X-Amz-Signature=" in request.url
    with urllib.request.urlopen(request.url, timeout=10) as reply:
        assert reply.status == 200
        assert UUID.fullmatch(reply.headers["x-amzn-RequestId"])
        document = json.loads(reply.read())
    assert document["Configuration"]["FunctionName"] == function_name


def test_presigned_url_with_a_wrong_secret_is_refused(server: GureumProcess) -> None:
    request = AWSRequest(method="GET", url=f"{server.url}/2015-03-31/functions/")
    SigV4QueryAuth(Credentials("test", "wrong"), "lambda", "us-east-1", expires=60).add_auth(
        request
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request.url, timeout=10)
    with caught.value as reply:
        assert reply.code == 403
        assert reply.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        assert json.loads(reply.read())["message"].startswith(BAD_SIGNATURE)


def test_any_region_works_and_keeps_its_functions(
    server: GureumProcess, function_name: str
) -> None:
    europe = server.client(region_name="eu-west-1")
    virginia = server.client(region_name="us-east-1")
    created = europe.create_function(
        FunctionName=function_name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of()},
    )
    arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{function_name}"
    assert created["FunctionArn"] == arn
    europe.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    assert europe.get_function(FunctionName=arn)["Configuration"]["FunctionArn"] == arn
    listed = europe.list_functions()["Functions"]
    assert [f["FunctionArn"] for f in listed if f["FunctionName"] == function_name] == [arn]

    response = failure(virginia.get_function, FunctionName=function_name)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["Error"]["Message"] == (
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
    )
    assert all(f["FunctionName"] != function_name for f in virginia.list_functions()["Functions"])
    response = failure(virginia.get_function, FunctionName=arn)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["Error"]["Message"] == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    )
    europe.delete_function(FunctionName=function_name)


def test_every_response_has_a_request_id_and_every_error_a_type(
    server: GureumProcess,
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    created = make_function()
    published = lambda_client.publish_version(FunctionName=function_name)
    successes = [
        created,
        published,
        lambda_client.list_functions(),
        lambda_client.get_function(FunctionName=function_name),
        lambda_client.delete_alias(FunctionName=function_name, Name="none"),
    ]
    assert [s["ResponseMetadata"]["HTTPStatusCode"] for s in successes] == [
        201,
        201,
        200,
        200,
        204,
    ]
    request_ids = set()
    for success in successes:
        headers = headers_of(success)
        assert UUID.fullmatch(headers["x-amzn-requestid"])
        assert success["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]
        assert "x-amzn-errortype" not in headers
        request_ids.add(headers["x-amzn-requestid"])
    assert len(request_ids) == len(successes)

    wrong_key = server.client(aws_secret_access_key="wrong")
    unknown_key = server.client(aws_access_key_id="nobody")
    errors = [
        failure(
            lambda_client.create_alias, FunctionName=function_name, Name="1", FunctionVersion="1"
        ),
        failure(wrong_key.list_functions),
        failure(unknown_key.list_functions),
        failure(lambda_client.get_function, FunctionName=f"{function_name}-none"),
        failure(lambda_client.create_function, **_create_params(function_name)),
        failure(lambda_client.get_function_code_signing_config, FunctionName=function_name),
    ]
    assert [e["ResponseMetadata"]["HTTPStatusCode"] for e in errors] == [
        400,
        403,
        403,
        404,
        409,
        501,
    ]
    for error in errors:
        headers = headers_of(error)
        assert UUID.fullmatch(headers["x-amzn-requestid"])
        assert error["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]
        assert headers["x-amzn-errortype"].split(":")[0] == error["Error"]["Code"]
        assert headers["content-type"] == "application/json"

    raw = send(server.url, "POST", "/2015-03-31/functions", b"{oops")
    assert raw.status == 400
    assert UUID.fullmatch(raw.headers["x-amzn-requestid"])
    assert raw.headers["x-amzn-errortype"] == "InvalidRequestContentException"


def _create_params(name: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_of()},
    }


def test_standard_retries_do_not_hide_auth_failures(server: GureumProcess) -> None:
    """A 403 is final: a client with retries on makes exactly one attempt."""
    client = server.client(
        aws_secret_access_key="wrong",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    response = failure(client.list_functions)
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
