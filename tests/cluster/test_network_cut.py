"""An agent cut off in a network namespace of its own (issue #24): the real fault, not SIGSTOP.

One agent runs inside a namespace joined to the host by a veth pair (`tests.support.netns`);
PostgreSQL, Redis and the front door are on the host, reached over the pair. A cut drops every
packet on the pair (no reset: a blackhole), while the cut-off agent keeps running. What a user
must see: the synchronous caller gets AWS's 500 within seconds; the call never runs twice; and
with ReservedConcurrentExecutions=1, two invocations never run at once across the agents (the
cut-off agent fences its invocation before its unrenewed lease expires in Redis). A cut of only
the hop (the agent still heartbeats) fails the caller by the hop's keep-alive.

Which invocations run, and when, is read from the host's /proc: the handler names its thread
`cut<n>-<random>` while it runs (a name per run), so a second run, or two at once, shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster.deployment import THREADED, Deployment, agents_seen, create, options, run
from tests.support.netns import CutNetwork, unavailable
from tests.support.packages import zip_of
from tests.support.postgres import PostgresCluster
from tests.support.redis import RedisServer, redis_server_binary
from tests.support.server import GureumProcess, free_port
from tests.support.waiting import wait_until

NAMED = """\
import ctypes
import time
import uuid

PR_SET_NAME = 15
libc = ctypes.CDLL(None)


def handler(event, context):
    n = event.get("n", 0)
    libc.prctl(PR_SET_NAME, f"cut{n}-{uuid.uuid4().hex[:6]}".encode(), 0, 0, 0)
    try:
        time.sleep(event.get("sleep", 0))
    finally:
        libc.prctl(PR_SET_NAME, b"idle", 0, 0, 0)
    return {"n": n}
"""


class Runs:
    """Watches the host's threads for running invocations (`cut<n>-<id>`) every 20 ms, of the
    given `n`s only: the other test of this module may run at the same time (pytest-xdist)."""

    def __init__(self, *numbers: int) -> None:
        self._prefixes = tuple(f"cut{n}-" for n in numbers)
        self.seen: set[str] = set()
        self.running: set[str] = set()
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Runs:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._thread.is_alive(), "the watch of running invocations died"
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.is_set():
            now: set[str] = set()
            for path in glob("/proc/[0-9]*/task/[0-9]*/stat"):
                try:
                    stat = Path(path).read_bytes().decode(errors="replace")
                except OSError:
                    continue  # gone meanwhile
                # "tid (name) state ...": a killed task not yet reaped (Z) keeps its name but
                # runs nothing.
                name, _, rest = stat.partition("(")[2].rpartition(")")
                if name.startswith(self._prefixes) and rest.split()[0] not in ("Z", "X"):
                    now.add(name)
            self.running = now
            self.seen |= now
            self.most = max(self.most, len(now))
            time.sleep(0.02)

    def of(self, n: int) -> set[str]:
        return {name for name in self.seen if name.startswith(f"cut{n}-")}

    def now_of(self, n: int) -> set[str]:
        return {name for name in self.running if name.startswith(f"cut{n}-")}


@dataclass
class Network:
    cut: CutNetwork
    deployment: Deployment
    inside: tuple[str, ...]  # the options of a process in the namespace
    root: Path

    def agent_inside(self) -> tuple[GureumProcess, int]:
        """An agent in the namespace, its hop on the namespace's address; and the hop's port."""
        port = free_port()
        hop = f"{self.cut.address}:{port}"
        process = GureumProcess(
            self.root / "inside",
            *self.inside,
            "--hop",
            hop,
            subcommand="agent",
            prefix=self.cut.prefix,
            host=self.cut.address,
        ).start()
        self.deployment.processes.append(process)
        return process, port


@pytest.fixture
def network(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, postgres: PostgresCluster
) -> Iterator[Network]:
    if reason := unavailable():
        pytest.skip(reason)
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server on this machine")
    cut = CutNetwork()
    engines: list[Any] = []
    deployment: Deployment | None = None
    try:
        cut.create()
        also = (cut.host_address, cut.network)
        pg = PostgresCluster(
            postgres.binaries, tmp_path / "pg", tmp_path_factory.getbasetemp(), also
        )
        engines.append(pg.start())
        redis = RedisServer(binary, tmp_path / "redis", (cut.host_address,))
        engines.append(redis.start())
        database = pg.database()
        deployment = Deployment(tmp_path, options(tmp_path, database, redis.url))
        there = database.replace("127.0.0.1", cut.host_address)
        inside = options(tmp_path, there, redis.url.replace("127.0.0.1", cut.host_address))
        yield Network(cut, deployment, inside, tmp_path)
    finally:
        cut.restore()  # what was cut can stop cleanly
        if deployment is not None:
            deployment.stop()
        for engine in engines:
            engine.stop()
        cut.remove()


def call(client: Any, name: str, event: dict[str, Any], outcome: list[Any]) -> threading.Thread:
    """`run` on a thread of its own; its answer (or error response) and seconds into `outcome`."""

    def calling() -> None:
        started = time.monotonic()
        try:
            outcome.append((run(client, name, event), time.monotonic() - started))
        except ClientError as error:
            outcome.append((error.response, time.monotonic() - started))

    thread = threading.Thread(target=calling)
    thread.start()
    return thread


def test_an_agent_cut_off_mid_invoke_fences_and_the_limit_holds(network: Network) -> None:
    cut_agent, _ = network.agent_inside()
    door = network.deployment.front_door("door")
    client = door.client(config=THREADED)
    create(client, "fenced", zip_of({"index.py": NAMED}), Timeout=30)
    client.put_function_concurrency(FunctionName="fenced", ReservedConcurrentExecutions=1)
    run(client, "fenced")  # warm on the agent to be cut off: the next call goes there
    time.sleep(1.5)
    network.deployment.agent("outside")
    wait_until(lambda: agents_seen(door) == 2, 15, "both agents live")
    with Runs(99, 1) as runs:
        outcome: list[Any] = []
        caller = call(client, "fenced", {"sleep": 10, "n": 99}, outcome)
        wait_until(lambda: bool(runs.now_of(99)), 15, "the invocation runs in the namespace")
        network.cut.cut()
        caller.join(timeout=20)
        ((response, waited),) = outcome
        assert response["Error"]["Code"] == "ServiceException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert waited < 10, "the caller waited for the function's whole sleep"
        refusals: set[str] = set()

        def runs_elsewhere() -> bool:
            try:
                return bool(run(client, "fenced", {"n": 1, "sleep": 1})["n"] == 1)
            except ClientError as error:
                refusals.add(error.response["Error"]["Code"])
                return False

        # The one reserved slot runs again once the cut-off agent's lease expired; its own
        # invocation (10 s of sleep) would still run then, had it not fenced itself.
        wait_until(runs_elsewhere, 20, "the cut-off agent's lease expired")
        assert refusals <= {"TooManyRequestsException", "ServiceException"}
        assert not runs.now_of(99), "the cut-off agent still runs its invocation"
        network.cut.restore()
        wait_until(lambda: agents_seen(door) == 2, 20, "the cut-off agent back in placement")
        assert len(runs.of(99)) == 1  # it ran once, where it was sent
        assert runs.most == 1  # never two at once: the reserved concurrency held
    # Back and working: two calls at once of a function without a reservation go one to each
    # agent (the least loaded, counting what is in flight).
    create(client, "after")
    answers: list[Any] = []
    callers = [call(client, "after", {"sleep": 2, "n": n}, answers) for n in range(2)]
    for caller in callers:
        caller.join(timeout=30)
    assert sorted(answer["n"] for answer, _ in answers) == [0, 1]
    assert cut_agent.health()["environments"] >= 1


def test_a_cut_hop_fails_the_caller_by_its_keepalive(network: Network) -> None:
    agent, hop = network.agent_inside()
    door = network.deployment.front_door("door")
    client = door.client(config=THREADED)
    create(client, "partial", zip_of({"index.py": NAMED}), Timeout=30)
    wait_until(lambda: agents_seen(door) == 1, 15, "the agent live")
    with Runs(7) as runs:
        outcome: list[Any] = []
        caller = call(client, "partial", {"sleep": 8, "n": 7}, outcome)
        wait_until(lambda: bool(runs.now_of(7)), 15, "the invocation runs")
        network.cut.cut(hop)
        caller.join(timeout=20)
        ((response, waited),) = outcome
        assert response["Error"]["Code"] == "ServiceException"
        assert waited < 8, "the caller waited for the function's whole sleep"
        assert agents_seen(door) == 1  # still heartbeating: only the hop was cut
        wait_until(lambda: not runs.now_of(7), 15, "the agent finishes the invocation")
        assert len(runs.of(7)) == 1  # ran once, answering no one
    network.cut.restore()

    def works() -> bool:
        try:
            return bool(run(client, "partial", {"n": 8})["n"] == 8)
        except ClientError:
            return False

    wait_until(works, 20, "invocations run on the agent again")
    assert agent.health()["environments"] >= 1
