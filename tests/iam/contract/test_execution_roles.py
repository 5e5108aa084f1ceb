"""Execution roles for real, under `--iam enforce`: code in a function acts as a session of its
role (named after the function) and no more; Lambda acting for the role (dead-letter queues,
destinations, a customer managed key's variables) is allowed only what the role is allowed;
a function's policy admits principals of its own account; no credential reaches a log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.lambda_.contract.test_async import Metrics, wait_until
from tests.support.aws import aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

A, B, REGION = "000000000000", "111122223333", "us-east-1"

PROBE = """
import os

def handler(event, context):
    import boto3
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    found = {
        "key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "token": os.environ.get("AWS_SESSION_TOKEN"),
        "arn": boto3.client("sts").get_caller_identity()["Arn"],
    }
    if "queue" in event:
        try:
            boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="from the role")
            found["send"] = "ok"
        except Exception as error:
            found["send"] = error.response["Error"]["Code"]
    return found
"""


def trust_lambda() -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def allow(action: str, resource: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("gureum-roles") / "data"
    args = ("--isolation", "none", "--iam", "enforce", "--time-scale", "0.01")
    process = GureumProcess(data, *args).start()
    yield process
    process.stop()


def root(server: GureumProcess, service: str, account: str = A) -> Any:
    key = "test" if account == A else account
    return server.client(service, aws_access_key_id=key, aws_secret_access_key="test")


def role(server: GureumProcess, name: str, account: str = A, **inline: str) -> str:
    iam = root(server, "iam", account)
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_lambda())["Role"][
        "Arn"
    ]
    for policy_name, document in inline.items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
    return arn


def function(
    server: GureumProcess, name: str, role_arn: str, account: str = A, **params: Any
) -> str:
    lam = root(server, "lambda", account)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": PROBE})},
        **params,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    return name


def invoke(server: GureumProcess, name: str, event: dict[str, Any], account: str = A) -> Any:
    answer = root(server, "lambda", account).invoke(
        FunctionName=name, Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())


def queue(server: GureumProcess, name: str) -> tuple[str, str]:
    sqs = root(server, "sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def test_code_in_a_function_acts_as_its_role_and_no_more(server: GureumProcess) -> None:
    allowed_url, allowed_arn = queue(server, "role-allowed")
    denied_url, _ = queue(server, "role-denied")
    arn = role(server, "probe-role", send=allow("sqs:SendMessage", allowed_arn))
    function(server, "probe", arn)
    found = invoke(server, "probe", {"queue": allowed_url})
    assert found["arn"] == f"arn:aws:sts::{A}:assumed-role/probe-role/probe"
    assert found["key"].startswith("ASIA")
    assert found["key"] != "test"
    assert found["token"]
    assert found["send"] == "ok"
    assert invoke(server, "probe", {"queue": denied_url})["send"].startswith("AccessDenied")
    # The session works from outside the function too, as the same role and no more.
    sts = server.client(
        "sts",
        aws_access_key_id=found["key"],
        aws_secret_access_key=found["secret"],
        aws_session_token=found["token"],
    )
    assert sts.get_caller_identity()["Arn"] == found["arn"]
    # No credential the function held is in the server's log or anywhere in its data.
    assert found["secret"] not in server.log_path.read_text(errors="replace")
    for path in Path(server.data_dir).rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert found["secret"].encode() not in path.read_bytes(), path


def test_a_function_of_another_account_acts_as_that_accounts_role(
    server: GureumProcess,
) -> None:
    arn = role(server, "b-role", account=B)
    function(server, "b-probe", arn, account=B)
    found = invoke(server, "b-probe", {}, account=B)
    assert found["arn"] == f"arn:aws:sts::{B}:assumed-role/b-role/b-probe"


def test_dead_letters_and_destinations_need_the_roles_permission(server: GureumProcess) -> None:
    dlq_url, dlq_arn = queue(server, "dlq-allowed")
    _, closed_arn = queue(server, "dlq-closed")
    allowed = role(server, "dlq-role", send=allow("sqs:SendMessage", dlq_arn))
    sqs, lam = root(server, "sqs"), root(server, "lambda")
    for name, target in (("dlq-ok", dlq_arn), ("dlq-refused", closed_arn)):
        function(server, name, allowed, DeadLetterConfig={"TargetArn": target})
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": true}')
    wait_until(lambda: Metrics(server).counter("DeadLetterErrors", "dlq-refused") == 1, 30)
    received = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=5)["Messages"]
    assert json.loads(received[0]["Body"]) == {"fail": True}
    assert Metrics(server).counter("DeadLetterErrors", "dlq-ok") == 0
    # A destination the role may not send to counts a delivery failure.
    function(server, "dest-refused", allowed)
    lam.put_function_event_invoke_config(
        FunctionName="dest-refused",
        DestinationConfig={"OnSuccess": {"Destination": closed_arn}},
    )
    lam.invoke(FunctionName="dest-refused", InvocationType="Event", Payload=b"{}")
    wait_until(
        lambda: Metrics(server).counter("DestinationDeliveryFailures", "dest-refused") == 1, 30
    )


def test_variables_under_a_customer_key_need_the_roles_kms_decrypt(server: GureumProcess) -> None:
    kms, lam = root(server, "kms"), root(server, "lambda")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    arn = role(server, "kms-role")
    function(server, "kms-probe", arn, KMSKeyArn=key, Environment={"Variables": {"GREETING": "hi"}})
    refusal = (
        "Lambda was unable to decrypt the environment variables because KMS access was denied. "
        "Please check the function's KMS key settings. KMS Exception: AccessDeniedExceptionKMS "
        f"Message: User: arn:aws:sts::{A}:assumed-role/kms-role/kms-probe is not authorized to "
        f"perform: kms:Decrypt on resource: {key} because no identity-based policy allows the "
        "kms:Decrypt action"
    )
    with aws_error("KMSAccessDeniedException", 502, refusal):
        lam.invoke(FunctionName="kms-probe", Payload=b"{}")
    root(server, "iam").put_role_policy(
        RoleName="kms-role", PolicyName="decrypt", PolicyDocument=allow("kms:Decrypt", key)
    )
    assert invoke(server, "kms-probe", {})["arn"].endswith("/kms-role/kms-probe")


def test_a_functions_policy_admits_a_principal_of_its_own_account(
    server: GureumProcess,
) -> None:
    arn = role(server, "shared-role")
    function(server, "shared", arn)
    iam = root(server, "iam")
    iam.create_user(UserName="caller")
    created = iam.create_access_key(UserName="caller")["AccessKey"]
    caller = server.client(
        "lambda",
        aws_access_key_id=created["AccessKeyId"],
        aws_secret_access_key=created["SecretAccessKey"],
    )
    action = "lambda:InvokeFunction"
    resource = f"arn:aws:lambda:{REGION}:{A}:function:shared"
    refusal = (
        f"User: arn:aws:iam::{A}:user/caller is not authorized to perform: {action} on "
        f"resource: {resource} because no identity-based policy allows the {action} action"
    )
    with aws_error("AccessDeniedException", 403, refusal):
        caller.invoke(FunctionName="shared", Payload=b"{}")
    root(server, "lambda").add_permission(
        FunctionName="shared",
        StatementId="caller",
        Action=action,
        Principal=f"arn:aws:iam::{A}:user/caller",
    )
    assert caller.invoke(FunctionName="shared", Payload=b"{}")["StatusCode"] == 200


def _signed_get(url: str, key: str, secret: str, token: str | None = None) -> int:
    request = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(key, secret, token), "lambda", REGION).add_auth(request)
    prepared = urllib.request.Request(url, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=10) as reply:
            status: int = reply.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_iam_function_url_needs_invoke_function_url_in_its_own_account(
    server: GureumProcess,
) -> None:
    function(server, "url-target", role(server, "url-role"))
    lam, iam = root(server, "lambda"), root(server, "iam")
    url = lam.create_function_url_config(FunctionName="url-target", AuthType="AWS_IAM")[
        "FunctionUrl"
    ]
    iam.create_user(UserName="url-user")
    key = iam.create_access_key(UserName="url-user")["AccessKey"]
    user = (key["AccessKeyId"], key["SecretAccessKey"])
    assert _signed_get(url, "test", "test") == 200  # the account's root
    assert _signed_get(url, *user) == 403
    lam.add_permission(
        FunctionName="url-target",
        StatementId="user",
        Action="lambda:InvokeFunctionUrl",
        Principal=f"arn:aws:iam::{A}:user/url-user",
        FunctionUrlAuthType="AWS_IAM",
    )
    assert _signed_get(url, *user) == 200
    # A role's session signs with its token, and needs the permission as much.
    arn = role(server, "url-caller")
    iam.update_assume_role_policy(
        RoleName="url-caller",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )
    session = root(server, "sts").assume_role(RoleArn=arn, RoleSessionName="url-session")[
        "Credentials"
    ]
    signed = (session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    assert _signed_get(url, *signed) == 403
    iam.put_role_policy(
        RoleName="url-caller",
        PolicyName="url",
        PolicyDocument=allow("lambda:InvokeFunctionUrl", f"arn:aws:lambda:*:{A}:function:*"),
    )
    assert _signed_get(url, *signed) == 200
    assert _signed_get(url, session["AccessKeyId"], session["SecretAccessKey"]) == 403


def test_across_accounts_under_enforce_both_policies_must_allow(server: GureumProcess) -> None:
    """IAM's cross-account rule: the caller's identity policies (in its account) and the
    function's policy (in the owner's) must both allow; each refusal says which is missing."""
    function(server, "shared-out", role(server, "shared-out-role"))
    iam_b = root(server, "iam", B)
    iam_b.create_user(UserName="b-user")
    created = iam_b.create_access_key(UserName="b-user")["AccessKey"]
    b_user = server.client(
        "lambda",
        aws_access_key_id=created["AccessKeyId"],
        aws_secret_access_key=created["SecretAccessKey"],
    )
    action, resource = "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{A}:function:shared-out"
    who = f"arn:aws:iam::{B}:user/b-user"
    no_identity = (
        f"User: {who} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    no_resource = no_identity.replace("identity-based", "resource-based")
    with aws_error("AccessDeniedException", 403, no_identity):
        b_user.invoke(FunctionName=resource, Payload=b"{}")
    iam_b.put_user_policy(
        UserName="b-user", PolicyName="invoke", PolicyDocument=allow(action, resource)
    )
    with aws_error("AccessDeniedException", 403, no_resource):
        b_user.invoke(FunctionName=resource, Payload=b"{}")
    root(server, "lambda").add_permission(
        FunctionName="shared-out", StatementId="b", Action=action, Principal=B
    )
    assert b_user.invoke(FunctionName=resource, Payload=b"{}")["StatusCode"] == 200
