"""KMS on a `gureum serve --store postgresql://...`: keys made, used and kept in PostgreSQL, wrapped
under the root key of the shared directory (issue #24)."""

from __future__ import annotations

import base64

import psycopg

from tests.support.server import GureumProcess


def test_keys_live_in_postgresql(postgres_server: GureumProcess) -> None:
    kms = postgres_server.client("kms")
    key = kms.create_key(Description="on postgres")["KeyMetadata"]
    sealed = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"PLAINTEXT-ON-POSTGRES")["CiphertextBlob"]
    opened = kms.decrypt(CiphertextBlob=sealed)
    assert (opened["Plaintext"], opened["KeyId"]) == (b"PLAINTEXT-ON-POSTGRES", key["Arn"])
    url = postgres_server.extra[postgres_server.extra.index("--store") + 1]
    with psycopg.connect(url) as connection:
        [(wrapped,)] = connection.execute(
            "SELECT wrapped FROM key_materials WHERE key_id = %s", (key["KeyId"],)
        ).fetchall()
    # One version of material, wrapped under the root key of the shared directory (here the
    # data directory), which never enters the database.
    root = base64.b64decode((postgres_server.data_dir / "root.key").read_text())
    assert isinstance(wrapped, bytes)
    assert root not in wrapped
