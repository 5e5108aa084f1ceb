"""The cluster's agents: each one's latest heartbeat, on the SQL port (`gureum.aws.sql`).

An agent writes its row every heartbeat and deletes it when it stops cleanly; a front door
reads every row each refresh and leaves out those not heard from lately
(`domain.placement.live`), so a killed agent needs no clean-up to drop out of placement. Rows of
agents long gone are deleted by any agent's heartbeat after `FORGET_AFTER` seconds.
"""

from __future__ import annotations

import json

from gureum.aws.sql import Backend, Sql, StoreSpec
from gureum.lambda_.domain.placement import AgentStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY, address TEXT NOT NULL, seen REAL NOT NULL,
    running INTEGER NOT NULL, idle TEXT NOT NULL, provisioned TEXT NOT NULL DEFAULT '{}');
"""


def _upgrade(sql: Sql) -> None:
    """An SQLite file made before heartbeats said where provisioned environments are."""
    columns = {row[1] for row in sql.execute("PRAGMA table_info(agents)")}
    if "provisioned" not in columns:
        sql.execute("ALTER TABLE agents ADD COLUMN provisioned TEXT NOT NULL DEFAULT '{}'")


SPEC = StoreSpec(
    "lambda_agents",
    "agents.sqlite3",
    SCHEMA,
    "gureum.lambda_.store",
    "agents_migrations",
    upgrade=_upgrade,
)
# An agent silent this long (seconds) is forgotten, its row deleted.
FORGET_AFTER = 3600.0


class AgentRegistry:
    """Blocking: call from worker threads."""

    def __init__(self, stores: Backend) -> None:
        self._db = stores.open(SPEC)

    def beat(self, status: AgentStatus) -> None:
        with self._db.transaction() as sql:
            sql.execute(
                "INSERT INTO agents (id, address, seen, running, idle, provisioned) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
                "seen = excluded.seen, running = excluded.running, idle = excluded.idle, "
                "provisioned = excluded.provisioned",
                (
                    status.agent_id,
                    status.address,
                    status.seen,
                    status.running,
                    json.dumps(dict(status.idle)),
                    json.dumps(dict(status.provisioned)),
                ),
            )
            sql.execute("DELETE FROM agents WHERE seen < ?", (status.seen - FORGET_AFTER,))

    def leave(self, agent_id: str) -> None:
        with self._db.transaction() as sql:
            sql.execute("DELETE FROM agents WHERE id = ?", (agent_id,))

    def agents(self) -> list[AgentStatus]:
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT id, address, seen, running, idle, provisioned FROM agents ORDER BY id"
            ).fetchall()
        return [
            AgentStatus(
                str(i),
                str(address),
                float(seen),
                int(running),
                json.loads(idle),
                json.loads(provisioned),
            )
            for i, address, seen, running, idle, provisioned in rows
        ]

    def close(self) -> None:
        self._db.close()
