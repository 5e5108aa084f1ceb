"""A front door's target as documents for an agent (`records.target_document`): read back to the
same values, variables never in the clear, and sealed variables left for the agent's own read."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gureum.lambda_.store import records
from gureum.lambda_.store.ports import NeedsWorker
from tests.support.model import SETTINGS, a_function

SEALED = {"key": "arn:aws:kms:us-east-1:123456789012:key/k", "blob": "c2VhbGVk"}


def test_latest_reads_back_as_it_was() -> None:
    function = a_function()
    document = records.target_document(function, function.latest)
    assert document is not None
    read_function, read_version = records.target_from(json.loads(json.dumps(document)))
    assert read_version == function.latest
    assert read_function.latest == function.latest
    assert (read_function.id, read_function.arn) == (function.id, function.arn)
    assert read_function.recursive_loop == function.recursive_loop


def test_a_published_version_reads_back_beside_latest() -> None:
    function = a_function()
    published = replace(function.latest, version="3", revision_id="rev-3")
    document = records.target_document(function, published)
    assert document is not None
    read_function, read_version = records.target_from(json.loads(json.dumps(document)))
    assert read_version == published
    assert read_function.latest == function.latest


def test_variables_travel_sealed_and_are_left_to_the_agents_own_read() -> None:
    settings = replace(SETTINGS, environment={"SECRET": "hunter2"}, environment_sealed=SEALED)
    function = a_function(settings=settings)
    document = records.target_document(function, function.latest)
    assert document is not None
    assert "hunter2" not in json.dumps(document)
    assert document["latest"]["settings"]["environment_sealed"] == SEALED
    with pytest.raises(NeedsWorker):  # opening them asks KMS
        records.target_from(document)


def test_variables_with_no_sealed_form_are_not_sent() -> None:
    settings = replace(SETTINGS, environment={"SECRET": "hunter2"})
    function = a_function(settings=settings)
    assert records.target_document(function, function.latest) is None
