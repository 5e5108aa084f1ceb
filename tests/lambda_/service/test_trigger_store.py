"""The store of event source mappings and function URL configs: what is written reads back
the same, across a reopen of the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gureum.lambda_.domain.event_sources import EventSourceMapping, MappingSettings, MappingState
from gureum.lambda_.domain.function_urls import Cors, FunctionUrlConfig
from gureum.lambda_.store.event_sources import TriggerStore

MAPPING = EventSourceMapping(
    "u-1",
    "000000000000",
    "us-east-1",
    "f",
    "live",
    "arn:aws:lambda:us-east-1:000000000000:function:f:live",
    "arn:aws:sqs:us-east-1:000000000000:q",
    MappingSettings(
        batch_size=100,
        window=3,
        enabled=False,
        filters=('{"body": {"a": [1]}}',),
        report_failures=True,
        max_concurrency=7,
    ),
    MappingState.CREATING,
    "USER_INITIATED",
    1.5,
    "OK",
    {"team": "x"},
)
URL = FunctionUrlConfig(
    "abc",
    "000000000000",
    "us-east-1",
    "f",
    "$LATEST",
    "arn:aws:lambda:us-east-1:000000000000:function:f",
    "fid",
    "AWS_IAM",
    Cors(True, ("x-a",), ("GET",), ("*",), ("x-b",), 10),
    "BUFFERED",
    "c",
    "m",
)


def test_records_read_back_across_a_reopen(tmp_path: Path) -> None:
    store = TriggerStore(tmp_path / "t.sqlite3")
    second = replace(MAPPING, uuid="u-2", function_name="g", source_arn="arn:other")
    with store.transaction() as tx:
        tx.add_mapping(MAPPING)
        tx.add_mapping(second)
        tx.put_url_config(URL)
        tx.put_url_config(replace(URL, url_id="def", cors=None, qualifier="live"))
    store.close()
    store = TriggerStore(tmp_path / "t.sqlite3")
    with store.transaction() as tx:
        assert tx.mapping("u-1") == MAPPING
        assert tx.mappings() == [MAPPING, second]
        assert tx.mappings(function_name="g") == [second]
        assert tx.mappings(source_arn=MAPPING.source_arn) == [MAPPING]
        assert tx.url_by_id("abc") == URL
        assert [c.url_id for c in tx.url_configs("000000000000", "us-east-1", "f")] == [
            "abc",
            "def",
        ]
        tx.save_mapping(replace(second, function_name="h"))
        assert tx.mappings(function_name="h") == [replace(second, function_name="h")]
        tx.delete_mapping("u-1")
        tx.delete_url_config(URL)
        assert tx.mapping("u-1") is None
        assert tx.url_by_id("abc") is None
    store.close()
