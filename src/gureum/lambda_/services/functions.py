"""The function control plane: create, read, update, publish, delete (spec 1, 3.1, 11).

Each public method is one transaction over the store port. Packages are validated and written to
the code store before the transaction that refers to them, so a rejected or interrupted call never
leaves a row pointing at nothing. Versions left Pending/InProgress are finished by the `Settler`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from gureum.lambda_.domain import file_systems as fs
from gureum.lambda_.domain import functions as fn
from gureum.lambda_.domain import hot_reload, snap_start
from gureum.lambda_.domain.arns import (
    LATEST,
    FunctionRef,
    check_new_name,
    function_arn,
    is_version_number,
    parse_layer_version_arn,
)
from gureum.lambda_.domain.concurrency import Limits, check_reservation
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from gureum.lambda_.domain.functions import (
    AttachedLayer,
    Code,
    Function,
    FunctionSettings,
    FunctionVersion,
)
from gureum.lambda_.domain.layers import MAX_LAYERS
from gureum.lambda_.domain.lifecycle import CREATED, ensure_mutable
from gureum.lambda_.domain.packages import BAD_ZIP, TOO_LARGE_UNZIPPED, UNZIPPED_LIMIT, inspect_zip
from gureum.lambda_.domain.provisioned import check_reserved_above_provisioned
from gureum.lambda_.domain.runtimes import check_runtime
from gureum.lambda_.domain.variables import check_variables
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.network import FileSystems, FunctionNetwork, NoNetwork
from gureum.lambda_.services.packages import (
    PackageSource,
    PackageUnavailable,
    S3Location,
    fetch_failed,
)
from gureum.lambda_.store.codestore import ArchiveTooLarge, CodeStore, UnreadableArchive
from gureum.lambda_.store.ports import NeedsWorker, Transaction

T = TypeVar("T")
PAGE_LIMIT = 50
S3_UNSUPPORTED = (
    "This gureum was built without S3 (Code.S3Bucket / S3Key): upload the deployment package "
    "in ZipFile instead."
)

VIEWS_KEPT = 4096


@dataclass(frozen=True, slots=True)
class VersionView:
    """A version as one call shows it: `arn` is the ARN the caller asked through."""

    function: Function
    version: FunctionVersion
    arn: str


@dataclass(frozen=True, slots=True)
class UploadedCode(Code):
    """A package this request uploaded: its bytes travel with it until a transaction keeps it.

    `store_package` writes the blob before any transaction, but a concurrent delete of the last
    function using the same bytes may remove that file before this request's transaction commits.
    Blob files are therefore removed only inside transactions, and a transaction that starts
    referring to an uploaded blob writes it again if it is gone (`_keep`).
    """

    data: bytes = field(default=b"", repr=False, compare=False)


def check_dead_letter_target(arn: str | None) -> None:
    """gureum delivers dead letters to SQS queues; SNS topics are refused, not ignored."""
    if not arn:
        return
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 else ""
    if service == "sns":
        raise InvalidParameterValue(
            f"gureum does not deliver to SNS dead-letter topics yet ({arn}); use an SQS queue."
        )
    if service != "sqs":
        raise InvalidParameterValue(
            f"The dead-letter target {arn} must be the ARN of an SQS queue or an SNS topic."
        )


def keep_package(store: CodeStore, code: Code) -> Code:
    """Inside the transaction that refers to `code`: its blob is on disk, its bytes dropped."""
    if not isinstance(code, UploadedCode):
        return code
    store.put(code.blob, code.data)  # a no-op unless a delete just removed it
    return Code(code.sha256, code.size, code.blob, code.unzipped_size)


def _same_vpc(vpc: Mapping[str, Any], was: Mapping[str, Any] | None) -> bool:
    if was is None:
        return False
    return list(vpc.get("SubnetIds", [])) == list(was.get("SubnetIds", [])) and list(
        vpc.get("SecurityGroupIds", [])
    ) == list(was.get("SecurityGroupIds", []))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None


def not_found(arn: str) -> ResourceNotFound:
    return ResourceNotFound(f"Function not found: {arn}")


def require_function(tx: Transaction, caller: Caller, name: str) -> Function:
    function = tx.get_function(caller.account, caller.region, name)
    if function is None:
        raise not_found(function_arn(caller.region, caller.account, name))
    return function


def resolve_version(tx: Transaction, function: Function, qualifier: str | None) -> VersionView:
    """The version a qualifier names: none or `$LATEST`, a number, or an alias."""
    if qualifier is None:
        return VersionView(function, function.latest, function.arn)
    arn = function.version_arn(qualifier)
    if qualifier == LATEST:
        return VersionView(function, function.latest, arn)
    if is_version_number(qualifier):
        version = tx.get_version(function, qualifier)
    else:
        alias = tx.get_alias(function, qualifier)
        version = tx.get_version(function, alias.function_version) if alias else None
    if version is None:
        raise not_found(arn)
    return VersionView(function, version, arn)


class RuntimeOffer(Protocol):
    """The runtimes a function can be created with (the sandbox's catalog); read per call, since
    a runtime fetched while the server runs becomes creatable then."""

    def creatable(self) -> list[str]: ...

    def why_not(self, runtime: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class FixedRuntimes:
    """A `RuntimeOffer` of a fixed list, with no explanation for the others (a shipped fake)."""

    names: tuple[str, ...]

    def creatable(self) -> list[str]:
        return list(self.names)

    def why_not(self, runtime: str) -> str | None:
        return None


class FunctionService:
    """The function control plane; every method is one store transaction (worker threads)."""

    def __init__(
        self,
        ports: Ports,
        runtimes: RuntimeOffer,
        network: FunctionNetwork | None = None,
        file_systems: FileSystems | None = None,
        packages: PackageSource | None = None,
    ) -> None:
        self._ports = ports
        self._packages = packages
        self._runtimes = runtimes
        self._network: FunctionNetwork = network or NoNetwork()
        self._file_systems: FileSystems = file_systems or NoNetwork()
        # What `get` read last, by (account, region, name, qualifier), with the store's
        # generation then: GetFunction is the busiest read, and handing it to a worker thread
        # and back costs more than the read itself.
        self._views: dict[tuple[str, str, str, str | None], tuple[int, VersionView]] = {}

    # --- packages and settings ----------------------------------------------------------

    def store_package(
        self, zip_file: bytes | None, s3: S3Location | None = None, caller: Caller | None = None
    ) -> Code:
        """Checks and keeps a package (function code or layer content) before any row uses it:
        the uploaded ZipFile, or the object at `s3` read from gureum's S3 for `caller`.

        The whole archive is read here, so a package the settler could not unpack is refused
        with AWS's 400 now instead of failing the function later.
        """
        if s3 is not None:
            if zip_file is not None:
                raise InvalidParameterValue("Please provide a source for function code.")
            zip_file = self._read_s3(s3, caller)
        if zip_file is None:
            raise InvalidParameterValue("Please provide a source for function code.")
        summary = inspect_zip(zip_file)
        try:
            self._ports.code.put(summary.sha256_hex, zip_file)
        except UnreadableArchive:
            raise InvalidParameterValue(BAD_ZIP) from None
        except ArchiveTooLarge:
            raise InvalidParameterValue(TOO_LARGE_UNZIPPED) from None
        return UploadedCode(
            summary.sha256_b64, summary.size, summary.sha256_hex, summary.unzipped_size, zip_file
        )

    def _read_s3(self, s3: S3Location, caller: Caller | None) -> bytes:
        if self._packages is None or caller is None:
            raise InvalidParameterValue(S3_UNSUPPORTED)
        try:
            return self._packages.read(caller.account, caller.region, s3, UNZIPPED_LIMIT)
        except PackageUnavailable as error:
            raise fetch_failed(error) from None

    def _keep(self, code: Code) -> Code:
        return keep_package(self._ports.code, code)

    def _checked_settings(
        self,
        tx: Transaction,
        caller: Caller,
        settings: FunctionSettings,
        code: Code,
        previous: FunctionSettings | None = None,
    ) -> FunctionSettings:
        if settings.package_type != "Zip":
            raise InvalidParameterValue("gureum runs .zip deployment packages only.")
        if settings.runtime is None or settings.handler is None:
            raise InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with "
                "deployment packages."
            )
        if previous is None or settings.runtime != previous.runtime:
            runtime = settings.runtime
            check_runtime(runtime, self._runtimes.creatable(), self._runtimes.why_not(runtime))
        fn.check_quotas(settings)
        snap_start.check(
            settings.snap_start,
            settings.runtime,
            settings.ephemeral_storage,
            bool(settings.file_system_configs),
            "AWS_LAMBDA_EXEC_WRAPPER" in (settings.environment or {}),
        )
        check_dead_letter_target(settings.dead_letter_target)
        if settings.environment is not None:
            check_variables(settings.environment)
        settings = self._checked_network(caller, settings, previous)
        layers = self._attach_layers(tx, caller, settings, previous)
        unzipped = code.unzipped_size + sum(layer.unzipped_size for layer in layers)
        if unzipped > UNZIPPED_LIMIT:
            raise InvalidParameterValue(
                f"Function code combined with layers exceeds the maximum allowed size of "
                f"{UNZIPPED_LIMIT} bytes. The actual size is {unzipped} bytes."
            )
        return replace(settings, layers=layers)

    def _checked_network(
        self, caller: Caller, settings: FunctionSettings, previous: FunctionSettings | None
    ) -> FunctionSettings:
        """VpcConfig against EC2 (its VpcId added) and FileSystemConfigs against EFS (spec
        7.1), each only when it changed: a subnet deleted since stays configured, as in AWS."""
        vpc, was = settings.vpc_config, previous.vpc_config if previous else None
        if vpc is not None and not _same_vpc(vpc, was):
            subnets = list(vpc.get("SubnetIds", []))
            groups = list(vpc.get("SecurityGroupIds", []))
            fs.check_vpc_members(subnets, groups)
            account, region = caller.account, caller.region
            subnet_vpcs = self._network.subnet_vpcs(account, region, subnets)
            for subnet in subnets:
                if subnet not in subnet_vpcs:
                    raise fs.subnet_missing(subnet)
            group_vpcs = self._network.group_vpcs(account, region, groups)
            for group in groups:
                if group not in group_vpcs:
                    raise fs.group_missing(group)
            vpc = {**vpc, "VpcId": fs.vpc_of(subnet_vpcs, group_vpcs)}
            settings = replace(settings, vpc_config=vpc)
        elif vpc is not None and was is not None:
            settings = replace(settings, vpc_config={**vpc, "VpcId": was.get("VpcId", "")})
        configs = settings.file_system_configs
        old_configs = previous.file_system_configs if previous else ()
        fs.check_file_system_configs(configs, vpc, old_configs, was, caller.region)
        if vpc is not None and (configs != old_configs or not _same_vpc(vpc, was)):
            for config in configs:
                self._file_systems.check_access_point(
                    caller.account, caller.region, str(config["Arn"]), str(vpc["VpcId"])
                )
        return settings

    @staticmethod
    def _attach_layers(
        tx: Transaction,
        caller: Caller,
        settings: FunctionSettings,
        previous: FunctionSettings | None,
    ) -> tuple[AttachedLayer, ...]:
        """Resolves the Layers list; an unchanged list keeps what it had (even deleted versions)."""
        arns = [layer.arn for layer in settings.layers]
        if previous is not None and arns == [layer.arn for layer in previous.layers]:
            return previous.layers
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS} layers.")
        seen: dict[str, str] = {}
        attached = []
        for arn in arns:
            ref = parse_layer_version_arn(arn)
            if ref is not None and ref.region != caller.region:
                raise InvalidParameterValue(
                    "Layers are not in the same region as the function. Layers are expected to "
                    f"be in region {caller.region}."
                )
            unversioned = arn.rsplit(":", 1)[0]
            if unversioned in seen:
                raise InvalidParameterValue(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {seen[unversioned]} and {arn} are versions of the "
                    "same layer."
                )
            seen[unversioned] = arn
            layer = ref and tx.get_layer_version(ref.account, ref.region, ref.name, ref.version)
            if not layer:
                raise InvalidParameterValue(f"Layer version {arn} does not exist.")
            code = layer.code
            attached.append(AttachedLayer(arn, code.size, code.unzipped_size, code.blob))
        if len(attached) > 1 and any(hot_reload.is_hot(layer.blob) for layer in attached):
            # Layers are overlaid into one /opt by linking their files: a directory that
            # changes cannot be, it would be a snapshot.
            raise InvalidParameterValue(
                "A hot-reload layer must be the function's only layer: its directory is /opt."
            )
        return tuple(attached)

    # --- create, read ---------------------------------------------------------------------

    def create(
        self,
        caller: Caller,
        ref: FunctionRef,
        settings: FunctionSettings,
        code: Code,
        tags: Mapping[str, str],
        publish: bool,
    ) -> VersionView:
        now = self._ports.clock.now()
        new_id = self._ports.new_id
        check_new_name(ref.name)
        fn.check_tag_count(tags)
        if publish and hot_reload.is_hot(code.blob):
            raise hot_reload.unpublishable()
        with self._ports.store.transaction() as tx:
            existing = tx.get_function(caller.account, caller.region, ref.name)
            if existing is not None:
                raise ResourceConflict(f"Function already exist: {ref.name}")
            settings = self._checked_settings(tx, caller, settings, code)
            latest = FunctionVersion(LATEST, settings, self._keep(code), new_id(), now, CREATED)
            function = Function(
                str(uuid.uuid4()), caller.account, caller.region, ref.name, latest, tags=tags
            )
            view = VersionView(function, latest, function.arn)
            if publish:
                made = fn.publish(
                    function,
                    None,
                    description=None,
                    code_sha256=None,
                    revision_id=None,
                    new_revisions=(new_id(), new_id()),
                    now=now,
                    with_update=True,
                )
                function = made.function
                # AWS quirk (spec 1.3): version 1's configuration, the unqualified ARN.
                view = VersionView(function, made.version, function.arn)
            # The function row first: its versions refer to it.
            tx.put_function(function)
            if publish:
                tx.put_version(function, view.version)
        self._ports.changed()
        return view

    def get(self, caller: Caller, ref: FunctionRef) -> VersionView:
        generation = self._ports.store.generation  # before the read: a later commit misses
        with self._ports.store.transaction() as tx:
            function = tx.get_function(caller.account, caller.region, ref.name)
            if function is None:
                # AWS names the function as asked: `...:f:$LATEST` when qualified (spec 0.4).
                raise not_found(
                    function_arn(caller.region, caller.account, ref.name, ref.qualifier)
                )
            view = resolve_version(tx, function, ref.qualifier)
        self._remember(caller, ref, generation, view)
        return view

    def read_on_loop(self, caller: Caller, ref: FunctionRef) -> VersionView | None:
        """`get` from a snapshot, on the event loop: no worker thread, no waiting for writers.
        None when the version's variables are sealed (opening them asks KMS: `get` on a worker
        does). Raises what `get` raises."""
        generation = self._ports.store.generation
        try:
            with self._ports.store.snapshot() as tx:
                function = tx.get_function(caller.account, caller.region, ref.name)
                if function is None:
                    raise not_found(
                        function_arn(caller.region, caller.account, ref.name, ref.qualifier)
                    )
                view = resolve_version(tx, function, ref.qualifier)
        except NeedsWorker:
            return None
        self._remember(caller, ref, generation, view)
        return view

    def _remember(
        self, caller: Caller, ref: FunctionRef, generation: int, view: VersionView
    ) -> None:
        # Sealed variables show as their key allows now, and a key's state is not in this store.
        if view.version.settings.environment_sealed is None:
            if len(self._views) >= VIEWS_KEPT:
                self._views.clear()
            key = (caller.account, caller.region, ref.name, ref.qualifier)
            self._views[key] = (generation, view)

    def cached(self, caller: Caller, ref: FunctionRef) -> VersionView | None:
        """What `get` would answer, when nothing was committed since it last read it. No I/O:
        for the event loop, which then needs no worker thread."""
        hit = self._views.get((caller.account, caller.region, ref.name, ref.qualifier))
        if hit is not None and hit[0] == self._ports.store.generation:
            return hit[1]
        return None

    def list_functions(
        self, caller: Caller, marker: str | None, max_items: int | None, all_versions: bool
    ) -> Page[VersionView]:
        limit = min(max_items or PAGE_LIMIT, PAGE_LIMIT)
        with self._ports.store.transaction() as tx:
            if not all_versions:
                found = tx.list_functions(caller.account, caller.region, marker, limit + 1)
                views = [VersionView(f, f.latest, f.arn) for f in found[:limit]]
                more = len(found) > limit
                return Page(views, views[-1].function.name if more else None)
            views = []
            for function in tx.list_functions(caller.account, caller.region, None, 1 << 30):
                views.append(VersionView(function, function.latest, function.version_arn(LATEST)))
                views.extend(
                    VersionView(function, v, function.version_arn(v.version))
                    for v in tx.list_versions(function, 0, 1 << 30)
                )
        start = int(marker) if marker and marker.isdigit() else 0
        end = start + limit
        return Page(views[start:end], str(end) if end < len(views) else None)

    # --- update ---------------------------------------------------------------------------

    def update_configuration(
        self,
        caller: Caller,
        ref: FunctionRef,
        changes: Mapping[str, Any],
        revision_id: str | None,
    ) -> VersionView:
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            previous = function.latest.settings
            settings = self._checked_settings(
                tx, caller, replace(previous, **changes), function.latest.code, previous
            )
            function = fn.update_latest(
                function,
                settings=settings,
                revision_id=revision_id,
                new_revision=self._ports.new_id(),
                now=self._ports.clock.now(),
            )
            tx.put_function(function)
        self._ports.changed()
        return VersionView(function, function.latest, function.arn)

    def update_code(
        self,
        caller: Caller,
        ref: FunctionRef,
        code: Code,
        architectures: tuple[str, ...] | None,
        revision_id: str | None,
        publish: bool,
    ) -> VersionView:
        now = self._ports.clock.now()
        new_id = self._ports.new_id
        if publish and hot_reload.is_hot(code.blob):
            raise hot_reload.unpublishable()
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            settings = function.latest.settings
            if architectures is not None:
                settings = replace(settings, architectures=architectures)
            settings = self._checked_settings(tx, caller, settings, code, settings)
            function = fn.update_latest(
                function,
                settings=settings,
                code=self._keep(code),
                revision_id=revision_id,
                new_revision=new_id(),
                now=now,
            )
            view = VersionView(function, function.latest, function.arn)
            if publish:
                made = fn.publish(
                    function,
                    self._newest(tx, function),
                    description=None,
                    code_sha256=None,
                    revision_id=None,
                    new_revisions=(new_id(), new_id()),
                    now=now,
                    with_update=True,
                )
                function = made.function
                if made.created:
                    tx.put_version(function, made.version)
                view = VersionView(
                    function, made.version, function.version_arn(made.version.version)
                )
            tx.put_function(function)
        self._ports.changed()
        return view

    # --- publish, versions ----------------------------------------------------------------

    @staticmethod
    def _newest(tx: Transaction, function: Function) -> FunctionVersion | None:
        if function.next_version <= 1:
            return None
        return tx.get_version(function, str(function.next_version - 1))

    def publish(
        self,
        caller: Caller,
        ref: FunctionRef,
        description: str | None,
        code_sha256: str | None,
        revision_id: str | None,
    ) -> VersionView:
        new_id = self._ports.new_id
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            if hot_reload.is_hot(function.latest.code.blob):
                raise hot_reload.unpublishable()
            made = fn.publish(
                function,
                self._newest(tx, function),
                description=description,
                code_sha256=code_sha256,
                revision_id=revision_id,
                new_revisions=(new_id(), new_id()),
                now=self._ports.clock.now(),
            )
            if made.created:
                tx.put_function(made.function)
                tx.put_version(made.function, made.version)
        if made.created:
            self._ports.changed()
        version = made.version
        return VersionView(made.function, version, made.function.version_arn(version.version))

    def list_versions(
        self, caller: Caller, ref: FunctionRef, marker: str | None, max_items: int | None
    ) -> Page[VersionView]:
        limit = min(max_items or PAGE_LIMIT, PAGE_LIMIT)
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            after = int(marker) if marker and marker.isdigit() else -1
            found = tx.list_versions(function, max(after, 0), limit + 1)
            versions = ([function.latest] if after < 0 else []) + found
        page = versions[:limit]
        views = [VersionView(function, v, function.version_arn(v.version)) for v in page]
        more = len(versions) > limit
        return Page(views, str(page[-1].number) if more else None)

    # --- delete ---------------------------------------------------------------------------

    def delete(self, caller: Caller, ref: FunctionRef) -> None:
        qualifier = ref.qualifier
        if qualifier == LATEST:  # AWS's 400 comes first, whether the function exists or not
            raise InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function."
            )
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            if qualifier is None:
                blobs = {function.latest.code.blob, function.serving.code.blob}
                blobs |= {v.code.blob for v in tx.list_versions(function, 0, 1 << 30)}
                tx.delete_function(function)
            elif not is_version_number(qualifier):
                raise InvalidParameterValue("Deletion of aliases is not currently supported.")
            else:
                version = tx.get_version(function, qualifier)
                if version is None:
                    return
                users = [a.name for a in tx.list_aliases(function) if a.references(qualifier)]
                if users:
                    raise ResourceConflict(
                        "Unable to delete version because the following aliases reference it: "
                        f"[{', '.join(users)}]"
                    )
                tx.delete_version(function, qualifier)
                blobs = {version.code.blob}
            # Under the transaction, so no create can start using a blob between check and removal.
            for blob in blobs:
                if not tx.blob_in_use(blob):
                    self._ports.code.remove(blob)
        if qualifier is None and function.reserved_concurrency is not None:
            scope = (function.account, function.region)
            self._ports.reservation_changed(scope, function.id, None)

    # --- reserved concurrency (spec 4.3) ----------------------------------------------------

    @staticmethod
    def _unqualified(ref: FunctionRef) -> None:
        if ref.qualifier is not None:
            raise InvalidParameterValue(
                "This operation is permitted on Lambda functions only. Aliases and versions do "
                "not support this operation. Please specify either a function name or an "
                "unqualified function ARN."
            )

    def put_concurrency(self, caller: Caller, ref: FunctionRef, value: int, limits: Limits) -> int:
        self._unqualified(ref)
        with self._ports.store.transaction() as tx:
            function = tx.get_function(caller.account, caller.region, ref.name)
            if function is None:
                arn = function_arn(caller.region, caller.account, ref.name, LATEST)
                raise not_found(arn)
            # Provisioned concurrency of functions without a reservation is claimed from the
            # unreserved pool too (spec 4.2), and a reservation holds its own (spec 4.3).
            others = tx.reserved_total(caller.account, caller.region, function.id)
            others += tx.unreserved_provisioned(caller.account, caller.region, function.id)
            check_reservation(limits, others, value)
            provisioned = sum(c.requested for c in tx.list_provisioned(function))
            check_reserved_above_provisioned(value, provisioned)
            tx.put_function(replace(function, reserved_concurrency=value))
        self._ports.reservation_changed((caller.account, caller.region), function.id, value)
        return value

    def get_concurrency(self, caller: Caller, ref: FunctionRef) -> int | None:
        self._unqualified(ref)
        with self._ports.store.transaction() as tx:
            return require_function(tx, caller, ref.name).reserved_concurrency

    def delete_concurrency(self, caller: Caller, ref: FunctionRef) -> None:
        self._unqualified(ref)
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            tx.put_function(replace(function, reserved_concurrency=None))
        self._ports.reservation_changed((caller.account, caller.region), function.id, None)

    def claimed_total(self, caller: Caller) -> int:
        """Σ reserved concurrency, plus the provisioned concurrency of functions without a
        reservation: what the unreserved pool loses (spec 4.2)."""
        with self._ports.store.transaction() as tx:
            reserved = tx.reserved_total(caller.account, caller.region, "")
            return reserved + tx.unreserved_provisioned(caller.account, caller.region, "")

    # --- tags -----------------------------------------------------------------------------

    def tags(self, caller: Caller, ref: FunctionRef) -> Mapping[str, str]:
        with self._ports.store.transaction() as tx:
            return require_function(tx, caller, ref.name).tags

    def change_tags(
        self, caller: Caller, ref: FunctionRef, add: Mapping[str, str], remove: list[str]
    ) -> None:
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            if add:
                ensure_mutable(function.latest.lifecycle, function.arn)
            tags = {k: v for k, v in function.tags.items() if k not in remove}
            tags.update(add)
            fn.check_tag_count(tags)
            tx.put_function(replace(function, tags=tags))

    # --- account --------------------------------------------------------------------------

    def usage(self, caller: Caller) -> tuple[int, int]:
        with self._ports.store.transaction() as tx:
            return tx.code_usage(caller.account, caller.region)
