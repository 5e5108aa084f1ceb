"""Functions' resource-based policies against a real server (default `--iam off`, where resource
policies that exist still apply): AddPermission, RemovePermission and GetPolicy with AWS's
document and errors, and another account's caller let in only as the policy says."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.aws import aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

A, B, C = "000000000000", "111122223333", "444455556666"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{A}:role/lambda-role"
ECHO = "def handler(event, context):\n    return {'echo': event}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("gureum-permissions") / "data"
    process = GureumProcess(data, "--isolation", "none").start()
    yield process
    process.stop()


def client(server: GureumProcess, account: str = A) -> Any:
    key = "test" if account == A else account
    return server.client("lambda", aws_access_key_id=key, aws_secret_access_key="test")


def arn(name: str, qualifier: str | None = None, account: str = A) -> str:
    base = f"arn:aws:lambda:{REGION}:{account}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


@pytest.fixture
def name(server: GureumProcess, request: pytest.FixtureRequest) -> str:
    function: str = request.node.name[:50].replace("[", "-").replace("]", "")
    lam = client(server)
    lam.create_function(
        FunctionName=function,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": ECHO})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=function, WaiterConfig={"Delay": 0.1})
    return function


def policy_of(lam: Any, name: str, **params: Any) -> tuple[dict[str, Any], str]:
    found = lam.get_policy(FunctionName=name, **params)
    return json.loads(found["Policy"]), found["RevisionId"]


def test_add_permission_writes_aws_statements(server: GureumProcess, name: str) -> None:
    lam = client(server)
    added = lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=f"arn:aws:sns:{REGION}:{A}:topic",
        SourceAccount=A,
    )
    statement = {
        "Sid": "sns",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn(name),
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": A},
            "ArnLike": {"AWS:SourceArn": f"arn:aws:sns:{REGION}:{A}:topic"},
        },
    }
    assert json.loads(added["Statement"]) == statement
    lam.add_permission(FunctionName=name, StatementId="b", Action="lambda:GetFunction", Principal=B)
    lam.add_permission(
        FunctionName=name,
        StatementId="org",
        Action="lambda:InvokeFunction",
        Principal="*",
        PrincipalOrgID="o-abcdefghij",
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal=f"arn:aws:iam::{B}:role/caller",
        FunctionUrlAuthType="AWS_IAM",
    )
    document, revision = policy_of(lam, name)
    assert document["Version"] == "2012-10-17"
    assert document["Id"] == "default"
    assert document["Statement"][0] == statement
    assert document["Statement"][1] == {
        "Sid": "b",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": "lambda:GetFunction",
        "Resource": arn(name),
    }
    assert document["Statement"][2]["Principal"] == "*"
    assert document["Statement"][2]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}
    }
    assert document["Statement"][3]["Condition"] == {
        "StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}
    }
    assert len(revision) == 36


def test_errors_of_the_policy_operations(server: GureumProcess, name: str) -> None:
    lam = client(server)
    with aws_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        lam.get_policy(FunctionName=name)
    with aws_error(
        "ResourceNotFoundException", 404, "No policy is associated with the given resource."
    ):
        lam.remove_permission(FunctionName=name, StatementId="none")
    grant = {"FunctionName": name, "StatementId": "one", "Action": "lambda:InvokeFunction"}
    lam.add_permission(**grant, Principal=B)
    with aws_error(
        "ResourceConflictException",
        409,
        "The statement id (one) provided already exists. Please specify a new statement id, "
        "or remove the existing statement.",
    ):
        lam.add_permission(**grant, Principal=B)
    with aws_error(
        "ResourceNotFoundException", 404, "Statement other is not found in resource policy."
    ):
        lam.remove_permission(FunctionName=name, StatementId="other")
    with aws_error(
        "InvalidParameterValueException",
        400,
        "The provided principal was invalid. Please check the principal and try again.",
    ):
        lam.add_permission(**{**grant, "StatementId": "bad"}, Principal="not-a-principal")
    precondition = (
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
        "API to retrieve the latest Revision Id"
    )
    with aws_error("PreconditionFailedException", 412, precondition):
        lam.add_permission(**{**grant, "StatementId": "two"}, Principal=B, RevisionId="stale")
    with aws_error("PreconditionFailedException", 412, precondition):
        lam.remove_permission(FunctionName=name, StatementId="one", RevisionId="stale")
    _, revision = policy_of(lam, name)
    lam.add_permission(**{**grant, "StatementId": "two"}, Principal=B, RevisionId=revision)
    _, newer = policy_of(lam, name)
    assert newer != revision
    lam.remove_permission(FunctionName=name, StatementId="one", RevisionId=newer)
    lam.remove_permission(FunctionName=name, StatementId="two")
    with aws_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        lam.get_policy(FunctionName=name)
    with aws_error("ResourceNotFoundException", 404):
        lam.add_permission(**grant, Principal=B, Qualifier="missing")


def test_policies_are_per_qualifier_and_gone_with_their_function(
    server: GureumProcess, name: str
) -> None:
    lam = client(server)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.add_permission(
        FunctionName=name,
        Qualifier="live",
        StatementId="b",
        Action="lambda:InvokeFunction",
        Principal=B,
    )
    document, _ = policy_of(lam, name, Qualifier="live")
    assert document["Statement"][0]["Resource"] == arn(name, "live")
    with aws_error("ResourceNotFoundException", 404):
        lam.get_policy(FunctionName=name)
    # An alias deleted and created again starts without the old alias's policy.
    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    with aws_error("ResourceNotFoundException", 404):
        lam.get_policy(FunctionName=name, Qualifier="live")
    lam.add_permission(FunctionName=name, StatementId="b", Action="lambda:*", Principal=B)
    lam.delete_function(FunctionName=name)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": ECHO})},
    )
    with aws_error("ResourceNotFoundException", 404, "The resource you requested does not exist."):
        lam.get_policy(FunctionName=name)


def test_another_account_invokes_only_as_the_policy_allows(
    server: GureumProcess, name: str
) -> None:
    owner, other, third = client(server), client(server, B), client(server, C)
    action = "lambda:InvokeFunction"
    refusal = (
        f"User: arn:aws:iam::{B}:root is not authorized to perform: {action} on resource: "
        f"{arn(name)} because no resource-based policy allows the {action} action"
    )
    with aws_error("AccessDeniedException", 403, refusal):
        other.invoke(FunctionName=arn(name), Payload=b"{}")
    owner.add_permission(FunctionName=name, StatementId="b", Action=action, Principal=B)
    answer = other.invoke(FunctionName=arn(name), Payload=b'{"from": "b"}')
    assert json.loads(answer["Payload"].read()) == {"echo": {"from": "b"}}
    with aws_error("AccessDeniedException", 403):
        third.invoke(FunctionName=arn(name), Payload=b"{}")
    # The unqualified function's policy grants nothing on an alias, nor other actions.
    with aws_error("AccessDeniedException", 403):
        other.get_function(FunctionName=arn(name))
    # A statement conditioned on a source ARN does not match a direct call.
    owner.add_permission(
        FunctionName=name,
        StatementId="c",
        Action=action,
        Principal=C,
        SourceArn=f"arn:aws:sns:{REGION}:{C}:topic",
    )
    with aws_error("AccessDeniedException", 403):
        third.invoke(FunctionName=arn(name), Payload=b"{}")
    owner.remove_permission(FunctionName=name, StatementId="b")
    with aws_error("AccessDeniedException", 403, refusal):
        other.invoke(FunctionName=arn(name), Payload=b"{}")


def test_another_account_reads_a_function_its_policy_shares(
    server: GureumProcess, name: str
) -> None:
    owner, other = client(server), client(server, B)
    owner.add_permission(
        FunctionName=name, StatementId="read", Action="lambda:GetFunction", Principal=B
    )
    found = other.get_function(FunctionName=arn(name))
    assert found["Configuration"]["FunctionArn"] == arn(name)
    # Operations no function policy can grant keep AWS's bare refusal.
    with aws_error("AccessDeniedException", 403):
        other.add_permission(
            FunctionName=arn(name), StatementId="x", Action="lambda:*", Principal=B
        )


def test_policies_survive_a_restart(server: GureumProcess, name: str) -> None:
    lam = client(server)
    lam.add_permission(
        FunctionName=name, StatementId="b", Action="lambda:InvokeFunction", Principal=B
    )
    before = lam.get_policy(FunctionName=name)
    server.stop()
    server.start()
    after = client(server).get_policy(FunctionName=name)
    assert (after["Policy"], after["RevisionId"]) == (before["Policy"], before["RevisionId"])
    client(server, B).invoke(FunctionName=arn(name), Payload=b"{}")


def _signed_get(url: str, account: str) -> int:
    request = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(account, "test"), "lambda", REGION).add_auth(request)
    prepared = urllib.request.Request(url, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=10) as reply:
            status: int = reply.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_an_iam_function_url_takes_another_account_its_policy_allows(
    server: GureumProcess, name: str
) -> None:
    owner = client(server)
    url = owner.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert _signed_get(url, A) == 200
    assert _signed_get(url, B) == 403
    owner.add_permission(
        FunctionName=name,
        StatementId="url",
        Action="lambda:InvokeFunctionUrl",
        Principal=B,
        FunctionUrlAuthType="AWS_IAM",
    )
    assert _signed_get(url, B) == 200
    assert _signed_get(url, C) == 403
