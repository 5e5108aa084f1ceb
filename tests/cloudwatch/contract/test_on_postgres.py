"""CloudWatch on PostgreSQL (`gureum serve --store postgresql://...`): a metric put is read back,
and its point is a row of the database, not of a file in the data directory (issue #24)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from tests.support.server import GureumProcess


def test_a_metric_put_is_read_back_from_postgresql(postgres_server: GureumProcess) -> None:
    client = postgres_server.client("cloudwatch")
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    client.put_metric_data(
        Namespace="OnPostgres",
        MetricData=[
            {"MetricName": "Orders", "Value": value, "Unit": "Count", "Timestamp": minute}
            for value in (2.0, 3.0)
        ],
    )
    answer = client.get_metric_statistics(
        Namespace="OnPostgres",
        MetricName="Orders",
        StartTime=minute - timedelta(minutes=1),
        EndTime=minute + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )
    assert [(p["Sum"], p["SampleCount"], p["Maximum"]) for p in answer["Datapoints"]] == [
        (5.0, 2.0, 3.0)
    ]
    url = postgres_server.extra[postgres_server.extra.index("--store") + 1]
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT s.name, p.start, p.sum FROM points p JOIN series s ON s.id = p.series "
            "WHERE s.namespace = 'OnPostgres'"
        ).fetchall()
    assert rows == [("Orders", minute.timestamp(), 5.0)]
    assert not (postgres_server.data_dir / "metrics.sqlite3").exists()
