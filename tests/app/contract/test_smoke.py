"""The server starts, answers health checks, and serves Lambda to boto3."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.server import GureumProcess


def test_health_answers_json(server: GureumProcess) -> None:
    assert server.health()["status"] == "ok"


def test_health_says_every_store_is_in_the_data_directory_by_default(
    server: GureumProcess,
) -> None:
    data = server.data_dir.resolve()
    stores = server.health()["stores"]
    assert stores["lambda.controlPlane"] == f"sqlite:{data / 'gureum.sqlite3'}"
    assert stores["lambda.eventQueue"] == f"sqlite:{data / 'gureum.sqlite3'}"
    assert stores["lambda.code"] == f"files:{data / 'code'}"
    assert stores["ec2"] == f"sqlite:{data / 'ec2.sqlite3'}"
    assert stores["default"] == f"data-dir:{data}"
    assert all(where.partition(":")[2].startswith(str(data)) for where in stores.values())
    assert server.health()["singletons"] == [
        "autoscaling-scaler",
        "lambda-pollers",
        "lambda-provisioner",
        "lambda-settler",
    ]


def test_create_then_get_function(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    created = make_function()
    assert created["State"] == "Pending"
    got = lambda_client.get_function(FunctionName=function_name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
