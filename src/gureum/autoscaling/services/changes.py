"""Changing a target's capacity through the `ProvisionedCapacity` port, with its activity.

Every change is recorded: InProgress before Lambda is asked, then Successful or Failed with
Lambda's own message. Successful means Lambda accepted the new configuration; it does not wait
for the environments to be READY (AWS's activity does, through its own polling of Lambda).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace

from gureum.autoscaling.domain.activities import (
    Activity,
    Status,
    describe_change,
    failed,
    succeeded,
)
from gureum.autoscaling.domain.targets import TargetKey
from gureum.autoscaling.services.ports import ProvisionedCapacity
from gureum.autoscaling.store.scaling import ScalingStore
from gureum.aws.errors import AwsError
from gureum.clock import Clock

log = logging.getLogger("gureum.autoscaling")


class CapacityChanges:
    """Capacity changes and their activities. `guard` is held by whoever reads a target,
    decides and writes it back (an API call, one target of a scaler tick), so a
    RegisterScalableTarget never interleaves with a scheduled action rewriting the same
    target's min and max."""

    def __init__(self, store: ScalingStore, capacity: ProvisionedCapacity, clock: Clock) -> None:
        self._store = store
        self._capacity = capacity
        self._clock = clock
        self.guard = threading.RLock()

    def record(self, key: TargetKey, description: str, cause: str, message: str) -> None:
        """An activity that needs no call to Lambda (a scheduled action's new min and max)."""
        now = self._clock.now().timestamp()
        activity = Activity(
            key, str(uuid.uuid4()), description, cause, now, now, Status.SUCCESSFUL, message
        )
        self._store.put_activity(activity)

    def change(self, key: TargetKey, capacity: int, cause: str, direction: str | None) -> bool:
        """Sets the capacity; True when Lambda took it. `direction` ("out", "in" or None)
        starts that cooldown."""
        started = self._clock.now().timestamp()
        activity = Activity(
            key,
            str(uuid.uuid4()),
            describe_change(capacity),
            cause,
            started,
            None,
            Status.IN_PROGRESS,
        )
        self._store.put_activity(activity)
        try:
            self._capacity.set(key.account, key.region, key.function, key.qualifier, capacity)
        except AwsError as error:
            reason = error.message
        except Exception:
            log.exception("setting the capacity of %s failed", key.resource_id)
            reason = "an internal error"
        else:
            ended = self._clock.now().timestamp()
            self._store.put_activity(
                replace(
                    activity, ended=ended, status=Status.SUCCESSFUL, message=succeeded(capacity)
                )
            )
            self._store.moved(key, ended, direction)
            return True
        ended = self._clock.now().timestamp()
        self._store.put_activity(
            replace(activity, ended=ended, status=Status.FAILED, message=failed(capacity, reason))
        )
        return False
