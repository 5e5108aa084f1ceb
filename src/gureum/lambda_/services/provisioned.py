"""Provisioned concurrency configurations over the store (spec 6.3): Put, Get, List, Delete.

The rules are the domain's (`domain.provisioned`); this service gathers the numbers inside one
transaction, so a refused Put leaves nothing behind, and after a commit tells the ledger the
function's new provisioned total and wakes the provisioner, which starts the environments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gureum.lambda_.domain import snap_start
from gureum.lambda_.domain.arns import LATEST, FunctionRef, function_arn, is_version_number
from gureum.lambda_.domain.concurrency import Limits
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    ProvisionedConcurrencyConfigNotFound,
    ResourceNotFound,
)
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.domain.provisioned import (
    NO_CONFIG,
    NOT_ALIAS_OR_VERSION,
    UNPUBLISHED,
    AccountRoom,
    ProvisionedConfig,
    check_coverage,
    check_room,
)
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import PAGE_LIMIT, Page, not_found, require_function
from gureum.lambda_.store.ports import Transaction

# PC's LastModified is a string in this form, unlike a function's (spec 0.5).
LAST_MODIFIED = "%Y-%m-%dT%H:%M:%S+0000"


def versions_of(tx: Transaction, function: Function, qualifier: str) -> dict[str, float] | None:
    """The versions a qualifier runs, with their weights (None: no such version or alias)."""
    if is_version_number(qualifier):
        return {qualifier: 1.0} if tx.get_version(function, qualifier) is not None else None
    alias = tx.get_alias(function, qualifier)
    if alias is None:
        return None
    weights = dict(alias.weights)
    return {alias.function_version: 1.0 - sum(weights.values()), **weights}


def _missing(caller: Caller, name: str, function: Function | None, qualifier: str) -> Exception:
    """A missing version is a missing function; a missing alias (or the function behind it)
    is a missing alias (spec 6.3)."""
    arn = function_arn(caller.region, caller.account, name, qualifier)
    if function is not None:
        arn = function.version_arn(qualifier)
    if is_version_number(qualifier):
        return not_found(arn)
    return ResourceNotFound(f"Cannot find alias arn: {arn}")


@dataclass(frozen=True, slots=True)
class ProvisionedView:
    function: Function
    config: ProvisionedConfig


class ProvisionedConcurrencyService:
    """PutProvisionedConcurrencyConfig and its siblings. Worker threads; see the module doc."""

    def __init__(
        self,
        ports: Ports,
        limits: Limits,
        changed: Callable[[tuple[str, str], str, int], None],
    ) -> None:
        self._ports = ports
        self._limits = limits
        # (scope, function id, its provisioned total) after a commit: the ledger and the
        # provisioner hear of it before the caller has its answer.
        self._changed = changed

    def _locate(
        self, tx: Transaction, caller: Caller, ref: FunctionRef, latest_message: str
    ) -> tuple[Function, str, dict[str, float]]:
        qualifier = ref.qualifier or LATEST
        if qualifier == LATEST:
            raise InvalidParameterValue(latest_message)
        function = tx.get_function(caller.account, caller.region, ref.name)
        versions = versions_of(tx, function, qualifier) if function is not None else None
        if function is None or versions is None:
            raise _missing(caller, ref.name, function, qualifier)
        return function, qualifier, versions

    def put(self, caller: Caller, ref: FunctionRef, requested: int) -> ProvisionedView:
        with self._ports.store.transaction() as tx:
            function, qualifier, versions = self._locate(tx, caller, ref, UNPUBLISHED)
            if LATEST in versions:  # an alias to $LATEST (spec 6.3: not supported)
                raise InvalidParameterValue(UNPUBLISHED)
            for number in versions:  # spec 6.3: not both on one version
                found = tx.get_version(function, number)
                if found is not None and snap_start.applies(found.settings.snap_start, number):
                    raise InvalidParameterValue(snap_start.PROVISIONED_REFUSED, Type="User")
            covered_by: dict[str, str] = {}
            others = 0
            for config in tx.list_provisioned(function):
                if config.qualifier == qualifier:
                    continue
                others += config.requested
                for version in versions_of(tx, function, config.qualifier) or {}:
                    covered_by[version] = config.qualifier
            is_alias = not is_version_number(qualifier)
            check_coverage(qualifier, is_alias, frozenset(versions), covered_by)
            scope = (caller.account, caller.region)
            room = AccountRoom(
                self._limits.account,
                self._limits.unreserved_minimum,
                tx.reserved_total(*scope, ""),
                tx.unreserved_provisioned(*scope, function.id),
            )
            check_room(requested, others, function.reserved_concurrency, room)
            stamp = self._ports.clock.now().strftime(LAST_MODIFIED)
            config = ProvisionedConfig(qualifier, requested, stamp)
            tx.put_provisioned(function, config)
        self._changed(scope, function.id, others + requested)
        return ProvisionedView(function, config)

    def get(self, caller: Caller, ref: FunctionRef) -> ProvisionedView:
        with self._ports.store.transaction() as tx:
            function, qualifier, _ = self._locate(tx, caller, ref, NOT_ALIAS_OR_VERSION)
            config = tx.get_provisioned(function, qualifier)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFound(NO_CONFIG)
        return ProvisionedView(function, config)

    def delete(self, caller: Caller, ref: FunctionRef) -> None:
        """Idempotent: 204 when there was no configuration (spec 6.3)."""
        with self._ports.store.transaction() as tx:
            function, qualifier, _ = self._locate(tx, caller, ref, NOT_ALIAS_OR_VERSION)
            if tx.get_provisioned(function, qualifier) is None:
                return
            tx.delete_provisioned(function, qualifier)
            total = sum(c.requested for c in tx.list_provisioned(function))
        self._changed((caller.account, caller.region), function.id, total)

    def list_configs(
        self, caller: Caller, ref: FunctionRef, marker: str | None, max_items: int | None
    ) -> Page[ProvisionedView]:
        """By qualifier; the marker is the last qualifier of the page before (as AWS's is
        opaque, any string works that sorts below the next one)."""
        limit = min(max_items or PAGE_LIMIT, PAGE_LIMIT)
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            configs = tx.list_provisioned(function)
        remaining = [c for c in configs if marker is None or c.qualifier > marker]
        page = remaining[:limit]
        more = len(remaining) > limit
        views = [ProvisionedView(function, c) for c in page]
        return Page(views, page[-1].qualifier if more else None)
