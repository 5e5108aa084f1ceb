"""CloudWatch metrics against a real server, in each of the three protocols botocore's model
lists: rpc-v2-cbor, json and query, each spoken by a real boto3 client and by the AWS CLI.

botocore 1.44.8 picks json for CloudWatch (its order prefers json to rpc-v2-cbor), so the cbor
and query clients run over a copy of botocore's own model that lists only that protocol (for
the CLI, through `AWS_DATA_PATH`): the serializer, the parser and the error handling are
botocore's, unchanged.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import fromstring

import boto3
import botocore.session
import pytest
from botocore.config import Config

from tests.support.aws import aws_error
from tests.support.cli import run_aws
from tests.support.server import GureumProcess
from tests.support.signing import send

NO_SANDBOX = ("--isolation", "none")
PROTOCOLS = ["smithy-rpc-v2-cbor", "json", "query"]
_numbers = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-cw") / "data", *NO_SANDBOX).start()
    yield process
    process.stop()


def model_speaking(protocol: str, models: Path) -> Path:
    """A data directory for botocore (`AWS_DATA_PATH`) whose CloudWatch speaks only `protocol`."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    version = models / protocol / "cloudwatch" / model["metadata"]["apiVersion"]
    version.mkdir(parents=True, exist_ok=True)
    (version / "service-2.json").write_text(json.dumps(model))
    return models / protocol


def speaking(server: GureumProcess, protocol: str, models: Path) -> Any:
    """A boto3 CloudWatch client that speaks only `protocol`."""
    session = botocore.session.get_session()
    data_path = model_speaking(protocol, models)
    session.get_component("data_loader").search_paths.insert(0, str(data_path))
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert client.meta.service_model.resolved_protocol == protocol
    return client


@pytest.fixture(scope="module", params=PROTOCOLS)
def cloudwatch(
    request: pytest.FixtureRequest, server: GureumProcess, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    return speaking(server, request.param, tmp_path_factory.mktemp("models"))


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return f"Test/{request.node.name[:60].replace('[', '-').replace(']', '')}-{next(_numbers)}"


def minute_ago(minutes: int) -> datetime:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes)


ROUTE = [{"Name": "Route", "Value": "/cart"}]


def test_put_then_statistics_and_percentiles(cloudwatch: Any, namespace: str) -> None:
    at = minute_ago(5)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": ROUTE,
                "Timestamp": at,
                "Values": [1.0, 2.0, 3.0, 100.0],
                "Counts": [1.0, 1.0, 1.0, 1.0],
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Dimensions": ROUTE,
                "Timestamp": at + timedelta(minutes=1),
                "StatisticValues": {"SampleCount": 2, "Sum": 10, "Minimum": 4, "Maximum": 6},
                "Unit": "Milliseconds",
            },
        ],
    )
    answer = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=ROUTE,
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
        Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
        ExtendedStatistics=["p50", "p99"],
    )
    assert answer["Label"] == "Latency"
    first, second = sorted(answer["Datapoints"], key=lambda point: point["Timestamp"])
    assert first["Timestamp"] == at
    assert first["Unit"] == "Milliseconds"
    assert (first["SampleCount"], first["Sum"], first["Average"]) == (4.0, 106.0, 26.5)
    assert (first["Minimum"], first["Maximum"]) == (1.0, 100.0)
    assert first["ExtendedStatistics"] == {"p50": 2.0, "p99": 100.0}
    assert (second["SampleCount"], second["Sum"], second["Maximum"]) == (2.0, 10.0, 6.0)
    # A period of two minutes merges both points.
    merged = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=ROUTE,
        StartTime=at,
        EndTime=at + timedelta(minutes=2),
        Period=120,
        Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert [(p["SampleCount"], p["Maximum"]) for p in merged] == [(6.0, 100.0)]


def test_unit_filters_the_datapoints(cloudwatch: Any, namespace: str) -> None:
    at = minute_ago(3)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Size", "Timestamp": at, "Value": 1.0, "Unit": "Bytes"},
            {"MetricName": "Size", "Timestamp": at, "Value": 5.0, "Unit": "Kilobytes"},
        ],
    )
    window = {"StartTime": at, "EndTime": at + timedelta(minutes=1), "Period": 60}
    both = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Size", Statistics=["Sum"], **window
    )["Datapoints"]
    assert sorted((p["Unit"], p["Sum"]) for p in both) == [("Bytes", 1.0), ("Kilobytes", 5.0)]
    kilobytes = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="Size", Statistics=["Sum"], Unit="Kilobytes", **window
    )["Datapoints"]
    assert [(p["Unit"], p["Sum"]) for p in kilobytes] == [("Kilobytes", 5.0)]


def test_get_metric_statistics_refusals(cloudwatch: Any, namespace: str) -> None:
    at = minute_ago(10)
    base = {"Namespace": namespace, "MetricName": "M", "Statistics": ["Sum"]}
    with aws_error("InvalidParameterValue", 400, "The parameter Period must be a multiple of 60."):
        cloudwatch.get_metric_statistics(
            StartTime=at, EndTime=at + timedelta(minutes=5), Period=61, **base
        )
    with aws_error(
        "InvalidParameterValue",
        400,
        "The parameter StartTime must be less than the parameter EndTime.",
    ):
        cloudwatch.get_metric_statistics(StartTime=at, EndTime=at, Period=60, **base)
    with aws_error(
        "InvalidParameterCombination",
        400,
        "You have requested up to 2,880 datapoints, which exceeds the limit of 1,440. You may "
        "reduce the datapoints requested by increasing Period, or decreasing the time range.",
    ):
        cloudwatch.get_metric_statistics(
            StartTime=at - timedelta(days=2), EndTime=at, Period=60, **base
        )


def test_put_refusals(cloudwatch: Any) -> None:
    with aws_error(
        "InvalidParameterValue", 400, "The value AWS/ for parameter Namespace is invalid."
    ):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda", MetricData=[{"MetricName": "Invocations", "Value": 1.0}]
        )
    with aws_error(
        "InvalidParameterCombination",
        400,
        "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually "
        "exclusive and you have specified both.",
    ):
        cloudwatch.put_metric_data(
            Namespace="Shop", MetricData=[{"MetricName": "M", "Value": 1.0, "Values": [2.0]}]
        )


def test_get_metric_data_pages_and_scans(cloudwatch: Any, namespace: str) -> None:
    at = minute_ago(6)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Orders", "Timestamp": at + timedelta(minutes=i), "Value": float(i)}
            for i in range(4)
        ],
    )
    metric = {"Namespace": namespace, "MetricName": "Orders"}
    queries = [
        {"Id": "sum", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}},
        {
            "Id": "max",
            "Label": "most",
            "MetricStat": {"Metric": metric, "Period": 120, "Stat": "Maximum"},
        },
    ]
    window = {"StartTime": at, "EndTime": at + timedelta(minutes=4)}
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, **window)
    by_id = {result["Id"]: result for result in answer["MetricDataResults"]}
    assert by_id["sum"]["Values"] == [3.0, 2.0, 1.0, 0.0]  # newest first by default
    assert by_id["sum"]["Timestamps"][0] == at + timedelta(minutes=3)
    assert (by_id["max"]["Label"], by_id["max"]["Values"]) == ("most", [3.0, 1.0])
    assert {r["StatusCode"] for r in answer["MetricDataResults"]} == {"Complete"}
    assert "NextToken" not in answer

    first = cloudwatch.get_metric_data(
        MetricDataQueries=queries[:1], ScanBy="TimestampAscending", MaxDatapoints=3, **window
    )
    (result,) = first["MetricDataResults"]
    assert (result["Values"], result["StatusCode"]) == ([0.0, 1.0, 2.0], "PartialData")
    rest = cloudwatch.get_metric_data(
        MetricDataQueries=queries[:1],
        ScanBy="TimestampAscending",
        MaxDatapoints=3,
        NextToken=first["NextToken"],
        **window,
    )
    assert rest["MetricDataResults"][0]["Values"] == [3.0]
    assert "NextToken" not in rest


def test_expressions_are_refused_clearly(cloudwatch: Any) -> None:
    at = minute_ago(6)
    with aws_error(
        "ValidationError",
        400,
        "Error in expression 'e1': gureum runs MetricStat queries only; metric math and Metrics "
        "Insights expressions are not supported.",
    ):
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "e1", "Expression": "SUM(METRICS())"}],
            StartTime=at,
            EndTime=at + timedelta(minutes=5),
        )


def test_list_metrics_filters(cloudwatch: Any, namespace: str) -> None:
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "A", "Value": 1.0, "Dimensions": ROUTE},
            {"MetricName": "A", "Value": 1.0, "Dimensions": [{"Name": "Route", "Value": "/pay"}]},
            {"MetricName": "B", "Value": 1.0},
        ],
    )
    everything = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert len(everything) == 3
    named = cloudwatch.list_metrics(Namespace=namespace, MetricName="A")["Metrics"]
    assert {m["Dimensions"][0]["Value"] for m in named} == {"/cart", "/pay"}
    cart = cloudwatch.list_metrics(Namespace=namespace, Dimensions=ROUTE)["Metrics"]
    assert cart == [{"Namespace": namespace, "MetricName": "A", "Dimensions": ROUTE}]
    with_route = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Route"}])
    assert len(with_route["Metrics"]) == 2
    recent = cloudwatch.list_metrics(Namespace=namespace, RecentlyActive="PT3H")["Metrics"]
    assert len(recent) == 3


def test_list_metrics_in_pages_of_500(server: GureumProcess, namespace: str) -> None:
    cloudwatch = server.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": f"M{i:04d}", "Value": 1.0} for i in range(501)],
    )
    first = cloudwatch.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500
    second = cloudwatch.list_metrics(Namespace=namespace, NextToken=first["NextToken"])
    assert [m["MetricName"] for m in second["Metrics"]] == ["M0500"]
    assert "NextToken" not in second
    paginated = cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace)
    assert sum(len(page["Metrics"]) for page in paginated) == 501


def test_alarms_put_described_replaced_and_deleted(cloudwatch: Any, namespace: str) -> None:
    prefix = namespace.replace("/", "-")
    assert cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
    alarm = {
        "AlarmName": f"{prefix}-high",
        "Namespace": namespace,
        "MetricName": "Latency",
        "Dimensions": ROUTE,
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "Threshold": 0.7,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cloudwatch.put_metric_alarm(**alarm)
    (described,) = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    assert described["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{prefix}-high"
    assert (described["StateValue"], described["StateReason"]) == (
        "INSUFFICIENT_DATA",
        "Unchecked: Initial alarm creation",
    )
    assert (described["Threshold"], described["Dimensions"]) == (0.7, ROUTE)
    assert described["ActionsEnabled"] is True
    assert isinstance(described["StateUpdatedTimestamp"], datetime)
    cloudwatch.put_metric_alarm(**{**alarm, "Threshold": 0.9})
    (replaced,) = cloudwatch.describe_alarms(AlarmNames=[f"{prefix}-high"])["MetricAlarms"]
    assert replaced["Threshold"] == 0.9
    assert replaced["StateUpdatedTimestamp"] == described["StateUpdatedTimestamp"]
    by_state = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, StateValue="ALARM")
    assert by_state["MetricAlarms"] == []
    cloudwatch.set_alarm_state(
        AlarmName=f"{prefix}-high",
        StateValue="ALARM",
        StateReason="Threshold Crossed",
        StateReasonData='{"version": "1.0"}',
    )
    (alarming,) = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, StateValue="ALARM")[
        "MetricAlarms"
    ]
    assert (alarming["StateReason"], alarming["StateReasonData"]) == (
        "Threshold Crossed",
        '{"version": "1.0"}',
    )
    (for_metric,) = cloudwatch.describe_alarms_for_metric(
        Namespace=namespace, MetricName="Latency", Dimensions=ROUTE
    )["MetricAlarms"]
    assert for_metric["AlarmName"] == f"{prefix}-high"
    other = cloudwatch.describe_alarms_for_metric(
        Namespace=namespace, MetricName="Latency", Statistic="Maximum"
    )
    assert other["MetricAlarms"] == []
    with aws_error("ResourceNotFound", 404, f"Alarm {prefix}-never not found"):
        cloudwatch.set_alarm_state(
            AlarmName=f"{prefix}-never", StateValue="OK", StateReason="testing"
        )
    with aws_error(
        "InvalidParameterValue", 400, "The parameter Period must be 10, 20, 30 or a multiple of 60."
    ):
        cloudwatch.put_metric_alarm(**{**alarm, "AlarmName": f"{prefix}-bad", "Period": 45})
    cloudwatch.delete_alarms(AlarmNames=[f"{prefix}-high", f"{prefix}-never"])
    assert cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []


def test_points_survive_a_restart(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", *NO_SANDBOX).start()
    at = minute_ago(2)
    try:
        process.client("cloudwatch").put_metric_data(
            Namespace="Durable", MetricData=[{"MetricName": "M", "Value": 4.0, "Timestamp": at}]
        )
    finally:
        process.stop()
    process.start()
    try:
        answer = process.client("cloudwatch").get_metric_statistics(
            Namespace="Durable",
            MetricName="M",
            StartTime=at,
            EndTime=at + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
    finally:
        process.stop()
    assert [p["Sum"] for p in answer["Datapoints"]] == [4.0]


# --- raw requests: each form as an SDK of each generation sends it -----------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
XMLNS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


def test_a_raw_query_request_is_answered_in_query_xml(server: GureumProcess) -> None:
    # CloudWatch's older SDKs still send query; they read the request id from the body.
    body = b"Action=ListMetrics&Version=2010-08-01&Namespace=Nothing"
    reply = send(server.url, "POST", "/", body, headers=FORM, service="monitoring")
    assert reply.status == 200
    root = fromstring(reply.body)
    assert root.tag == f"{XMLNS}ListMetricsResponse"
    assert root.find(f"{XMLNS}ListMetricsResult") is not None
    request_id = root.findtext(f"{XMLNS}ResponseMetadata/{XMLNS}RequestId")
    assert request_id == reply.headers["x-amzn-requestid"]
    refused = send(
        server.url,
        "POST",
        "/",
        b"Action=PutMetricData&Version=2010-08-01&Namespace=AWS%2FX"
        b"&MetricData.member.1.MetricName=M&MetricData.member.1.Value=1",
        headers=FORM,
        service="monitoring",
    )
    assert refused.status == 400
    error = fromstring(refused.body)
    assert error.findtext(f"{XMLNS}Error/{XMLNS}Code") == "InvalidParameterValue"
    assert error.findtext(f"{XMLNS}Error/{XMLNS}Message") == (
        "The value AWS/ for parameter Namespace is invalid."
    )


def test_a_raw_json_request_is_answered_in_json(server: GureumProcess) -> None:
    headers = {
        "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics",
        "Content-Type": "application/x-amz-json-1.0",
    }
    reply = send(
        server.url, "POST", "/", b'{"Namespace": "Nothing"}', headers=headers, service="monitoring"
    )
    assert reply.status == 200
    assert reply.json() == {"Metrics": []}


# --- the AWS CLI ---------------------------------------------------------------------------------


def aws_cli(
    server: GureumProcess, home: Path, data_path: Path | None, *args: str
) -> subprocess.CompletedProcess[str]:
    """`aws --endpoint-url <gureum> cloudwatch ...`, isolated from the host's configuration;
    with `data_path`, over the models found there first (AWS_DATA_PATH)."""
    extra = {"AWS_DATA_PATH": str(data_path)} if data_path is not None else {}
    return run_aws(server, home, "cloudwatch", *args, extra_env=extra)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_aws_cli_puts_and_reads_statistics(
    server: GureumProcess, tmp_path: Path, namespace: str, protocol: str
) -> None:
    data_path = model_speaking(protocol, tmp_path / "models")
    at = minute_ago(4)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    put = aws_cli(
        server,
        tmp_path,
        data_path,
        "put-metric-data",
        "--namespace",
        namespace,
        "--metric-name",
        "Orders",
        "--value",
        "3",
        "--timestamp",
        stamp,
        "--unit",
        "Count",
    )
    assert put.returncode == 0, put.stderr
    end = (at + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = aws_cli(
        server,
        tmp_path,
        data_path,
        "get-metric-statistics",
        "--namespace",
        namespace,
        "--metric-name",
        "Orders",
        "--start-time",
        stamp,
        "--end-time",
        end,
        "--period",
        "60",
        "--statistics",
        "Sum",
        "Maximum",
    )
    assert got.returncode == 0, got.stderr
    answer = json.loads(got.stdout)
    assert answer["Label"] == "Orders"
    assert [(p["Sum"], p["Maximum"], p["Unit"]) for p in answer["Datapoints"]] == [
        (3.0, 3.0, "Count")
    ]
    refused = aws_cli(
        server,
        tmp_path,
        data_path,
        "get-metric-statistics",
        "--namespace",
        namespace,
        "--metric-name",
        "Orders",
        "--start-time",
        stamp,
        "--end-time",
        end,
        "--period",
        "90",
        "--statistics",
        "Sum",
    )
    assert refused.returncode == 255  # awscli v1: a service error
    assert "(InvalidParameterValue)" in refused.stderr
    assert "The parameter Period must be a multiple of 60." in refused.stderr
