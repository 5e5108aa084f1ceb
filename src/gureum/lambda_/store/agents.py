"""The cluster's agents: each one's latest heartbeat, on the SQL port (`gureum.aws.sql`).

An agent writes its row every heartbeat and deletes it when it stops cleanly; a front door
reads every row each refresh and leaves out those not heard from lately
(`domain.placement.live`), so a killed agent needs no clean-up to drop out of placement. Rows of
agents long gone are deleted by any agent's heartbeat after `FORGET_AFTER` seconds.
"""

from __future__ import annotations

import json

from gureum.aws.sql import Backend, StoreSpec
from gureum.lambda_.domain.placement import AgentStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY, address TEXT NOT NULL, seen REAL NOT NULL,
    running INTEGER NOT NULL, idle TEXT NOT NULL);
"""
SPEC = StoreSpec(
    "lambda_agents", "agents.sqlite3", SCHEMA, "gureum.lambda_.store", "agents_migrations"
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
                "INSERT INTO agents (id, address, seen, running, idle) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET address = excluded.address, "
                "seen = excluded.seen, running = excluded.running, idle = excluded.idle",
                (
                    status.agent_id,
                    status.address,
                    status.seen,
                    status.running,
                    json.dumps(dict(status.idle)),
                ),
            )
            sql.execute("DELETE FROM agents WHERE seen < ?", (status.seen - FORGET_AFTER,))

    def leave(self, agent_id: str) -> None:
        with self._db.transaction() as sql:
            sql.execute("DELETE FROM agents WHERE id = ?", (agent_id,))

    def agents(self) -> list[AgentStatus]:
        with self._db.transaction() as sql:
            rows = sql.execute(
                "SELECT id, address, seen, running, idle FROM agents ORDER BY id"
            ).fetchall()
        return [
            AgentStatus(str(i), str(address), float(seen), int(running), json.loads(idle))
            for i, address, seen, running, idle in rows
        ]

    def close(self) -> None:
        self._db.close()
