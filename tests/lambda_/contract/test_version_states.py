"""States over the wire: what PublishVersion and the updates answer, and what an update in
progress still runs (spec 1.3, 11.1), driven with boto3 against a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.functions import invoke

FAST = {"Delay": 0.1, "MaxAttempts": 300}

MakeFunction = Callable[..., dict[str, Any]]


# --- PublishVersion of a settled function (spec 1.3 item 7) --------------------------------------


def test_publishing_a_settled_function_answers_an_active_version(
    lambda_client: Any, make_function: MakeFunction, function_name: str
) -> None:
    make_function()
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig=FAST
    )

    published = lambda_client.publish_version(FunctionName=function_name)

    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["Version"] == "1"
    assert published["State"] == "Active"
    assert published["LastUpdateStatus"] == "Successful"
    for absent in ("StateReason", "StateReasonCode", "LastUpdateStatusReason"):
        assert absent not in published
    # Active means invocable at once (the code is the one `$LATEST` already prepared).
    assert invoke(lambda_client, function_name, {"n": 1}, Qualifier="1").json() == {"n": 1}
    # Publishing again with nothing changed answers the same version, same RevisionId.
    repeated = lambda_client.publish_version(FunctionName=function_name)
    assert repeated["Version"] == "1"
    assert repeated["RevisionId"] == published["RevisionId"]
    # Nothing is left to prepare, so nothing changes the version's RevisionId later: another
    # change to the function (which the settler acts on) leaves it as published.
    lambda_client.update_function_configuration(FunctionName=function_name, Timeout=9)
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig=FAST
    )
    again = lambda_client.get_function_configuration(FunctionName=function_name, Qualifier="1")
    assert again["RevisionId"] == published["RevisionId"]
    assert (again["State"], again["LastUpdateStatus"]) == ("Active", "Successful")
    lambda_client.get_waiter("published_version_active").wait(
        FunctionName=function_name, Qualifier="1", WaiterConfig={"Delay": 0.1, "MaxAttempts": 1}
    )
    listed = lambda_client.list_versions_by_function(FunctionName=function_name)["Versions"]
    assert [v["RevisionId"] for v in listed if v["Version"] == "1"] == [published["RevisionId"]]
