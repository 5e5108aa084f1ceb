"""Aliases over the store (spec 2): create, read, update, delete, list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gureum.lambda_.domain.aliases import Alias, check_routing
from gureum.lambda_.domain.arns import LATEST, FunctionRef, function_arn, is_version_number
from gureum.lambda_.domain.errors import (
    InvalidParameterValue,
    ResourceConflict,
    ResourceNotFound,
)
from gureum.lambda_.domain.functions import Function, FunctionVersion, check_revision
from gureum.lambda_.domain.provisioned import UNPUBLISHED, check_coverage
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.services.functions import PAGE_LIMIT, Page, not_found, require_function
from gureum.lambda_.services.provisioned import versions_of
from gureum.lambda_.store.ports import Transaction


class AliasService:
    """Aliases of a function, with the routing rules checked on every write."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    @staticmethod
    def _check(
        tx: Transaction, function: Function, primary: str, weights: Mapping[str, float]
    ) -> None:
        def find(version: str) -> FunctionVersion | None:
            if version == LATEST:
                return function.latest
            return tx.get_version(function, version) if is_version_number(version) else None

        check_routing(primary, weights, find, function.version_arn)

    def create(
        self,
        caller: Caller,
        ref: FunctionRef,
        name: str,
        version: str,
        description: str,
        weights: Mapping[str, float],
    ) -> tuple[Function, Alias]:
        with self._ports.store.transaction() as tx:
            function = tx.get_function(caller.account, caller.region, ref.name)
            if function is None:
                # AWS names the version the alias was to point at (spec 2.2).
                raise not_found(function_arn(caller.region, caller.account, ref.name, version))
            if tx.get_alias(function, name) is not None:
                raise ResourceConflict(f"Alias already exists: {function.version_arn(name)}")
            self._check(tx, function, version, weights)
            alias = Alias(name, version, self._ports.new_id(), description, dict(weights))
            tx.put_alias(function, alias)
        return function, alias

    def get(self, caller: Caller, ref: FunctionRef, name: str) -> tuple[Function, Alias]:
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            alias = tx.get_alias(function, name)
        if alias is None:
            raise ResourceNotFound(f"Cannot find alias arn: {function.version_arn(name)}")
        return function, alias

    def update(
        self,
        caller: Caller,
        ref: FunctionRef,
        name: str,
        version: str | None,
        description: str | None,
        weights: Mapping[str, float] | None,
        revision_id: str | None,
    ) -> tuple[Function, Alias]:
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            alias = tx.get_alias(function, name)
            if alias is None:
                raise ResourceNotFound(f"Alias not found: {function.version_arn(name)}")
            check_revision(revision_id, alias.revision_id)
            alias = replace(
                alias,
                function_version=version if version is not None else alias.function_version,
                description=description if description is not None else alias.description,
                weights=dict(weights) if weights is not None else alias.weights,
                revision_id=self._ports.new_id(),
            )
            self._check(tx, function, alias.function_version, alias.weights)
            if tx.get_provisioned(function, name) is not None:
                self._check_provisioned(tx, function, alias)
            tx.put_alias(function, alias)
        return function, alias

    @staticmethod
    def _check_provisioned(tx: Transaction, function: Function, alias: Alias) -> None:
        """An alias with provisioned concurrency keeps the rules of its Put (spec 6.3): no
        `$LATEST`, and no version another configuration already covers."""
        versions = {alias.function_version, *alias.weights}
        if LATEST in versions:
            raise InvalidParameterValue(UNPUBLISHED)
        covered_by: dict[str, str] = {}
        for config in tx.list_provisioned(function):
            if config.qualifier != alias.name:
                for version in versions_of(tx, function, config.qualifier) or {}:
                    covered_by[version] = config.qualifier
        check_coverage(alias.name, True, frozenset(versions), covered_by)

    def delete(self, caller: Caller, ref: FunctionRef, name: str) -> None:
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            tx.delete_alias(function, name)

    def list_aliases(
        self,
        caller: Caller,
        ref: FunctionRef,
        version: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> tuple[Function, Page[Alias]]:
        limit = min(max_items or PAGE_LIMIT, PAGE_LIMIT)
        with self._ports.store.transaction() as tx:
            function = require_function(tx, caller, ref.name)
            aliases = tx.list_aliases(function)
        if version is not None:
            aliases = [a for a in aliases if a.function_version == version]
        remaining = [a for a in aliases if marker is None or a.name > marker]
        page = remaining[:limit]
        more = len(remaining) > limit
        return function, Page(page, page[-1].name if more else None)
