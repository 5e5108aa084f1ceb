"""Application Auto Scaling's control plane for Lambda's provisioned concurrency: scalable
targets, target tracking policies (with their CloudWatch alarms), scheduled actions and the
activities that record every change.

Invariants: a policy or scheduled action exists only on a registered target, and goes with it;
a policy's two alarms exist in CloudWatch exactly while the policy does; registering a target
brings its capacity within [MinCapacity, MaxCapacity] at once (no configuration counts as 0).
Every method blocks on SQLite: call it from worker threads.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gureum.autoscaling.domain.actions import ScheduledAction, no_action, scheduled_action
from gureum.autoscaling.domain.activities import maximum_cause, minimum_cause
from gureum.autoscaling.domain.errors import Invalid
from gureum.autoscaling.domain.policies import ScalingPolicy, no_policy, target_tracking
from gureum.autoscaling.domain.targets import (
    DIMENSION,
    NAMESPACE,
    ScalableTarget,
    TargetKey,
    no_target,
    registered,
    target_key,
)
from gureum.autoscaling.services.changes import CapacityChanges
from gureum.autoscaling.services.ports import AlarmWriter, ProvisionedCapacity
from gureum.autoscaling.store.scaling import ScalingStore
from gureum.aws.errors import AwsError
from gureum.clock import Clock

Params = dict[str, Any]
Item = TypeVar("Item")
PAGE = 50


def page(items: Sequence[Item], params: Params, wire: Callable[[Item], Any], name: str) -> Params:
    """MaxResults (AWS's default 50) and an opaque NextToken (the offset)."""
    token = params.get("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise Invalid("Invalid NextToken") from None
    size = params.get("MaxResults") or PAGE
    chosen = items[offset : offset + size]
    more = offset + size < len(items)
    return {name: [wire(i) for i in chosen], "NextToken": str(offset + size) if more else None}


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"Unrecognized time zone: {name}") from None


def _ours(params: Params) -> bool:
    """Whether a Describe call's namespace and dimension filter can match anything here."""
    dimension = params.get("ScalableDimension")
    return params["ServiceNamespace"] == NAMESPACE and dimension in (None, DIMENSION)


class ScalingService:
    def __init__(
        self,
        store: ScalingStore,
        capacity: ProvisionedCapacity,
        alarms: AlarmWriter,
        clock: Clock,
        changes: CapacityChanges,
    ) -> None:
        self._store = store
        self._capacity = capacity
        self._alarms = alarms
        self._clock = clock
        self._changes = changes

    def _key(self, account: str, region: str, params: Params) -> TargetKey:
        return target_key(
            account,
            region,
            params["ServiceNamespace"],
            params["ResourceId"],
            params["ScalableDimension"],
        )

    def _target(self, key: TargetKey) -> ScalableTarget:
        target = self._store.target(key)
        if target is None:
            raise no_target(key)
        return target

    # --- scalable targets ---------------------------------------------------------------------

    def register(self, account: str, region: str, params: Params) -> Params:
        with self._changes.guard:
            key = self._key(account, region, params)
            try:
                current = self._capacity.get(account, region, key.function, key.qualifier)
            except AwsError as error:
                # The resource must exist in Lambda: its own message says what is missing.
                raise Invalid(
                    f"Unable to register scalable target {key.resource_id}: {error.message}"
                ) from None
            now = self._clock.now().timestamp()
            target = registered(key, self._store.target(key), params, uuid.uuid4().hex, now)
            self._store.put_target(target)
            have = current or 0
            wanted = target.clamp(have)
            if wanted != have:
                cause = minimum_cause(wanted) if wanted > have else maximum_cause(wanted)
                self._changes.change(key, wanted, cause, None)
            return {"ScalableTargetARN": target.arn}

    def deregister(self, account: str, region: str, params: Params) -> None:
        """Deletes the target, its policies (and their alarms) and its scheduled actions. The
        provisioned concurrency stays as it is, as on AWS."""
        with self._changes.guard:
            key = self._key(account, region, params)
            self._target(key)
            for policy in self._store.delete_target(key):
                self._alarms.delete(account, region, [policy.high_alarm, policy.low_alarm])

    def describe_targets(self, account: str, region: str, params: Params) -> Params:
        wanted = set(params.get("ResourceIds") or ())
        targets = [
            t
            for t in (self._store.targets(account, region) if _ours(params) else [])
            if not wanted or t.key.resource_id in wanted
        ]
        return page(targets, params, ScalableTarget.wire, "ScalableTargets")

    # --- scaling policies ---------------------------------------------------------------------

    def put_policy(self, account: str, region: str, params: Params) -> Params:
        with self._changes.guard:
            key = self._key(account, region, params)
            self._target(key)
            config = target_tracking(params)
            name = params["PolicyName"]
            existing = next((p for p in self._store.policies(key) if p.name == name), None)
            if existing is None:
                policy = ScalingPolicy(
                    key,
                    name,
                    str(uuid.uuid4()),
                    str(uuid.uuid4()),
                    str(uuid.uuid4()),
                    config,
                    self._clock.now().timestamp(),
                )
            else:
                policy = ScalingPolicy(
                    key,
                    name,
                    existing.policy_id,
                    existing.high_id,
                    existing.low_id,
                    config,
                    existing.created,
                )
            for definition in policy.alarm_definitions():
                self._alarms.put(account, region, definition)
            self._store.put_policy(policy)
            return {"PolicyARN": policy.arn, "Alarms": policy.alarms()}

    def describe_policies(self, account: str, region: str, params: Params) -> Params:
        names = set(params.get("PolicyNames") or ())
        resource = params.get("ResourceId")
        policies = [
            p
            for t in (self._store.targets(account, region) if _ours(params) else [])
            if resource in (None, t.key.resource_id)
            for p in self._store.policies(t.key)
            if not names or p.name in names
        ]
        return page(policies, params, ScalingPolicy.wire, "ScalingPolicies")

    def delete_policy(self, account: str, region: str, params: Params) -> None:
        with self._changes.guard:
            key = self._key(account, region, params)
            name = params["PolicyName"]
            policy = next((p for p in self._store.policies(key) if p.name == name), None)
            if policy is None:
                raise no_policy(key, name)
            self._store.delete_policy(key, name)
            self._alarms.delete(account, region, [policy.high_alarm, policy.low_alarm])

    # --- scheduled actions --------------------------------------------------------------------

    def put_action(self, account: str, region: str, params: Params) -> None:
        with self._changes.guard:
            key = self._key(account, region, params)
            self._target(key)
            name = params["ScheduledActionName"]
            existing = next((a for a in self._store.actions(key) if a.name == name), None)
            now = self._clock.now().timestamp()
            action = scheduled_action(key, existing, params, str(uuid.uuid4()), now)
            zone(action.timezone)
            self._store.put_action(action)

    def describe_actions(self, account: str, region: str, params: Params) -> Params:
        names = set(params.get("ScheduledActionNames") or ())
        resource = params.get("ResourceId")
        actions = [
            a
            for t in (self._store.targets(account, region) if _ours(params) else [])
            if resource in (None, t.key.resource_id)
            for a in self._store.actions(t.key)
            if not names or a.name in names
        ]
        return page(actions, params, ScheduledAction.wire, "ScheduledActions")

    def delete_action(self, account: str, region: str, params: Params) -> None:
        with self._changes.guard:
            key = self._key(account, region, params)
            name = params["ScheduledActionName"]
            if not any(a.name == name for a in self._store.actions(key)):
                raise no_action(key, name)
            self._store.delete_action(key, name)

    # --- activities ---------------------------------------------------------------------------

    def describe_activities(self, account: str, region: str, params: Params) -> Params:
        activities = (
            self._store.activities(account, region, params.get("ResourceId"))
            if _ours(params)
            else []
        )
        return page(activities, params, lambda a: a.wire(), "ScalingActivities")
