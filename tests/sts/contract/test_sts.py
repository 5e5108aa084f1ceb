"""STS against a real server: GetCallerIdentity for root, users and assumed roles; AssumeRole
with the trust policy evaluated, across accounts; session credentials that sign requests to
every service, refused once forged or expired; sessions that outlive a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.support.aws import aws_error
from tests.support.server import GureumProcess

A, B = "000000000000", "222233334444"
# 0.001: a 900-second session lasts under a second, so that expiry is observable.
ARGS = ("--isolation", "none", "--time-scale", "0.001")


def trust(*principals: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-sts") / "data", *ARGS).start()
    yield process
    process.stop()


def as_session(server: GureumProcess, service: str, credentials: dict[str, Any]) -> Any:
    return server.client(
        service,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_caller_identity_of_each_account_root(server: GureumProcess) -> None:
    for key, account in (("test", A), (B, B)):
        sts = server.client("sts", aws_access_key_id=key, aws_secret_access_key="test")
        found = sts.get_caller_identity()
        assert (found["Account"], found["UserId"]) == (account, account)
        assert found["Arn"] == f"arn:aws:iam::{account}:root"


def test_assume_role_and_act_as_it(server: GureumProcess) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust(A))["Role"]
    assumed = server.client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="ci", DurationSeconds=900
    )
    credentials = assumed["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40
    user = assumed["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{A}:assumed-role/deployer/ci"
    assert user["AssumedRoleId"] == f"{role['RoleId']}:ci"
    me = as_session(server, "sts", credentials).get_caller_identity()
    assert (me["Arn"], me["UserId"], me["Account"]) == (user["Arn"], user["AssumedRoleId"], A)
    # The session signs for the other services too.
    assert "Functions" in as_session(server, "lambda", credentials).list_functions()


def test_assume_role_is_refused_unless_trusted(server: GureumProcess) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="private", AssumeRolePolicyDocument=trust(A))["Role"]
    stranger = server.client("sts", aws_access_key_id=B, aws_secret_access_key="test")
    message = (
        f"User: arn:aws:iam::{B}:root is not authorized to perform: sts:AssumeRole on resource: "
        f"{role['Arn']}"
    )
    with aws_error("AccessDenied", 403, message):
        stranger.assume_role(RoleArn=role["Arn"], RoleSessionName="xx")
    missing = f"arn:aws:iam::{A}:role/missing"
    with aws_error("AccessDenied", 403):
        stranger.assume_role(RoleArn=missing, RoleSessionName="xx")


def test_cross_account_assume_role(server: GureumProcess) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="for-b", AssumeRolePolicyDocument=trust(B))["Role"]
    theirs = server.client("sts", aws_access_key_id=B, aws_secret_access_key="test")
    credentials = theirs.assume_role(RoleArn=role["Arn"], RoleSessionName="b-side")["Credentials"]
    me = as_session(server, "sts", credentials).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{A}:assumed-role/for-b/b-side"
    assert me["Account"] == A


def test_a_trust_policy_naming_a_user(server: GureumProcess) -> None:
    iam = server.client("iam")
    iam.create_user(UserName="carol")
    iam.create_user(UserName="dave")
    carol = f"arn:aws:iam::{A}:user/carol"
    role = iam.create_role(RoleName="carols", AssumeRolePolicyDocument=trust(carol))["Role"]

    def sts_of(user: str) -> Any:
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return server.client(
            "sts",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    carol_sts, dave_sts = sts_of("carol"), sts_of("dave")
    assert carol_sts.get_caller_identity()["Arn"] == carol
    carol_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="cc")
    with aws_error("AccessDenied", 403):
        dave_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="dd")


def test_durations_are_limited(server: GureumProcess) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="short-lived", AssumeRolePolicyDocument=trust(A))["Role"]
    sts = server.client("sts")
    with aws_error(
        "ValidationError",
        400,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    ):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=7200)
    unchecked = server.client("sts", config=Config(parameter_validation=False))
    with aws_error("ValidationError", 400):
        unchecked.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", DurationSeconds=10)


def test_forged_and_expired_tokens_are_refused(server: GureumProcess) -> None:
    iam = server.client("iam")
    role = iam.create_role(RoleName="brief", AssumeRolePolicyDocument=trust(A))["Role"]
    credentials = server.client("sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="brief", DurationSeconds=900
    )["Credentials"]
    forged = {**credentials, "SessionToken": credentials["SessionToken"][:-4] + "AAAA"}
    invalid = "The security token included in the request is invalid."
    with aws_error("InvalidClientTokenId", 403, invalid):
        as_session(server, "sts", forged).get_caller_identity()
    with aws_error("UnrecognizedClientException", 403, invalid):
        as_session(server, "lambda", forged).list_functions()
    no_token = server.client(
        "sts",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
    )
    with aws_error("InvalidClientTokenId", 403):
        no_token.get_caller_identity()
    # 900 seconds at a time scale of 0.001 is 0.9 s.
    time.sleep(1.0)
    expired = "The security token included in the request is expired"
    with aws_error("ExpiredToken", 403, expired):
        as_session(server, "sts", credentials).get_caller_identity()
    with aws_error("ExpiredTokenException", 403, expired):
        as_session(server, "lambda", credentials).list_functions()


def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", "--isolation", "none").start()
    try:
        role = process.client("iam").create_role(
            RoleName="kept", AssumeRolePolicyDocument=trust(A)
        )["Role"]
        credentials = process.client("sts").assume_role(
            RoleArn=role["Arn"], RoleSessionName="kept"
        )["Credentials"]
        process.stop()
        process.start()
        me = as_session(process, "sts", credentials).get_caller_identity()
        assert me["Arn"] == f"arn:aws:sts::{A}:assumed-role/kept/kept"
    finally:
        process.stop()


AWS = Path(sys.executable).parent / "aws"


def test_the_aws_cli_with_session_credentials(server: GureumProcess, tmp_path: Path) -> None:
    role = server.client("iam").create_role(RoleName="cli", AssumeRolePolicyDocument=trust(A))
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

    def aws(*args: str) -> Any:
        command = [str(AWS), "--endpoint-url", server.url, "--output", "json", "sts", *args]
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assumed = aws(
        "assume-role", "--role-arn", role["Role"]["Arn"], "--role-session-name", "cli-session"
    )
    credentials = assumed["Credentials"]
    env.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
    )
    assert aws("get-caller-identity")["Arn"] == f"arn:aws:sts::{A}:assumed-role/cli/cli-session"


def test_a_presigned_get_caller_identity_carries_its_session(server: GureumProcess) -> None:
    # What EKS's aws-iam-authenticator does: the token travels in the presigned URL's query.
    role = server.client("iam").create_role(RoleName="presigned", AssumeRolePolicyDocument=trust(A))
    credentials = server.client("sts").assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="url"
    )["Credentials"]
    url = as_session(server, "sts", credentials).generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    assert "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url, timeout=10) as reply:
        body = reply.read().decode()
    assert f"<Arn>arn:aws:sts::{A}:assumed-role/presigned/url</Arn>" in body
    forged = url.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(forged, timeout=10)
    assert caught.value.code == 403
    assert b"<Code>InvalidClientTokenId</Code>" in caught.value.read()
