"""The utilization and alarm ports over CloudWatch's metric service (its public interface)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gureum.autoscaling.domain.policies import METRIC_NAME, METRIC_NAMESPACE, PERIOD
from gureum.cloudwatch.services.metrics import MetricService


class CloudWatchUtilization:
    def __init__(self, metrics: MetricService) -> None:
        self._metrics = metrics

    def period(self) -> float:
        return self._metrics.grid.seconds(PERIOD)

    def averages(
        self, account: str, region: str, function: str, qualifier: str, start: float, count: int
    ) -> list[float | None]:
        width = self.period()
        params = {
            "Namespace": METRIC_NAMESPACE,
            "MetricName": METRIC_NAME,
            "Dimensions": [
                {"Name": "FunctionName", "Value": function},
                {"Name": "Resource", "Value": f"{function}:{qualifier}"},
            ],
            "StartTime": datetime.fromtimestamp(start, UTC),
            "EndTime": datetime.fromtimestamp(start + count * width, UTC),
            "Period": PERIOD,
            "Statistics": ["Average"],
        }
        answer = self._metrics.statistics(account, region, params)
        averages: list[float | None] = [None] * count
        for point in answer["Datapoints"]:
            at = point["Timestamp"]
            seconds = at.timestamp() if isinstance(at, datetime) else float(at)
            index = round((seconds - start) / width)
            if 0 <= index < count:
                averages[index] = point["Average"]
        return averages


class CloudWatchAlarms:
    def __init__(self, metrics: MetricService) -> None:
        self._metrics = metrics

    def put(self, account: str, region: str, definition: Mapping[str, Any]) -> None:
        self._metrics.put_alarm(account, region, definition)

    def delete(self, account: str, region: str, names: Sequence[str]) -> None:
        self._metrics.delete_alarms(account, region, names)

    def set_state(self, account: str, region: str, name: str, state: str, reason: str) -> None:
        self._metrics.set_alarm_state(
            account, region, {"AlarmName": name, "StateValue": state, "StateReason": reason}
        )
