"""Application Auto Scaling's operations (json protocol, `AnyScaleFrontendService.*`): each
takes what the codec parsed, calls one service method, and returns its result to render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.autoscaling.domain.errors import Invalid
from gureum.autoscaling.services.scaling import ScalingService
from gureum.aws.frontend import CallContext, Handler

Params = dict[str, Any]


class AutoScalingApi:
    def __init__(self, scaling: ScalingService) -> None:
        self._scaling = scaling

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "RegisterScalableTarget": self.register_scalable_target,
            "DeregisterScalableTarget": self.deregister_scalable_target,
            "DescribeScalableTargets": self.describe_scalable_targets,
            "PutScalingPolicy": self.put_scaling_policy,
            "DescribeScalingPolicies": self.describe_scaling_policies,
            "DeleteScalingPolicy": self.delete_scaling_policy,
            "PutScheduledAction": self.put_scheduled_action,
            "DescribeScheduledActions": self.describe_scheduled_actions,
            "DeleteScheduledAction": self.delete_scheduled_action,
            "DescribeScalingActivities": self.describe_scaling_activities,
        }

    def register_scalable_target(self, context: CallContext, params: Params) -> Params:
        if params.get("Tags"):  # not kept yet: refused, never stored and ignored
            raise Invalid("gureum does not support tags on scalable targets yet.")
        return self._scaling.register(context.account_id, context.region, params)

    def deregister_scalable_target(self, context: CallContext, params: Params) -> Params:
        self._scaling.deregister(context.account_id, context.region, params)
        return {}

    def describe_scalable_targets(self, context: CallContext, params: Params) -> Params:
        return self._scaling.describe_targets(context.account_id, context.region, params)

    def put_scaling_policy(self, context: CallContext, params: Params) -> Params:
        return self._scaling.put_policy(context.account_id, context.region, params)

    def describe_scaling_policies(self, context: CallContext, params: Params) -> Params:
        return self._scaling.describe_policies(context.account_id, context.region, params)

    def delete_scaling_policy(self, context: CallContext, params: Params) -> Params:
        self._scaling.delete_policy(context.account_id, context.region, params)
        return {}

    def put_scheduled_action(self, context: CallContext, params: Params) -> Params:
        self._scaling.put_action(context.account_id, context.region, params)
        return {}

    def describe_scheduled_actions(self, context: CallContext, params: Params) -> Params:
        return self._scaling.describe_actions(context.account_id, context.region, params)

    def delete_scheduled_action(self, context: CallContext, params: Params) -> Params:
        self._scaling.delete_action(context.account_id, context.region, params)
        return {}

    def describe_scaling_activities(self, context: CallContext, params: Params) -> Params:
        return self._scaling.describe_activities(context.account_id, context.region, params)
