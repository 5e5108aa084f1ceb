"""Function URL configs (Create / Get / Update / Delete / List) and their lookup by URL id.

A config belongs to one function record (by its id) and one qualifier (`$LATEST` or an alias).
A config whose function was deleted, or re-created under the same name, is treated as absent
and removed when next seen. Every method blocks on SQLite: call it from worker threads.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from gureum.clock import Clock
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import ResourceConflict, ResourceNotFound
from gureum.lambda_.domain.function_urls import (
    AuthType,
    Cors,
    FunctionUrlConfig,
    check_invoke_mode,
    check_qualifier,
    iso_time,
)
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.store.event_sources import TriggerStore, TriggerTransaction

LIST_LIMIT = 50
_ID_ALPHABET = string.ascii_lowercase + string.digits
_CACHE_LIMIT = 4096


def config_not_found() -> ResourceNotFound:
    return ResourceNotFound("The resource you requested does not exist.")


@dataclass(frozen=True, slots=True)
class UrlPage:
    items: list[FunctionUrlConfig]
    next_marker: str | None


class FunctionUrlService:
    """The control plane of function URLs, and `by_id` for the requests that reach them."""

    def __init__(self, store: TriggerStore, invoker: Invoker, clock: Clock) -> None:
        self._store = store
        self._invoker = invoker
        self._clock = clock
        self._by_id: dict[str, tuple[int, FunctionUrlConfig | None]] = {}

    def _now(self) -> str:
        return iso_time(self._clock.now().timestamp())

    def _function(self, caller: Caller, ref: FunctionRef) -> tuple[Function, str]:
        """The function and the qualifier the URL is for (404 when either is missing)."""
        qualifier = check_qualifier(ref.qualifier)
        target = self._invoker.fresh_target(caller, ref)
        return target.function, qualifier

    @staticmethod
    def _current(
        tx: TriggerTransaction, function: Function, qualifier: str
    ) -> FunctionUrlConfig | None:
        config = tx.url_config(function.account, function.region, function.name, qualifier)
        if config is not None and config.function_id != function.id:
            tx.delete_url_config(config)  # left from a deleted function of the same name
            return None
        return config

    def create(
        self,
        caller: Caller,
        ref: FunctionRef,
        auth_type: str,
        cors: Cors | None,
        invoke_mode: str | None,
    ) -> FunctionUrlConfig:
        function, qualifier = self._function(caller, ref)
        mode = check_invoke_mode(invoke_mode or "BUFFERED")
        now = self._now()
        arn = function.arn if ref.qualifier is None else function.version_arn(qualifier)
        with self._store.transaction() as tx:
            if self._current(tx, function, qualifier) is not None:
                raise ResourceConflict(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            config = FunctionUrlConfig(
                "".join(secrets.choice(_ID_ALPHABET) for _ in range(32)),
                function.account,
                function.region,
                function.name,
                qualifier,
                arn,
                function.id,
                AuthType(auth_type).value,
                cors,
                mode,
                now,
                now,
            )
            tx.put_url_config(config)
        return config

    def get(self, caller: Caller, ref: FunctionRef) -> FunctionUrlConfig:
        function, qualifier = self._function(caller, ref)
        with self._store.transaction() as tx:
            config = self._current(tx, function, qualifier)
        if config is None:
            raise config_not_found()
        return config

    def update(
        self,
        caller: Caller,
        ref: FunctionRef,
        auth_type: str | None,
        cors: Cors | None,
        invoke_mode: str | None,
    ) -> FunctionUrlConfig:
        function, qualifier = self._function(caller, ref)
        with self._store.transaction() as tx:
            config = self._current(tx, function, qualifier)
            if config is None:
                raise config_not_found()
            changed = config.changed(auth_type, cors, invoke_mode, self._now())
            tx.put_url_config(changed)
        return changed

    def delete(self, caller: Caller, ref: FunctionRef) -> None:
        function, qualifier = self._function(caller, ref)
        with self._store.transaction() as tx:
            config = self._current(tx, function, qualifier)
            if config is None:
                raise config_not_found()
            tx.delete_url_config(config)

    def list_configs(
        self, caller: Caller, ref: FunctionRef, marker: str | None, max_items: int | None
    ) -> UrlPage:
        function, _ = self._function(caller, FunctionRef(ref.name, None))
        with self._store.transaction() as tx:
            found = [
                c
                for c in tx.url_configs(function.account, function.region, function.name)
                if c.function_id == function.id
            ]
        start = int(marker) if marker and marker.isdigit() else 0
        limit = min(max_items or LIST_LIMIT, LIST_LIMIT)
        more = start + limit < len(found)
        return UrlPage(found[start : start + limit], str(start + limit) if more else None)

    def by_id(self, url_id: str) -> FunctionUrlConfig | None:
        """The config a request's URL id names; cached until the store changes."""
        generation = self._store.generation
        cached = self._by_id.get(url_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        with self._store.transaction() as tx:
            config = tx.url_by_id(url_id)
        if len(self._by_id) >= _CACHE_LIMIT:
            self._by_id.clear()
        self._by_id[url_id] = (generation, config)
        return config
