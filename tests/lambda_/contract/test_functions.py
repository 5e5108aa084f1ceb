"""Functions over the wire: create, read, list, update, delete, with AWS's exact shapes and errors.

Everything here drives a real `gureum serve` with boto3 and checks what a boto3 user would see:
the response documents of spec 1.7, the state fields and waiters of spec 11, the environment
rules of spec 3.1-3.2, and the error code, HTTP status and message of every refusal (spec 0.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ACCOUNT, REGION, ROLE, arn, aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

FAST = {"Delay": 0.1, "MaxAttempts": 100}
ENV_PREFIX = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided "
)

MakeFunction = Callable[..., dict[str, Any]]


def create_params(name: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_of()},
    }
    params.update(overrides)
    return params


def wait_updated(client: Any, name: str) -> None:
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)


# --- CreateFunction -------------------------------------------------------------------------


def test_create_function_response_shape_and_defaults(
    lambda_client: Any, function_name: str
) -> None:
    package = zip_of({"index.py": "def handler(event, context):\n    return 'shape'\n"})
    created = lambda_client.create_function(
        **create_params(function_name, Code={"ZipFile": package})
    )

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionName"] == function_name
    assert created["FunctionArn"] == arn(function_name)
    assert created["Version"] == "$LATEST"
    assert created["State"] == "Pending"
    assert created["StateReason"] == "The function is being created."
    assert created["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in created
    assert created["Runtime"] == "python3.12"
    assert created["Handler"] == "index.handler"
    assert created["Role"] == ROLE
    assert created["Description"] == ""
    assert created["Timeout"] == 3
    assert created["MemorySize"] == 128
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Architectures"] == ["x86_64"]
    assert created["PackageType"] == "Zip"
    assert created["TracingConfig"] == {"Mode": "PassThrough"}
    assert created["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    assert created["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{function_name}",
    }
    runtime_arn = created["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert re.fullmatch(rf"arn:aws:lambda:{REGION}::runtime:[0-9a-f]{{64}}", runtime_arn)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert created["CodeSize"] == len(package)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    assert re.fullmatch(r"[0-9a-f-]{36}", created["RevisionId"])
    for absent in ("Environment", "VpcConfig", "DeadLetterConfig", "KMSKeyArn", "Layers"):
        assert absent not in created

    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig=FAST
    )
    active = lambda_client.get_function(FunctionName=function_name)["Configuration"]
    assert active["State"] == "Active"
    assert active["LastUpdateStatus"] == "Successful"
    for reason in ("StateReason", "StateReasonCode"):
        assert reason not in active
    # AWS issues a second RevisionId when creation completes (spec 11.1).
    assert active["RevisionId"] != created["RevisionId"]
    assert active["RuntimeVersionConfig"] == created["RuntimeVersionConfig"]


def test_create_duplicate_function_is_a_conflict(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    with aws_error("ResourceConflictException", 409, f"Function already exist: {function_name}"):
        lambda_client.create_function(**create_params(function_name))


def test_create_with_65_character_name_is_refused(lambda_client: Any) -> None:
    name = "a" * 65
    message = (
        f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64"
    )
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.create_function(**create_params(name))


# AWS's list in AWS's order, recorded against AWS on 12 Jan 2026 (LocalStack's
# test_lambda_api.snapshot.json, test_create_lambda_exceptions); each is a value of the `Runtime`
# enum of botocore's model (tests/lambda_/unit/test_runtimes.py checks that).
AWS_RUNTIME_LIST = (
    "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
)


def test_create_with_unknown_runtime_lists_awss_runtimes_in_awss_order(
    lambda_client: Any, function_name: str
) -> None:
    message = (
        "Value python3.99 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: {AWS_RUNTIME_LIST} or be a valid ARN"
    )
    with aws_error("InvalidParameterValueException", 400, message) as caught:
        lambda_client.create_function(**create_params(function_name, Runtime="python3.99"))
    assert caught.value.response["Type"] == "User"
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)


def test_deprecated_runtime_has_awss_wording(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    # Recorded against AWS on 12 Jan 2026 (LocalStack's test_lambda_api.snapshot.json,
    # test_create_deprecated_function_runtime_with_validation_enabled[python3.7]).
    message = (
        "The runtime parameter of python3.7 is no longer supported for creating or updating "
        "AWS Lambda functions. We recommend you use a supported runtime while creating or "
        "updating functions."
    )
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.create_function(**create_params(function_name, Runtime="python3.7"))

    make_function()
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.update_function_configuration(FunctionName=function_name, Runtime="python3.7")
    with aws_error("InvalidParameterValueException", 400):
        lambda_client.update_function_configuration(
            FunctionName=function_name, Runtime="python3.99"
        )
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Runtime"] == "python3.12"
    assert config["LastUpdateStatus"] == "Successful"


def test_create_without_handler_is_refused(lambda_client: Any, function_name: str) -> None:
    params = create_params(function_name)
    del params["Handler"]
    message = (
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages."
    )
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.create_function(**params)


@pytest.mark.parametrize(
    ("member", "value", "path", "pattern"),
    [
        ("Handler", "bad handler", "handler", r"[^\s]+"),
        ("Role", "r1", "role", r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"),
    ],
)
def test_malformed_handler_or_role_is_a_validation_error(
    lambda_client: Any, function_name: str, member: str, value: str, path: str, pattern: str
) -> None:
    message = (
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )
    with aws_error("ValidationException", 400, message):
        lambda_client.create_function(**create_params(function_name, **{member: value}))
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)


def test_create_from_a_missing_s3_bucket_is_awss_error(
    lambda_client: Any, function_name: str
) -> None:
    params = create_params(function_name, Code={"S3Bucket": "my-bucket", "S3Key": "code.zip"})
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function(**params)
    response = caught.value.response
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == (
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
        "The specified bucket does not exist"
    )


def test_the_hot_reload_bucket_is_never_read_from_s3(
    lambda_client: Any, function_name: str
) -> None:
    # S3Bucket hot-reload names a directory on this machine (test_hot_reload.py), not an object.
    params = create_params(function_name, Code={"S3Bucket": "hot-reload", "S3Key": "/src"})
    with pytest.raises(ClientError) as caught:
        lambda_client.create_function(**params)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == (
        "The hot-reload directory /src does not exist."
    )


def test_timeout_above_900_is_a_validation_error(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    message = (
        "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900"
    )
    with aws_error("ValidationException", 400, message):
        lambda_client.create_function(**create_params(function_name, Timeout=901))
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)

    make_function(Timeout=900)
    with aws_error("ValidationException", 400, message):
        lambda_client.update_function_configuration(FunctionName=function_name, Timeout=901)
    assert lambda_client.get_function_configuration(FunctionName=function_name)["Timeout"] == 900


# --- GetFunction, GetFunctionConfiguration --------------------------------------------------


def test_code_location_downloads_the_exact_package(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    package = zip_of({"index.py": "def handler(event, context):\n    return 'download'\n"})
    make_function(Code={"ZipFile": package})

    code = lambda_client.get_function(FunctionName=function_name)["Code"]
    assert code["RepositoryType"] == "S3"
    with urllib.request.urlopen(code["Location"], timeout=5) as reply:
        assert reply.status == 200
        assert reply.read() == package


def _refused(url: str) -> int:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=5).close()
    status = caught.value.code
    caught.value.close()
    return status


def test_code_location_with_a_tampered_signature_is_refused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    location: str = lambda_client.get_function(FunctionName=function_name)["Code"]["Location"]
    parts = urllib.parse.urlsplit(location)
    query = dict(urllib.parse.parse_qsl(parts.query))

    def with_query(**changes: str) -> str:
        return urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode({**query, **changes}))
        )

    signature = query["Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert _refused(with_query(Signature=flipped)) == 403
    # Moving the expiry, into the past or further out, breaks the signature too.
    assert _refused(with_query(Expires=str(int(query["Expires"]) - 3600))) == 403
    assert _refused(with_query(Expires=str(int(query["Expires"]) + 3600))) == 403
    assert _refused(urllib.parse.urlunsplit(parts._replace(query=""))) == 403


def test_get_function_shows_tags_only_when_there_are_some(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    assert "Tags" not in lambda_client.get_function(FunctionName=function_name)

    tagged = f"{function_name}-t"
    make_function(tagged, Tags={"team": "platform", "cost": "42"})
    assert lambda_client.get_function(FunctionName=tagged)["Tags"] == {
        "team": "platform",
        "cost": "42",
    }


def test_get_function_configuration_with_and_without_qualifier(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    plain = lambda_client.get_function_configuration(FunctionName=function_name)
    assert plain["FunctionArn"] == arn(function_name)
    assert plain["Version"] == "$LATEST"
    assert plain["State"] == "Active"

    latest = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier="$LATEST"
    )
    assert latest["FunctionArn"] == arn(function_name, "$LATEST")
    assert latest["Version"] == "$LATEST"

    by_arn = lambda_client.get_function_configuration(FunctionName=arn(function_name, "$LATEST"))
    assert by_arn["FunctionArn"] == arn(function_name, "$LATEST")

    missing = arn(function_name, "7")
    with aws_error("ResourceNotFoundException", 404, f"Function not found: {missing}"):
        lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="7")


def test_get_missing_function_names_the_unqualified_arn(
    lambda_client: Any, function_name: str
) -> None:
    message = f"Function not found: {arn(function_name)}"
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.get_function(FunctionName=function_name)
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.get_function_configuration(FunctionName=function_name)


def test_qualifier_disagreeing_with_the_name_is_refused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    message = "The derived qualifier from the function name does not match the specified qualifier."
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.get_function(FunctionName=f"{function_name}:1", Qualifier="2")
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.delete_function(FunctionName=f"{function_name}:1", Qualifier="2")
    assert lambda_client.get_function(FunctionName=function_name)["Configuration"]


def test_arn_from_another_region_is_not_reachable(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    foreign = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:{function_name}"
    message = "Functions from 'us-west-2' are not reachable in this region ('us-east-1')"
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.get_function(FunctionName=foreign)
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.delete_function(FunctionName=foreign)
    assert lambda_client.get_function(FunctionName=function_name)["Configuration"]


# --- ListFunctions --------------------------------------------------------------------------


def test_list_functions_pages_with_next_marker(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    mine = {f"{function_name}-{i}" for i in range(5)}
    for name in sorted(mine):
        make_function(name)

    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxItems": 2}
    pages = 0
    while True:
        page = lambda_client.list_functions(**kwargs)
        pages += 1
        assert len(page["Functions"]) <= 2
        for item in page["Functions"]:
            seen.append(item["FunctionName"])
            assert item["FunctionArn"] == arn(item["FunctionName"])
            assert item["Version"] == "$LATEST"
            for trimmed in ("State", "LastUpdateStatus", "RuntimeVersionConfig"):
                assert trimmed not in item
        if "NextMarker" not in page:
            break
        assert page["NextMarker"]
        kwargs["Marker"] = page["NextMarker"]
    assert len(seen) == len(set(seen))
    assert mine <= set(seen)
    assert pages >= 3

    paginated = lambda_client.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 2}
    )
    names = [item["FunctionName"] for page in paginated for item in page["Functions"]]
    assert len(names) == len(set(names))
    assert mine <= set(names)


def test_list_functions_with_all_versions(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Publish=True)
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier="1", WaiterConfig=FAST
    )

    default = [
        item["FunctionArn"]
        for page in lambda_client.get_paginator("list_functions").paginate()
        for item in page["Functions"]
        if item["FunctionName"] == function_name
    ]
    assert default == [arn(function_name)]

    everything = [
        (item["FunctionArn"], item["Version"])
        for page in lambda_client.get_paginator("list_functions").paginate(FunctionVersion="ALL")
        for item in page["Functions"]
        if item["FunctionName"] == function_name
    ]
    assert everything == [
        (arn(function_name, "$LATEST"), "$LATEST"),
        (arn(function_name, "1"), "1"),
    ]


# --- UpdateFunctionConfiguration ------------------------------------------------------------


def test_update_configuration_stores_every_version_specific_field(
    lambda_client: Any, make_function: MakeFunction, function_name: str, server: GureumProcess
) -> None:
    created = make_function()
    new_role = f"arn:aws:iam::{ACCOUNT}:role/other-role"
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{function_name}-dlq"
    # A customer key must exist and be usable: Lambda encrypts the variables with it.
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    # Subnets and groups must exist in EC2, in one VPC (spec 7.1).
    ec2 = server.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="every", Description="f", VpcId=vpc_id)
    vpc = {"SubnetIds": [subnet], "SecurityGroupIds": [group["GroupId"]]}
    logging = {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "WARN",
        "LogGroup": "/custom/group",
    }
    updated = lambda_client.update_function_configuration(
        FunctionName=function_name,
        Description="every field",
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"STAGE": "prod"}},
        Role=new_role,
        Handler="app.main",
        Runtime="python3.11",
        TracingConfig={"Mode": "Active"},
        DeadLetterConfig={"TargetArn": dlq},
        KMSKeyArn=key,
        EphemeralStorage={"Size": 1024},
        LoggingConfig=logging,
        VpcConfig=vpc,
        # SnapStart (test_snap_start.py) cannot be combined with python3.11 or 1 GB of /tmp.
        SnapStart={"ApplyOn": "None"},
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["State"] == "Active"
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["LastUpdateStatusReason"] == "The function is being created."
    assert updated["LastUpdateStatusReasonCode"] == "Creating"
    wait_updated(lambda_client, function_name)

    for config in (updated, lambda_client.get_function_configuration(FunctionName=function_name)):
        assert config["Description"] == "every field"
        assert config["Timeout"] == 30
        assert config["MemorySize"] == 512
        assert config["Environment"] == {"Variables": {"STAGE": "prod"}}
        assert config["Role"] == new_role
        assert config["Handler"] == "app.main"
        assert config["Runtime"] == "python3.11"
        assert config["TracingConfig"] == {"Mode": "Active"}
        assert config["DeadLetterConfig"] == {"TargetArn": dlq}
        assert config["KMSKeyArn"] == key
        assert config["EphemeralStorage"] == {"Size": 1024}
        assert config["LoggingConfig"] == logging
        assert config["VpcConfig"]["SubnetIds"] == vpc["SubnetIds"]
        assert config["VpcConfig"]["SecurityGroupIds"] == vpc["SecurityGroupIds"]
        assert config["VpcConfig"]["VpcId"] == vpc_id
        assert config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    final = lambda_client.get_function_configuration(FunctionName=function_name)
    assert final["LastUpdateStatus"] == "Successful"
    # A new runtime means a new runtime version.
    assert final["RuntimeVersionConfig"] != created["RuntimeVersionConfig"]

    # Empty values clear the optional blocks again.
    lambda_client.update_function_configuration(
        FunctionName=function_name,
        KMSKeyArn="",
        DeadLetterConfig={"TargetArn": ""},
        VpcConfig={"SubnetIds": [], "SecurityGroupIds": []},
        TracingConfig={"Mode": "PassThrough"},
    )
    wait_updated(lambda_client, function_name)
    cleared = lambda_client.get_function_configuration(FunctionName=function_name)
    assert "KMSKeyArn" not in cleared
    assert "DeadLetterConfig" not in cleared
    assert cleared.get("VpcConfig", {}).get("SubnetIds", []) == []
    assert cleared["TracingConfig"] == {"Mode": "PassThrough"}
    assert cleared["Timeout"] == 30


def test_update_configuration_replaces_the_whole_environment(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Environment={"Variables": {"AA": "1", "BB": "2"}})
    lambda_client.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": {"CC": "3"}}
    )
    wait_updated(lambda_client, function_name)
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Environment"] == {"Variables": {"CC": "3"}}

    # Other fields are untouched by an update that does not name them.
    lambda_client.update_function_configuration(FunctionName=function_name, Timeout=9)
    wait_updated(lambda_client, function_name)
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Environment"] == {"Variables": {"CC": "3"}}
    assert config["Timeout"] == 9


def test_reserved_environment_keys_are_refused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    reserved = (
        "contains reserved keys that are currently not supported for modification. "
        "Reserved keys used in this request: "
    )
    with aws_error("InvalidParameterValueException", 400, ENV_PREFIX + reserved + "AWS_REGION"):
        lambda_client.create_function(
            **create_params(function_name, Environment={"Variables": {"AWS_REGION": "x"}})
        )

    make_function(Environment={"Variables": {"KEEP": "me"}})
    with pytest.raises(ClientError) as caught:
        lambda_client.update_function_configuration(
            FunctionName=function_name,
            Environment={
                "Variables": {"OK": "1", "AWS_SESSION_TOKEN": "t", "LAMBDA_TASK_ROOT": "h"}
            },
        )
    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert message.startswith(ENV_PREFIX + reserved)
    listed = message.removeprefix(ENV_PREFIX + reserved)
    assert "AWS_SESSION_TOKEN" in listed
    assert "LAMBDA_TASK_ROOT" in listed
    assert "OK" not in listed.replace("TOKEN", "")
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Environment"] == {"Variables": {"KEEP": "me"}}


def _variables_of_size(size: int) -> dict[str, str]:
    """A map whose compact JSON (`{"BIG":"xxx"}`) is exactly `size` bytes."""
    overhead = len(json.dumps({"BIG": ""}, separators=(",", ":")))
    return {"BIG": "x" * (size - overhead)}


def test_environment_limit_is_4096_bytes_of_compact_json(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    at_limit = _variables_of_size(4096)
    make_function(Environment={"Variables": at_limit})
    config = lambda_client.get_function_configuration(FunctionName=function_name)
    assert config["Environment"]["Variables"] == at_limit

    over = _variables_of_size(4097)
    measured = json.dumps(over, separators=(",", ":"))
    assert len(measured) == 4097
    message = ENV_PREFIX + f"exceeded the 4KB limit. String measured: {measured}"
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.update_function_configuration(
            FunctionName=function_name, Environment={"Variables": over}
        )
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.create_function(
            **create_params(f"{function_name}-big", Environment={"Variables": over})
        )


def test_update_configuration_with_a_stale_revision_id(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    current = lambda_client.get_function_configuration(FunctionName=function_name)["RevisionId"]
    message = (
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    with aws_error("PreconditionFailedException", 412, message):
        lambda_client.update_function_configuration(
            FunctionName=function_name, Timeout=10, RevisionId="not-the-revision"
        )
    assert lambda_client.get_function_configuration(FunctionName=function_name)["Timeout"] == 3

    updated = lambda_client.update_function_configuration(
        FunctionName=function_name, Timeout=10, RevisionId=current
    )
    assert updated["RevisionId"] != current
    wait_updated(lambda_client, function_name)
    with aws_error("PreconditionFailedException", 412, message):
        lambda_client.update_function_code(
            FunctionName=function_name, ZipFile=zip_of(), RevisionId=current
        )


def test_update_on_missing_function(lambda_client: Any, function_name: str) -> None:
    with aws_error("ResourceNotFoundException", 404, f"Function not found: {arn(function_name)}"):
        lambda_client.update_function_configuration(FunctionName=function_name, Timeout=5)


# --- UpdateFunctionCode ---------------------------------------------------------------------


def test_update_code_changes_the_hash_and_publish_returns_a_version(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    first = make_function()
    package = zip_of({"index.py": "def handler(event, context):\n    return 'v2'\n"})
    sha = base64.b64encode(hashlib.sha256(package).digest()).decode()

    updated = lambda_client.update_function_code(FunctionName=function_name, ZipFile=package)
    assert updated["CodeSha256"] == sha != first["CodeSha256"]
    assert updated["CodeSize"] == len(package)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["FunctionArn"] == arn(function_name)
    wait_updated(lambda_client, function_name)
    location = lambda_client.get_function(FunctionName=function_name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=5) as reply:
        assert reply.read() == package

    third = zip_of({"index.py": "def handler(event, context):\n    return 'v3'\n"})
    published = lambda_client.update_function_code(
        FunctionName=function_name, ZipFile=third, Publish=True
    )
    assert published["Version"] == "1"
    assert published["FunctionArn"] == arn(function_name, "1")
    assert published["State"] == "Pending"
    assert published["StateReasonCode"] == "Creating"
    assert published["CodeSha256"] == base64.b64encode(hashlib.sha256(third).digest()).decode()
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier="1", WaiterConfig=FAST
    )
    wait_updated(lambda_client, function_name)
    version = lambda_client.get_function(FunctionName=function_name, Qualifier="1")
    with urllib.request.urlopen(version["Code"]["Location"], timeout=5) as reply:
        assert reply.read() == third


# --- DeleteFunction -------------------------------------------------------------------------


def test_delete_function_then_it_is_gone(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    deleted = lambda_client.delete_function(FunctionName=function_name)
    assert deleted["StatusCode"] == 204
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204

    message = f"Function not found: {arn(function_name)}"
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.get_function(FunctionName=function_name)
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.delete_function(FunctionName=function_name)
    # The message names the unqualified ARN even when a qualifier was given.
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.delete_function(FunctionName=function_name, Qualifier="1")

    # The name is free again, and a recreated function starts a new life.
    make_function()
    assert lambda_client.get_function(FunctionName=function_name)["Configuration"]


def test_delete_latest_or_alias_qualifier_is_refused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Publish=True)
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")
    message = "$LATEST version cannot be deleted without deleting the function."
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.delete_function(FunctionName=function_name, Qualifier="$LATEST")
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.delete_function(FunctionName=f"{function_name}:$LATEST")
    with aws_error(
        "InvalidParameterValueException", 400, "Deletion of aliases is not currently supported."
    ):
        lambda_client.delete_function(FunctionName=function_name, Qualifier="live")
    assert (
        lambda_client.get_alias(FunctionName=function_name, Name="live")["FunctionVersion"] == "1"
    )
    assert lambda_client.get_function(FunctionName=function_name)["Configuration"]


# --- GetAccountSettings ---------------------------------------------------------------------


def test_account_settings_shape_and_usage(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    before = lambda_client.get_account_settings()
    limits = before["AccountLimit"]
    assert limits["TotalCodeSize"] == 80_530_636_800
    assert limits["CodeSizeUnzipped"] == 262_144_000
    assert limits["CodeSizeZipped"] == 52_428_800
    assert limits["ConcurrentExecutions"] == 1000
    assert 0 <= limits["UnreservedConcurrentExecutions"] <= 1000
    assert set(before["AccountUsage"]) == {"TotalCodeSize", "FunctionCount"}

    created = make_function()
    after = lambda_client.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + created["CodeSize"]

    lambda_client.publish_version(FunctionName=function_name)
    published = lambda_client.get_account_settings()["AccountUsage"]
    assert published["FunctionCount"] == after["FunctionCount"]
    assert published["TotalCodeSize"] == after["TotalCodeSize"] + created["CodeSize"]

    lambda_client.delete_function(FunctionName=function_name)
    assert lambda_client.get_account_settings()["AccountUsage"] == before["AccountUsage"]


# --- 409 while Pending / InProgress ---------------------------------------------------------


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[GureumProcess]:
    """A server that keeps new and updated functions Pending/InProgress for 1.5 s."""
    process = GureumProcess(tmp_path / "d", "--settle-delay", "1.5").start()
    yield process
    process.stop()


def test_changes_while_pending_or_updating_are_conflicts(slow_server: GureumProcess) -> None:
    client = slow_server.client()
    name = "slow-function"
    client.create_function(**create_params(name))
    pending = (
        "The operation cannot be performed at this time. The resource "
        f"{arn(name)} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'"
    )
    with aws_error("ResourceConflictException", 409, pending):
        client.update_function_configuration(FunctionName=name, Timeout=10)
    with aws_error("ResourceConflictException", 409, pending):
        client.update_function_code(FunctionName=name, ZipFile=zip_of())
    with aws_error("ResourceConflictException", 409, pending):
        client.publish_version(FunctionName=name)
    assert client.get_function(FunctionName=name)["Configuration"]["State"] == "Pending"

    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    client.update_function_configuration(FunctionName=name, Timeout=10)
    in_progress = (
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {arn(name)}"
    )
    with aws_error("ResourceConflictException", 409, in_progress):
        client.update_function_configuration(FunctionName=name, Timeout=20)
    with aws_error("ResourceConflictException", 409, in_progress):
        client.update_function_code(FunctionName=name, ZipFile=zip_of())
    with aws_error("ResourceConflictException", 409, in_progress):
        client.publish_version(FunctionName=name)

    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    settled = client.get_function_configuration(FunctionName=name)
    assert settled["Timeout"] == 10
    assert settled["LastUpdateStatus"] == "Successful"


def test_get_function_shows_every_change_at_once(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # GetFunction answers from what it read last while nothing has been committed since: every
    # commit (an update, the settler's Pending -> Active, a tag) must show on the very next call.
    make_function()
    for timeout in range(3, 13):
        lambda_client.update_function_configuration(FunctionName=function_name, Timeout=timeout)
        shown = lambda_client.get_function(FunctionName=function_name)["Configuration"]
        assert shown["Timeout"] == timeout
        # The next update waits for this one to settle, as on AWS (409 while InProgress).
        wait_updated(lambda_client, function_name)
    arn = lambda_client.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    lambda_client.tag_resource(Resource=arn, Tags={"team": "blue"})
    assert lambda_client.get_function(FunctionName=function_name)["Tags"] == {"team": "blue"}
    lambda_client.delete_function(FunctionName=function_name)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=function_name)
