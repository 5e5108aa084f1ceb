"""`KeyService` on its real store and a manual clock: accounts, deletion, rotation, storage. The
tests of the store's behaviour run on SQLite and on PostgreSQL (the `stores` fixture): the store's
contract suite (issue #24)."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import botocore.session
import pytest

from gureum.aws.kernel import Kernel
from gureum.aws.singletons import LocalSingletons
from gureum.aws.sql import Backend, SqliteBackend
from gureum.clock import ManualClock
from gureum.config import Settings
from gureum.kms import assembly as kms
from gureum.kms.domain.errors import (
    IncorrectKey,
    InvalidCiphertext,
    KeyDisabled,
    KeyInvalidState,
    KeyNotFound,
    KmsAccessDenied,
)
from gureum.kms.domain.keys import KeyManager, KeyState
from gureum.kms.services.keys import KeyService
from gureum.kms.store.keys import SPEC
from gureum.kms.store.root_key import ROOT_KEY_ENV, RootKeyError, load_root_key

ALICE = "111111111111"
BOB = "222222222222"
REGION = "us-east-1"
DAY = 86400.0
SCALE = 0.001  # a day of the platform's own periods lasts 86.4 s of the clock


class RecordedRandom:
    """Deterministic bytes that remember what they handed out (key material among them)."""

    def __init__(self) -> None:
        self.issued: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        seed = hashlib.sha256(f"random-{len(self.issued)}".encode()).digest()
        chunk = (seed * (size // 32 + 1))[:size]
        self.issued.append(chunk)
        return chunk


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def random() -> RecordedRandom:
    return RecordedRandom()


@pytest.fixture
def service(
    stores: Callable[[], Backend], tmp_path: Path, clock: ManualClock, random: RecordedRandom
) -> Iterator[KeyService]:
    keys = KeyService(
        stores(),
        tmp_path / "root.key",
        clock,
        SCALE,
        environ={},
        random_bytes=random,
    )
    yield keys
    keys.close()


def test_round_trip_and_the_key_named_by_the_ciphertext(service: KeyService) -> None:
    key = service.create_key(ALICE, REGION, "mine")
    ciphertext = service.encrypt(ALICE, REGION, key.arn, b"secret", {"fn": "f"})
    opened = service.unseal(ALICE, REGION, ciphertext, {"fn": "f"})
    assert (opened.plaintext, opened.key.key_id) == (b"secret", key.key_id)


def test_another_accounts_ciphertext_is_refused(service: KeyService) -> None:
    alice = service.create_key(ALICE, REGION)
    service.create_key(BOB, REGION)
    ciphertext = service.encrypt(ALICE, REGION, alice.key_id, b"alice's secret")
    with pytest.raises(InvalidCiphertext):
        service.decrypt(BOB, REGION, ciphertext)
    with pytest.raises(InvalidCiphertext):
        service.decrypt(ALICE, "eu-west-1", ciphertext)
    # Relabelled as Bob's, it still does not open: the header is authenticated.
    forged = ciphertext.replace(ALICE.encode(), BOB.encode())
    with pytest.raises((InvalidCiphertext, KeyNotFound)):
        service.decrypt(BOB, REGION, forged)
    with pytest.raises(KeyNotFound, match="does not exist"):
        service.encrypt(BOB, REGION, alice.key_id, b"x")


def test_a_ciphertext_does_not_open_under_another_key(service: KeyService) -> None:
    first = service.create_key(ALICE, REGION)
    second = service.create_key(ALICE, REGION)
    ciphertext = service.encrypt(ALICE, REGION, first.key_id, b"secret")
    with pytest.raises(IncorrectKey):
        service.unseal(ALICE, REGION, ciphertext, key_ref=second.key_id)
    forged = ciphertext.replace(first.key_id.encode(), second.key_id.encode())
    with pytest.raises(InvalidCiphertext):
        service.decrypt(ALICE, REGION, forged)


def test_disabled_and_pending_keys_refuse_both_ways(service: KeyService) -> None:
    key = service.create_key(ALICE, REGION)
    ciphertext = service.encrypt(ALICE, REGION, key.key_id, b"secret")
    service.disable_key(ALICE, REGION, key.key_id)
    with pytest.raises(KeyDisabled) as on_encrypt:
        service.encrypt(ALICE, REGION, key.key_id, b"x")
    with pytest.raises(KeyDisabled) as on_decrypt:
        service.decrypt(ALICE, REGION, ciphertext)
    assert on_encrypt.value.message == on_decrypt.value.message == f"{key.arn} is disabled."
    service.schedule_key_deletion(ALICE, REGION, key.key_id, 7)
    with pytest.raises(KeyInvalidState) as pending:
        service.decrypt(ALICE, REGION, ciphertext)
    assert pending.value.message == f"{key.arn} is pending deletion."
    assert service.cancel_key_deletion(ALICE, REGION, key.key_id).state is KeyState.DISABLED
    service.enable_key(ALICE, REGION, key.key_id)
    assert service.decrypt(ALICE, REGION, ciphertext) == b"secret"


def test_deletion_happens_when_the_scaled_window_has_passed(
    service: KeyService, clock: ManualClock
) -> None:
    key = service.create_key(ALICE, REGION)
    service.aliases.create(ALICE, REGION, "alias/doomed", key.key_id)
    ciphertext = service.encrypt(ALICE, REGION, "alias/doomed", b"secret")
    pending = service.schedule_key_deletion(ALICE, REGION, key.key_id, 7)
    assert pending.deletion_date == clock.now() + timedelta(days=7) * SCALE
    clock.advance(7 * DAY * SCALE - 1)
    assert service.describe_key(ALICE, REGION, key.key_id).state is KeyState.PENDING_DELETION
    clock.advance(1)
    with pytest.raises(KeyNotFound) as gone:
        service.decrypt(ALICE, REGION, ciphertext)
    assert gone.value.message == f"Key '{key.arn}' does not exist"
    assert service.list_keys(ALICE, REGION) == []
    assert service.aliases.list(ALICE, REGION) == []


def test_purge_deletes_due_keys_of_every_account(service: KeyService, clock: ManualClock) -> None:
    for account in (ALICE, BOB):
        key = service.create_key(account, REGION)
        service.schedule_key_deletion(account, REGION, key.key_id, 7)
    clock.advance(7 * DAY * SCALE)
    assert service.purge_deleted() == 2


def test_rotation_keeps_old_material_for_old_ciphertexts(
    service: KeyService, clock: ManualClock
) -> None:
    key = service.create_key(ALICE, REGION)
    before = service.encrypt(ALICE, REGION, key.key_id, b"before")
    service.enable_key_rotation(ALICE, REGION, key.key_id, 90)
    clock.advance(90 * DAY * SCALE)
    after = service.seal(ALICE, REGION, key.key_id, b"after")
    assert after.key.material_version == 2
    assert after.key.next_rotation == clock.now() + timedelta(days=90) * SCALE
    on_demand = service.rotate_key_on_demand(ALICE, REGION, key.key_id)
    assert on_demand.material_version == 3
    assert service.decrypt(ALICE, REGION, before) == b"before"
    assert service.decrypt(ALICE, REGION, after.ciphertext) == b"after"


def test_the_aws_managed_key_is_made_once_and_kept_from_customers(service: KeyService) -> None:
    arn = service.managed_key_arn(ALICE, REGION, "alias/aws/lambda")
    assert service.managed_key_arn(ALICE, REGION, "alias/aws/lambda") == arn
    assert service.managed_key_arn(BOB, REGION, "alias/aws/lambda") != arn
    key = service.describe_key(ALICE, REGION, "alias/aws/lambda")
    assert (key.arn, key.manager, key.rotation_period_days) == (arn, KeyManager.AWS, 365)
    with pytest.raises(KmsAccessDenied, match="kms:DisableKey"):
        service.disable_key(ALICE, REGION, arn)
    assert service.decrypt(ALICE, REGION, service.encrypt(ALICE, REGION, arn, b"env")) == b"env"


def stored(backend: Backend, data_dir: Path) -> bytes:
    """Everything the key database holds: every row of every table; on SQLite, also its files
    whole (freed pages and the write-ahead log included)."""
    database = backend.open(SPEC)
    found = []
    with database.transaction() as sql:
        for table in ("keys", "key_materials", "key_aliases", "key_settings"):
            for row in sql.execute(f"SELECT * FROM {table}"):
                found += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    assert found
    if isinstance(backend, SqliteBackend):
        found += [path.read_bytes() for path in data_dir.glob("keys.sqlite3*")]
    return b"".join(found)


def test_the_database_holds_no_key_material_in_the_clear(
    tmp_path: Path, stores: Callable[[], Backend], service: KeyService, random: RecordedRandom
) -> None:
    key = service.create_key(ALICE, REGION)
    service.encrypt(ALICE, REGION, key.key_id, b"PLAINTEXT-SECRET-VALUE")
    service.rotate_key_on_demand(ALICE, REGION, key.key_id)
    service.managed_key_arn(BOB, REGION, "alias/aws/lambda")
    root = base64.b64decode((tmp_path / "root.key").read_text())
    secrets = [chunk for chunk in random.issued if len(chunk) == 32] + [root]
    assert len(secrets) >= 4
    everything = stored(stores(), tmp_path / "data")
    for secret in [*secrets, b"PLAINTEXT-SECRET-VALUE"]:
        assert secret not in everything


def test_the_root_key_file_is_private_and_must_stay_so(tmp_path: Path, clock: ManualClock) -> None:
    root_file = tmp_path / "root.key"
    stores = SqliteBackend(tmp_path)
    KeyService(stores, root_file, clock, 1.0, environ={}).close()
    assert stat.S_IMODE(root_file.stat().st_mode) == 0o600
    root_file.chmod(0o644)
    with pytest.raises(RootKeyError, match="chmod 600"):
        KeyService(stores, root_file, clock, 1.0, environ={})


def test_the_root_key_file_is_in_the_shared_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process of a cluster has its own data directory; all find the one root key in the
    shared directory (`--shared-dir`)."""
    monkeypatch.delenv(ROOT_KEY_ENV, raising=False)
    settings = Settings(data_dir=tmp_path / "data", shared_dir=tmp_path / "shared")
    with ThreadPoolExecutor(max_workers=1) as executor:
        kernel = Kernel(
            settings,
            ManualClock(),
            executor,
            "http://kms.test",
            botocore.session.get_session(),
            SqliteBackend(settings.data_dir),
            LocalSingletons(),
        )
        kms.assemble(kernel).close()
    assert [path.name for path in (tmp_path / "shared").iterdir()] == ["root.key"]
    assert not (tmp_path / "data" / "root.key").exists()


def test_processes_starting_together_read_the_one_root_key(tmp_path: Path) -> None:
    """A cluster's processes starting at once on a fresh shared directory: one makes the key
    file, and none reads it half written."""
    root_file = tmp_path / "shared" / "root.key"
    start = threading.Barrier(8)
    keys: list[bytes] = []

    def load() -> None:
        start.wait()
        keys.append(load_root_key(root_file, {}))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8
    assert set(keys) == {base64.b64decode(root_file.read_text())}
    assert [path.name for path in root_file.parent.iterdir()] == ["root.key"]


def test_an_operator_supplied_root_key(
    tmp_path: Path, stores: Callable[[], Backend], clock: ManualClock
) -> None:
    supplied = {ROOT_KEY_ENV: base64.b64encode(bytes(range(32))).decode()}
    keys = KeyService(stores(), tmp_path / "root.key", clock, 1.0, environ=supplied)
    ciphertext = keys.encrypt(ALICE, REGION, keys.create_key(ALICE, REGION).key_id, b"s")
    keys.close()
    assert not (tmp_path / "root.key").exists()
    reopened = KeyService(stores(), tmp_path / "root.key", clock, 1.0, environ=supplied)
    assert reopened.decrypt(ALICE, REGION, ciphertext) == b"s"
    # Another root key (here: a new key file) is refused at start-up, not on a later Decrypt,
    # though a process holding the right one still has the database open (a cluster's other
    # process, on PostgreSQL).
    with pytest.raises(RootKeyError, match="not the one"):
        KeyService(stores(), tmp_path / "root.key", clock, 1.0, environ={})
    assert reopened.decrypt(ALICE, REGION, ciphertext) == b"s"
    reopened.close()
    with pytest.raises(RootKeyError, match="32 bytes"):
        KeyService(stores(), tmp_path / "r2", clock, 1.0, environ={ROOT_KEY_ENV: "YQ=="})
