"""Event invoke configs over the store (spec 5.3): Put replaces, Update merges, per qualifier."""

from __future__ import annotations

from dataclasses import replace

from gureum.lambda_.domain.arns import (
    LATEST,
    FunctionRef,
    function_arn,
    is_version_number,
    parse_function_name,
)
from gureum.lambda_.domain.errors import InvalidParameterValue, ResourceNotFound
from gureum.lambda_.domain.event_configs import (
    NOT_SPECIFIED,
    DestinationKind,
    EventInvokeConfig,
    check_destinations,
    destination_kind,
)
from gureum.lambda_.domain.functions import Function
from gureum.lambda_.services.context import Caller, Ports
from gureum.lambda_.store.ports import Transaction

FIELDS = ("max_retries", "max_age", "on_success", "on_failure")


def missing_config(function: Function, qualifier: str) -> ResourceNotFound:
    arn = function.version_arn(qualifier)
    return ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")


class EventConfigService:
    """Event invoke configs, one per qualifier; destinations checked when configured."""

    def __init__(self, ports: Ports) -> None:
        self._ports = ports

    @staticmethod
    def _function(tx: Transaction, caller: Caller, ref: FunctionRef) -> Function:
        function = tx.get_function(caller.account, caller.region, ref.name)
        if function is None:
            raise ResourceNotFound("The function doesn't exist.")
        return function

    @staticmethod
    def _check_qualifier(tx: Transaction, function: Function, qualifier: str) -> None:
        if qualifier == LATEST:
            return
        exists = (
            tx.get_version(function, qualifier)
            if is_version_number(qualifier)
            else tx.get_alias(function, qualifier)
        )
        if exists is None:
            raise ResourceNotFound("The function doesn't exist.")

    def _check_destinations(
        self, tx: Transaction, caller: Caller, function: Function, config: EventInvokeConfig
    ) -> None:
        check_destinations(config.on_success, config.on_failure, function.arn)
        for arn in (config.on_success, config.on_failure):
            if arn and destination_kind(arn) is DestinationKind.LAMBDA:
                target = parse_function_name(arn)
                region = target.region or caller.region
                account = target.account or caller.account
                if tx.get_function(account, region, target.name) is None:
                    raise InvalidParameterValue(f"The destination ARN {arn} is invalid.")

    def put(
        self, caller: Caller, ref: FunctionRef, config: EventInvokeConfig, given: set[str]
    ) -> tuple[Function, str, EventInvokeConfig]:
        """PutFunctionEventInvokeConfig: replaces the whole config; `given` names what was sent."""
        if not given:
            raise InvalidParameterValue(NOT_SPECIFIED)
        qualifier = ref.qualifier or LATEST
        config = replace(config, last_modified=self._ports.clock.now().timestamp())
        with self._ports.store.transaction() as tx:
            function = self._function(tx, caller, ref)
            self._check_qualifier(tx, function, qualifier)
            self._check_destinations(tx, caller, function, config)
            tx.put_event_config(function, qualifier, config)
        return function, qualifier, config

    def update(
        self, caller: Caller, ref: FunctionRef, changes: EventInvokeConfig, given: set[str]
    ) -> tuple[Function, str, EventInvokeConfig]:
        qualifier = ref.qualifier or LATEST
        changes = replace(changes, last_modified=self._ports.clock.now().timestamp())
        with self._ports.store.transaction() as tx:
            function = self._function(tx, caller, ref)
            current = tx.get_event_config(function, qualifier)
            if current is None:
                raise missing_config(function, qualifier)
            config = current.merged(changes, given)
            self._check_destinations(tx, caller, function, config)
            tx.put_event_config(function, qualifier, config)
        return function, qualifier, config

    def get(self, caller: Caller, ref: FunctionRef) -> tuple[Function, str, EventInvokeConfig]:
        qualifier = ref.qualifier or LATEST
        with self._ports.store.transaction() as tx:
            function = tx.get_function(caller.account, caller.region, ref.name)
            config = tx.get_event_config(function, qualifier) if function else None
        if function is None or config is None:
            arn = function_arn(caller.region, caller.account, ref.name, qualifier)
            raise ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")
        return function, qualifier, config

    def delete(self, caller: Caller, ref: FunctionRef) -> None:
        function, qualifier, _ = self.get(caller, ref)
        with self._ports.store.transaction() as tx:
            tx.delete_event_config(function, qualifier)

    def list_configs(
        self, caller: Caller, ref: FunctionRef
    ) -> tuple[Function, list[tuple[str, EventInvokeConfig]]]:
        with self._ports.store.transaction() as tx:
            function = self._function(tx, caller, ref)
            return function, tx.list_event_configs(function)
