"""The store of event source mappings, function URL configs and function policies: what is
written reads back the same, across a reopen. Every test runs on SQLite and on PostgreSQL (the
`stores` fixture): the store's contract suite (issue #24)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from gureum.aws.sql import Backend
from gureum.lambda_.domain.event_sources import EventSourceMapping, MappingSettings, MappingState
from gureum.lambda_.domain.function_urls import Cors, FunctionUrlConfig
from gureum.lambda_.domain.permissions import FunctionPolicy
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


def test_records_read_back_across_a_reopen(stores: Callable[[], Backend]) -> None:
    store = TriggerStore(stores())
    second = replace(MAPPING, uuid="u-2", function_name="g", source_arn="arn:other")
    with store.transaction() as tx:
        tx.add_mapping(MAPPING)
        tx.add_mapping(second)
        tx.put_url_config(URL)
        tx.put_url_config(replace(URL, url_id="def", cors=None, qualifier="live"))
    store.close()
    store = TriggerStore(stores())
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


def test_mappings_list_in_creation_order_whatever_their_ids(
    stores: Callable[[], Backend],
) -> None:
    store = TriggerStore(stores())
    made = [replace(MAPPING, uuid=uuid) for uuid in ("u-b", "U-a", "u-a")]
    with store.transaction() as tx:
        for mapping in made:
            tx.add_mapping(mapping)
    with store.transaction() as tx:
        tx.delete_mapping("U-a")
        tx.add_mapping(replace(MAPPING, uuid="U-a"))
    with store.transaction() as tx:
        assert [m.uuid for m in tx.mappings()] == ["u-b", "u-a", "U-a"]
        assert tx.mappings(account="111111111111") == []
        assert len(tx.mappings("000000000000", "us-east-1", "f", MAPPING.source_arn)) == 3
    store.close()


def test_a_url_config_replaces_its_qualifiers_and_its_url_ids(
    stores: Callable[[], Backend],
) -> None:
    store = TriggerStore(stores())
    with store.transaction() as tx:
        tx.put_url_config(URL)
        tx.put_url_config(replace(URL, auth_type="NONE", cors=None))
        # Another qualifier's config under the same URL id takes the id over.
        tx.put_url_config(replace(URL, qualifier="live"))
    with store.transaction() as tx:
        assert tx.url_config("000000000000", "us-east-1", "f", "$LATEST") is None
        assert tx.url_by_id("abc") == replace(URL, qualifier="live")
        assert tx.url_configs("000000000000", "us-east-1", "f") == [replace(URL, qualifier="live")]
    store.close()


def test_a_policy_is_replaced_and_one_without_statements_is_gone(
    stores: Callable[[], Backend],
) -> None:
    store = TriggerStore(stores())
    policy = FunctionPolicy(
        "000000000000", "us-east-1", "f", "", "fid", "r1", ('{"Sid": "a"}', '{"Sid": "b"}')
    )
    on_alias = replace(policy, qualifier="live", statements=('{"Sid": "c"}',))
    with store.transaction() as tx:
        tx.put_function_policy(policy)
        tx.put_function_policy(on_alias)
        tx.put_function_policy(replace(policy, revision_id="r2", statements=('{"Sid": "b"}',)))
    store.close()
    store = TriggerStore(stores())
    with store.transaction() as tx:
        found = tx.function_policy("000000000000", "us-east-1", "f", "")
        assert found == replace(policy, revision_id="r2", statements=('{"Sid": "b"}',))
        assert tx.function_policy("000000000000", "us-east-1", "f", "live") == on_alias
        tx.put_function_policy(replace(on_alias, statements=()))
        assert tx.function_policy("000000000000", "us-east-1", "f", "live") is None
        assert tx.function_policy("000000000000", "us-east-1", "g", "") is None
    store.close()


def test_a_write_moves_the_generation_and_a_read_does_not(
    stores: Callable[[], Backend],
) -> None:
    store = TriggerStore(stores())
    before = store.generation
    with store.transaction() as tx:
        tx.mapping("u-1")
    assert store.generation == before
    with store.transaction() as tx:
        tx.add_mapping(MAPPING)
    assert store.generation > before
    store.close()
