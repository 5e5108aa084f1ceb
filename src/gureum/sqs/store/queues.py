"""The queues' store, through the SQL port (`gureum.aws.sql`): an SQLite file in the data
directory (WAL, `synchronous=FULL`), or PostgreSQL (`migrations/`).

A message is committed before its SendMessage is answered, and survives `kill -9` (SQLite syncs
every commit; PostgreSQL's COMMIT is durable). Every transaction holds the store alone: SQLite's
`BEGIN IMMEDIATE` in one process, PostgreSQL's advisory lock of the store across every process.
So a receive's read-then-hide never races another receive, in this process or another one, and
`seq` (taken inside that transaction) numbers messages in the order their sends committed.

Times are epoch seconds of the clock port, stored as doubles on both backends. A message's
`visible_at` is when it may next be received (its delay or its visibility timeout, already
scaled); `receipt` is the token of its latest receive, the only one whose handle still deletes it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gureum.aws.sql import Backend, Rows, Sql, StoreSpec
from gureum.sqs.domain.errors import QueueDoesNotExist
from gureum.sqs.domain.messages import Message, MessageAttribute
from gureum.sqs.domain.queues import Queue, QueueCounts, QueueKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    created REAL NOT NULL, modified REAL NOT NULL, attributes TEXT NOT NULL, tags TEXT NOT NULL,
    UNIQUE (account, region, name));
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    id TEXT NOT NULL, body TEXT NOT NULL, attributes TEXT NOT NULL, sender TEXT NOT NULL,
    trace_header TEXT, dead_letter_source TEXT, sent REAL NOT NULL, visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0, first_received REAL, receipt TEXT);
CREATE INDEX IF NOT EXISTS messages_due ON messages (queue_id, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_by_id ON messages (queue_id, id);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (queue_id, sent);
"""
SPEC = StoreSpec("sqs", "queues.sqlite3", SCHEMA, "gureum.sqs.store")
_QUEUE_COLUMNS = "id, account, region, name, created, modified, attributes, tags"
_MESSAGE_COLUMNS = (
    "id, body, sent, sender, attributes, trace_header, dead_letter_source, receive_count, "
    "first_received"
)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with where it stands: its row, its latest receipt token, when it shows."""

    seq: int
    message: Message
    visible_at: float
    receipt: str | None


def _dump_attributes(attributes: Mapping[str, MessageAttribute]) -> str:
    return json.dumps(
        {
            name: [
                a.data_type,
                a.string_value,
                None if a.binary_value is None else base64.b64encode(a.binary_value).decode(),
            ]
            for name, a in attributes.items()
        }
    )


def _load_attributes(text: str) -> dict[str, MessageAttribute]:
    return {
        name: MessageAttribute(kind, string, None if blob is None else base64.b64decode(blob))
        for name, (kind, string, blob) in json.loads(text).items()
    }


class QueueStore:
    """Queues and their messages, on SQLite or PostgreSQL; thread-safe (one writer at a time)."""

    def __init__(self, stores: Backend) -> None:
        self._database = stores.open(SPEC)

    @property
    def generation(self) -> int:
        """Moves after every commit that changed a row: this process's, and on PostgreSQL any
        other process's too (a long poll looks again when it moves)."""
        return self._database.generation

    @contextmanager
    def transaction(self) -> Iterator[QueueTransaction]:
        with self._database.transaction() as db:
            yield QueueTransaction(db)

    def close(self) -> None:
        self._database.close()


class QueueTransaction:
    def __init__(self, sql: Sql) -> None:
        self._sql = sql

    def _rows(self, statement: str, *args: Any) -> list[Any]:
        return self._sql.execute(statement, args).fetchall()

    def _run(self, statement: str, *args: Any) -> Rows:
        return self._sql.execute(statement, args)

    # queues -------------------------------------------------------------------------------

    @staticmethod
    def _queue(row: Any) -> Queue:
        queue_id, account, region, name, created, modified, attributes, tags = row
        key = QueueKey(account, region, name)
        return Queue(queue_id, key, created, modified, json.loads(attributes), json.loads(tags))

    def queue(self, key: QueueKey) -> Queue | None:
        rows = self._rows(
            f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE account = ? AND region = ? AND name = ?",
            key.account,
            key.region,
            key.name,
        )
        return self._queue(rows[0]) if rows else None

    def require(self, key: QueueKey) -> Queue:
        queue = self.queue(key)
        if queue is None:
            raise QueueDoesNotExist()
        return queue

    def add_queue(
        self, key: QueueKey, now: float, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Queue:
        (queue_id,) = self._run(
            "INSERT INTO queues (account, region, name, created, modified, attributes, tags) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            key.account,
            key.region,
            key.name,
            now,
            now,
            json.dumps(dict(attributes)),
            json.dumps(dict(tags)),
        ).fetchone()
        return Queue(queue_id, key, now, now, dict(attributes), dict(tags))

    def save_queue(self, queue: Queue) -> None:
        self._run(
            "UPDATE queues SET modified = ?, attributes = ?, tags = ? WHERE id = ?",
            queue.modified,
            json.dumps(dict(queue.attributes)),
            json.dumps(dict(queue.tags)),
            queue.id,
        )

    def delete_queue(self, queue: Queue) -> None:
        self._run("DELETE FROM queues WHERE id = ?", queue.id)

    def queues(self, account: str, region: str) -> list[Queue]:
        rows = self._rows(
            f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE account = ? AND region = ? ORDER BY name",
            account,
            region,
        )
        return [self._queue(row) for row in rows]

    # messages -----------------------------------------------------------------------------

    @staticmethod
    def _message(row: Any) -> Message:
        message_id, body, sent, sender, attributes, trace, source, count, first = row
        return Message(
            message_id,
            body,
            sent,
            sender,
            _load_attributes(attributes),
            trace,
            source,
            count,
            first,
        )

    def add_message(self, queue_id: int, message: Message, visible_at: float) -> None:
        self._run(
            "INSERT INTO messages (queue_id, id, body, attributes, sender, trace_header, "
            "dead_letter_source, sent, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            queue_id,
            message.id,
            message.body,
            _dump_attributes(message.attributes),
            message.sender,
            message.trace_header,
            message.dead_letter_source,
            message.sent,
            visible_at,
        )

    def expire(self, queue_id: int, sent_before: float) -> None:
        """Drops messages older than the queue's retention period (an age, so a shorter period
        applies to messages already queued, as in SQS)."""
        self._run("DELETE FROM messages WHERE queue_id = ? AND sent <= ?", queue_id, sent_before)

    def counts(self, queue_id: int, now: float) -> QueueCounts:
        # `gureum.sqs.domain.messages.message_state`, as SQL (COUNT of a CASE: an integer on
        # both backends, where PostgreSQL cannot SUM a comparison).
        row = self._rows(
            "SELECT COUNT(CASE WHEN visible_at <= ? THEN 1 END), "
            "COUNT(CASE WHEN visible_at > ? AND receive_count > 0 THEN 1 END), "
            "COUNT(CASE WHEN visible_at > ? AND receive_count = 0 THEN 1 END) "
            "FROM messages WHERE queue_id = ?",
            now,
            now,
            now,
            queue_id,
        )[0]
        return QueueCounts(*row)

    def due(self, queue_id: int, now: float, limit: int) -> list[StoredMessage]:
        """Visible messages, longest-waiting first."""
        rows = self._rows(
            f"SELECT seq, visible_at, receipt, {_MESSAGE_COLUMNS} FROM messages "
            "WHERE queue_id = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?",
            queue_id,
            now,
            limit,
        )
        return [StoredMessage(row[0], self._message(row[3:]), row[1], row[2]) for row in rows]

    def find(self, queue_id: int, message_id: str) -> StoredMessage | None:
        rows = self._rows(
            f"SELECT seq, visible_at, receipt, {_MESSAGE_COLUMNS} FROM messages "
            "WHERE queue_id = ? AND id = ?",
            queue_id,
            message_id,
        )
        return (
            StoredMessage(rows[0][0], self._message(rows[0][3:]), *rows[0][1:3]) if rows else None
        )

    def mark_received(self, seq: int, token: str, visible_at: float, first: float) -> None:
        self._run(
            "UPDATE messages SET receive_count = receive_count + 1, receipt = ?, visible_at = ?, "
            "first_received = COALESCE(first_received, ?) WHERE seq = ?",
            token,
            visible_at,
            first,
            seq,
        )

    def set_visible_at(self, seq: int, visible_at: float) -> None:
        self._run("UPDATE messages SET visible_at = ? WHERE seq = ?", visible_at, seq)

    def move(self, seq: int, queue_id: int, now: float, source_arn: str) -> None:
        """To a dead-letter queue: same id, body and sent time; received afresh from there."""
        self._run(
            "UPDATE messages SET queue_id = ?, visible_at = ?, receive_count = 0, receipt = NULL, "
            "first_received = NULL, dead_letter_source = ? WHERE seq = ?",
            queue_id,
            now,
            source_arn,
            seq,
        )

    def browse(self, queue_id: int, limit: int) -> list[StoredMessage]:
        """Every message of the queue, visible or not, oldest first (nothing changes)."""
        rows = self._rows(
            f"SELECT seq, visible_at, receipt, {_MESSAGE_COLUMNS} FROM messages "
            "WHERE queue_id = ? ORDER BY sent, seq LIMIT ?",
            queue_id,
            limit,
        )
        return [StoredMessage(row[0], self._message(row[3:]), row[1], row[2]) for row in rows]

    def move_back(self, seq: int, queue_id: int, now: float) -> None:
        """Out of a dead-letter queue into `queue_id`: same id and body, received afresh, no
        longer a dead letter."""
        self._run(
            "UPDATE messages SET queue_id = ?, visible_at = ?, receive_count = 0, receipt = NULL, "
            "first_received = NULL, dead_letter_source = NULL WHERE seq = ?",
            queue_id,
            now,
            seq,
        )

    def next_visible(self, queue_id: int) -> float | None:
        rows = self._rows("SELECT MIN(visible_at) FROM messages WHERE queue_id = ?", queue_id)
        value: float | None = rows[0][0]
        return value

    def delete_message(self, seq: int) -> None:
        self._run("DELETE FROM messages WHERE seq = ?", seq)

    def purge(self, queue_id: int) -> None:
        self._run("DELETE FROM messages WHERE queue_id = ?", queue_id)
