"""Lambda, built from the kernel and the public services it uses (KMS, SQS, a log sink).

Order inside: the durable state (control-plane store with KMS-sealed variables, code blobs,
the settler), then execution (ledger, admission, sandboxes, the pool, the invoker, the event
queue and its delivery), then the wire adapter. `Lambda` owns the background loops it starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from gureum.aws.errors import ServiceError
from gureum.aws.frontend import Handler, ServiceEndpoint
from gureum.aws.http import HttpResponse, header, query_params
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.key_files import key_file
from gureum.aws.protocols.restjson import RestJsonProtocol
from gureum.aws.sigv4 import HttpRequest
from gureum.clock import Clock
from gureum.config import Settings
from gureum.kms.services.keys import KeyService
from gureum.lambda_.api.asynchronous import AsyncApi
from gureum.lambda_.api.event_sources import EventSourceApi
from gureum.lambda_.api.function_urls import FunctionUrlApi
from gureum.lambda_.api.handlers import LambdaApi
from gureum.lambda_.api.hop import HopClient, HopServer
from gureum.lambda_.api.permissions import (
    PermissionApi,
    across_accounts,
    dropping_alias_policies,
)
from gureum.lambda_.api.provisioned import ProvisionedApi
from gureum.lambda_.api.recursion import RecursionApi
from gureum.lambda_.api.streaming import StreamingApi
from gureum.lambda_.api.url_requests import Accounts, UrlGateway
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.domain.connections import PER_MINUTE, ConnectionLedger, ConnectionRules
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.placement import live
from gureum.lambda_.sandbox.catalog import RuntimeCatalog
from gureum.lambda_.sandbox.cgroups import MemoryGroups
from gureum.lambda_.sandbox.debugging import Debugger, DebugSettings
from gureum.lambda_.sandbox.environment import LogSink, Platform
from gureum.lambda_.sandbox.id_maps import IdMaps
from gureum.lambda_.sandbox.interpreters import discover_pythons, host_nodes
from gureum.lambda_.sandbox.isolation import (
    Isolation,
    IsolationMode,
    namespaces_available,
    private_mount_namespace,
)
from gureum.lambda_.sandbox.network import Networks
from gureum.lambda_.sandbox.outside import Outside
from gureum.lambda_.sandbox.pool import EnvironmentPool
from gureum.lambda_.sandbox.provisioning import RuntimeShelf, npm_registry
from gureum.lambda_.sandbox.runtime_dir import prepare_runtime_dir
from gureum.lambda_.sandbox.scratch import ScratchSpaces
from gureum.lambda_.sandbox.snapshots import Templates
from gureum.lambda_.sandbox.stock import SandboxStock
from gureum.lambda_.sandbox.uids import LEASE_DIR, UidLeases
from gureum.lambda_.sandbox.zygotes import Zygotes
from gureum.lambda_.services.admission import Admission
from gureum.lambda_.services.agents import STALE_AFTER, Heartbeat, Placement
from gureum.lambda_.services.aliases import AliasService
from gureum.lambda_.services.code_links import PREFIX as CODE_PREFIX
from gureum.lambda_.services.code_links import CodeLinks
from gureum.lambda_.services.context import Ports
from gureum.lambda_.services.delivery import Delivery
from gureum.lambda_.services.event_configs import EventConfigService
from gureum.lambda_.services.event_queue import EventQueue
from gureum.lambda_.services.event_sources import EventSourceService
from gureum.lambda_.services.function_urls import FunctionUrlService
from gureum.lambda_.services.functions import FunctionService
from gureum.lambda_.services.hot_reload import HotReload
from gureum.lambda_.services.interfaces import NetworkInterfaces
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.services.layers import LayerService
from gureum.lambda_.services.ledger import InProcessLedger, Ledger
from gureum.lambda_.services.metrics import CONTENT_TYPE as METRICS_TYPE
from gureum.lambda_.services.metrics import LambdaMetrics, MetricPublisher
from gureum.lambda_.services.network import FileSystems, FunctionNetwork
from gureum.lambda_.services.packages import PackageSource
from gureum.lambda_.services.permissions import PermissionService
from gureum.lambda_.services.pollers import Pollers
from gureum.lambda_.services.provisioned import ProvisionedConcurrencyService
from gureum.lambda_.services.provisioner import Provisioner
from gureum.lambda_.services.recursion import RecursionConfigService
from gureum.lambda_.services.roles import ExecutionRoles, RolePermissions
from gureum.lambda_.services.settler import Settler
from gureum.lambda_.services.snapshots import Snapshots
from gureum.lambda_.services.streaming import ResponseStreaming
from gureum.lambda_.services.vault import KmsEnvironmentVault
from gureum.lambda_.store.agents import AgentRegistry
from gureum.lambda_.store.codestore import CodeStore
from gureum.lambda_.store.event_sources import TriggerStore
from gureum.lambda_.store.ports import EnvironmentVault, Followed, LoopQueue, QueueStore
from gureum.lambda_.store.sqlite import SqliteStore
from gureum.sqs.services.queues import QueueService

log = logging.getLogger("gureum")

# With a shared store, the start-up sweep leaves archives younger than this (seconds).
SHARED_SWEEP_GRACE = 3600.0
# The largest request any operation accepts (CreateFunction, spec appendix A).
CREATE_FUNCTION_LIMIT = 70_167_211


def decide_isolation(
    wanted: str, sandboxes: str = "local"
) -> tuple[Isolation, MemoryGroups | None]:
    """The isolation this machine grants (and the memory groups, when it has them); none to
    decide on a front door, which runs no sandbox (`--sandboxes agents`)."""
    if sandboxes == "agents":
        return Isolation(IsolationMode.PROCESSES, False, "a front door: agents run functions"), None
    if wanted == "none":
        off = Isolation(IsolationMode.PROCESSES, False, "isolation turned off (--isolation none)")
        return off, None
    available, reason = namespaces_available()
    if not available and wanted == "namespaces":
        raise SystemExit(f"gureum: --isolation namespaces, but {reason}")
    memory = MemoryGroups.detect() if available else None
    mode = IsolationMode.NAMESPACES if available else IsolationMode.PROCESSES
    if available:
        refused = private_mount_namespace()
        if refused is not None:
            log.warning("sandbox mounts may outlive a crashed server: %s", refused)
    return Isolation(mode, memory is not None, reason), memory


class _LedgerRelay:
    """Carries reserved-concurrency changes, committed on worker threads, to the ledger, which
    lives on the event loop (in process, it hears them in the task's first step, before the API
    answers). A change a ledger out of reach missed marks it `stale`: the keeper writes every
    reservation again once the ledger answers."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stale = False

    def __call__(self, scope: tuple[str, str], function_id: str, value: int | None) -> None:
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(self._reserve(scope, function_id, value), self.loop)

    async def _reserve(self, scope: tuple[str, str], function_id: str, value: int | None) -> None:
        try:
            await self.ledger.reserve(scope, function_id, value)
        except ServiceError:
            self.stale = True


@dataclass(eq=False)
class Cluster:
    """This server's part in a cluster: a front door's placement, or an agent's hop listener
    and heartbeat (services.agents)."""

    registry: AgentRegistry
    placement: Placement | None = None
    client: HopClient | None = None
    server: HopServer | None = None
    heartbeat: Heartbeat | None = None


@dataclass(eq=False)
class Lambda(Assembly):
    """Lambda as one server runs it; the fields are what the lifecycle and the front door need."""

    kernel: Kernel
    store: QueueStore
    code: CodeStore
    links: CodeLinks
    settler: Settler
    ledger: Ledger
    metrics: LambdaMetrics
    isolation: Isolation
    memory: MemoryGroups | None
    catalog: RuntimeCatalog
    zygotes: Zygotes
    scratch: ScratchSpaces
    networks: Networks
    stock: SandboxStock | None
    pool: EnvironmentPool
    invoker: Invoker
    delivery: Delivery
    events: EventQueue
    relay: _LedgerRelay
    provisioner: Provisioner
    # Provisioned concurrency as other services use it (Application Auto Scaling, through the
    # composition root).
    provisioned: ProvisionedConcurrencyService
    # Functions' subnets and groups, as EC2's `Holder` (registered by the composition root).
    interfaces: NetworkInterfaces
    endpoint: ServiceEndpoint
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # Event source mappings and function URLs (their own store), and the mappings' pollers.
    triggers: TriggerStore | None = None
    pollers: Pollers | None = None
    urls: UrlGateway | None = None
    # The user namespaces of id-mapped EFS mounts (with isolation).
    id_maps: IdMaps | None = None
    # The control plane's services as other readers use them (the console, through the root).
    functions: FunctionService | None = None
    aliases: AliasService | None = None
    event_configs: EventConfigService | None = None
    # SnapStart versions' templates.
    snapshots: Snapshots | None = None
    # Functions' resource policies: the front door's authorizer reads them (`enforce`).
    permissions: PermissionService | None = None
    # Code that is a directory, and its watcher.
    hot_reload: HotReload | None = None
    # Debug mode's ports (`--debug-functions`).
    debugger: Debugger | None = None
    # Who runs under which lease (self-fencing, `_keep_ledger`).
    admission: Admission | None = None
    # The control plane's store when other processes share it (PostgreSQL, `--store`).
    followed: Followed | None = None
    # A front door's agents, or this agent's hop (`--sandboxes agents`, `gureum agent`).
    cluster: Cluster | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def _start_ledger(self) -> None:
        self.relay.loop = asyncio.get_running_loop()
        try:
            await self._push_reservations()
        except ServiceError:  # the ledger (Redis) is away: the keeper writes them when it is back
            self.relay.stale = True
        self._tasks.append(asyncio.create_task(self._keep_ledger(), name="ledger"))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        executor = self.kernel.executor
        await self._start_ledger()
        if self.cluster is not None and self.cluster.placement is not None:
            await self._start_front_door(self.cluster.placement)
            return
        swept = await loop.run_in_executor(executor, self._sweep)
        if swept:
            log.info("removed %d unreferenced code blobs", swept)
        self.scratch.start()
        self.networks.start()
        if self.memory is not None:
            self.memory.sweep()
        self._say_what_isolates()
        executables = self.catalog.zygote_executables()
        await self.zygotes.start(executables)
        if self.id_maps is not None:
            await loop.run_in_executor(executor, self.id_maps.start)
        if self.memory is not None and executables:
            # Memory groups are warmed by a child of a zygote (the smallest process at hand).
            self.memory.joiner = self.zygotes(min(executables)).join
            await self.memory.warm()
        lead = self.kernel.singletons.lead
        if self.kernel.settings.store:
            # Shared by several servers: the one that takes the provisioner's lease starts it
            # (marking READY configurations IN_PROGRESS and allocating them on its host).
            provisioning = lead("lambda-provisioner", self._provision)
        else:
            await self.provisioner.start()  # the ledger has every total before any invoke
            provisioning = lead("lambda-provisioner", self.provisioner.run)
        if self.snapshots is not None:
            self.snapshots.start()
            self._tasks.append(asyncio.create_task(self._sweep_snapshots(), name="snapshots"))
        if self.stock is not None:
            self._tasks.append(asyncio.create_task(self.stock.refill(), name="stock"))
        self._tasks.append(
            asyncio.create_task(lead("lambda-settler", self.settler.run), name="settler")
        )
        self._tasks.append(asyncio.create_task(self.pool.reap(), name="reaper"))
        self._tasks.append(asyncio.create_task(self.delivery.run(), name="delivery"))
        if self.followed is not None:
            # PostgreSQL: other processes' accepts wake delivery, their changes the caches.
            follow = self.followed.follow(self.delivery.wake, self.settler.wake_from_any_thread)
            self._tasks.append(asyncio.create_task(follow, name="follow"))
        self._tasks.append(asyncio.create_task(self.scratch.refill(), name="scratch"))
        self._tasks.append(asyncio.create_task(self.networks.refill(), name="networks"))
        self._tasks.append(asyncio.create_task(self._sample_concurrency(), name="gauges"))
        self._tasks.append(asyncio.create_task(provisioning, name="provisioner"))
        if self.pollers is not None:
            polling = lead("lambda-pollers", self.pollers.run)
            self._tasks.append(asyncio.create_task(polling, name="pollers"))
        await self._start_development()
        if self.cluster is not None and self.cluster.server is not None:
            await self._start_agent(self.cluster)

    async def _start_front_door(self, placement: Placement) -> None:
        """`--sandboxes agents`: no sandboxes here, so none of what runs them (zygotes, the
        stock, delivery of queued events, the settler, the provisioner, pollers): the agents
        do all of it. This server answers the API and sends invocations to agents."""
        try:
            await placement.refresh()
        except Exception as exc:  # the store away at start: the loop below tries again
            log.warning("could not read the agents' heartbeats yet: %s", exc)
        self._tasks.append(asyncio.create_task(placement.follow(), name="placement"))
        if self.followed is not None:
            follow = self.followed.follow(lambda: None, lambda: None)  # caches' generation
            self._tasks.append(asyncio.create_task(follow, name="follow"))
        log.info("front door: invocations run on the cluster's agents")

    async def _start_agent(self, cluster: Cluster) -> None:
        """`gureum agent`: takes invocations from front doors, and says what it holds."""
        assert cluster.server is not None
        assert cluster.heartbeat is not None
        host, _, port = self.kernel.settings.hop.rpartition(":")
        await cluster.server.start(host or "127.0.0.1", int(port))
        self._tasks.append(asyncio.create_task(cluster.heartbeat.run(), name="heartbeat"))
        log.info(
            "agent %s: hop on %s (advertised as %s)",
            cluster.heartbeat.agent_id,
            self.kernel.settings.hop,
            cluster.heartbeat.address,
        )

    async def _start_development(self) -> None:
        """What helps write functions: hot reload's watcher, debug mode's ports."""
        if self.hot_reload is not None:
            self._tasks.append(asyncio.create_task(self.hot_reload.run(), name="hot-reload"))
        if self.debugger is not None:
            await self.debugger.start()

    async def _provision(self) -> None:
        """The provisioner while this server holds its lease. When the lease ends (another
        server took it over), this host's provisioned environments go: the new holder
        allocates its own, and two hosts never serve one configuration twice over."""
        try:
            await self.provisioner.start()
            await self.provisioner.run()
        finally:
            for slot in self.pool.provisioned_slots():
                self.pool.deprovision(slot)

    def _say_what_isolates(self) -> None:
        """At start-up, in the log: the sandbox, /tmp, network and runtimes this host gives."""
        log.info("isolation: %s (%s)", self.isolation.mode.value, self.isolation.reason)
        if not self.scratch.sized:
            log.warning(
                "/tmp is a plain directory WITHOUT a size limit: %s",
                self.scratch.describe()["reason"],
            )
        network = self.networks.describe()
        if not self.networks.isolated:
            log.warning("function network NOT isolated: %s", network["reason"])
        elif caveat := self.networks.caveat():
            log.warning("%s", caveat)
        else:
            log.info("function network: %s", network["reason"])
        if not self.isolation.memory_limits:
            log.warning("functions run WITHOUT memory limits: no writable memory cgroup")
        if self.isolation.mode is IsolationMode.PROCESSES:
            log.warning(
                "functions run as plain processes, NOT sandboxed: %s", self.isolation.reason
            )
        log.info("runtimes: %s", ", ".join(self.catalog.available()) or "none")
        if addable := self.catalog.addable():
            log.info("runtimes fetched on first use: %s", ", ".join(addable))

    async def _push_reservations(self) -> None:
        """Every reservation of the store into the ledger, and none it no longer has."""
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(self.kernel.executor, self._load_reservations)
        held = {((account, region), function_id) for account, region, function_id, _ in rows}
        for scope in self.ledger.scopes():
            for function_id in self.ledger.reserved_functions(scope):
                if (scope, function_id) not in held:
                    await self.ledger.reserve(scope, function_id, None)
        for account, region, function_id, reserved in rows:
            await self.ledger.reserve((account, region), function_id, reserved)

    async def _keep_ledger(self) -> None:
        """The ledger's housekeeping (on Redis: renews this process's leases before their TTL,
        refreshes the gauges); after the ledger was out of reach, writes the reservations again
        (a change committed meanwhile never reached it). Leases that can expire: a renewal gives
        up after its share of the TTL, and the invocations whose leases may run out before the
        next one are fenced (`Admission.fence_unrenewed`)."""
        policy = self.ledger.fence_policy
        while True:
            await asyncio.sleep(self.ledger.keep_interval)
            try:
                async with asyncio.timeout(None if policy is None else policy.timeout):
                    await self.ledger.keep()
                if self.relay.stale:
                    self.relay.stale = False
                    await self._push_reservations()
            except (ServiceError, TimeoutError):
                self.relay.stale = True
            if policy is not None and self.admission is not None:
                self.admission.fence_unrenewed(policy, time.monotonic())

    async def _sample_concurrency(self) -> None:
        """The concurrency gauges into CloudWatch once per second, scaled by --time-scale
        (at most 20 times a real second, at least once)."""
        interval = min(1.0, max(0.05, self.kernel.settings.scaled(1.0)))
        while True:
            await asyncio.sleep(interval)
            self.metrics.sample_concurrency()
            self.metrics.sample_connections(self.invoker.client_connections())

    async def _sweep_snapshots(self) -> None:
        """Makes the templates of Active SnapStart versions again (they do not outlive the
        server), then drops those of deleted versions every few (scaled) seconds."""
        assert self.snapshots is not None
        loop = asyncio.get_running_loop()
        try:
            published = await loop.run_in_executor(self.kernel.executor, self._published)
            await self.snapshots.remake(published)
        except Exception:
            log.exception("the snapshots of SnapStart versions could not be made again")
        while True:
            await asyncio.sleep(max(0.2, self.kernel.settings.scaled(5.0)))
            try:
                slots = await loop.run_in_executor(self.kernel.executor, self._live_slots)
                await self.snapshots.keep_only(slots.__contains__)
            except Exception:
                log.exception("a snapshot sweep failed; trying again at the next one")

    def _published(self) -> list[tuple[Function, FunctionVersion]]:
        with self.store.transaction() as tx:
            return tx.published()

    def _live_slots(self) -> set[str]:
        with self.store.transaction() as tx:
            return tx.version_slots()

    def _load_reservations(self) -> list[tuple[str, str, str, int]]:
        with self.store.transaction() as tx:
            return tx.reservations()

    def _sweep(self) -> int:
        # Archives shared with other servers (`--store`): one written a moment ago may belong
        # to a function another server has not committed yet.
        grace = SHARED_SWEEP_GRACE if self.kernel.settings.store else None
        with self.store.transaction() as tx:
            return self.code.sweep(tx.blob_in_use, older_than=grace)

    async def stop(self) -> None:
        cluster = self.cluster
        if cluster is not None and cluster.heartbeat is not None:
            await cluster.heartbeat.leave()  # front doors stop sending here at once
        if cluster is not None and cluster.server is not None:
            await cluster.server.close()
        if cluster is not None and cluster.client is not None:
            cluster.client.close()
        await _cancelled(self._tasks)
        self._tasks.clear()
        await self.pool.close()
        await self.events.drain()  # deliveries' last finishes, before the store's sessions go
        if self.snapshots is not None:
            await self.snapshots.close()
        if self.debugger is not None:
            self.debugger.close()
        if self.stock is not None:
            await self.stock.close()
        await self.zygotes.stop()
        if self.id_maps is not None:
            self.id_maps.close()
        self.scratch.sweep()
        self.networks.close()
        if self.memory is not None:
            self.memory.close()
        if self.admission is not None:
            await self.admission.stop()
        await self.ledger.close()

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.registry.close()
        self.events.close()  # its last COMMIT, if any, before the store goes
        self.store.close()
        if self.triggers is not None:
            self.triggers.close()
        self.code.close()

    # --- what the server shows besides the API ----------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "isolation": self.isolation.describe(),
            "tmp": self.scratch.describe(),
            "network": self.networks.describe(),
            "runtimes": self.catalog.available(),
            "fetchable_runtimes": self.catalog.addable(),
            "environments": self.pool.environment_count,
            "readySandboxes": self.stock.count if self.stock is not None else 0,
            "snapshots": self.snapshots.describe() if self.snapshots is not None else {},
            "stores": self.stores(),
            "singletons": self.kernel.singletons.held(),
            **self._cluster_health(),
        }

    def _cluster_health(self) -> dict[str, Any]:
        """A front door: the agents it may place invocations on now; an agent: itself."""
        cluster = self.cluster
        if cluster is None:
            return {}
        if cluster.placement is not None:
            now = time.time()
            return {
                "agents": [
                    {"id": a.agent_id, "address": a.address, "running": a.running}
                    for a in live(cluster.placement.agents, now, STALE_AFTER)
                ]
            }
        assert cluster.heartbeat is not None
        return {"agent": {"id": cluster.heartbeat.agent_id, "hop": cluster.heartbeat.address}}

    def stores(self) -> dict[str, str]:
        """Where state lives: every service's store in SQLite files or in the `--store`
        PostgreSQL database; archives in the shared directory; the rest (runtimes, sandboxes'
        scratch space) in this host's data directory."""
        settings = self.kernel.settings
        data = settings.data_dir
        shared = self.followed.describe() if self.followed is not None else None
        return {
            **self.kernel.stores.opened(),
            "lambda.controlPlane": shared or f"sqlite:{data / 'gureum.sqlite3'}",
            "lambda.eventQueue": shared or f"sqlite:{data / 'gureum.sqlite3'}",
            "lambda.code": f"files:{settings.shared / 'code'}",
            "default": f"data-dir:{data}",
        }

    def container_credentials(self, request: HttpRequest) -> HttpResponse:
        """A SnapStart environment's role session, for the token it was given (services/
        container_credentials.py); 403 for any other."""
        served = self.invoker.container_credentials
        token = header(request.headers, "authorization")
        document = served.answer(token) if served is not None and token else None
        if document is None:
            return HttpResponse(
                403, [("Content-Type", "application/json")], b'{"message":"Access Denied"}'
            )
        return HttpResponse(
            200, [("Content-Type", "application/json")], json.dumps(document).encode()
        )

    def metrics_page(self) -> HttpResponse:
        return HttpResponse(200, [("Content-Type", METRICS_TYPE)], self.metrics.render())

    async def function_url(
        self, request: HttpRequest, accounts: Accounts, oversized: bool = False
    ) -> HttpResponse | None:
        """The answer to a request for a function URL, or None for any other request."""
        if self.urls is None:
            return None
        return await self.urls.handle(request, accounts, oversized)

    async def download(self, request: HttpRequest) -> HttpResponse | None:
        """A code download (GetFunction's `Code.Location`), or None for another path."""
        if not request.raw_path.startswith(CODE_PREFIX):
            return None
        blob = request.raw_path[len(CODE_PREFIX) :]
        query = dict(query_params(request.raw_query))
        allowed = self.links.allows(
            blob, query.get("Expires", ""), query.get("Signature", ""), self.kernel.clock.now()
        )
        if allowed and self.code.exists(blob):
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(self.kernel.executor, self.code.read, blob)
            return HttpResponse(200, [("Content-Type", "application/zip")], data)
        return HttpResponse(
            403, [("Content-Type", "application/json")], b'{"message":"Access Denied"}'
        )


def _control_plane(
    settings: Settings, vault: EnvironmentVault
) -> tuple[QueueStore, Followed | None, LoopQueue | None]:
    """Lambda's control plane and event queue: SQLite in the data directory, or PostgreSQL
    (then also what follows other processes' commits, and the queue's writer on the loop)."""
    if not settings.store:
        return SqliteStore(settings.data_dir / "gureum.sqlite3", vault), None, None
    # Imported only here: psycopg costs a tenth of a second at start-up, for nothing in the
    # default (embedded) deployment.
    from gureum.lambda_.store.postgres import open_store  # noqa: PLC0415

    store = open_store(settings.store, vault)
    return store, store, store.loop_queue()


def _triggers(
    kernel: Kernel,
    triggers: TriggerStore,
    invoker: Invoker,
    queues: QueueService,
    functions_generation: Callable[[], int],
) -> tuple[Pollers, dict[str, Handler], UrlGateway, PermissionService]:
    """Event source mappings (SQS queues polled by pollers the assembly owns), function URLs
    (requests served before the front door) and function policies, over their own store."""
    clock, executor = kernel.clock, kernel.executor
    pollers = Pollers(
        triggers,
        queues,
        invoker,
        executor,
        lambda: clock.now().timestamp(),
        kernel.settings.time_scale,
    )
    mappings = EventSourceService(triggers, invoker, queues, clock, pollers.changed)
    url_service = FunctionUrlService(triggers, invoker, clock)
    permissions = PermissionService(triggers, invoker, functions_generation)
    handlers = {
        **EventSourceApi(mappings).handlers(),
        **FunctionUrlApi(url_service).handlers(),
        **PermissionApi(permissions).handlers(),
    }
    gateway = UrlGateway(url_service, invoker, executor, clock, permissions)
    return pollers, handlers, gateway, permissions


def _snapshots(templates: Templates, settler: Settler, invoker: Invoker) -> Snapshots:
    """SnapStart: templates made at publish (the settler asks) and restored from (the
    invoker)."""
    snapshots = Snapshots(templates, invoker.snapshot_plan)
    snapshots.settled = settler.wake_from_any_thread
    settler.snapshot = snapshots.status
    invoker.snapshots = snapshots
    return snapshots


def _debugger(settings: Settings) -> Debugger | None:
    """Debug mode's ports, when `--debug-functions` names any function."""
    names = frozenset(n.strip() for n in settings.debug_functions.split(",") if n.strip())
    if not names:
        return None
    ports = (settings.debug_port, settings.inspect_port)
    return Debugger(DebugSettings(names, settings.debug_wait, *ports))


def _hot_reload(
    ports: Ports,
    pool: EnvironmentPool,
    executor: Executor,
    settings: Settings,
    isolation: Isolation,
) -> HotReload:
    sandboxed = isolation.mode is IsolationMode.NAMESPACES
    bucket = settings.hot_reload_bucket
    return HotReload(ports, pool, executor, bucket, settings.data_dir, sandboxed)


def _ledger(settings: Settings, limits: Limits, store: QueueStore, executor: Executor) -> Ledger:
    """The concurrency ledger `--ledger` names: in process (the default), or on Redis."""
    if not settings.ledger:
        return InProcessLedger(limits)

    async def restore() -> tuple[list[tuple[str, str, str, int]], list[tuple[str, str, str, int]]]:
        def read() -> tuple[list[tuple[str, str, str, int]], list[tuple[str, str, str, int]]]:
            with store.transaction() as tx:
                return tx.reservations(), tx.provisioned_totals()

        return await asyncio.get_running_loop().run_in_executor(executor, read)

    # Imported here: the redis client takes 40 ms to import, which the embedded default (and
    # every front door or agent without --ledger) does not pay.
    from gureum.lambda_.store.redis_ledger import RedisLedger  # noqa: PLC0415

    return RedisLedger(settings.ledger, limits, ttl=settings.lease_ttl, restore=restore)


# How long a stopping task gets to end once cancelled before it is cancelled again.
STOP_GRACE = 1.0


async def _cancelled(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancels `tasks` and waits until all have ended, cancelling again each `STOP_GRACE`
    those that have not. A loop that outlives errors can outlive its cancellation too: in CI
    the ledger's keeper was found asleep after its stop had cancelled it (most likely the
    cancellation reached it inside a Redis call as that call's error, which it catches), and
    the stop waited for it for ever."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    while pending:
        _, pending = await asyncio.wait(pending, timeout=STOP_GRACE)
        for task in pending:
            log.warning("task %s did not end when cancelled; cancelling it again", task.get_name())
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _wall(clock: Clock) -> Callable[[], float]:
    return lambda: clock.now().timestamp()


def assemble(
    kernel: Kernel,
    keys: KeyService,
    queues: QueueService,
    logs: LogSink,
    publisher: MetricPublisher | None = None,
    *,
    network: FunctionNetwork | None = None,
    file_systems: FileSystems | None = None,
    roles: ExecutionRoles | None = None,
    permissions: RolePermissions | None = None,
    packages: PackageSource | None = None,
    isolated: tuple[Isolation, MemoryGroups | None] | None = None,
) -> Lambda:
    settings, clock, executor = kernel.settings, kernel.clock, kernel.executor
    data = settings.data_dir
    # Isolation first (unless the composition root decided it before starting any thread): it
    # moves the server into a mount namespace of its own, which unshare(2) refuses once threads
    # run (a PostgreSQL store's pool starts some).
    isolation, memory = isolated or decide_isolation(settings.isolation, settings.sandboxes)
    # Durable state: the control plane (variables sealed with KMS), code blobs, the settler.
    store, followed, loop_queue = _control_plane(settings, KmsEnvironmentVault(keys))
    # Archives where every host of a cluster reads them, each host's unpacked trees its own;
    # the download links' key shared too (a link one front door signs, another serves).
    code = CodeStore(settings.shared / "code", trees=data / "code" / "trees")
    links = CodeLinks(key_file(settings.shared / "links.key"))
    # Runtimes: the host's interpreters, and Node.js builds fetched into the data directory.
    shelf = RuntimeShelf(data / "runtimes", registry=npm_registry(os.environ))
    catalog = RuntimeCatalog(discover_pythons(), host_nodes(), shelf)
    settler = Settler(
        Ports(store, code, clock),
        executor,
        settings.scaled(settings.settle_delay),
        catalog,
        file_systems,
    )
    limits = Limits(settings.account_concurrency, settings.unreserved_minimum)
    ledger = _ledger(settings, limits, store, executor)
    relay = _LedgerRelay(ledger)
    ports = Ports(
        store, code, clock, changed=settler.wake_from_any_thread, reservation_changed=relay
    )
    # Execution: admission, sandboxes, the pool, the invoke paths (sync and async).
    metrics = LambdaMetrics(ledger, publisher)
    admission = Admission(
        ledger,
        metrics,
        # A ledger shared by hosts refills its rates by the clock they share (NTP), not each
        # one's monotonic clock.
        clock.monotonic if isinstance(ledger, InProcessLedger) else _wall(clock),
        (settings.scaling_limit, settings.scaling_scaled_period),
        rate_period=settings.scaled(1.0),
    )
    isolate = isolation.mode is IsolationMode.NAMESPACES
    scratch = ScratchSpaces(data / "scratch", disks=isolate)
    # Sandboxed, zygotes fork in mount namespaces of their own, without the /tmp disks.
    zygotes = Zygotes(var_lang=isolate, own_mounts=scratch.root if isolate else None)
    sandbox_root = data / "sandbox-root"
    sandbox_root.mkdir(exist_ok=True)
    networks = Networks(kernel.endpoint_url, isolated=isolate, outside=Outside())
    # Sandboxes built ahead of cold starts need namespaces; without them there is little to
    # build ahead (a process is forked on the spot).
    stock = SandboxStock(zygotes, sandbox_root, scratch, memory, networks) if isolate else None
    if stock is not None:
        # A function just created or changed is about to be invoked: a sandbox of its kind gets
        # ready meanwhile (after that the stock follows the cold starts themselves).
        def ready_for(runtime: str, tmp_mb: int) -> None:
            launcher = catalog.launcher(runtime)
            if launcher is not None:
                stock.use(launcher.zygote, tmp_mb)

        settler.on_settled = ready_for
    id_maps = IdMaps() if isolate else None
    platform = Platform(
        zygote_for=zygotes,
        scratch=scratch,
        memory=memory,
        logs=logs,
        isolate=isolate,
        runtime_dir=prepare_runtime_dir(data / "runtime"),
        sandbox_root=sandbox_root,
        endpoint=kernel.endpoint_url,
        now=clock.now,
        networks=networks,
        stock=stock,
        id_maps=id_maps,
        debugger=_debugger(settings),
    )
    # Sandboxed environments take uids leased host-wide; without isolation a uid is only a
    # name (functions run as the server's user), so the leases stay in the data directory.
    leases = LEASE_DIR if isolate else data / "uids"
    try:
        uids = UidLeases(leases)
    except OSError as exc:
        raise SystemExit(f"gureum: cannot lease environment uids in {leases}: {exc}") from None
    pool = EnvironmentPool(platform, settings.scaled(settings.keep_alive), uids)
    events = EventQueue(store, executor, loop_queue)
    invoker = Invoker(
        store,
        code,
        catalog,
        pool,
        admission,
        metrics,
        events,
        executor,
        clock,
        settings.async_payload_limit,
        file_systems=file_systems,
        roles=roles,
        permissions=permissions,
        connections=ConnectionLedger(
            ConnectionRules(
                settings.efs_connection_limit,
                settings.efs_connection_burst,
                PER_MINUTE,
                settings.scaled(60.0),
            )
        ),
    )
    delivery = Delivery(
        store, invoker, queues, events, executor, clock, settings.time_scale, metrics
    )
    events.on_commit = delivery.wake
    # Provisioned concurrency: environments started ahead of invocations, paced and durable.
    provisioner = Provisioner(
        store, executor, pool, invoker, ledger, clock.monotonic, settings.time_scale
    )
    invoker.owner_of = provisioner.qualifier_of
    metrics.watch_provisioned(provisioner.usage)
    # The wire adapter.
    functions, aliases, event_configs = (
        FunctionService(ports, catalog, network, file_systems, packages),
        AliasService(ports),
        EventConfigService(ports),
    )
    lambda_api = LambdaApi(
        functions,
        aliases,
        LayerService(ports),
        links,
        clock,
        limits,
        invoker,
        executor,
        _hot_reload(ports, pool, executor, settings, isolation),
    )
    async_api = AsyncApi(event_configs, invoker)
    provisioned = ProvisionedConcurrencyService(ports, limits, provisioner.changed)
    triggers = TriggerStore(kernel.stores)
    pollers, trigger_apis, urls, policies = _triggers(
        kernel, triggers, invoker, queues, lambda: store.generation
    )
    endpoint = ServiceEndpoint(
        "lambda",
        RestJsonProtocol(kernel.model("lambda"), "application/json"),
        # Another account's caller reaches a function only as its policy allows.
        across_accounts(
            dropping_alias_policies(
                {
                    **lambda_api.handlers(),
                    **async_api.handlers(),
                    **StreamingApi(ResponseStreaming(invoker)).handlers(),
                    **RecursionApi(RecursionConfigService(ports)).handlers(),
                    **ProvisionedApi(provisioned).handlers(),
                    **trigger_apis,
                },
                policies,
            ),
            policies,
            executor,
        ),
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
    )
    return Lambda(
        kernel,
        store,
        code,
        links,
        settler,
        ledger,
        metrics,
        isolation,
        memory,
        catalog,
        zygotes,
        scratch,
        networks,
        stock,
        pool,
        invoker,
        delivery,
        events,
        relay,
        provisioner,
        provisioned,
        NetworkInterfaces(store),
        endpoint,
        triggers=triggers,
        pollers=pollers,
        urls=urls,
        id_maps=id_maps,
        functions=functions,
        aliases=aliases,
        event_configs=event_configs,
        snapshots=_snapshots(Templates(platform, uids, settings.snapshot_memory), settler, invoker),
        permissions=policies,
        hot_reload=lambda_api.hot_reload,
        debugger=platform.debugger,
        followed=followed,
        cluster=_cluster(kernel, invoker, pool),
        admission=admission,
    )


def _cluster(kernel: Kernel, invoker: Invoker, pool: EnvironmentPool) -> Cluster | None:
    """A front door's placement (`--sandboxes agents`) or an agent's hop and heartbeat
    (`gureum agent`): both need the cluster's key, from the shared directory."""
    settings = kernel.settings
    if settings.sandboxes != "agents" and not settings.hop:
        return None
    registry = AgentRegistry(kernel.stores)
    key = key_file(settings.shared / "cluster.key").hex()
    if settings.sandboxes == "agents":
        client = HopClient(key)
        placement = Placement(registry, client, kernel.executor)
        invoker.remote = placement
        return Cluster(registry, placement=placement, client=client)
    agent_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    address = settings.hop_advertise or settings.hop
    server = HopServer(invoker, key, agent_id)
    heartbeat = Heartbeat(registry, pool, agent_id, address, kernel.executor)
    return Cluster(registry, server=server, heartbeat=heartbeat)
