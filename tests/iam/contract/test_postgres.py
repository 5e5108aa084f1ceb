"""IAM end to end on a server whose stores are in PostgreSQL (`--store`, issue #24): a role with
its trust policy, an inline policy read back, roles listed in IAM's order, and the rows in the
database rather than in an SQLite file of the data directory."""

from __future__ import annotations

import json

import psycopg

from tests.iam.contract.test_iam import LAMBDA_TRUST, READ_QUEUES
from tests.support.server import GureumProcess

PATH = "/pg-e2e/"  # the server is shared: this test's roles are the ones under its path


def store_url(server: GureumProcess) -> str:
    return server.extra[server.extra.index("--store") + 1]


def test_roles_and_their_policies_live_in_postgresql(postgres_server: GureumProcess) -> None:
    iam = postgres_server.client("iam")
    names = ["b-role", "B_role", "A.role", "a-role"]
    for name in names:
        iam.create_role(RoleName=name, Path=PATH, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.put_role_policy(
        RoleName="b-ROLE", PolicyName="queues", PolicyDocument=json.dumps(READ_QUEUES)
    )
    got = iam.get_role_policy(RoleName="b-role", PolicyName="queues")
    assert (got["RoleName"], got["PolicyDocument"]) == ("b-role", READ_QUEUES)
    role = iam.get_role(RoleName="B_ROLE")["Role"]
    assert (role["RoleName"], role["AssumeRolePolicyDocument"]) == ("B_role", LAMBDA_TRUST)
    listed = [r["RoleName"] for r in iam.list_roles(PathPrefix=PATH)["Roles"]]
    # IAM lists by name regardless of case, in byte order ("-" < "." < "_").
    assert listed == ["a-role", "A.role", "b-role", "B_role"]
    with psycopg.connect(store_url(postgres_server)) as connection:
        rows = connection.execute(
            "SELECT key, owner FROM records WHERE kind = %s AND key = ANY(%s) ORDER BY key",
            ("role-policy", ["b-role/queues"]),
        ).fetchall()
        keys = connection.execute(
            "SELECT key FROM records WHERE kind = %s AND key = ANY(%s) ORDER BY key",
            ("role", [name.lower() for name in names]),
        ).fetchall()
    assert rows == [("b-role/queues", "b-role")]
    assert [key for (key,) in keys] == ["a-role", "a.role", "b-role", "b_role"]
    assert not (postgres_server.data_dir / "iam.sqlite3").exists()
