"""`gureum serve --store postgresql://...`, end to end (issue #24, items 1 and 2).

A real server keeps Lambda's control plane and event queue in the test run's PostgreSQL: the
functions, versions, aliases and event configurations made through boto3, and the Event
invocations accepted (202) before a `kill -9`, are all there after a restart, and the failed
events reach the dead-letter queue (SQS, still SQLite in the data directory).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.support.packages import zip_of
from tests.support.postgres import PostgresCluster
from tests.support.server import GureumProcess

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = """\
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("failed: " + str(event["n"]))
    return {"n": event["n"], "version": context.function_version}
"""


@pytest.fixture
def database(postgres: PostgresCluster) -> str:
    return postgres.database()


@pytest.fixture
def server(tmp_path: Path, database: str) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data", "--store", database, "--time-scale", "0.01")
    yield process.start()
    if process.process is not None:
        process.stop()


def dead_letters(sqs: Any, url: str, numbers: set[int]) -> list[str]:
    """The bodies of the queue's messages (deleted as they are read), until those of events
    numbered `numbers` are all among them or a minute has gone by."""
    bodies: list[str] = []
    for _ in range(60):
        if numbers <= {json.loads(body)["n"] for body in bodies}:
            break
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def invoke(lam: Any, **params: Any) -> dict[str, Any]:
    reply = lam.invoke(**params)
    document: dict[str, Any] = json.loads(reply["Payload"].read())
    return document


def test_the_control_plane_and_the_queue_live_in_postgresql_across_restarts(
    server: GureumProcess, database: str, tmp_path: Path
) -> None:
    stores = server.health()["stores"]
    assert stores["lambda.controlPlane"] == database
    assert stores["lambda.eventQueue"] == database
    assert stores["default"].startswith("data-dir:")
    # The store's threads start after the server has its own mount namespace (unshare(2)
    # refuses a process with threads), so sandbox mounts still die with the server.
    assert "already runs threads" not in server.log_path.read_text()
    lam, sqs = server.client(), server.client("sqs")
    dlq_url = sqs.create_queue(QueueName="pg-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam.create_function(
        FunctionName="pg",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER})},
        DeadLetterConfig={"TargetArn": dlq_arn},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="pg", WaiterConfig={"Delay": 0.1})
    version = lam.publish_version(FunctionName="pg")["Version"]
    lam.create_alias(FunctionName="pg", Name="live", FunctionVersion=version)
    lam.put_function_event_invoke_config(FunctionName="pg", MaximumRetryAttempts=0)
    assert invoke(lam, FunctionName="pg", Qualifier="live", Payload=b'{"n": 1}') == {
        "n": 1,
        "version": "1",
    }
    reply = lam.invoke(FunctionName="pg", InvocationType="Event", Payload=b'{"n": 2, "fail": 1}')
    assert reply["StatusCode"] == 202
    assert dead_letters(sqs, dlq_url, {2}) == ['{"n": 2, "fail": 1}']

    # Accepted, then the server is killed: every 202 is delivered after the restart.
    for n in range(3, 13):
        payload = json.dumps({"n": n, "fail": 1}).encode()
        assert (
            lam.invoke(FunctionName="pg", InvocationType="Event", Payload=payload)["StatusCode"]
            == 202
        )
    server.kill()
    assert not (tmp_path / "data" / "gureum.sqlite3").exists()  # nothing of it in SQLite
    with psycopg.connect(database) as connection:
        row = connection.execute("SELECT count(*) FROM lambda_versions").fetchone()
        assert row is not None
        assert row[0] == 2
    server.start()
    lam, sqs = server.client(), server.client("sqs")
    assert lam.get_alias(FunctionName="pg", Name="live")["FunctionVersion"] == "1"
    versions = lam.list_versions_by_function(FunctionName="pg")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    config = lam.get_function_event_invoke_config(FunctionName="pg")
    assert config["MaximumRetryAttempts"] == 0
    assert invoke(lam, FunctionName="pg", Qualifier="live", Payload=b'{"n": 99}')["n"] == 99
    # At least once: an attempt cut short by the kill runs again, so some may come twice.
    delivered = {json.loads(body)["n"] for body in dead_letters(sqs, dlq_url, set(range(3, 13)))}
    assert delivered == set(range(3, 13))


def test_while_the_database_is_away_requests_fail_with_500_then_recover(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster
) -> None:
    # A cluster of its own (the session's is shared), stopped and started again under a server.
    own = PostgresCluster(postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp())
    own.start()
    process = GureumProcess(tmp_path / "data", "--store", own.database())
    try:
        lam = process.start().client()
        lam.create_function(
            FunctionName="kept",
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
        )
        own.stop()
        calls: list[Callable[[], object]] = [
            lambda: lam.get_function(FunctionName="kept"),
            lambda: lam.invoke(FunctionName="kept", InvocationType="Event", Payload=b"{}"),
        ]
        for call in calls:
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.response["Error"]["Code"] == "ServiceException"
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        own.start()
        for _ in range(60):  # the pool reconnects on its own
            try:
                got = lam.get_function(FunctionName="kept")
                break
            except ClientError:
                time.sleep(1)
        else:
            pytest.fail("the server did not recover once the database was back")
        assert got["Configuration"]["FunctionName"] == "kept"
        assert process.health()["status"] == "ok"
    finally:
        if process.process is not None:
            process.stop()
        own.stop()


def test_a_store_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", "--store", "mysql://u@h/db")
    with pytest.raises(RuntimeError, match="must be a PostgreSQL URL"):
        process.start()


def test_an_unreachable_store_stops_the_server_with_a_reason_and_no_password(
    tmp_path: Path,
) -> None:
    process = GureumProcess(tmp_path / "data", "--store", "postgresql://u:secret@127.0.0.1:1/db")
    with pytest.raises(RuntimeError, match=r"cannot use the store postgresql://u:\*\*\*@") as err:
        process.start()
    assert "secret" not in str(err.value)
