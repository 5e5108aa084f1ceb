"""CloudWatch Logs' operations in-process, over each real log store (files, rows on PostgreSQL
and on SQLite): the answers AWS gives for log streams that are, or are not, there (found by the
AWS SDK for JavaScript's contract test, where a misspelt stream read back as an empty page
instead of an error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gureum.aws.errors import AwsError
from gureum.aws.frontend import CallContext
from gureum.logs.api import LogsApi
from tests.logs.conftest import OpenStore

CONTEXT = CallContext("123456789012", "us-east-1", "request-1", "http://127.0.0.1:4566")
GROUP = "/aws/lambda/reader"


@pytest.fixture
def logs(open_store: OpenStore) -> LogsApi:
    api = LogsApi(open_store())
    api.create_log_group(CONTEXT, {"logGroupName": GROUP})
    api.create_log_stream(CONTEXT, {"logGroupName": GROUP, "logStreamName": "present"})
    return api


def error_of(
    call: Callable[[CallContext, dict[str, Any]], object], params: dict[str, Any]
) -> tuple[str, int, str]:
    """(code, HTTP status, message) of a call that must fail."""
    with pytest.raises(AwsError) as caught:
        call(CONTEXT, params)
    return caught.value.code, caught.value.status, caught.value.message


def test_get_log_events_of_a_missing_stream_is_resource_not_found(logs: LogsApi) -> None:
    params = {"logGroupName": GROUP, "logStreamName": "absent", "startFromHead": True}
    assert error_of(logs.get_log_events, params) == (
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )


def test_get_log_events_of_an_empty_stream_is_an_empty_page(logs: LogsApi) -> None:
    page = logs.get_log_events(CONTEXT, {"logGroupName": GROUP, "logStreamName": "present"})
    assert page["events"] == []
    assert page["nextForwardToken"] == "f/" + "0" * 56


def test_put_log_events_into_a_missing_stream_is_resource_not_found(logs: LogsApi) -> None:
    events = [{"timestamp": 1_700_000_000_000, "message": "lost"}]
    params = {"logGroupName": GROUP, "logStreamName": "absent", "logEvents": events}
    assert error_of(logs.put_log_events, params) == (
        "ResourceNotFoundException",
        400,
        "The specified log stream does not exist.",
    )
    described = logs.describe_log_streams(CONTEXT, {"logGroupName": GROUP})
    assert [s["logStreamName"] for s in described["logStreams"]] == ["present"]


def test_put_log_events_into_a_stream_reads_back(logs: LogsApi) -> None:
    events = [{"timestamp": 1_700_000_000_000, "message": "kept"}]
    logs.put_log_events(
        CONTEXT, {"logGroupName": GROUP, "logStreamName": "present", "logEvents": events}
    )
    page = logs.get_log_events(CONTEXT, {"logGroupName": GROUP, "logStreamName": "present"})
    assert [e["message"] for e in page["events"]] == ["kept"]


def test_creating_a_stream_twice_is_resource_already_exists(logs: LogsApi) -> None:
    params = {"logGroupName": GROUP, "logStreamName": "present"}
    assert error_of(logs.create_log_stream, params) == (
        "ResourceAlreadyExistsException",
        400,
        "The specified log stream already exists",
    )
