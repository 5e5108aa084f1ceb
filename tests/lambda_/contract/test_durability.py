"""Durability: every acknowledged change survives `kill -9`, and nothing is half-applied.

Workers drive a private server with creates, publishes and aliases, recording each change only
once the server has acknowledged it. The server is SIGKILLed while they run, restarted on the same
data directory, and everything acknowledged must be there, consistent and downloadable.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

FAST = {"Delay": 0.05, "MaxAttempts": 200}
WORKERS = 3
ACKS_BEFORE_KILL = 24


def package(name: str, step: int) -> bytes:
    return zip_of({"index.py": f"def handler(event, context):\n    return {name!r}, {step}\n"})


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class Ledger:
    """What the server acknowledged, and every package that was ever sent."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: int = 0
    # function -> version -> package bytes
    versions: dict[str, dict[str, bytes]] = field(default_factory=dict)
    # function -> alias -> version
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    # sha256 (base64) -> package, for everything sent, acknowledged or not
    sent: dict[str, bytes] = field(default_factory=dict)
    reached: threading.Event = field(default_factory=threading.Event)

    def send(self, data: bytes) -> bytes:
        with self.lock:
            self.sent[sha256_b64(data)] = data
        return data

    def ack(self) -> None:
        with self.lock:
            self.acks += 1
            if self.acks >= ACKS_BEFORE_KILL:
                self.reached.set()


def workload(client: Any, prefix: str, ledger: Ledger, stop: threading.Event) -> None:
    """Creates functions, publishes versions and moves aliases until the server goes away."""
    try:
        for index in range(1000):
            if stop.is_set():
                return
            name = f"{prefix}-{index}"
            first = ledger.send(package(name, 1))
            created = client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=ROLE,
                Handler="index.handler",
                Code={"ZipFile": first},
                Publish=True,
            )
            assert created["Version"] == "1"
            with ledger.lock:
                ledger.versions[name] = {"1": first}
            ledger.ack()

            client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
            with ledger.lock:
                ledger.aliases[name] = {"live": "1"}
            ledger.ack()

            client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
            second = ledger.send(package(name, 2))
            published = client.update_function_code(FunctionName=name, ZipFile=second, Publish=True)
            with ledger.lock:
                ledger.versions[name][published["Version"]] = second
            ledger.ack()

            client.update_alias(
                FunctionName=name, Name="live", FunctionVersion=published["Version"]
            )
            with ledger.lock:
                ledger.aliases[name]["live"] = published["Version"]
            ledger.ack()
    except Exception:
        if not stop.is_set():
            raise


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as reply:
        data: bytes = reply.read()
        return data


def check_function(client: Any, name: str, ledger: Ledger) -> None:
    """Everything acknowledged for `name` is there, and what is there is whole."""
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    pages = client.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    listed = {v["Version"]: v for page in pages for v in page["Versions"]}
    for version, data in ledger.versions.get(name, {}).items():
        assert version in listed, (name, version)
        assert listed[version]["CodeSha256"] == sha256_b64(data)
        got = client.get_function(FunctionName=name, Qualifier=version)
        assert got["Configuration"]["FunctionArn"].endswith(f":{name}:{version}")
        assert download(got["Code"]["Location"]) == data

    # Whole or not at all: every function was created with version 1 in the same call, and every
    # code change was published in the same call.
    assert "1" in listed, name
    hashes = {v["CodeSha256"] for q, v in listed.items() if q != "$LATEST"}
    latest = client.get_function(FunctionName=name)
    latest_sha = latest["Configuration"]["CodeSha256"]
    assert latest_sha in hashes
    assert download(latest["Code"]["Location"]) == ledger.sent[latest_sha]
    for version in listed:
        if version != "$LATEST":
            client.get_waiter("published_version_active").wait(
                FunctionName=name, Qualifier=version, WaiterConfig=FAST
            )

    aliases = {a["Name"]: a for a in client.list_aliases(FunctionName=name)["Aliases"]}
    for alias, version in ledger.aliases.get(name, {}).items():
        assert alias in aliases, (name, alias)
        # The acknowledged target, or a later one whose update was cut off by the kill.
        assert int(aliases[alias]["FunctionVersion"]) >= int(version)
    for alias in aliases.values():
        assert alias["FunctionVersion"] in listed, alias


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path / "data").start()
    yield process
    if process.process is not None:
        process.kill()


def test_acknowledged_changes_survive_sigkill(private_server: GureumProcess) -> None:
    ledger = Ledger()
    stop = threading.Event()
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10)
    failures: list[BaseException] = []

    def run(prefix: str) -> None:
        try:
            workload(private_server.client(config=config), prefix, ledger, stop)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=run, args=(f"durable{i}",)) for i in range(WORKERS)]
    for worker in workers:
        worker.start()
    reached = ledger.reached.wait(timeout=30)
    stop.set()
    private_server.kill()
    for worker in workers:
        worker.join(timeout=30)
    assert reached, "the workload never got going"
    assert not failures, failures

    private_server.start()
    client = private_server.client()
    functions = [
        item["FunctionName"]
        for page in client.get_paginator("list_functions").paginate()
        for item in page["Functions"]
    ]
    assert set(ledger.versions) <= set(functions)
    assert len(ledger.versions) >= ACKS_BEFORE_KILL // 4
    for name in functions:
        check_function(client, name, ledger)
    assert not list((private_server.data_dir / "code").rglob("*.part"))


def populate(client: Any, name: str) -> bytes:
    data = package(name, 1)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": data},
        Environment={"Variables": {"KEPT": "yes"}},
        Tags={"team": "durable"},
        Publish=True,
    )
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    return data


def test_restart_after_sigterm_shows_everything(private_server: GureumProcess) -> None:
    client = private_server.client()
    data = populate(client, "graceful")
    private_server.stop()

    private_server.start()
    client = private_server.client()
    got = client.get_function(FunctionName="graceful", Qualifier="live")
    assert got["Configuration"]["Version"] == "1"
    assert got["Configuration"]["Environment"] == {"Variables": {"KEPT": "yes"}}
    assert got["Tags"] == {"team": "durable"}
    assert download(got["Code"]["Location"]) == data
    client.get_waiter("function_active_v2").wait(FunctionName="graceful", WaiterConfig=FAST)
    versions = client.list_versions_by_function(FunctionName="graceful")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]
    # Numbering carries on from where it was.
    client.update_function_configuration(FunctionName="graceful", Timeout=7)
    client.get_waiter("function_updated_v2").wait(FunctionName="graceful", WaiterConfig=FAST)
    assert client.publish_version(FunctionName="graceful")["Version"] == "2"


def test_sigterm_stop_exits_zero(private_server: GureumProcess) -> None:
    populate(private_server.client(), "exit-code")
    assert private_server.stop() == 0


def test_shared_package_survives_concurrent_deletes(private_server: GureumProcess) -> None:
    """Two functions with the same bytes share one blob; deleting one never loses the other's."""
    shared = package("shared", 1)
    config = Config(retries={"total_max_attempts": 1})
    lost: list[str] = []
    failures: list[BaseException] = []

    def churn(prefix: str) -> None:
        client = private_server.client(config=config)
        try:
            for index in range(150):
                name = f"{prefix}-{index}"
                client.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=ROLE,
                    Handler="index.handler",
                    Code={"ZipFile": shared},
                )
                location = client.get_function(FunctionName=name)["Code"]["Location"]
                try:
                    assert download(location) == shared
                except urllib.error.HTTPError as error:
                    error.close()
                    lost.append(name)
                client.delete_function(FunctionName=name)
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=churn, args=(f"shared{i}",)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not failures, failures
    assert not lost
