"""The hop carries the front door's target: over a real socket, a HopClient and a HopServer
whose invoker counts its reads of the store. An agent runs exactly the version the front door
chose, reading the store only for what it was not sent (sealed variables, an agent restarted)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, cast

from gureum.lambda_.api.hop import HopClient, HopServer
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import Invoker, Target
from tests.support.model import SETTINGS, a_function

KEY = "k" * 32
SEALED = {"key": "arn:aws:kms:us-east-1:123456789012:key/k", "blob": "c2VhbGVk"}


@dataclass
class CountingInvoker:
    """The agent's invoker: what the store holds (`stored`), its reads, and what it ran."""

    stored: Target
    reads: list[FunctionRef] = field(default_factory=list)
    ran: list[Target] = field(default_factory=list)
    logs: bytes = b""  # what each invocation writes to its log

    def target(self, caller: Caller, ref: FunctionRef) -> Target:
        self.reads.append(ref)
        return self.stored

    async def run_here(self, target: Target, request: InvocationRequest) -> InvocationResult:
        self.ran.append(target)
        return InvocationResult(b'"ok"', False, self.logs, 1.0, None)


def a_target(**settings: Any) -> Target:
    function = a_function(settings=replace(SETTINGS, **settings))
    return Target(function, function.latest, function.arn)


async def invoke_through(
    targets: list[Target],
    stored: Target,
    restart_after: int | None = None,
    logs: bytes = b"",
    results: list[InvocationResult] | None = None,
) -> CountingInvoker:
    """Sends `targets` one by one from a front door to an agent; `restart_after` that many,
    the agent is a new process on the same port (its memory of what it was sent gone). Each
    invocation writes `logs`; what the front door got back goes to `results`."""
    invoker = CountingInvoker(stored, logs=logs)
    client = HopClient(KEY)
    server = HopServer(cast(Invoker, invoker), KEY, "agent-1")
    await server.start("127.0.0.1", 0)
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        for n, target in enumerate(targets):
            if n == restart_after:
                await server.close()
                client.close()  # its connections to the old process are gone
                server = HopServer(cast(Invoker, invoker), KEY, "agent-2")
                await server.start("127.0.0.1", port)
            request = InvocationRequest(f"r-{n}", b"{}", target.invoked_arn)
            result = await client.run(f"127.0.0.1:{port}", target, request)
            assert result.payload == b'"ok"'
            if results is not None:
                results.append(result)
    finally:
        client.close()
        await server.close()
    return invoker


def test_an_agent_runs_the_version_it_was_sent_without_reading_the_store() -> None:
    sent = a_target()
    stale = replace(sent, version=replace(sent.version, revision_id="older"))
    invoker = asyncio.run(invoke_through([sent, sent, sent], stored=stale))
    assert invoker.reads == []
    assert [ran.version for ran in invoker.ran] == [sent.version] * 3
    assert invoker.ran[0].invoked_arn == sent.invoked_arn


def test_a_new_revision_is_sent_again() -> None:
    first = a_target()
    settings = replace(first.version.settings, memory_size=512)
    second = replace(first, version=replace(first.version, revision_id="rev-2", settings=settings))
    invoker = asyncio.run(invoke_through([first, second, first], stored=first))
    assert invoker.reads == []
    assert [ran.version for ran in invoker.ran] == [first.version, second.version, first.version]


def test_sealed_variables_are_opened_by_the_agents_own_read() -> None:
    sealed = a_target(environment={"SECRET": "s"}, environment_sealed=SEALED)
    invoker = asyncio.run(invoke_through([sealed, sealed], stored=sealed))
    assert invoker.reads == [FunctionRef("my-fn", "$LATEST")] * 2


def test_a_restarted_agent_is_sent_the_version_again() -> None:
    sent = a_target()
    invoker = asyncio.run(invoke_through([sent, sent, sent], stored=sent, restart_after=2))
    assert invoker.reads == []
    assert len(invoker.ran) == 3


def test_only_the_logs_tail_crosses_the_hop() -> None:
    """The front door uses logs for LogType Tail's last 4 KB only; the rest stays on the agent."""
    logs = b"".join(b"line %06d\n" % n for n in range(100_000))  # 1.2 MB of output
    results: list[InvocationResult] = []
    asyncio.run(invoke_through([a_target()], stored=a_target(), logs=logs, results=results))
    assert results[0].logs == logs[-4096:]
    assert results[0].payload == b'"ok"'
