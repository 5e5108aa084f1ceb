"""The hop between a front door and an agent: invocations over persistent framed connections.

A frame is two big-endian 32-bit lengths, a JSON header of the first length and a body of the
second. A connection opens with `hello` (the cluster's key from the shared directory, so only
gureum's own processes may run functions through an agent), then carries one invocation at a
time: the front door keeps idle connections per agent and opens another when all are busy.

    front door -> agent   {"op": "invoke", account, region, function, version, arn,
                           request_id, client_context, trace_id, stream,
                           record, documents?}                             body: the payload
    agent -> front door   {"op": "running"}                                (every second
                                                                           until the answer)
                          {"op": "begin", content_type}                    (streamed responses)
                          {"op": "chunk"}                                  body: response bytes
                          {"op": "result", function_error, error_type, duration_ms,
                           init_duration_ms, streamed, trace_id, logs}     body: payload + the
                                                                           logs' last 4 KB
                       or {"op": "error", code, status, sender_fault, query_code, message,
                           fields}                                         (an AwsError)

The front door resolves the version, as one host does, and the agent runs that one with
`Invoker.run_here`: leases, throttles and metrics as on one host. `record` names it (function
id, version, revision id); the first time a front door sends a record to an agent it adds
`documents`, the function and version as stored (`records.target_document`: variables still
sealed), and the agent keeps them by record. So an agent reads the store for a function only
when it has neither: it restarted, it was sent documents it cannot use (sealed variables, which
it opens itself, with KMS), or the front door is older. A read of the store was most of what an
agent added to a cold start, and every change anywhere in the control plane made one more per
function.

An error keeps its AWS identity across the hop. A connection that breaks mid-invocation answers
the caller ServiceException, and is never retried on another agent: the first may have run it.
So does one silent for `STALE_AFTER` seconds (no `running`, nothing else): the path between front
door and agent was cut, though the agent may still heartbeat (its invocation runs on there, and
its answer is lost).

`running` is agreed in the hellos (`"running": true` both ways), so that a cluster can be
upgraded one process at a time: an agent sends it only to a front door that asked for it, and a
front door holds an agent to the silence rule only when the agent's hello promised it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gureum.aws.errors import AwsError, ServiceError
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.sandbox.environment import InvocationRequest, InvocationResult
from gureum.lambda_.sandbox.response_stream import ResponseStream
from gureum.lambda_.services.agents import STALE_AFTER
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import PLAN_CACHE, TAIL_BYTES, Invoker, Target
from gureum.lambda_.store import records
from gureum.lambda_.store.ports import NeedsWorker

log = logging.getLogger("gureum.hop")

_LENGTHS = struct.Struct(">II")
MAX_HEADER = 1 << 20
# A payload (6 MB), its logs, or a streamed chunk: generous, but a bound.
MAX_BODY = 64 << 20
# Beyond the function's own timeout, how long a front door waits for an agent's answer.
ANSWER_MARGIN = 30.0
# A frame's header and body are read at once up to this body size (a wait less; a larger body
# is read on its own rather than copied out of the joint read).
_TOGETHER = 64 << 10
# Idle connections kept per agent.
IDLE_CONNECTIONS = 64
# How often an agent says `running` while an invocation runs (seconds, wall time).
KEEPALIVE = 1.0
# Records a front door remembers sending to each agent.
SHIPPED = 4096

Record = tuple[str, str, str]


def record_of(target: Target) -> Record:
    """What names a version's content: a new revision for every change that reaches it."""
    return (target.function.id, target.version.version, target.version.revision_id)


class HopBroken(Exception):
    """The peer sent something that is not a frame of this protocol, or went away."""


def frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":"), default=str).encode()
    return _LENGTHS.pack(len(head), len(body)) + head + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    try:
        head_size, body_size = _LENGTHS.unpack(await reader.readexactly(_LENGTHS.size))
        if head_size > MAX_HEADER or body_size > MAX_BODY:
            raise HopBroken(f"a frame of {head_size} + {body_size} bytes")
        if body_size <= _TOGETHER:  # one wait for both
            rest = await reader.readexactly(head_size + body_size)
            header, body = json.loads(rest[:head_size]), rest[head_size:]
        else:  # not copied out of a joint read
            header = json.loads(await reader.readexactly(head_size))
            body = await reader.readexactly(body_size)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise HopBroken(str(exc) or type(exc).__name__) from None
    except ValueError as exc:
        raise HopBroken(f"an unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise HopBroken("a header that is not an object")
    return header, body


# --- errors keep their AWS identity --------------------------------------------------------


def error_header(error: AwsError) -> dict[str, Any]:
    return {
        "op": "error",
        "code": error.code,
        "status": error.status,
        "sender_fault": error.sender_fault,
        "query_code": error.query_code,
        "message": error.message,
        "fields": error.fields,
    }


_relayed: dict[tuple[str, int, bool, str | None], type[AwsError]] = {}


def relayed_error(header: dict[str, Any]) -> AwsError:
    """The agent's error, as the same code, status and members on the front door."""
    identity = (
        str(header["code"]),
        int(header["status"]),
        bool(header["sender_fault"]),
        header.get("query_code"),
    )
    kind = _relayed.get(identity)
    if kind is None:
        code, status, sender_fault, query_code = identity
        attributes = {
            "code": code,
            "status": status,
            "sender_fault": sender_fault,
            "query_code": query_code,
        }
        kind = type(code, (AwsError,), attributes)
        _relayed[identity] = kind
    return kind(str(header["message"]), **dict(header.get("fields") or {}))


# --- the agent's side -------------------------------------------------------------------------


class HopServer:
    """Takes invocations from front doors and runs them on this host."""

    def __init__(self, invoker: Invoker, key: str, agent_id: str) -> None:
        self._invoker = invoker
        self._key = key
        self.agent_id = agent_id
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        # Targets front doors sent (`documents`), by record.
        self._targets: dict[Record, Target] = {}

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            header, _ = await read_frame(reader)
            given = str(header.get("key", ""))
            if header.get("op") != "hello" or not hmac.compare_digest(given, self._key):
                log.warning("a hop connection without the cluster's key was refused")
                return
            running = header.get("running") is True  # the front door knows `running`
            hello = {"op": "hello", "agent": self.agent_id, "running": running}
            writer.write(frame(hello))
            while True:
                header, body = await read_frame(reader)
                if header.get("op") != "invoke":
                    raise HopBroken(f"unexpected {header.get('op')!r}")
                await self._invoke(header, body, writer, running)
        except HopBroken:
            pass  # the front door went away (or spoke nonsense): its invocations end with it
        except asyncio.CancelledError:
            pass  # the agent stops (`close`): this connection ends with it, quietly
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _invoke(
        self, header: dict[str, Any], payload: bytes, writer: asyncio.StreamWriter, running: bool
    ) -> None:
        stream = ResponseStream() if header.get("stream") else None
        forwarding = None
        if stream is not None:
            forwarding = asyncio.ensure_future(_forward(stream, writer))
        alive = _Keepalive(writer) if running else None
        try:
            target = replace(self._target(header), invoked_arn=str(header["arn"]))
            request = InvocationRequest(
                str(header["request_id"]),
                payload,
                target.invoked_arn,
                header.get("client_context"),
                stream,
                header.get("trace_id"),
            )
            result = await self._invoker.run_here(target, request)
        except AwsError as error:
            answer = frame(error_header(error))
        except Exception:
            log.exception("an invocation through the hop failed")
            answer = frame(error_header(ServiceError("An internal error occurred.")))
        else:
            # The front door uses an invocation's logs only for LogType Tail's last 4 KB (the
            # agent keeps them whole in CloudWatch Logs): a chatty function's megabytes of
            # output stay here.
            logs = result.logs[-TAIL_BYTES:]
            answer = frame(
                {
                    "op": "result",
                    "function_error": result.function_error,
                    "error_type": result.error_type,
                    "duration_ms": result.duration_ms,
                    "init_duration_ms": result.init_duration_ms,
                    "streamed": result.streamed,
                    "trace_id": result.trace_id,
                    "logs": len(logs),
                },
                result.payload + logs,
            )
        finally:
            if alive is not None:
                alive.cancel()
            if stream is not None and forwarding is not None:
                stream.end()
                await forwarding
        writer.write(answer)
        await writer.drain()

    def _target(self, header: dict[str, Any]) -> Target:
        """The version the front door chose: by its record, from what front doors sent, or
        else (see the module docstring) from the store, as the front door named it."""
        record = _record(header.get("record"))
        if record is not None:
            known = self._targets.get(record)
            if known is not None:
                return known
            documents = header.get("documents")
            if isinstance(documents, dict):
                sent = _sent_target(documents, record)
                if sent is not None:
                    if len(self._targets) >= PLAN_CACHE:
                        self._targets.clear()
                    self._targets[record] = sent
                    return sent
        caller = Caller(str(header["account"]), str(header["region"]))
        return self._invoker.target(caller, FunctionRef(header["function"], header["version"]))


def _record(value: object) -> Record | None:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value):
        return (value[0], value[1], value[2])
    return None


def _sent_target(documents: dict[str, Any], record: Record) -> Target | None:
    """The target a front door sent, if this agent can use it as it is: None for sealed
    variables (the store's read opens them) or documents that do not match their record."""
    try:
        function, version = records.target_from(documents)
    except NeedsWorker:
        return None
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("a front door sent a target this agent cannot read: %s", exc)
        return None
    target = Target(function, version, function.arn)
    return target if record_of(target) == record else None


class _Keepalive:
    """`running` every `KEEPALIVE` seconds until cancelled, from a timer rather than a task (a
    task per invocation costs more than the invocation's own bookkeeping). Each is a whole
    frame, written at once: never inside another."""

    _RUNNING = frame({"op": "running"})

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._timer = self._loop.call_later(KEEPALIVE, self._say)

    def _say(self) -> None:
        if not self._writer.is_closing():
            self._writer.write(self._RUNNING)
            self._timer = self._loop.call_later(KEEPALIVE, self._say)

    def cancel(self) -> None:
        self._timer.cancel()


async def _forward(stream: ResponseStream, writer: asyncio.StreamWriter) -> None:
    """A streamed response's start and chunks, to the front door as they come."""
    if not await stream.started:
        return
    writer.write(frame({"op": "begin", "content_type": stream.content_type}))
    async for chunk in stream.chunks():
        writer.write(frame({"op": "chunk"}, chunk))
        await writer.drain()


# --- the front door's side -------------------------------------------------------------------


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    running: bool  # the agent says `running` while it works (its hello said so)
    agent: str  # the agent process (its id, new at every start), from its hello


class HopClient:
    """Connections to agents, kept open between invocations (`services.agents.Hop`)."""

    def __init__(self, key: str, open_connection: Callable[..., Any] = asyncio.open_connection):
        self._key = key
        self._open = open_connection
        self._idle: dict[str, list[_Connection]] = {}
        # The records sent with their documents, by agent process.
        self._shipped: dict[str, set[Record]] = {}

    async def _connect(self, address: str) -> _Connection:
        idle = self._idle.get(address)
        while idle:
            connection = idle.pop()
            if not connection.writer.is_closing() and not connection.reader.at_eof():
                return connection
        host, _, port = address.rpartition(":")
        reader, writer = await asyncio.wait_for(self._open(host, int(port)), 5.0)
        writer.write(frame({"op": "hello", "key": self._key, "running": True}))
        header, _ = await asyncio.wait_for(read_frame(reader), 5.0)
        if header.get("op") != "hello":
            writer.close()
            raise HopBroken(f"the agent at {address} did not answer hello")
        agent = str(header.get("agent", ""))
        return _Connection(reader, writer, header.get("running") is True, agent)

    def _keep(self, address: str, connection: _Connection) -> None:
        idle = self._idle.setdefault(address, [])
        if len(idle) < IDLE_CONNECTIONS:
            idle.append(connection)
        else:
            connection.writer.close()

    async def run(
        self, address: str, target: Target, request: InvocationRequest
    ) -> InvocationResult:
        function, version = target.function, target.version
        header = {
            "op": "invoke",
            "account": function.account,
            "region": function.region,
            "function": function.name,
            "version": version.version,
            "arn": target.invoked_arn,
            "request_id": request.request_id,
            "client_context": request.client_context,
            "trace_id": request.trace_id,
            "stream": request.stream is not None,
            "record": (record := record_of(target)),
        }
        deadline = float(version.settings.timeout) + ANSWER_MARGIN
        try:
            connection = await self._connect(address)
        except (OSError, TimeoutError, HopBroken) as exc:
            log.error("agent %s out of reach: %s", address, exc)
            raise ServiceError("An internal error occurred: the agent is out of reach.") from None
        reader, writer = connection.reader, connection.writer
        silence = STALE_AFTER if connection.running else None
        self._ship(connection.agent, record, target, header)
        try:
            writer.write(frame(header, request.payload))
            async with asyncio.timeout(deadline):  # no task per call, as wait_for would make
                answer, body = await _answer(reader, request.stream, silence)
        except (OSError, TimeoutError, HopBroken) as exc:
            writer.close()
            log.error("agent %s lost during invocation %s: %s", address, request.request_id, exc)
            raise ServiceError(
                "An internal error occurred: the agent running the function was lost."
            ) from None
        except BaseException:
            writer.close()  # cancelled: the connection is mid-answer, never reused
            raise
        self._keep(address, connection)
        if answer["op"] == "error":
            raise relayed_error(answer)
        logs = int(answer["logs"])
        payload, logs_bytes = (body[:-logs], body[-logs:]) if logs else (body, b"")
        return InvocationResult(
            payload,
            bool(answer["function_error"]),
            logs_bytes,
            float(answer["duration_ms"]),
            None if answer["init_duration_ms"] is None else float(answer["init_duration_ms"]),
            answer.get("error_type"),
            bool(answer.get("streamed")),
            answer.get("trace_id"),
        )

    def _ship(self, agent: str, record: Record, target: Target, header: dict[str, Any]) -> None:
        """Adds the target's documents to `header` the first time `record` goes to `agent`."""
        if agent not in self._shipped and len(self._shipped) >= SHIPPED:
            self._shipped.clear()  # agents restarted many times: their old ids are dead weight
        shipped = self._shipped.setdefault(agent, set())
        if record in shipped:
            return
        documents = records.target_document(target.function, target.version)
        if documents is None:
            return
        header["documents"] = documents
        if len(shipped) >= SHIPPED:
            shipped.clear()
        shipped.add(record)

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.writer.close()
        self._idle.clear()


async def _answer(
    reader: asyncio.StreamReader, stream: ResponseStream | None, silence: float | None
) -> tuple[dict[str, Any], bytes]:
    """Reads frames until the result (or error), feeding a streamed response on the way; an
    agent that said it keeps saying `running` and is silent for `silence` seconds is lost
    (TimeoutError)."""
    while True:
        async with asyncio.timeout(silence):
            header, body = await read_frame(reader)
        op = header.get("op")
        if op in ("result", "error"):
            return header, body
        if op == "running":
            continue
        if stream is None:
            raise HopBroken(f"{op!r} for a response that is not streamed")
        if op == "begin":
            stream.begin(header.get("content_type"))
        elif op == "chunk":
            stream.feed(body)
        else:
            raise HopBroken(f"unexpected {op!r}")
