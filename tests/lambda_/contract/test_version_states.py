"""States over the wire: what PublishVersion and the updates answer, and what an update in
progress still runs (spec 1.3, 11.1), driven with boto3 against a real server.

The tests that need a function to stay `InProgress` long enough to call it run on their own server
started with `--settle-delay`, which holds every version in its transitional state for that long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.aws import ROLE, arn, aws_error
from tests.support.functions import error_of, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

FAST = {"Delay": 0.1, "MaxAttempts": 300}
SETTLE_DELAY = "3"
IN_PROGRESS = (
    "The operation cannot be performed at this time. An update is in progress for resource: {}"
)
CREATING = "The function is being created."

MakeFunction = Callable[..., dict[str, Any]]


def marked(marker: str) -> bytes:
    """A package whose handler says which code it is and which configuration it runs with."""
    return zip_of(
        {
            "index.py": (
                "import os\n\n"
                "def handler(event, context):\n"
                f"    return {{'code': {marker!r}, 'stage': os.environ.get('STAGE')}}\n"
            )
        }
    )


def runs(client: Any, name: str, **params: Any) -> dict[str, Any]:
    invoked = invoke(client, name, {}, **params)
    assert invoked.status == 200
    assert invoked.function_error is None, invoked.payload
    assert invoked.executed_version == params.get("Qualifier", "$LATEST")
    answer: dict[str, Any] = invoked.json()
    return answer


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server that holds created and updated functions Pending/InProgress for a few seconds
    (shared by this module's tests, each with functions of its own)."""
    data = tmp_path_factory.mktemp("slow") / "data"
    process = GureumProcess(data, "--settle-delay", SETTLE_DELAY).start()
    yield process
    process.stop()


def create_active(client: Any, name: str, marker: str, stage: str) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": marked(marker)},
        Environment={"Variables": {"STAGE": stage}},
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)


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


# --- publishing with an update: Pending, then both settle (spec 1.3, 11.1) ------------------------


def test_update_code_with_publish_answers_a_pending_version(slow_server: GureumProcess) -> None:
    client = slow_server.client()
    name = "publish-on-update"
    create_active(client, name, "one", "a")

    answer = client.update_function_code(FunctionName=name, ZipFile=marked("two"), Publish=True)

    assert answer["Version"] == "1"
    assert answer["FunctionArn"] == arn(name, "1")
    assert answer["State"] == "Pending"
    assert answer["StateReason"] == CREATING
    assert answer["StateReasonCode"] == "Creating"
    assert "LastUpdateStatus" not in answer
    latest = client.get_function(FunctionName=name)["Configuration"]
    assert latest["State"] == "Active"
    assert latest["LastUpdateStatus"] == "InProgress"
    assert latest["LastUpdateStatusReasonCode"] == "Creating"
    assert latest["CodeSha256"] == answer["CodeSha256"]
    pending = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert pending["State"] == "Pending"
    # A version that is not Active is not invoked (spec 11.1).
    status, code, message = error_of(client.invoke, FunctionName=name, Qualifier="1")
    assert (status, code) == (409, "ResourceConflictException")
    assert message == (
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: Pending"
    )

    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig=FAST
    )
    version = client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert (version["State"], version["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReasonCode" not in version
    assert runs(client, name, Qualifier="1") == {"code": "two", "stage": "a"}
    assert runs(client, name) == {"code": "two", "stage": "a"}


def test_create_with_publish_answers_version_one_pending(slow_server: GureumProcess) -> None:
    client = slow_server.client()
    name = "publish-on-create"
    created = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": marked("one")},
        Publish=True,
    )
    # AWS's quirk (spec 1.3): version 1's configuration under the unqualified ARN.
    assert (created["Version"], created["FunctionArn"]) == ("1", arn(name))
    assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    client.get_waiter("published_version_active").wait(
        FunctionName=name, Qualifier="1", WaiterConfig=FAST
    )
    assert runs(client, name, Qualifier="1") == {"code": "one", "stage": None}


# --- while an update is in progress (spec 11.1) ---------------------------------------------------


def test_an_update_in_progress_runs_the_previous_code_and_configuration(
    slow_server: GureumProcess,
) -> None:
    client = slow_server.client()
    name = "served-while-updating"
    create_active(client, name, "one", "a")
    assert runs(client, name) == {"code": "one", "stage": "a"}

    client.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"STAGE": "b"}}
    )
    assert client.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == (
        "InProgress"
    )
    assert runs(client, name) == {"code": "one", "stage": "a"}
    assert runs(client, name, Qualifier="$LATEST") == {"code": "one", "stage": "a"}
    dry_run = client.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry_run["StatusCode"] == 204
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    assert runs(client, name) == {"code": "one", "stage": "b"}

    client.update_function_code(FunctionName=name, ZipFile=marked("two"))
    assert runs(client, name) == {"code": "one", "stage": "b"}
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    assert runs(client, name) == {"code": "two", "stage": "b"}


def test_a_second_change_during_an_update_is_a_conflict(slow_server: GureumProcess) -> None:
    client = slow_server.client()
    name = "conflicting-updates"
    create_active(client, name, "one", "a")
    client.update_function_configuration(FunctionName=name, Timeout=10)

    message = IN_PROGRESS.format(arn(name))
    with aws_error("ResourceConflictException", 409, message):
        client.update_function_configuration(FunctionName=name, Timeout=20)
    with aws_error("ResourceConflictException", 409, message):
        client.tag_resource(Resource=arn(name), Tags={"team": "blue"})
    with aws_error("ResourceConflictException", 409, message):
        client.publish_version(FunctionName=name)

    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    settled = client.get_function(FunctionName=name)
    assert settled["Configuration"]["Timeout"] == 10
    assert "Tags" not in settled or settled["Tags"] == {}
    client.tag_resource(Resource=arn(name), Tags={"team": "blue"})
    assert client.list_tags(Resource=arn(name))["Tags"] == {"team": "blue"}
