"""KMS over HTTP with boto3 and the AWS CLI: round trips, AWS's errors, aliases, deletion."""

from __future__ import annotations

import base64
import itertools
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess

AWS = Path(sys.executable).parent / "aws"
_names = itertools.count()


@pytest.fixture(scope="module")
def kms(server: GureumProcess) -> Any:
    return server.client("kms")


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(Description="contract")["KeyMetadata"]
    return metadata


@pytest.fixture
def alias_name() -> str:
    return f"alias/contract-{os.getpid()}-{next(_names)}"


def error_of(call: Callable[..., Any], **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def test_create_and_describe_a_symmetric_key(kms: Any, key: dict[str, Any]) -> None:
    assert key["Arn"] == f"arn:aws:kms:us-east-1:000000000000:key/{key['KeyId']}"
    assert {k: key[k] for k in ("KeyState", "KeyManager", "KeySpec", "KeyUsage", "Origin")} == {
        "KeyState": "Enabled",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "Origin": "AWS_KMS",
    }
    assert key["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    described = kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]
    assert described["Description"] == "contract"
    listed = kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
    assert key["KeyId"] in [k["KeyId"] for page in listed for k in page["Keys"]]


def test_encrypt_decrypt_round_trip_by_every_kind_of_name(
    kms: Any, key: dict[str, Any], alias_name: str
) -> None:
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:000000000000:{alias_name}"
    for name in (key["KeyId"], key["Arn"], alias_name, alias_arn):
        sealed = kms.encrypt(KeyId=name, Plaintext=b"hunter2", EncryptionContext={"app": "a"})
        assert sealed["KeyId"] == key["Arn"]
        assert b"hunter2" not in sealed["CiphertextBlob"]
        opened = kms.decrypt(
            CiphertextBlob=sealed["CiphertextBlob"], EncryptionContext={"app": "a"}
        )
        assert (opened["Plaintext"], opened["KeyId"]) == (b"hunter2", key["Arn"])
        assert opened["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_context_mismatch_and_tampering_are_invalid_ciphertext(
    kms: Any, key: dict[str, Any]
) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    for params in (
        {"CiphertextBlob": blob, "EncryptionContext": {"a": "2"}},
        {"CiphertextBlob": blob},
        {"CiphertextBlob": tampered, "EncryptionContext": {"a": "1"}},
        {"CiphertextBlob": b"not a gureum ciphertext"},
    ):
        assert error_of(kms.decrypt, **params) == {
            "Code": "InvalidCiphertextException",
            "Message": "",
        }


def test_decrypt_with_the_wrong_key_id(kms: Any, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    error = error_of(kms.decrypt, CiphertextBlob=blob, KeyId=other["KeyId"])
    assert error["Code"] == "IncorrectKeyException"


def test_a_disabled_key_refuses_encrypt_and_decrypt(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    disabled = {"Code": "DisabledException", "Message": f"{key['Arn']} is disabled."}
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"s") == disabled
    assert error_of(kms.decrypt, CiphertextBlob=blob) == disabled
    assert error_of(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256") == disabled
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Enabled"] is False
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"s"


def test_a_key_pending_deletion(kms: Any, key: dict[str, Any]) -> None:
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    too_short = error_of(kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=6)
    assert too_short == {
        "Code": "ValidationException",
        "Message": "PendingWindowInDays should be between 7 and 30, but it is 6",
    }
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert (scheduled["KeyId"], scheduled["KeyState"]) == (key["Arn"], "PendingDeletion")
    assert scheduled["PendingWindowInDays"] == 30
    pending = {"Code": "KMSInvalidStateException", "Message": f"{key['Arn']} is pending deletion."}
    assert error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"s") == pending
    assert error_of(kms.decrypt, CiphertextBlob=blob) == pending
    assert error_of(kms.enable_key, KeyId=key["KeyId"]) == pending
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["DeletionDate"] == scheduled["DeletionDate"]
    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == key["Arn"]
    # AWS brings the key back disabled.
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    not_pending = error_of(kms.cancel_key_deletion, KeyId=key["KeyId"])
    assert not_pending["Message"] == f"{key['Arn']} is not pending deletion."


def test_missing_keys_and_aliases(kms: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert error_of(kms.describe_key, KeyId=missing) == {
        "Code": "NotFoundException",
        "Message": f"Key 'arn:aws:kms:us-east-1:000000000000:key/{missing}' does not exist",
    }
    assert error_of(kms.describe_key, KeyId="fake-key-id") == {
        "Code": "NotFoundException",
        "Message": "Invalid keyId 'fake-key-id'",
    }
    assert error_of(kms.encrypt, KeyId="alias/never-made", Plaintext=b"s") == {
        "Code": "NotFoundException",
        "Message": "Alias arn:aws:kms:us-east-1:000000000000:alias/never-made is not found.",
    }


def test_alias_lifecycle_and_rules(kms: Any, key: dict[str, Any], alias_name: str) -> None:
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["Arn"])
    arn = f"arn:aws:kms:us-east-1:000000000000:{alias_name}"
    assert error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=key["KeyId"]) == {
        "Code": "AlreadyExistsException",
        "Message": f"An alias with the name {arn} already exists",
    }
    listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in listed] == [
        (alias_name, arn, key["KeyId"])
    ]
    other = kms.create_key()["KeyMetadata"]
    kms.update_alias(AliasName=alias_name, TargetKeyId=other["KeyId"])
    assert kms.describe_key(KeyId=alias_name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    kms.delete_alias(AliasName=alias_name)
    assert error_of(kms.delete_alias, AliasName=alias_name)["Code"] == "NotFoundException"
    assert error_of(kms.create_alias, AliasName="no-prefix", TargetKeyId=key["KeyId"]) == {
        "Code": "ValidationException",
        "Message": 'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    }
    reserved = error_of(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    assert reserved["Code"] == "NotAuthorizedException"
    to_alias = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId="alias/aws/lambda")
    assert to_alias["Message"] == "Aliases must refer to keys. Not aliases"


def test_the_aws_managed_lambda_key(kms: Any) -> None:
    managed = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    assert error_of(kms.disable_key, KeyId=managed["KeyId"])["Code"] == "AccessDeniedException"
    assert kms.get_key_rotation_status(KeyId=managed["KeyId"])["KeyRotationEnabled"] is True


def test_data_keys(kms: Any, key: dict[str, Any]) -> None:
    for params, size in (({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16)):
        data = kms.generate_data_key(KeyId=key["KeyId"], **params)
        assert len(data["Plaintext"]) == size
        assert kms.decrypt(CiphertextBlob=data["CiphertextBlob"])["Plaintext"] == data["Plaintext"]
    sized = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)
    assert len(sized["Plaintext"]) == 64
    bare = kms.generate_data_key_without_plaintext(
        KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"k": "v"}
    )
    assert "Plaintext" not in bare
    opened = kms.decrypt(CiphertextBlob=bare["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert len(opened["Plaintext"]) == 32
    assert error_of(kms.generate_data_key, KeyId=key["KeyId"]) == {
        "Code": "ValidationException",
        "Message": "Please specify either number of bytes or key spec.",
    }


def test_re_encrypt_moves_a_ciphertext_to_another_key(kms: Any, key: dict[str, Any]) -> None:
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=destination["Arn"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert (moved["SourceKeyId"], moved["KeyId"]) == (key["Arn"], destination["Arn"])
    opened = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert (opened["Plaintext"], opened["KeyId"]) == (b"s", destination["Arn"])


def test_rotation_keeps_old_ciphertexts_readable(kms: Any, key: dict[str, Any]) -> None:
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 90)
    before = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"old")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    after = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
    assert kms.decrypt(CiphertextBlob=after)["Plaintext"] == b"new"
    kms.disable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_tags(kms: Any) -> None:
    key = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "a"}])["KeyMetadata"]
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "env", "TagValue": "dev"}])
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [
        {"TagKey": "env", "TagValue": "dev"}
    ]
    reserved = [{"TagKey": "aws:x", "TagValue": "y"}]
    assert error_of(kms.tag_resource, KeyId=key["KeyId"], Tags=reserved) == {
        "Code": "TagException",
        "Message": "Tags beginning with aws: are reserved",
    }


def test_key_material_at_rest(server: GureumProcess, kms: Any, key: dict[str, Any]) -> None:
    root_file = server.data_dir / "root.key"
    assert stat.S_IMODE(root_file.stat().st_mode) == 0o600
    root = base64.b64decode(root_file.read_text())
    data = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"PLAINTEXT-IN-THE-CLEAR")
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("keys.sqlite3*"))
    assert stored
    for secret in (root, data["Plaintext"], b"PLAINTEXT-IN-THE-CLEAR"):
        assert secret not in stored


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server whose platform periods run a million times faster: 7 days last 0.6 s."""
    process = GureumProcess(tmp_path_factory.mktemp("kms") / "data", "--time-scale", "0.000001")
    yield process.start()
    process.stop()


def test_a_key_is_deleted_when_its_scaled_window_has_passed(fast_server: GureumProcess) -> None:
    kms = fast_server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/short-lived", TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"s")["CiphertextBlob"]
    window = 7 * 86400 * 0.000001  # seconds
    before = time.time()
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    after = time.time()
    # DeletionDate is when it really happens: the scaled window after the call.
    deletion = scheduled["DeletionDate"].timestamp()
    assert before + window - 0.01 <= deletion <= after + window + 0.01
    deadline = time.monotonic() + 10
    while kms.list_keys()["Keys"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the window runs on the server's clock; nothing to await over HTTP
    assert kms.list_keys()["Keys"] == []
    gone = {"Code": "NotFoundException", "Message": f"Key '{key['Arn']}' does not exist"}
    assert error_of(kms.decrypt, CiphertextBlob=blob) == gone
    assert error_of(kms.describe_key, KeyId=key["KeyId"]) == gone
    assert kms.list_aliases()["Aliases"] == []


def test_the_aws_cli_encrypts_and_decrypts(
    server: GureumProcess, kms: Any, key: dict[str, Any], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        HOME=str(tmp_path),
    )

    def aws(*args: str) -> str:
        command = [str(AWS), "--endpoint-url", server.url, "--output", "text", "kms", *args]
        done = subprocess.run(
            command, check=False, capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    (tmp_path / "secret.txt").write_bytes(b"db-password")
    encrypted = aws(
        "encrypt",
        *("--key-id", key["Arn"], "--plaintext", f"fileb://{tmp_path / 'secret.txt'}"),
        *("--encryption-context", "purpose=cli", "--query", "CiphertextBlob"),
    )
    (tmp_path / "secret.enc").write_bytes(base64.b64decode(encrypted))
    decrypted = aws(
        "decrypt",
        *("--ciphertext-blob", f"fileb://{tmp_path / 'secret.enc'}"),
        *("--encryption-context", "purpose=cli", "--query", "Plaintext"),
    )
    assert base64.b64decode(decrypted) == b"db-password"
    # What the CLI made, boto3 opens, and the other way round.
    blob = base64.b64decode(encrypted)
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "cli"})
    assert opened["Plaintext"] == b"db-password"
