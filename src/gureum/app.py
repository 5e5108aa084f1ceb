"""The composition root: builds every adapter and service from `Settings`, and serves them.

Nothing else in gureum constructs a store, a clock or a service. `GureumApp` is an ASGI app
with an explicit order: startup (open the store, sweep orphaned blobs, start background loops)
-> serve -> shutdown (cancel the loops, drain the worker threads, close the store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.session

from gureum import __version__
from gureum.aws.accounts import DEFAULT_ACCESS_KEY, AccountDirectory
from gureum.aws.frontend import Frontend, ServiceEndpoint
from gureum.aws.http import HttpResponse, query_params
from gureum.aws.protocols.json import JsonProtocol
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest
from gureum.clock import Clock, SystemClock
from gureum.config import Settings
from gureum.kms.api import KmsApi
from gureum.kms.services.keys import KeyService
from gureum.lambda_.api.asynchronous import AsyncApi
from gureum.lambda_.api.handlers import LambdaApi
from gureum.lambda_.domain.concurrency import ConcurrencyLedger, Limits
from gureum.lambda_.sandbox.catalog import RuntimeCatalog
from gureum.lambda_.sandbox.cgroups import MemoryGroups
from gureum.lambda_.sandbox.environment import Platform
from gureum.lambda_.sandbox.interpreters import discover_pythons, find_node
from gureum.lambda_.sandbox.isolation import Isolation, IsolationMode, namespaces_available
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.sandbox.runtime_dir import prepare_runtime_dir
from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.zygotes import Zygotes
from gureum.lambda_.services.admission import Admission
from gureum.lambda_.services.aliases import AliasService
from gureum.lambda_.services.code_links import PREFIX as CODE_PREFIX
from gureum.lambda_.services.code_links import CodeLinks
from gureum.lambda_.services.context import Ports
from gureum.lambda_.services.event_configs import EventConfigService
from gureum.lambda_.services.events import Delivery, EventQueue
from gureum.lambda_.services.functions import FunctionService
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.services.layers import LayerService
from gureum.lambda_.services.metrics import CONTENT_TYPE as METRICS_TYPE
from gureum.lambda_.services.metrics import LambdaMetrics
from gureum.lambda_.services.settler import Settler
from gureum.lambda_.services.vault import KmsEnvironmentVault
from gureum.lambda_.store.codestore import CodeStore
from gureum.lambda_.store.sqlite import SqliteStore
from gureum.logs.api import LogsApi
from gureum.logs.store.streams import LogStore
from gureum.sqs.api import UNVALIDATED as SQS_UNVALIDATED
from gureum.sqs.api import SqsApi
from gureum.sqs.services.queues import QueueService

log = logging.getLogger("gureum")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The largest request any operation accepts (CreateFunction, spec appendix A).
CREATE_FUNCTION_LIMIT = 70_167_211
BODY_CAP = CREATE_FUNCTION_LIMIT + 1


def _secret(path: Path) -> bytes:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def decide_isolation(wanted: str) -> tuple[Isolation, MemoryGroups | None]:
    """The isolation this machine grants (and the memory groups, when it has them)."""
    if wanted == "none":
        off = Isolation(IsolationMode.PROCESSES, False, "isolation turned off (--isolation none)")
        return off, None
    available, reason = namespaces_available()
    if not available and wanted == "namespaces":
        raise SystemExit(f"gureum: --isolation namespaces, but {reason}")
    memory = MemoryGroups.detect() if available else None
    mode = IsolationMode.NAMESPACES if available else IsolationMode.PROCESSES
    return Isolation(mode, memory is not None, reason), memory


class GureumApp:
    """Everything one gureum server is, wired together."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        self.endpoint_url = f"http://{host}:{settings.port}"
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gureum-worker")
        self._build_state()
        self._build_execution()
        self.frontend = self._build_frontend()

    def _build_state(self) -> None:
        """The durable parts: keys, the control-plane store, code, queues, logs."""
        settings, data = self.settings, self.settings.data_dir
        self.keys = KeyService(
            data / "keys.sqlite3",
            settings.kms_root_key_file or data / "root.key",
            self.clock,
            settings.time_scale,
            environ=os.environ,  # GUREUM_ROOT_KEY: the root key itself, instead of a file
        )
        self.store = SqliteStore(data / "gureum.sqlite3", KmsEnvironmentVault(self.keys))
        self.code = CodeStore(data / "code")
        self.links = CodeLinks(_secret(data / "links.key"))
        self.logs = LogStore(data / "logs")
        self.queues = QueueService(
            data / "queues.sqlite3", self.clock, settings.time_scale, self.endpoint_url
        )
        self.settler = Settler(
            Ports(self.store, self.code, self.clock),
            self.executor,
            settings.scaled(settings.settle_delay),
        )
        self.ports = Ports(
            self.store,
            self.code,
            self.clock,
            changed=self.settler.wake_from_any_thread,
            reservation_changed=self._reservation_changed,
        )

    def _build_execution(self) -> None:
        """Sandboxes, the environment pool, admission, and the invoke paths (sync and async)."""
        settings = self.settings
        self.limits = Limits(settings.account_concurrency, settings.unreserved_minimum)
        self.ledger = ConcurrencyLedger(self.limits)
        self.metrics = LambdaMetrics(self.ledger)
        self.admission = Admission(
            self.ledger,
            self.metrics,
            self.clock.monotonic,
            (settings.scaling_limit, settings.scaling_scaled_period),
        )
        self.isolation, self.memory = decide_isolation(settings.isolation)
        self.catalog = RuntimeCatalog(discover_pythons(), find_node())
        self.zygotes = Zygotes()
        isolate = self.isolation.mode is IsolationMode.NAMESPACES
        sandbox_root = settings.data_dir / "sandbox-root"
        sandbox_root.mkdir(exist_ok=True)
        self.scratch = ScratchSpaces(settings.data_dir / "scratch", sized=isolate)
        self.platform = Platform(
            zygote_for=self.zygotes,
            scratch=self.scratch,
            memory=self.memory,
            logs=self.logs,
            isolate=isolate,
            runtime_dir=prepare_runtime_dir(settings.data_dir / "runtime"),
            sandbox_root=sandbox_root,
            endpoint=self.endpoint_url,
            credentials=(DEFAULT_ACCESS_KEY.access_key_id, DEFAULT_ACCESS_KEY.secret_access_key),
            now=self.clock.now,
        )
        self.pool = EnvironmentPool(self.platform, settings.scaled(settings.keep_alive))
        self.invoker = Invoker(
            self.store,
            self.code,
            self.catalog,
            self.pool,
            self.admission,
            self.metrics,
            self.executor,
            self.clock,
            settings.async_payload_limit,
        )
        self.events = EventQueue(self.store, self.executor)
        self.delivery = Delivery(
            self.store,
            self.invoker,
            self.queues,
            self.events,
            self.executor,
            self.clock,
            settings.time_scale,
            self.metrics,
        )
        self.events.on_commit = self.delivery.wake
        self.invoker.attach_queue(self.events)

    def _build_frontend(self) -> Frontend:
        """One endpoint for every service, each answering from its botocore model."""
        session = botocore.session.get_session()
        ports = self.ports
        lambda_api = LambdaApi(
            FunctionService(ports, self.catalog.creatable()),
            AliasService(ports),
            LayerService(ports),
            self.links,
            self.clock,
            self.limits,
            self.invoker,
        )
        async_api = AsyncApi(EventConfigService(ports), self.invoker)
        services = {
            "lambda": ServiceEndpoint(
                "lambda",
                RestJsonProtocol(session.get_service_model("lambda"), "application/json"),
                {**lambda_api.handlers(), **async_api.handlers()},
                {
                    "CreateFunction": (
                        CREATE_FUNCTION_LIMIT,
                        f"Request must be smaller than {CREATE_FUNCTION_LIMIT} bytes for the "
                        "CreateFunction operation",
                    )
                },
                {
                    "CreateFunction": frozenset({"Runtime"}),
                    "UpdateFunctionConfiguration": frozenset({"Runtime"}),
                },
            ),
            "logs": ServiceEndpoint(
                "logs",
                JsonProtocol(session.get_service_model("logs")),
                LogsApi(self.logs).handlers(),
            ),
            "sqs": ServiceEndpoint(
                "sqs",
                JsonProtocol(session.get_service_model("sqs")),
                SqsApi(self.queues).handlers(),
                unvalidated=SQS_UNVALIDATED,
            ),
            "kms": ServiceEndpoint(
                "kms", JsonProtocol(session.get_service_model("kms")), KmsApi(self.keys).handlers()
            ),
        }
        accounts = AccountDirectory([DEFAULT_ACCESS_KEY])
        return Frontend(services, accounts, self.clock, self.executor, default_service="lambda")

    def _reservation_changed(
        self, scope: tuple[str, str], function_id: str, value: int | None
    ) -> None:
        """Called from worker threads after a commit; the ledger lives on the event loop."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self.ledger.reserve, scope, function_id, value)

    def _load_reservations(self) -> list[tuple[str, str, str, int]]:
        with self.store.transaction() as tx:
            return tx.reservations()

    # --- lifecycle --------------------------------------------------------------------------

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        for account, region, function_id, reserved in await loop.run_in_executor(
            self.executor, self._load_reservations
        ):
            self.ledger.reserve((account, region), function_id, reserved)
        swept = await loop.run_in_executor(self.executor, self._sweep)
        if swept:
            log.info("removed %d unreferenced code blobs", swept)
        self.scratch.sweep()
        if self.memory is not None:
            self.memory.sweep()
            await self.memory.warm()
        log.info("isolation: %s (%s)", self.isolation.mode.value, self.isolation.reason)
        if not self.isolation.memory_limits:
            log.warning("functions run WITHOUT memory limits: no writable memory cgroup")
        if self.isolation.mode is IsolationMode.PROCESSES:
            log.warning(
                "functions run as plain processes, NOT sandboxed: %s", self.isolation.reason
            )
        log.info("runtimes: %s", ", ".join(self.catalog.creatable()) or "none")
        await self.zygotes.start(self.catalog.zygote_executables())
        self._tasks.append(asyncio.create_task(self.settler.run(), name="settler"))
        self._tasks.append(asyncio.create_task(self.pool.reap(), name="reaper"))
        self._tasks.append(asyncio.create_task(self.delivery.run(), name="delivery"))

    def _sweep(self) -> int:
        with self.store.transaction() as tx:
            return self.code.sweep(tx.blob_in_use)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.pool.close()
        await self.zygotes.stop()
        self.scratch.sweep()
        if self.memory is not None:
            self.memory.close()
        self.executor.shutdown(wait=True)
        self.queues.close()
        self.keys.close()
        self.logs.close()
        self.store.close()

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive, BODY_CAP)
        except ClientDisconnected:
            return  # a request that never arrived whole is never acted on
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = HttpRequest(
            method=scope["method"],
            raw_path=raw_path.decode("latin-1").partition("?")[0],
            raw_query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body or b"",
        )
        if request.raw_path.startswith("/_gureum/"):
            response = await self._internal(request)
        else:
            host = next((v for k, v in request.headers if k.lower() == "host"), "localhost")
            response = await self.frontend.handle(request, f"http://{host}", body is None)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _internal(self, request: HttpRequest) -> HttpResponse:
        json_type = [("Content-Type", "application/json")]
        if request.raw_path == "/_gureum/health":
            health = {
                "status": "ok",
                "version": __version__,
                "services": ["lambda", "logs", "sqs", "kms"],
                "isolation": self.isolation.describe(),
                "runtimes": self.catalog.creatable(),
                "environments": self.pool.environment_count,
            }
            return HttpResponse(200, json_type, json.dumps(health).encode())
        if request.raw_path == "/_gureum/metrics":
            return HttpResponse(200, [("Content-Type", METRICS_TYPE)], self.metrics.render())
        if request.raw_path.startswith(CODE_PREFIX):
            blob = request.raw_path[len(CODE_PREFIX) :]
            query = dict(query_params(request.raw_query))
            allowed = self.links.allows(
                blob, query.get("Expires", ""), query.get("Signature", ""), self.clock.now()
            )
            if allowed and self.code.exists(blob):
                loop = asyncio.get_running_loop()
                data = await loop.run_in_executor(self.executor, self.code.read, blob)
                return HttpResponse(200, [("Content-Type", "application/zip")], data)
            return HttpResponse(403, json_type, b'{"message":"Access Denied"}')
        return HttpResponse(404, json_type, b'{"message":"Not Found"}')


class ClientDisconnected(Exception):
    pass


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The whole request body, or None once it grows past `cap` (the rest is drained)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= cap:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if size <= cap else None
