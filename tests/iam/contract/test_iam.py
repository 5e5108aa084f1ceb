"""IAM against a real server, with boto3's `iam` client and the AWS CLI: roles, users, managed
and inline policies, access keys that sign, AWS's errors, accounts kept apart, and durability
across a restart."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.support.aws import aws_error
from tests.support.cli import run_aws
from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
OTHER = "111122223333"
ARGS = ("--isolation", "none", "--time-scale", "0.01")
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ_QUEUES: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-iam") / "data", *ARGS).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def iam(server: GureumProcess) -> Any:
    return server.client("iam")


def test_create_get_list_delete_role(iam: Any, request: pytest.FixtureRequest) -> None:
    name = request.node.name[:60]
    created = iam.create_role(
        RoleName=name,
        Path="/service/",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
        MaxSessionDuration=7200,
        Description="runs functions",
        Tags=[{"Key": "team", "Value": "a"}],
    )["Role"]
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", created["RoleId"])
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/{name}"
    assert created["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert created["MaxSessionDuration"] == 7200
    got = iam.get_role(RoleName=name.upper())["Role"]  # names are case-insensitive
    assert got["RoleName"] == name
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/service/")["Roles"]]
    taken = f"Role with name {name.upper()} already exists."
    with aws_error("EntityAlreadyExists", 409, taken):
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.delete_role(RoleName=name)
    with aws_error("NoSuchEntity", 404, f"The role with name {name} cannot be found."):
        iam.get_role(RoleName=name)


def test_permissions_boundaries_are_refused_not_ignored(iam: Any) -> None:
    boundary = "arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole"
    message = "gureum does not support permissions boundaries yet."
    with aws_error("InvalidInput", 400, message):
        iam.create_role(
            RoleName="bounded",
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
            PermissionsBoundary=boundary,
        )
    with aws_error("InvalidInput", 400, message):
        iam.create_user(UserName="bounded", PermissionsBoundary=boundary)
    with aws_error("NoSuchEntity", 404):
        iam.get_role(RoleName="bounded")


def test_trust_policies_are_validated(iam: Any, server: GureumProcess) -> None:
    with aws_error("MalformedPolicyDocument", 400, "Syntax errors in policy."):
        iam.create_role(RoleName="bad-json", AssumeRolePolicyDocument="{nope")
    no_principal = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}],
    }
    with aws_error("MalformedPolicyDocument", 400, "Missing required field Principal"):
        iam.create_role(RoleName="no-principal", AssumeRolePolicyDocument=json.dumps(no_principal))
    s3 = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "s3:GetObject"}],
    }
    with aws_error("MalformedPolicyDocument", 400):
        iam.create_role(RoleName="s3-trust", AssumeRolePolicyDocument=json.dumps(s3))
    ghost = f"arn:aws:iam::{ACCOUNT}:user/nobody"
    unknown = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ghost}, "Action": "sts:AssumeRole"}],
    }
    with aws_error("MalformedPolicyDocument", 400, f'Invalid principal in policy: "AWS":"{ghost}"'):
        iam.create_role(RoleName="ghost-trust", AssumeRolePolicyDocument=json.dumps(unknown))
    unchecked = server.client("iam", config=Config(parameter_validation=False))
    with aws_error("ValidationError", 400):
        unchecked.create_role(
            RoleName="short",
            AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
            MaxSessionDuration=60,
        )


def test_update_assume_role_policy(iam: Any) -> None:
    iam.create_role(RoleName="updated-trust", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"}],
    }
    iam.update_assume_role_policy(RoleName="updated-trust", PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName="updated-trust")["Role"]["AssumeRolePolicyDocument"] == trust
    with aws_error("MalformedPolicyDocument", 400):
        iam.update_assume_role_policy(RoleName="updated-trust", PolicyDocument="[]")


def test_inline_and_attached_role_policies(iam: Any) -> None:
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.put_role_policy(
        RoleName="worker", PolicyName="queues", PolicyDocument=json.dumps(READ_QUEUES)
    )
    got = iam.get_role_policy(RoleName="worker", PolicyName="queues")
    assert got["PolicyDocument"] == READ_QUEUES
    assert iam.list_role_policies(RoleName="worker")["PolicyNames"] == ["queues"]
    with aws_error(
        "MalformedPolicyDocument", 400, "Policy document should not specify a principal."
    ):
        statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
        bad = {"Version": "2012-10-17", "Statement": [statement]}
        iam.put_role_policy(RoleName="worker", PolicyName="bad", PolicyDocument=json.dumps(bad))
    iam.attach_role_policy(RoleName="worker", PolicyArn=BASIC)
    attached = iam.list_attached_role_policies(RoleName="worker")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    with aws_error("DeleteConflict", 409, "Cannot delete entity, must detach all policies first."):
        iam.delete_role(RoleName="worker")
    iam.detach_role_policy(RoleName="worker", PolicyArn=BASIC)
    with aws_error("DeleteConflict", 409, "Cannot delete entity, must delete policies first."):
        iam.delete_role(RoleName="worker")
    iam.delete_role_policy(RoleName="worker", PolicyName="queues")
    with aws_error("NoSuchEntity", 404, "The role policy with name queues cannot be found."):
        iam.get_role_policy(RoleName="worker", PolicyName="queues")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    with aws_error("NoSuchEntity", 404, f"Policy {missing} does not exist or is not attachable."):
        iam.attach_role_policy(RoleName="worker", PolicyArn=missing)
    iam.delete_role(RoleName="worker")


def test_aws_managed_policies_have_their_documents(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert policy["Path"] == "/service-role/"
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId=policy["DefaultVersionId"])
    assert version["PolicyVersion"]["Document"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ]
    vpc = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    assert iam.get_policy(PolicyArn=vpc)["Policy"]["DefaultVersionId"] == "v3"
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert {
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaSQSQueueExecutionRole",
        "AmazonElasticFileSystemClientReadWriteAccess",
        "AmazonElasticFileSystemClientReadOnlyAccess",
        "AWSLambdaRole",
        "AdministratorAccess",
    } <= names
    with aws_error("InvalidInput", 400):
        iam.create_policy_version(PolicyArn=BASIC, PolicyDocument=json.dumps(READ_QUEUES))


def test_customer_managed_policies_and_versions(iam: Any) -> None:
    created = iam.create_policy(PolicyName="Queues", PolicyDocument=json.dumps(READ_QUEUES))[
        "Policy"
    ]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/Queues"
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", created["PolicyId"])
    assert created["DefaultVersionId"] == "v1"
    with aws_error(
        "EntityAlreadyExists",
        409,
        "A policy called Queues already exists. Duplicate names are not allowed.",
    ):
        iam.create_policy(PolicyName="Queues", PolicyDocument=json.dumps(READ_QUEUES))
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ_QUEUES))
    with aws_error("LimitExceeded", 409):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ_QUEUES))
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    with aws_error("DeleteConflict", 409, "Cannot delete the default version of a policy."):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    for version in ("v1", "v2", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.create_user(UserName="policy-holder")
    iam.attach_user_policy(UserName="policy-holder", PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with aws_error("DeleteConflict", 409, "Cannot delete a policy attached to entities."):
        iam.delete_policy(PolicyArn=arn)
    iam.detach_user_policy(UserName="policy-holder", PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with aws_error("NoSuchEntity", 404, f"Policy {arn} was not found."):
        iam.get_policy(PolicyArn=arn)
    with aws_error("MalformedPolicyDocument", 400, "Policy statement must contain resources."):
        no_resource = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*"}],
        }
        iam.create_policy(PolicyName="NoResource", PolicyDocument=json.dumps(no_resource))


def test_users_inline_policies_and_access_keys(iam: Any, server: GureumProcess) -> None:
    user = iam.create_user(UserName="bob", Path="/team/")["User"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"])
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/bob"
    iam.put_user_policy(UserName="bob", PolicyName="q", PolicyDocument=json.dumps(READ_QUEUES))
    assert iam.get_user_policy(UserName="bob", PolicyName="q")["PolicyDocument"] == READ_QUEUES
    iam.attach_user_policy(UserName="bob", PolicyArn=BASIC)
    assert len(iam.list_attached_user_policies(UserName="bob")["AttachedPolicies"]) == 1
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"])
    assert len(key["SecretAccessKey"]) == 40
    iam.create_access_key(UserName="bob")
    with aws_error("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2"):
        iam.create_access_key(UserName="bob")
    # The key signs: GetUser with no name is the caller.
    as_bob = server.client(
        "iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    assert as_bob.get_user()["User"]["Arn"] == user["Arn"]
    listed = iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} >= {key["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    iam.update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with aws_error(
        "InvalidClientTokenId", 403, "The security token included in the request is invalid."
    ):
        as_bob.get_user()
    iam.update_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert as_bob.get_user()["User"]["UserName"] == "bob"
    with aws_error("DeleteConflict", 409, "Cannot delete entity, must delete access keys first."):
        iam.delete_user(UserName="bob")
    for k in iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="bob", AccessKeyId=k["AccessKeyId"])
    with aws_error("InvalidClientTokenId", 403):
        as_bob.get_user()
    iam.delete_user_policy(UserName="bob", PolicyName="q")
    iam.detach_user_policy(UserName="bob", PolicyArn=BASIC)
    iam.delete_user(UserName="bob")
    with aws_error("NoSuchEntity", 404, "The user with name bob cannot be found."):
        iam.get_user(UserName="bob")


def test_get_user_of_the_root_user(iam: Any) -> None:
    user = iam.get_user()["User"]
    assert (user["UserId"], user["Arn"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root")


def test_accounts_are_kept_apart(server: GureumProcess) -> None:
    mine = server.client("iam")
    theirs = server.client("iam", aws_access_key_id=OTHER, aws_secret_access_key="test")
    mine.create_user(UserName="shared-name")
    assert theirs.get_user()["User"]["Arn"] == f"arn:aws:iam::{OTHER}:root"
    with aws_error("NoSuchEntity", 404):
        theirs.get_user(UserName="shared-name")
    created = theirs.create_user(UserName="shared-name")["User"]
    assert created["Arn"] == f"arn:aws:iam::{OTHER}:user/shared-name"
    wrong = server.client("iam", aws_access_key_id=OTHER, aws_secret_access_key="nope")
    with aws_error("SignatureDoesNotMatch", 403):
        wrong.list_users()


def test_roles_users_and_keys_survive_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", *ARGS).start()
    try:
        iam = process.client("iam")
        iam.create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
        iam.attach_role_policy(RoleName="kept", PolicyArn=BASIC)
        iam.create_user(UserName="kept")
        key = iam.create_access_key(UserName="kept")["AccessKey"]
        process.stop()
        process.start()
        iam = process.client("iam")
        assert iam.get_role(RoleName="kept")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
        attached = iam.list_attached_role_policies(RoleName="kept")["AttachedPolicies"]
        assert [a["PolicyArn"] for a in attached] == [BASIC]
        signer = process.client(
            "iam",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        assert signer.get_user()["User"]["UserName"] == "kept"
    finally:
        process.stop()


def aws_cli(
    server: GureumProcess, home: Path, *args: str, key: str = "test"
) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <gureum> ...`, isolated from the host's AWS configuration."""
    return run_aws(server, home, *args, key=key)


def test_the_aws_cli_round_trip(server: GureumProcess, tmp_path: Path) -> None:
    def aws(*args: str, key: str = "test") -> Any:
        done = aws_cli(server, tmp_path, *args, key=key)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    role = aws(
        "iam",
        "create-role",
        "--role-name",
        "cli-role",
        "--assume-role-policy-document",
        json.dumps(LAMBDA_TRUST),
    )["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/cli-role"
    aws("iam", "attach-role-policy", "--role-name", "cli-role", "--policy-arn", BASIC)
    listed = aws("iam", "list-attached-role-policies", "--role-name", "cli-role")
    assert listed["AttachedPolicies"][0]["PolicyArn"] == BASIC
    other = aws("sts", "get-caller-identity", key="444455556666")
    assert other == {
        "UserId": "444455556666",
        "Account": "444455556666",
        "Arn": "arn:aws:iam::444455556666:root",
    }
    missing = aws_cli(server, tmp_path, "iam", "get-role", "--role-name", "nope")
    assert missing.returncode != 0
    expected = "The role with name nope cannot be found."
    assert f"(NoSuchEntity) when calling the GetRole operation: {expected}" in missing.stderr


def test_listing_pages(iam: Any) -> None:
    for i in range(7):
        iam.create_user(UserName=f"paged-{i}", Path="/paged/")
    first = iam.list_users(PathPrefix="/paged/", MaxItems=3)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["Users"]] == ["paged-0", "paged-1", "paged-2"]
    pages = iam.get_paginator("list_users").paginate(
        PathPrefix="/paged/", PaginationConfig={"PageSize": 3}
    )
    names = [u["UserName"] for page in pages for u in page["Users"]]
    assert names == [f"paged-{i}" for i in range(7)]


def test_role_and_user_updates_and_tags(iam: Any) -> None:
    iam.create_role(
        RoleName="tagged",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
        Tags=[{"Key": "team", "Value": "a"}],
    )
    iam.tag_role(
        RoleName="tagged", Tags=[{"Key": "TEAM", "Value": "b"}, {"Key": "env", "Value": "dev"}]
    )
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [
        {"Key": "TEAM", "Value": "b"},
        {"Key": "env", "Value": "dev"},
    ]
    iam.untag_role(RoleName="tagged", TagKeys=["team"])
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.update_role(RoleName="tagged", Description="now described", MaxSessionDuration=7200)
    role = iam.get_role(RoleName="tagged")["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("now described", 7200)
    described = iam.update_role_description(RoleName="tagged", Description="again")
    assert described["Role"]["Description"] == "again"
    assert iam.list_instance_profiles_for_role(RoleName="tagged")["InstanceProfiles"] == []
    with aws_error("NoSuchEntity", 404):
        iam.tag_role(RoleName="absent", Tags=[{"Key": "k", "Value": "v"}])
    with aws_error("LimitExceeded", 409, "Cannot exceed quota for TagsPerRole: 50"):
        iam.tag_role(RoleName="tagged", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    iam.create_user(UserName="tagged-user")
    iam.tag_user(UserName="tagged-user", Tags=[{"Key": "a", "Value": "1"}])
    assert iam.list_user_tags(UserName="tagged-user")["Tags"] == [{"Key": "a", "Value": "1"}]
    iam.untag_user(UserName="tagged-user", TagKeys=["A"])
    assert iam.list_user_tags(UserName="tagged-user")["Tags"] == []
