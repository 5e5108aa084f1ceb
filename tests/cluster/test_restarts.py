"""PostgreSQL and Redis restarted under a cluster's load (issue #24).

Two agents and two front doors on a PostgreSQL and a Redis of the test's own. Eight clients call
continuously through both front doors: synchronous invokes of a quick function and of one with
reserved concurrency (so the Redis ledger counts them), and Event invokes whose on-success
destination reports to an SQS queue. Meanwhile PostgreSQL is stopped for a few seconds and
started again, then Redis. Every answer is AWS's: a success, a 429 where a reserved limit is in
play, or Lambda's 500 ServiceException while an engine is away, never a reset connection or a
code Lambda does not send. Afterwards every Event that got its 202 is delivered, all four
processes live, both front doors run calls again, and no lease stays counted.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.cluster.deployment import (
    Deployment,
    agents_seen,
    create,
    delivered,
    options,
    reporting,
    run,
)
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer
from tests.support.waiting import wait_until

# No retries (each answer is recorded as sent); a call that hangs fails the test in bounded time.
LOADED = Config(
    retries={"total_max_attempts": 1},
    max_pool_connections=30,
    connect_timeout=5,
    read_timeout=20,
)
CLIENTS = 8
AWAY = 3.0  # seconds each engine stays stopped
LIMIT = 2  # the reserved concurrency of the "limited" function
# What a call may answer: (HTTP status, error code; "" for a success).
SUCCESS = {(200, ""), (202, "")}
THROTTLED = (429, "TooManyRequestsException")
# While a store or the ledger is out of reach, Lambda's own 500 (gureum.aws.errors.ServiceError):
# the one server fault Invoke's model names for a failure inside the service.
AWAY_FAULT = (500, "ServiceException")
KINDS = ("quick", "event", "limited", "event")


@dataclass(frozen=True, slots=True)
class Answer:
    door: int
    kind: str  # quick, limited (synchronous) or event
    n: int
    status: int  # the HTTP status; 0 when no HTTP answer came
    code: str  # AWS's error code, "" for a success, else what went wrong
    at: float  # time.monotonic() when the answer came


def call(client: Any, kind: str, n: int) -> tuple[int, str]:
    """One invoke; its HTTP status and error code (a function error or a wrong payload is
    named too, so that it fails the test)."""
    payload = json.dumps({"n": n}).encode()
    try:
        if kind == "event":
            reply = client.invoke(FunctionName="reported", InvocationType="Event", Payload=payload)
            return int(reply["StatusCode"]), ""
        reply = client.invoke(FunctionName=kind, Payload=payload)
        status = int(reply["StatusCode"])
        body = json.loads(reply["Payload"].read())
        if "FunctionError" in reply:
            return status, f"FunctionError {reply['FunctionError']}: {body}"
        return status, "" if body.get("n") == n else f"wrong payload {body}"
    except ClientError as error:
        response = error.response
        return int(response["ResponseMetadata"]["HTTPStatusCode"]), response["Error"]["Code"]
    except BotoCoreError as error:  # a reset connection, a timeout, a body botocore cannot read
        return 0, f"{type(error).__name__}: {error}"


class Load:
    """`CLIENTS` threads calling through the front doors until `stop`; every answer kept."""

    def __init__(self, clients: list[Any]) -> None:
        self.answers: list[Answer] = []
        self._clients = clients
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send, args=(index,), daemon=True)
            for index in range(CLIENTS)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self._threads), "a call hung"

    def _send(self, index: int) -> None:
        door = index % len(self._clients)
        for kind in itertools.cycle(KINDS[index % 2 :] + KINDS[: index % 2]):
            if self._stop.is_set():
                return
            with self._lock:
                n = next(self._numbers)
            status, code = call(self._clients[door], kind, n)
            with self._lock:
                self.answers.append(Answer(door, kind, n, status, code, time.monotonic()))

    def since(self, moment: float) -> list[Answer]:
        with self._lock:
            return [answer for answer in self.answers if answer.at > moment]


def succeeded_on_both_doors(load: Load, moment: float) -> Callable[[], bool]:
    """A condition: since `moment`, each front door answered a synchronous call and accepted
    an Event."""

    def both() -> bool:
        done = {
            (answer.door, answer.kind == "event")
            for answer in load.since(moment)
            if (answer.status, answer.code) in SUCCESS
        }
        return {(0, False), (0, True), (1, False), (1, True)} <= done

    return both


@pytest.fixture
def engines(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    postgres: PostgresCluster,
    own_redis: RedisServer,
) -> Iterator[tuple[PostgresCluster, RedisServer]]:
    """A PostgreSQL cluster of the test's own (the session's is shared: it cannot be stopped)
    and a Redis of its own, both running."""
    own = PostgresCluster(postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp())
    own.start()
    own_redis.start()
    try:
        yield own, own_redis
    finally:
        own.stop()


def throttles_past(client: Any, limit: int) -> list[str]:
    """`limit` + 1 slow calls at once: what each answered ("ran" or the throttle's reason)."""
    outcomes: list[str] = []
    lock = threading.Lock()

    def slow(n: int) -> None:
        try:
            outcome = "ran" if run(client, "limited", {"n": n, "sleep": 2})["n"] == n else "?"
        except ClientError as error:
            outcome = str(error.response.get("Reason") or error.response["Error"]["Code"])
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=slow, args=(n,)) for n in range(limit + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def test_postgresql_and_redis_restarted_under_load(
    tmp_path: Path, engines: tuple[PostgresCluster, RedisServer]
) -> None:
    pg, redis = engines
    made = Deployment(tmp_path, options(tmp_path, pg.database(), redis.url))
    try:
        agents = [made.agent("agent1"), made.agent("agent2")]
        doors = [made.front_door("door1"), made.front_door("door2")]
        wait_until(lambda: all(agents_seen(door) == 2 for door in doors), 15, "both agents live")
        clients = [door.client(config=LOADED) for door in doors]
        sqs = doors[0].client("sqs")
        queue = reporting(clients[0], sqs, "reported")
        create(clients[0], "quick")
        create(clients[0], "limited")
        clients[0].put_function_concurrency(
            FunctionName="limited", ReservedConcurrentExecutions=LIMIT
        )
        outages: list[tuple[str, float, float]] = []  # (engine, stopped at, started again at)
        with Load(clients) as load:
            wait_until(succeeded_on_both_doors(load, 0.0), 30, "the load under way")
            for engine, away, back in (
                ("PostgreSQL", pg.stop, pg.start),
                ("Redis", redis.stop, redis.start),
            ):
                stopped = time.monotonic()
                away()
                time.sleep(AWAY)
                back()
                started = time.monotonic()
                outages.append((engine, stopped, started))
                wait_until(
                    succeeded_on_both_doors(load, started), 20, f"calls work again after {engine}"
                )
        answers = load.answers
        check_answers(answers, outages)
        accepted = {
            answer.n for answer in answers if answer.kind == "event" and answer.status == 202
        }
        assert delivered(sqs, queue, accepted, seconds=30) >= accepted
        for process in [*agents, *doors]:
            assert process.process is not None
            assert process.process.poll() is None, f"{process.data_dir} exited"
        for client in clients:
            assert run(client, "quick", {"n": -1})["n"] == -1
        # The singletons' leases were PostgreSQL sessions, gone with the server: an agent
        # leads the settler again, so a function made now becomes Active.
        wait_until(
            lambda: any("lambda-settler" in agent.health()["singletons"] for agent in agents),
            15,
            "an agent leads the settler again",
        )
        create(clients[1], "made-after")
        # Every lease taken under the load is back (or expired with Redis): the reserved
        # limit admits exactly LIMIT again.
        assert throttles_past(clients[1], LIMIT) == sorted(
            ["ran"] * LIMIT + ["ReservedFunctionConcurrentInvocationLimitExceeded"]
        )
    finally:
        made.stop()


def check_answers(answers: list[Answer], outages: list[tuple[str, float, float]]) -> None:
    """Every answer is AWS's; Redis away made calls fail (admission needs the ledger; while
    PostgreSQL is away a call may instead wait for a connection, up to the pool's 5 s, and be
    served when it is back); some Events accepted just before each outage are among those
    that must be delivered."""
    allowed = {*SUCCESS, AWAY_FAULT}
    wrong = [
        answer
        for answer in answers
        if (answer.status, answer.code) not in allowed
        and not (answer.kind == "limited" and (answer.status, answer.code) == THROTTLED)
    ]
    tally = Counter((answer.kind, answer.status, answer.code) for answer in answers)
    assert not wrong, f"answers that are not AWS's: {wrong[:10]} (all: {tally})"
    for engine, stopped, started in outages:
        during = [answer for answer in answers if stopped < answer.at < started + 1.0]
        if engine == "Redis":
            assert any((a.status, a.code) == AWAY_FAULT for a in during), "no 500 while away"
        before = [a for a in answers if a.kind == "event" and stopped - 1.0 < a.at < stopped]
        assert any(a.status == 202 for a in before), f"no Event accepted just before {engine} went"
