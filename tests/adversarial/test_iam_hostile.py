"""Hostile input to IAM and STS over HTTP: malformed and oversized policy documents, forged,
swapped and foreign session tokens, keys of deleted users; nothing answers 500, and no secret
reaches the server's log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config

from tests.support.aws import aws_error
from tests.support.server import GureumProcess

A = "000000000000"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"}],
    }
)
UNCHECKED = Config(parameter_validation=False, retries={"total_max_attempts": 1})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-iam-hostile") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def iam(server: GureumProcess) -> Any:
    client = server.client("iam", config=UNCHECKED)
    client.create_role(RoleName="target", AssumeRolePolicyDocument=TRUST)
    return client


def statement(**fields: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [fields]})


HOSTILE_DOCUMENTS = [
    "[" * 20000 + "]" * 20000,
    '{"Version": "2012-10-17", "Statement": ' + '{"a":' * 5000 + "1" + "}" * 5001,
    "",
    "NaN",
    '{"Version": "2012-10-17", "Statement": "Allow everything"}',
    '{"Version": "2012-10-17", "Statement": []}',
    statement(Effect="Allow", Action={"s3": "*"}, Resource="*"),
    statement(Effect="Allow", Action=[], Resource="*"),
    statement(Effect="Allow", Action="s3:*", Resource=[None]),
    statement(Effect="Allow", Action="s3:*", Resource="*", Condition={"StringLike": {"k": {}}}),
    statement(Effect="Allow", Action="s3:*", Resource="*", Condition={"Bogus": {"k": "v"}}),
    statement(Effect="Allow", Action="s3:*", Resource="*", Condition=[1, 2]),
    statement(Effect="Allow", Action="s3:*", Resource="*", Surprise=True),
    statement(Effect=["Allow"], Action="s3:*", Resource="*"),
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny"}]}',
    "\udcff",
]


@pytest.mark.parametrize("document", HOSTILE_DOCUMENTS)
def test_malformed_identity_policies_are_400s(iam: Any, document: str) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 (ClientError or the SDK's own)
        iam.put_role_policy(RoleName="target", PolicyName="p", PolicyDocument=document)
    response = getattr(caught.value, "response", None)
    if response is None:  # the SDK itself could not send it (an unencodable string)
        return
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
    assert response["Error"]["Code"] in ("MalformedPolicyDocument", "ValidationError"), response


@pytest.mark.parametrize("document", HOSTILE_DOCUMENTS)
def test_malformed_trust_policies_are_400s(iam: Any, document: str) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 (ClientError or the SDK's own)
        iam.create_role(RoleName="hostile", AssumeRolePolicyDocument=document)
    response = getattr(caught.value, "response", None)
    if response is None:
        return
    assert response["ResponseMetadata"]["HTTPStatusCode"] in (400, 409), response
    assert response["Error"]["Code"] in (
        "MalformedPolicyDocument",
        "ValidationError",
        "LimitExceeded",
    ), response


@pytest.mark.parametrize(
    "principal",
    [{"AWS": {"x": 1}}, {"Nobody": "x"}, {"AWS": "arn:aws:iam::12:root"}, {}, "**", ["*"]],
)
def test_hostile_principals_are_refused(iam: Any, principal: Any) -> None:
    document = statement(Effect="Allow", Principal=principal, Action="sts:AssumeRole")
    with aws_error("MalformedPolicyDocument", 400):
        iam.create_role(RoleName="hostile-principal", AssumeRolePolicyDocument=document)


def test_oversized_documents_are_limit_exceeded(iam: Any) -> None:
    actions = [f"s3:Get{i:05}" for i in range(700)]
    big = statement(Effect="Allow", Action=actions, Resource="*")
    with aws_error("LimitExceeded", 409, "Cannot exceed quota for PolicySize: 6144"):
        iam.create_policy(PolicyName="big", PolicyDocument=big)


def _session(server: GureumProcess) -> dict[str, Any]:
    sts = server.client("sts")
    credentials: dict[str, Any] = sts.assume_role(
        RoleArn=f"arn:aws:iam::{A}:role/target", RoleSessionName="hostile"
    )["Credentials"]
    return credentials


def _sts_with(server: GureumProcess, key: str, secret: str, token: str | None) -> Any:
    return server.client(
        "sts", aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token
    )


def test_tokens_swapped_between_sessions_are_refused(server: GureumProcess, iam: Any) -> None:
    first, second = _session(server), _session(server)
    swapped = _sts_with(
        server, first["AccessKeyId"], first["SecretAccessKey"], second["SessionToken"]
    )
    with aws_error("InvalidClientTokenId", 403):
        swapped.get_caller_identity()
    # A session's token with a made-up key id (and the secret it would need unknown).
    made_up = _sts_with(server, "ASIAAAAAAAAAAAAAAAAA", "x" * 40, first["SessionToken"])
    with aws_error("InvalidClientTokenId", 403):
        made_up.get_caller_identity()


def test_a_token_from_another_server_is_refused(
    server: GureumProcess, iam: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = GureumProcess(tmp_path_factory.mktemp("gureum-other") / "data").start()
    try:
        other.client("iam").create_role(RoleName="target", AssumeRolePolicyDocument=TRUST)
        foreign = _session(other)
    finally:
        other.stop()
    client = _sts_with(
        server, foreign["AccessKeyId"], foreign["SecretAccessKey"], foreign["SessionToken"]
    )
    with aws_error("InvalidClientTokenId", 403):
        client.get_caller_identity()


@pytest.mark.parametrize("token", ["", "x", "FQoGZXIvYXdzE", "FQoGZXIvYXdzE" + "A" * 3000 + ".A"])
def test_garbage_tokens_are_refused(server: GureumProcess, iam: Any, token: str) -> None:
    credentials = _session(server)
    client = _sts_with(server, credentials["AccessKeyId"], credentials["SecretAccessKey"], token)
    with aws_error("InvalidClientTokenId", 403):
        client.get_caller_identity()


def test_keys_of_deleted_users_are_refused(server: GureumProcess, iam: Any) -> None:
    iam.create_user(UserName="leaver")
    key = iam.create_access_key(UserName="leaver")["AccessKey"]
    signer = _sts_with(server, key["AccessKeyId"], key["SecretAccessKey"], None)
    assert signer.get_caller_identity()["Arn"].endswith(":user/leaver")
    iam.delete_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName="leaver")
    with aws_error("InvalidClientTokenId", 403):
        signer.get_caller_identity()


def test_no_secret_reaches_the_log(server: GureumProcess, iam: Any) -> None:
    iam.create_user(UserName="quiet")
    key = iam.create_access_key(UserName="quiet")["AccessKey"]
    session = _session(server)
    _sts_with(server, key["AccessKeyId"], "wrong" * 8, None)
    with aws_error("SignatureDoesNotMatch", 403):
        _sts_with(server, key["AccessKeyId"], "wrong" * 8, None).get_caller_identity()
    log = server.log_path.read_text()
    for secret in (key["SecretAccessKey"], session["SecretAccessKey"], session["SessionToken"]):
        assert secret not in log
    assert "Traceback" not in log
