"""Event source mappings as the API sees them: create, get, list, update, delete.

Each operation commits its record in the state AWS shows right after it (Creating, Updating,
Enabling, Disabling, Deleting); the pollers (`services.pollers`) take the change up and settle
the state, and remove a Deleting mapping once its pollers stopped. Every method blocks on
SQLite: call it from worker threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gureum.clock import Clock
from gureum.lambda_.domain.arns import FunctionRef
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceConflict, ResourceNotFound
from gureum.lambda_.domain.event_sources import (
    EventSourceMapping,
    MappingSettings,
    MappingState,
    check_settings,
)
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import Invoker
from gureum.lambda_.store.event_sources import TriggerStore
from gureum.sqs.services.queues import QueueService

LIST_DEFAULT = 100
LIST_LIMIT = 10_000  # the model's MaxItems


def mapping_not_found() -> ResourceNotFound:
    return ResourceNotFound("The resource you requested does not exist.")


@dataclass(frozen=True, slots=True)
class MappingPage:
    items: list[EventSourceMapping]
    next_marker: str | None


def _is_fifo(source_arn: str) -> bool:
    return source_arn.endswith(".fifo")


class EventSourceService:
    """The control plane of SQS event source mappings."""

    def __init__(
        self,
        store: TriggerStore,
        invoker: Invoker,
        queues: QueueService,
        clock: Clock,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._invoker = invoker
        self._queues = queues
        self._clock = clock
        self._changed = changed  # wakes the pollers (safe from any thread)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _check_source(self, caller: Caller, source_arn: str) -> None:
        if not source_arn.startswith("arn:aws:sqs:"):
            raise InvalidParameterValue(
                "Unrecognized event source, must be an SQS queue (gureum maps SQS queues only)."
            )
        if not self._queues.exists(caller.account, caller.region, source_arn):
            raise InvalidParameterValue(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
                "The specified queue does not exist for this wsdl version."
            )

    def create(
        self,
        caller: Caller,
        ref: FunctionRef,
        source_arn: str,
        settings: MappingSettings,
        tags: dict[str, str],
    ) -> EventSourceMapping:
        check_settings(settings, _is_fifo(source_arn))
        target = self._invoker.fresh_target(caller, ref)  # 404 for a missing function
        self._check_source(caller, source_arn)
        function_arn = (
            target.function.version_arn(ref.qualifier) if ref.qualifier else (target.function.arn)
        )
        mapping = EventSourceMapping(
            str(uuid.uuid4()),
            caller.account,
            caller.region,
            target.function.name,
            ref.qualifier,
            function_arn,
            source_arn,
            settings,
            MappingState.CREATING,
            "USER_INITIATED",
            self._now(),
            tags=tags,
        )
        with self._store.transaction() as tx:
            for other in tx.mappings(caller.account, caller.region, source_arn=source_arn):
                if other.function_arn == function_arn:
                    raise ResourceConflict(
                        f'An event source mapping with SQS arn (" {source_arn} ") and function '
                        f'(" {target.function.name} ") already exists. Please update or delete '
                        f"the existing mapping with UUID {other.uuid}"
                    )
            tx.add_mapping(mapping)
        self._changed()
        return mapping

    def get(self, caller: Caller, mapping_id: str) -> EventSourceMapping:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
        if mapping is None or (mapping.account, mapping.region) != (caller.account, caller.region):
            raise mapping_not_found()
        return mapping

    def list_mappings(
        self,
        caller: Caller,
        function_name: str | None,
        source_arn: str | None,
        marker: str | None,
        max_items: int | None,
    ) -> MappingPage:
        """One page, in creation order; `marker` is where the previous page stopped."""
        with self._store.transaction() as tx:
            found = tx.mappings(caller.account, caller.region, function_name, source_arn)
        start = 0
        if marker:
            if not marker.isdigit():
                raise InvalidParameterValue("Invalid marker")
            start = int(marker)
        limit = min(max_items or LIST_DEFAULT, LIST_LIMIT)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return MappingPage(page, str(start + limit) if more else None)

    def update(
        self,
        caller: Caller,
        mapping_id: str,
        ref: FunctionRef | None,
        changes: Mapping[str, Any],
    ) -> EventSourceMapping:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
            if mapping is None or mapping.account != caller.account:
                raise mapping_not_found()
            settings = replace(mapping.settings, **changes)
            check_settings(settings, _is_fifo(mapping.source_arn))
            updated = mapping.updated(settings, self._now())
            if ref is not None:
                target = self._invoker.fresh_target(caller, ref)
                function = target.function
                arn = function.version_arn(ref.qualifier) if ref.qualifier else function.arn
                updated = _retargeted(updated, function.name, ref.qualifier, arn)
            tx.save_mapping(updated)
        self._changed()
        return updated

    def delete(self, caller: Caller, mapping_id: str) -> EventSourceMapping:
        with self._store.transaction() as tx:
            mapping = tx.mapping(mapping_id)
            if mapping is None or mapping.account != caller.account:
                raise mapping_not_found()
            deleting = mapping.deleting(self._now())
            tx.save_mapping(deleting)
        self._changed()
        return deleting


def _retargeted(
    mapping: EventSourceMapping, name: str, qualifier: str | None, arn: str
) -> EventSourceMapping:
    return replace(mapping, function_name=name, qualifier=qualifier, function_arn=arn)
