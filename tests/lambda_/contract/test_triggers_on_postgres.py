"""Lambda's triggers store on PostgreSQL (`gureum serve --store postgresql://...`): a function
URL config and a resource policy are made, read back, and are rows of the database, not of a
file in the data directory (issue #24)."""

from __future__ import annotations

import json

import psycopg

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess


def test_a_url_config_and_a_policy_are_kept_in_postgresql(
    postgres_server: GureumProcess, function_name: str
) -> None:
    client = postgres_server.client()
    client.create_function(
        FunctionName=function_name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of()},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    created = client.create_function_url_config(FunctionName=function_name, AuthType="NONE")
    client.add_permission(
        FunctionName=function_name,
        StatementId="public-url",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )

    found = client.get_function_url_config(FunctionName=function_name)
    assert (found["FunctionUrl"], found["AuthType"]) == (created["FunctionUrl"], "NONE")
    policy = json.loads(client.get_policy(FunctionName=function_name)["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == ["public-url"]
    url = postgres_server.extra[postgres_server.extra.index("--store") + 1]
    with psycopg.connect(url) as connection:
        urls = connection.execute(
            "SELECT qualifier FROM function_urls WHERE function_name = %s", (function_name,)
        ).fetchall()
        policies = connection.execute(
            "SELECT qualifier FROM function_policies WHERE function_name = %s", (function_name,)
        ).fetchall()
    assert (urls, policies) == ([("$LATEST",)], [("",)])
    assert not (postgres_server.data_dir / "triggers.sqlite3").exists()
