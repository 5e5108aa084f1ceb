"""The store port: control-plane state, read and written in transactions.

Every service call that changes state does it inside one `transaction()`; either all of its writes
are durable when the block exits, or none is (the SQLite adapter commits with `synchronous=FULL`
in WAL mode, so an acknowledged change survives `kill -9`). A PostgreSQL adapter implements the
same protocol for scale-out (`postgres`): one writer at a time there too, through an
advisory lock, so the services' read-check-write sequences (RevisionId) never race.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from gureum.lambda_.domain.aliases import Alias
from gureum.lambda_.domain.event_configs import EventInvokeConfig
from gureum.lambda_.domain.functions import Function, FunctionVersion
from gureum.lambda_.domain.layers import LayerVersion
from gureum.lambda_.domain.provisioned import ProvisionedConfig
from gureum.lambda_.domain.retries import Progress, QueuedEvent

T = TypeVar("T")


class StoreBusy(Exception):
    """The store is in another thread's transaction, and the caller asked not to wait."""


class NeedsWorker(Exception):
    """A snapshot read would have to open sealed variables (a call to KMS): not on the event
    loop; the caller reads again on a worker thread."""


class EnvironmentVault(Protocol):
    """Seals functions' environment variables before they are stored, and opens them on read.

    Lambda keeps environment variables encrypted at rest with the function's KMS key (or the
    account's `aws/lambda` key). Opening never raises: a key that cannot decrypt any more gives
    the (ErrorCode, Message) pair that FunctionConfiguration shows instead of the variables.
    """

    @property
    def generation(self) -> int:
        """Moves whenever what `open` gives may have changed (a key disabled, enabled, ...)."""
        ...

    def seal(
        self, account: str, region: str, key_arn: str | None, variables: Mapping[str, str]
    ) -> dict[str, str]: ...

    def open(
        self, account: str, region: str, sealed: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, tuple[str, str] | None]: ...


class Transaction(Protocol):
    """One atomic unit of reads and writes; see the module docstring for the guarantees."""

    # functions and versions ---------------------------------------------------------------
    def get_function(self, account: str, region: str, name: str) -> Function | None: ...

    def put_function(self, function: Function) -> None: ...

    def delete_function(self, function: Function) -> None:
        """Deletes the function with every version and alias."""

    def list_functions(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[Function]: ...

    def get_version(self, function: Function, version: str) -> FunctionVersion | None: ...

    def put_version(self, function: Function, version: FunctionVersion) -> None: ...

    def delete_version(self, function: Function, version: str) -> None: ...

    def list_versions(self, function: Function, after: int, limit: int) -> list[FunctionVersion]:
        """Published versions numbered above `after`, ascending."""

    def unsettled(self) -> list[tuple[Function, FunctionVersion]]:
        """Versions (including `$LATEST`) still Pending or InProgress, for the settler."""

    def published(self) -> list[tuple[Function, FunctionVersion]]:
        """Every published version (not `$LATEST`), with its function."""

    def version_slots(self) -> set[str]:
        """Every version there is, as `<function id>:<version>` (`$LATEST` included)."""

    # aliases ------------------------------------------------------------------------------
    def get_alias(self, function: Function, name: str) -> Alias | None: ...

    def put_alias(self, function: Function, alias: Alias) -> None: ...

    def delete_alias(self, function: Function, name: str) -> None: ...

    def list_aliases(self, function: Function) -> list[Alias]: ...

    # layers -------------------------------------------------------------------------------
    def next_layer_version(self, account: str, region: str, name: str) -> int:
        """Reserves and returns the next number of the layer (1 for a new layer)."""

    def get_layer_version(
        self, account: str, region: str, name: str, version: int
    ) -> LayerVersion | None: ...

    def put_layer_version(self, layer: LayerVersion) -> None: ...

    def delete_layer_version(self, layer: LayerVersion) -> None: ...

    def list_layer_versions(self, account: str, region: str, name: str) -> list[LayerVersion]:
        """Every version of the layer, newest first."""

    def list_latest_layer_versions(self, account: str, region: str) -> list[LayerVersion]:
        """The newest version of every layer, by layer name."""

    # usage --------------------------------------------------------------------------------
    def code_usage(self, account: str, region: str) -> tuple[int, int]:
        """(bytes of code stored across versions and layer versions, number of functions)."""

    def blob_in_use(self, blob: str) -> bool: ...

    def hot_blobs(self) -> list[str]:
        """Every hot-reload blob a function's `$LATEST` or a layer version holds."""
        ...

    def functions_with_code(self, blob: str) -> list[tuple[str, str, str]]:
        """(account, region, name) of each function whose `$LATEST` code is `blob`."""
        ...

    # event invoke configs (per qualifier) ---------------------------------------------------
    def get_event_config(self, function: Function, qualifier: str) -> EventInvokeConfig | None: ...

    def put_event_config(
        self, function: Function, qualifier: str, config: EventInvokeConfig
    ) -> None: ...

    def delete_event_config(self, function: Function, qualifier: str) -> None: ...

    def list_event_configs(self, function: Function) -> list[tuple[str, EventInvokeConfig]]: ...

    # provisioned concurrency (per qualifier: a version or an alias) ---------------------------
    def get_provisioned(self, function: Function, qualifier: str) -> ProvisionedConfig | None: ...

    def put_provisioned(self, function: Function, config: ProvisionedConfig) -> None: ...

    def delete_provisioned(self, function: Function, qualifier: str) -> None: ...

    def list_provisioned(self, function: Function) -> list[ProvisionedConfig]:
        """The function's configurations, by qualifier."""

    def all_provisioned(self) -> list[tuple[Function, ProvisionedConfig]]:
        """Every configuration of every function, for the allocator (and after a restart)."""

    def provisioned_totals(self) -> list[tuple[str, str, str, int]]:
        """(account, region, function id, Σ requested) of every function with a configuration."""

    def unreserved_provisioned(self, account: str, region: str, excluding: str) -> int:
        """Σ requested provisioned concurrency of the scope's functions without a reservation,
        other than `excluding` (an id)."""

    # the asynchronous event queue ---------------------------------------------------------
    def enqueue(self, events: list[QueuedEvent]) -> None: ...

    def due_events(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        """Events due by `now`, oldest due first, other than those already being delivered."""

    def next_due(self) -> float | None: ...

    def reschedule(self, event_id: int, due_at: float, progress: Progress) -> None: ...

    def finish_event(self, event_id: int) -> None: ...

    def queue_depth(self) -> int: ...

    def queue_depths(self) -> dict[tuple[str, str], int]:
        """Events waiting, by (account, region); scopes with none are absent."""
        ...

    # concurrency ----------------------------------------------------------------------------
    def reserved_total(self, account: str, region: str, excluding: str) -> int:
        """Σ reserved concurrency of the scope's functions other than `excluding` (an id)."""

    def reservations(self) -> list[tuple[str, str, str, int]]:
        """(account, region, function id, reserved) of every function with a reservation."""


class Store(Protocol):
    """Hands out transactions; one adapter per database (SQLite here, PostgreSQL later).

    `generation` changes whenever a committed transaction changed anything (but the event
    queue, see `QueueStore`), and whenever the keys that open sealed variables changed (what a
    read of a function gives depends on them too).
    """

    @property
    def generation(self) -> int: ...

    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def snapshot(self) -> AbstractContextManager[Transaction]:
        """For reads on the event loop thread only: what is committed now, without waiting for
        writers. Reading sealed variables through it raises `NeedsWorker`."""
        ...

    def close(self) -> None: ...


class QueueStore(Store, Protocol):
    """The store as the event queue and its delivery use it."""

    def queue_transaction(self, *, wait: bool = True) -> AbstractContextManager[Transaction]:
        """A transaction that writes only the event queue: its changes leave `generation`
        alone. The queue's rows change thousands of times a second while events flow, and no
        cache depends on them (the caches of targets and configurations would never hit).

        `wait=False` raises `StoreBusy` at once, rather than waiting, if another thread's
        transaction holds the store: the event loop commits the queue itself, but must never
        stop behind a control-plane write. A store across the network (PostgreSQL) always
        raises it: the loop must not wait for round trips either."""
        ...

    def prepare_queue(
        self, work: Callable[[Transaction], T], *, wait: bool = True
    ) -> tuple[T, PreparedCommit]:
        """Begins a queue transaction, runs `work` in it, and returns its result with the
        COMMIT still to run: the event loop writes a batch itself and leaves only the COMMIT
        (the fsync) to a worker thread. The store stays held until that commit or rollback.
        `wait` as for `queue_transaction`."""
        ...


@dataclass(slots=True)
class QueueWrites:
    """One group commit's writes to the event queue, as data (for a `LoopQueue`)."""

    enqueue: list[QueuedEvent] = field(default_factory=list)
    finish: list[int] = field(default_factory=list)  # event ids
    reschedule: list[tuple[int, float, Progress]] = field(default_factory=list)  # id, due, ...


class LoopQueue(Protocol):
    """The event queue from the event loop itself, its round trips awaited rather than run on
    a thread (a store across the network: PostgreSQL): the group commits, and the delivery
    loop's reads."""

    async def write(self, writes: QueueWrites) -> None:
        """Commits all of `writes` in one transaction, or raises with none stored (or, when
        the connection broke during the COMMIT, with that unknown)."""
        ...

    async def due(self, now: float, limit: int, busy: set[int]) -> list[QueuedEvent]:
        """Takes (claims) the events due by `now`, as `Transaction.due_events`."""
        ...

    async def depths(self) -> dict[tuple[str, str], int]:
        """The queue's depths by (account, region), as `Transaction.queue_depths`."""
        ...

    async def next_due(self) -> float | None: ...

    def close(self) -> None: ...


class Followed(Protocol):
    """A store other processes write to as well (PostgreSQL): what they commit reaches this
    process through `follow`, which its owner runs as a task until cancelled."""

    def describe(self) -> str:
        """Where the store is (a URL without its password)."""
        ...

    async def follow(
        self, events_committed: Callable[[], None], changed: Callable[[], None]
    ) -> None:
        """Calls `events_committed` (on the event loop) when any process commits events to
        the queue; moves `generation` and calls `changed` when any changes the control plane
        (the settler, which may run in another process than the change, hears it so)."""
        ...


class PreparedCommit(Protocol):
    """A transaction whose writes are done and whose COMMIT is still to run; either call may
    run on another thread than the one that prepared it, and the first one ends it."""

    def commit(self) -> None:
        """Commits (`synchronous=FULL`: on disk when this returns), or raises with nothing
        stored."""

    def rollback(self) -> None: ...
