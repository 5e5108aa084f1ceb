"""CloudWatch operations, in whichever protocol the request came (rpc-v2-cbor, json, query):
each parses nothing itself (the codec did), calls one metric service method, and returns its
result for the codec to render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.cloudwatch.services.metrics import MetricService

Params = dict[str, Any]
Result = dict[str, Any]


class CloudWatchApi:
    def __init__(self, metrics: MetricService) -> None:
        self._metrics = metrics

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "PutMetricData": self.put_metric_data,
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
            "ListMetrics": self.list_metrics,
            "DescribeAlarms": self.describe_alarms,
            "PutMetricAlarm": self.put_metric_alarm,
            "DeleteAlarms": self.delete_alarms,
            "SetAlarmState": self.set_alarm_state,
            "DescribeAlarmsForMetric": self.describe_alarms_for_metric,
        }

    def put_metric_data(self, context: CallContext, params: Params) -> Result:
        self._metrics.put(
            context.account_id, context.region, params["Namespace"], params.get("MetricData", [])
        )
        return {}

    def get_metric_statistics(self, context: CallContext, params: Params) -> Result:
        return self._metrics.statistics(context.account_id, context.region, params)

    def get_metric_data(self, context: CallContext, params: Params) -> Result:
        return self._metrics.metric_data(context.account_id, context.region, params)

    def list_metrics(self, context: CallContext, params: Params) -> Result:
        return self._metrics.list_metrics(context.account_id, context.region, params)

    def describe_alarms(self, context: CallContext, params: Params) -> Result:
        return self._metrics.alarms(context.account_id, context.region, params)

    def put_metric_alarm(self, context: CallContext, params: Params) -> Result:
        self._metrics.put_alarm(context.account_id, context.region, params)
        return {}

    def delete_alarms(self, context: CallContext, params: Params) -> Result:
        self._metrics.delete_alarms(context.account_id, context.region, params["AlarmNames"])
        return {}

    def set_alarm_state(self, context: CallContext, params: Params) -> Result:
        self._metrics.set_alarm_state(context.account_id, context.region, params)
        return {}

    def describe_alarms_for_metric(self, context: CallContext, params: Params) -> Result:
        return self._metrics.alarms_for_metric(context.account_id, context.region, params)
