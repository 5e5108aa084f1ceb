"""Versions over the wire: PublishVersion, ListVersionsByFunction, deleting versions (spec 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.aws import arn, aws_error
from tests.support.packages import zip_of

FAST = {"Delay": 0.1, "MaxAttempts": 100}
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)

MakeFunction = Callable[..., dict[str, Any]]


def change_config(client: Any, name: str, **changes: Any) -> None:
    client.update_function_configuration(FunctionName=name, **changes)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)


def version_numbers(client: Any, name: str) -> list[str]:
    pages = client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    return [item["Version"] for page in pages for item in page["Versions"]]


def test_publish_numbers_versions_and_is_idempotent(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Description="from latest")
    latest_before = lambda_client.get_function(FunctionName=function_name)["Configuration"]

    first = lambda_client.publish_version(FunctionName=function_name)
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert first["Version"] == "1"
    assert first["FunctionArn"] == arn(function_name, "1")
    assert first["Description"] == "from latest"
    assert first["CodeSha256"] == latest_before["CodeSha256"]
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier="1", WaiterConfig=FAST
    )
    settled = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="1")
    assert settled["State"] == "Active"
    assert settled["FunctionArn"] == arn(function_name, "1")

    # Publishing moves $LATEST's RevisionId on (spec 1.3).
    latest_after = lambda_client.get_function(FunctionName=function_name)["Configuration"]
    assert latest_after["RevisionId"] != latest_before["RevisionId"]

    # Nothing changed: the same version comes back, still 201; the Description param is ignored.
    again = lambda_client.publish_version(FunctionName=function_name, Description="ignored")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert again["Version"] == "1"
    assert again["RevisionId"] == settled["RevisionId"]
    assert again["Description"] == "from latest"
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "1"]

    # A configuration-only change is a change.
    change_config(lambda_client, function_name, Description="second")
    second = lambda_client.publish_version(FunctionName=function_name, Description="v2 notes")
    assert second["Version"] == "2"
    assert second["Description"] == "v2 notes"
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    assert latest["Description"] == "second"
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "1", "2"]


def test_a_version_is_an_immutable_snapshot(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Environment={"Variables": {"STAGE": "one"}}, Timeout=5)
    lambda_client.publish_version(FunctionName=function_name)
    change_config(
        lambda_client, function_name, Environment={"Variables": {"STAGE": "two"}}, Timeout=7
    )
    package = zip_of({"index.py": "def handler(event, context):\n    return 2\n"})
    lambda_client.update_function_code(FunctionName=function_name, ZipFile=package)
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig=FAST
    )

    one = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="1")
    latest = lambda_client.get_function_configuration(FunctionName=function_name)
    assert one["Environment"] == {"Variables": {"STAGE": "one"}}
    assert one["Timeout"] == 5
    assert latest["Environment"] == {"Variables": {"STAGE": "two"}}
    assert latest["Timeout"] == 7
    assert one["CodeSha256"] != latest["CodeSha256"]


def test_publish_preconditions(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    latest = lambda_client.get_function_configuration(FunctionName=function_name)

    with aws_error("PreconditionFailedException", 412, REVISION_MISMATCH):
        lambda_client.publish_version(FunctionName=function_name, RevisionId="stale-revision")
    message = (
        "CodeSHA256 (somenonexistentsha256) is different from current CodeSHA256 in $LATEST "
        f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
    )
    with aws_error("InvalidParameterValueException", 400, message):
        lambda_client.publish_version(
            FunctionName=function_name, CodeSha256="somenonexistentsha256"
        )
    assert version_numbers(lambda_client, function_name) == ["$LATEST"]

    published = lambda_client.publish_version(
        FunctionName=function_name,
        RevisionId=latest["RevisionId"],
        CodeSha256=latest["CodeSha256"],
    )
    assert published["Version"] == "1"


def test_version_numbers_are_never_reused(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "1"
    change_config(lambda_client, function_name, Timeout=4)
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "2"

    deleted = lambda_client.delete_function(FunctionName=function_name, Qualifier="1")
    assert deleted["StatusCode"] == 204
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "2"]
    with aws_error(
        "ResourceNotFoundException", 404, f"Function not found: {arn(function_name, '1')}"
    ):
        lambda_client.get_function(FunctionName=function_name, Qualifier="1")

    change_config(lambda_client, function_name, Timeout=5)
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "3"
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "2", "3"]

    # Deleting a version that does not exist is a no-op (spec 1.6).
    again = lambda_client.delete_function(FunctionName=function_name, Qualifier="1")
    assert again["StatusCode"] == 204


def test_list_versions_by_function(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    for timeout in (4, 5, 6):
        lambda_client.publish_version(FunctionName=function_name)
        change_config(lambda_client, function_name, Timeout=timeout)

    listed = lambda_client.list_versions_by_function(FunctionName=function_name)
    assert "NextMarker" not in listed
    versions = listed["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2", "3"]
    assert [v["FunctionArn"] for v in versions] == [
        arn(function_name, q) for q in ("$LATEST", "1", "2", "3")
    ]
    assert [v["Timeout"] for v in versions] == [6, 3, 4, 5]
    for item in versions:
        for trimmed in (
            "State",
            "StateReason",
            "StateReasonCode",
            "LastUpdateStatus",
            "LastUpdateStatusReason",
            "LastUpdateStatusReasonCode",
            "RuntimeVersionConfig",
        ):
            assert trimmed not in item
        assert item["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
        assert item["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{function_name}"

    seen: list[str] = []
    kwargs: dict[str, Any] = {"FunctionName": function_name, "MaxItems": 1}
    while True:
        page = lambda_client.list_versions_by_function(**kwargs)
        assert len(page["Versions"]) == 1
        seen += [v["Version"] for v in page["Versions"]]
        if "NextMarker" not in page:
            break
        kwargs["Marker"] = page["NextMarker"]
    assert seen == ["$LATEST", "1", "2", "3"]

    paged = lambda_client.get_paginator("list_versions_by_function").paginate(
        FunctionName=function_name, PaginationConfig={"PageSize": 3}
    )
    assert [len(page["Versions"]) for page in paged] == [3, 1]

    with aws_error(
        "ResourceNotFoundException", 404, f"Function not found: {arn('nope-' + function_name)}"
    ):
        lambda_client.list_versions_by_function(FunctionName=f"nope-{function_name}")


def test_create_with_publish_returns_version_one_with_unqualified_arn(
    lambda_client: Any, function_name: str, make_function: MakeFunction
) -> None:
    created = make_function(Publish=True)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["Version"] == "1"
    assert created["FunctionArn"] == arn(function_name)
    assert created["State"] == "Pending"

    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier="1", WaiterConfig=FAST
    )
    one = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="1")
    assert one["State"] == "Active"
    assert one["FunctionArn"] == arn(function_name, "1")
    assert one["CodeSha256"] == created["CodeSha256"]
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "1"]
    # Nothing changed since: publishing again gives version 1 back.
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "1"


def test_reading_a_version_through_an_alias(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Publish=True)
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")
    through_alias = lambda_client.get_function_configuration(
        FunctionName=function_name, Qualifier="live"
    )
    direct = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="1")
    assert through_alias["FunctionArn"] == arn(function_name, "live")
    assert through_alias["Version"] == "1"
    assert through_alias["RevisionId"] == direct["RevisionId"]
    message = f"Function not found: {arn(function_name, 'missing')}"
    with aws_error("ResourceNotFoundException", 404, message):
        lambda_client.get_function(FunctionName=function_name, Qualifier="missing")


def test_deleting_a_version_an_alias_references_is_a_conflict(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function(Publish=True)
    change_config(lambda_client, function_name, Timeout=8)
    lambda_client.publish_version(FunctionName=function_name)
    lambda_client.create_alias(FunctionName=function_name, Name="live", FunctionVersion="1")
    lambda_client.create_alias(
        FunctionName=function_name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )

    with aws_error(
        "ResourceConflictException",
        409,
        "Unable to delete version because the following aliases reference it: [canary, live]",
    ):
        lambda_client.delete_function(FunctionName=function_name, Qualifier="1")
    # A version reached only through routing weights is referenced too.
    with aws_error(
        "ResourceConflictException",
        409,
        "Unable to delete version because the following aliases reference it: [canary]",
    ):
        lambda_client.delete_function(FunctionName=function_name, Qualifier="2")
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "1", "2"]

    lambda_client.delete_alias(FunctionName=function_name, Name="canary")
    lambda_client.delete_function(FunctionName=function_name, Qualifier="2")
    assert version_numbers(lambda_client, function_name) == ["$LATEST", "1"]
