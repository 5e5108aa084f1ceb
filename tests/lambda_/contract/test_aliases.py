"""Aliases over the wire (spec 2): every rule of 2.2 with AWS's exact code, status and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = "us-east-1"
OTHER_ROLE = "arn:aws:iam::000000000000:role/other-role"
NOT_NULL = "Member must not be null"


def arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str, dict[str, Any]]:
    """(HTTP status, code, message, parsed response) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
        response,
    )


@pytest.fixture
def two_versions(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> str:
    """A function with published versions 1 and 2 (the description differs between them)."""
    make_function()
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "1"
    lambda_client.update_function_configuration(FunctionName=function_name, Description="v2")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    assert lambda_client.publish_version(FunctionName=function_name)["Version"] == "2"
    return function_name


# --- spec 2.2, row by row -------------------------------------------------------------------


def test_all_digit_name_is_a_validation_error(lambda_client: Any, two_versions: str) -> None:
    status, code, message, response = error_of(
        lambda_client.create_alias, FunctionName=two_versions, Name="2024", FunctionVersion="1"
    )
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
    )
    assert "Type" not in response


def test_digits_with_dashes_are_a_valid_name(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions, Name="2024-01-02", FunctionVersion="1"
    )
    assert created["AliasArn"] == arn(two_versions, "2024-01-02")


def test_existing_alias_conflicts(lambda_client: Any, two_versions: str) -> None:
    lambda_client.create_alias(FunctionName=two_versions, Name="custom", FunctionVersion="1")
    status, code, message, response = error_of(
        lambda_client.create_alias, FunctionName=two_versions, Name="custom", FunctionVersion="2"
    )
    assert (status, code) == (409, "ResourceConflictException")
    assert message == f"Alias already exists: {arn(two_versions, 'custom')}"
    assert response["Type"] == "User"
    # The first alias is untouched.
    got = lambda_client.get_alias(FunctionName=two_versions, Name="custom")
    assert got["FunctionVersion"] == "1"


def test_missing_target_version_is_not_found(lambda_client: Any, two_versions: str) -> None:
    status, code, message, _ = error_of(
        lambda_client.create_alias, FunctionName=two_versions, Name="live", FunctionVersion="10"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {arn(two_versions, '10')}"


def test_missing_function_is_not_found(lambda_client: Any, function_name: str) -> None:
    unknown = f"{function_name}-unknown"
    status, code, message, response = error_of(
        lambda_client.create_alias, FunctionName=unknown, Name="live", FunctionVersion="1"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {arn(unknown, '1')}"
    assert response["Type"] == "User"


def test_alias_to_latest_without_routing_is_allowed(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions, Name="edge", FunctionVersion="$LATEST"
    )
    assert created["FunctionVersion"] == "$LATEST"
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201


def test_alias_to_latest_with_routing_is_refused_without_type(
    lambda_client: Any, two_versions: str
) -> None:
    status, code, message, response = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="edge",
        FunctionVersion="$LATEST",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "$LATEST is not supported for an alias pointing to more than 1 version"
    assert "Type" not in response  # AWS sends this one without it
    assert response["message"] == message


def test_latest_as_additional_version_is_a_validation_error(
    lambda_client: Any, two_versions: str
) -> None:
    status, code, message, _ = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}},
    )
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value '{$LATEST=0.5}' at "
        "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must have length less than or equal to 1024, Member must "
        "have length greater than or equal to 1, Member must satisfy regular expression "
        "pattern: [0-9]+]"
    )


def test_more_than_one_additional_version_is_refused(lambda_client: Any, two_versions: str) -> None:
    lambda_client.update_function_configuration(FunctionName=two_versions, Description="v3")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=two_versions, WaiterConfig={"Delay": 0.1}
    )
    assert lambda_client.publish_version(FunctionName=two_versions)["Version"] == "3"
    status, code, message, _ = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1, "3": 0.1}},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == "Number of items in AdditionalVersionWeights cannot be greater than 1"


def test_weight_above_one_is_a_validation_error(lambda_client: Any, two_versions: str) -> None:
    status, code, message, response = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 2.0}},
    )
    assert (status, code) == (400, "ValidationException")
    assert message == (
        "1 validation error detected: Value '{2=2.0}' at "
        "'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must "
        "satisfy constraint: [Member must have value less than or equal to 1.0, Member must "
        f"have value greater than or equal to 0.0, {NOT_NULL}]"
    )
    assert "Type" not in response


def test_additional_version_equal_to_primary_is_refused(
    lambda_client: Any, two_versions: str
) -> None:
    status, code, message, _ = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "Invalid function version 1. Function version 1 is already included in routing "
        "configuration."
    )


def test_missing_additional_version_is_not_found(lambda_client: Any, two_versions: str) -> None:
    status, code, message, _ = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}},
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {arn(two_versions, '10')}"


def test_get_missing_alias(lambda_client: Any, two_versions: str) -> None:
    status, code, message, _ = error_of(
        lambda_client.get_alias, FunctionName=two_versions, Name="non-existent"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Cannot find alias arn: {arn(two_versions, 'non-existent')}"


def test_update_missing_alias(lambda_client: Any, two_versions: str) -> None:
    status, code, message, _ = error_of(
        lambda_client.update_alias, FunctionName=two_versions, Name="non-existent"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Alias not found: {arn(two_versions, 'non-existent')}"


def test_update_with_stale_revision_fails_precondition(
    lambda_client: Any, two_versions: str
) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions, Name="live", FunctionVersion="1"
    )
    lambda_client.update_alias(FunctionName=two_versions, Name="live", Description="moved")
    status, code, message, response = error_of(
        lambda_client.update_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="2",
        RevisionId=created["RevisionId"],
    )
    assert (status, code) == (412, "PreconditionFailedException")
    assert message == (
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    assert response["Type"] == "User"
    assert lambda_client.get_alias(FunctionName=two_versions, Name="live")["FunctionVersion"] == "1"


def test_delete_missing_alias_succeeds(lambda_client: Any, two_versions: str) -> None:
    first = lambda_client.delete_alias(FunctionName=two_versions, Name="non-existent")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 204
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    for _ in range(2):
        deleted = lambda_client.delete_alias(FunctionName=two_versions, Name="live")
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    status, code, _, _ = error_of(lambda_client.get_alias, FunctionName=two_versions, Name="live")
    assert (status, code) == (404, "ResourceNotFoundException")


def test_versions_with_different_roles_cannot_share_an_alias(
    lambda_client: Any, two_versions: str
) -> None:
    lambda_client.update_function_configuration(FunctionName=two_versions, Role=OTHER_ROLE)
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=two_versions, WaiterConfig={"Delay": 0.1}
    )
    assert lambda_client.publish_version(FunctionName=two_versions)["Version"] == "3"
    status, code, message, _ = error_of(
        lambda_client.create_alias,
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"3": 0.2}},
    )
    # AWS's exact words for this rule are not recorded (spec 2.2); the code and status are.
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "role" in message
    # Versions sharing a role still route together.
    shared = lambda_client.create_alias(
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
    )
    assert shared["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}


# --- response shapes --------------------------------------------------------------------------


def test_create_and_get_show_the_alias_configuration(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions, Name="live", FunctionVersion="1"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    del created["ResponseMetadata"]
    assert set(created) == {"AliasArn", "Name", "FunctionVersion", "Description", "RevisionId"}
    assert created["AliasArn"] == arn(two_versions, "live")
    assert created["Name"] == "live"
    assert created["FunctionVersion"] == "1"
    assert created["Description"] == ""  # present even when never given
    got = lambda_client.get_alias(FunctionName=two_versions, Name="live")
    del got["ResponseMetadata"]
    assert got == created


def test_alias_created_with_empty_weights_shows_no_routing(
    lambda_client: Any, two_versions: str
) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    assert "RoutingConfig" not in created
    assert "RoutingConfig" not in lambda_client.get_alias(FunctionName=two_versions, Name="live")


def test_weighted_alias_shows_its_routing(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="1",
        Description="ten percent to v2",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert created["Description"] == "ten percent to v2"
    got = lambda_client.get_alias(FunctionName=two_versions, Name="canary")
    assert got["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}


def test_alias_works_through_a_full_function_arn(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=arn(two_versions), Name="live", FunctionVersion="2"
    )
    assert created["AliasArn"] == arn(two_versions, "live")
    config = lambda_client.get_function_configuration(FunctionName=two_versions, Qualifier="live")
    assert config["FunctionArn"] == arn(two_versions, "live")
    assert config["Version"] == "2"


# --- UpdateAlias ------------------------------------------------------------------------------


def test_update_changes_only_the_supplied_fields(lambda_client: Any, two_versions: str) -> None:
    created = lambda_client.create_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="1",
        Description="first",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    described = lambda_client.update_alias(
        FunctionName=two_versions, Name="canary", Description="second"
    )
    assert described["Description"] == "second"
    assert described["FunctionVersion"] == "1"
    assert described["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert described["RevisionId"] != created["RevisionId"]

    reweighted = lambda_client.update_alias(
        FunctionName=two_versions,
        Name="canary",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        RevisionId=described["RevisionId"],
    )
    assert reweighted["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    assert reweighted["Description"] == "second"
    assert reweighted["RevisionId"] not in (created["RevisionId"], described["RevisionId"])


def test_empty_weights_clear_the_routing(lambda_client: Any, two_versions: str) -> None:
    lambda_client.create_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    # The documented way to finish a canary: point at the new version, drop the weights.
    shifted = lambda_client.update_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {}},
    )
    assert shifted["FunctionVersion"] == "2"
    assert "RoutingConfig" not in shifted
    got = lambda_client.get_alias(FunctionName=two_versions, Name="canary")
    assert "RoutingConfig" not in got
    assert got["FunctionVersion"] == "2"


def test_update_applies_the_routing_rules(lambda_client: Any, two_versions: str) -> None:
    lambda_client.create_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    # Moving the primary onto the weighted version without clearing the weights is refused.
    status, code, message, _ = error_of(
        lambda_client.update_alias, FunctionName=two_versions, Name="canary", FunctionVersion="2"
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message == (
        "Invalid function version 2. Function version 2 is already included in routing "
        "configuration."
    )
    status, code, message, _ = error_of(
        lambda_client.update_alias, FunctionName=two_versions, Name="canary", FunctionVersion="9"
    )
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {arn(two_versions, '9')}"
    assert lambda_client.get_alias(FunctionName=two_versions, Name="canary")["FunctionVersion"] == (
        "1"
    )


# --- ListAliases ------------------------------------------------------------------------------


def test_list_filters_by_primary_version(lambda_client: Any, two_versions: str) -> None:
    lambda_client.create_alias(FunctionName=two_versions, Name="blue", FunctionVersion="1")
    lambda_client.create_alias(FunctionName=two_versions, Name="green", FunctionVersion="2")
    lambda_client.create_alias(
        FunctionName=two_versions,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    every = lambda_client.list_aliases(FunctionName=two_versions)["Aliases"]
    assert sorted(a["Name"] for a in every) == ["blue", "canary", "green"]
    assert "NextMarker" not in lambda_client.list_aliases(FunctionName=two_versions)
    on_one = lambda_client.list_aliases(FunctionName=two_versions, FunctionVersion="1")["Aliases"]
    assert sorted(a["Name"] for a in on_one) == ["blue", "canary"]
    # `canary` sends 10% to version 2, but only the primary version counts.
    on_two = lambda_client.list_aliases(FunctionName=two_versions, FunctionVersion="2")["Aliases"]
    assert [a["Name"] for a in on_two] == ["green"]
    assert on_two[0] == {
        "AliasArn": arn(two_versions, "green"),
        "Name": "green",
        "FunctionVersion": "2",
        "Description": "",
        "RevisionId": on_two[0]["RevisionId"],
    }


def test_list_pages_with_max_items(lambda_client: Any, two_versions: str) -> None:
    names = ["a1", "a2", "a3", "a4", "a5"]
    for name in names:
        lambda_client.create_alias(FunctionName=two_versions, Name=name, FunctionVersion="1")
    first = lambda_client.list_aliases(FunctionName=two_versions, MaxItems=2)
    assert len(first["Aliases"]) == 2
    assert first["NextMarker"]
    seen = [a["Name"] for a in first["Aliases"]]
    marker = first["NextMarker"]
    while marker:
        page = lambda_client.list_aliases(FunctionName=two_versions, MaxItems=2, Marker=marker)
        assert 1 <= len(page["Aliases"]) <= 2
        seen += [a["Name"] for a in page["Aliases"]]
        marker = page.get("NextMarker")
    assert sorted(seen) == names  # every alias exactly once
    paginator = lambda_client.get_paginator("list_aliases")
    pages = list(paginator.paginate(FunctionName=two_versions, PaginationConfig={"PageSize": 3}))
    assert [len(p["Aliases"]) for p in pages] == [3, 2]


def test_list_on_missing_function_is_not_found(lambda_client: Any, function_name: str) -> None:
    status, code, message, _ = error_of(lambda_client.list_aliases, FunctionName=function_name)
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == f"Function not found: {arn(function_name)}"


def test_aliases_are_per_function_and_go_with_it(
    lambda_client: Any, two_versions: str, make_function: Callable[..., dict[str, Any]]
) -> None:
    other = f"{two_versions}-b"
    make_function(other)
    lambda_client.create_alias(FunctionName=two_versions, Name="live", FunctionVersion="1")
    assert lambda_client.list_aliases(FunctionName=other)["Aliases"] == []
    lambda_client.delete_function(FunctionName=two_versions)
    make_function(two_versions)
    assert lambda_client.list_aliases(FunctionName=two_versions)["Aliases"] == []
