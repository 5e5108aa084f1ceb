"""Services and operations gureum does not serve, refused in the caller's own protocol: boto3 and
the AWS CLI show the code and the message, not a parse error (issue #21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess
from tests.support.signing import send

AWS = Path(sys.executable).parent / "aws"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
# Standard retry mode retries 500, 502, 503 and 504: a refusal must be none of those.
RETRYING = Config(retries={"mode": "standard", "max_attempts": 3})


def failure(call: Callable[..., Any], **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return response


@pytest.mark.parametrize(
    ("service", "call", "operation", "params"),
    [
        # rest-xml services (S3 is served now).
        ("route53", "list_hosted_zones", "ListHostedZones", {}),
        ("cloudfront", "list_distributions", "ListDistributions", {}),
        # Query services (IAM and STS are served now).
        ("sns", "list_topics", "ListTopics", {}),
        ("ses", "list_identities", "ListIdentities", {}),
        ("dynamodb", "list_tables", "ListTables", {}),
        # Services botocore speaks Smithy RPC v2 CBOR to.
        ("eventbridgev2", "list_event_buses", "ListEventBuses", {}),
        ("cloudwatchomni", "list_access_grants", "ListAccessGrants", {}),
    ],
)
def test_boto3_reads_the_refusal(
    server: GureumProcess, service: str, call: str, operation: str, params: dict[str, Any]
) -> None:
    client = server.client(service, config=RETRYING)
    response = failure(getattr(client, call), **params)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["ResponseMetadata"]["RequestId"]
    assert response["Error"]["Code"] == "NotImplemented"
    assert response["Error"]["Message"] == (
        f"gureum does not serve the {service} service (operation {operation}) yet."
    )


def test_a_bad_signature_for_an_unserved_service_is_read_too(server: GureumProcess) -> None:
    client = server.client("sns", aws_secret_access_key="not-the-secret")
    response = failure(client.list_topics)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"


def test_a_service_botocore_does_not_know_is_refused_in_json(server: GureumProcess) -> None:
    headers = {"X-Amz-Target": "Nothing_2024.DoSomething", "Content-Type": "application/json"}
    reply = send(server.url, "POST", "/", b"{}", headers=headers, service="nosuchservice")
    assert reply.status == 404
    assert reply.headers["x-amzn-errortype"] == "UnknownOperationException"
    assert reply.json() == {
        "__type": "UnknownOperationException",
        "message": "gureum does not serve 'nosuchservice', and botocore "
        f"{botocore.__version__} knows no service that signs requests as 'nosuchservice'.",
    }


def test_a_request_without_sigv4_is_answered_as_before(server: GureumProcess) -> None:
    # No scope, so no service: Lambda's rest-json 403, whatever the request looks like.
    request = urllib.request.Request(
        f"{server.url}/", data=b"Action=DescribeVpcs&Version=2016-11-15", headers=FORM
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    with caught.value as reply:
        assert reply.code == 403
        assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert json.loads(reply.read()) == {"message": "Missing Authentication Token"}


def test_an_unserved_operation_of_a_served_json_service_is_read(server: GureumProcess) -> None:
    sqs = server.client("sqs", config=RETRYING)
    source = "arn:aws:sqs:us-east-1:000000000000:anything"
    response = failure(sqs.list_message_move_tasks, SourceArn=source)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["Error"]["Code"] == "NotImplementedException"
    assert response["Error"]["Message"] == (
        "gureum does not implement the ListMessageMoveTasks operation yet."
    )


def test_an_unserved_operation_of_ec2_is_read_in_ec2s_error_shape(server: GureumProcess) -> None:
    # EC2 is served (its network model) but not its instances.
    ec2 = server.client("ec2", config=RETRYING)
    response = failure(ec2.describe_instances)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["ResponseMetadata"]["RequestId"]
    assert response["Error"]["Code"] == "NotImplementedException"
    assert response["Error"]["Message"] == (
        "gureum does not implement the DescribeInstances operation yet."
    )


def test_the_aws_cli_shows_the_code_and_message(server: GureumProcess, tmp_path: Path) -> None:
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        HOME=str(tmp_path),
    )
    command = [str(AWS), "--endpoint-url", server.url, "sns", "list-topics"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert (
        "An error occurred (NotImplemented) when calling the ListTopics operation: "
        "gureum does not serve the sns service (operation ListTopics) yet." in done.stderr
    ), done.stderr
