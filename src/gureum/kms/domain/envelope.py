"""The ciphertext envelope Encrypt returns and Decrypt opens, and how key material is wrapped.

A ciphertext names its key, as AWS's do, so Decrypt needs no KeyId:

    magic "\\x01GK" | format 1 | len+key id | len+account | len+region | material version (u32)
    | nonce (12) | AES-256-GCM ciphertext and tag (16)

Everything before the nonce is the header. The header and the encryption context (in a canonical
form: sorted, compact JSON) are the AEAD's associated data, so a ciphertext opens only with the
material of the key and version it names, only in its own account and region, and only with the
same context; changing any byte of it, or the context, makes it fail as a whole. Key material is
itself wrapped with AES-256-GCM under the root key, with the key's identity as associated data,
so material moved to another key's row does not open either.

Pure: nonces come in from the caller; AES-GCM (from `cryptography`) is a computation, not I/O.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gureum.kms.domain.errors import InvalidCiphertext

MAGIC = b"\x01GK"
FORMAT = 1
NONCE_BYTES = 12
TAG_BYTES = 16
MATERIAL_BYTES = 32
_VERSION = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Envelope:
    key_id: str
    account: str
    region: str
    material_version: int
    nonce: bytes
    sealed: bytes

    @property
    def header(self) -> bytes:
        return header(self.key_id, self.account, self.region, self.material_version)


def header(key_id: str, account: str, region: str, material_version: int) -> bytes:
    parts = [MAGIC, bytes([FORMAT])]
    for text in (key_id, account, region):
        raw = text.encode("ascii")
        parts += [bytes([len(raw)]), raw]
    parts.append(_VERSION.pack(material_version))
    return b"".join(parts)


def canonical_context(context: Mapping[str, str] | None) -> bytes:
    """The encryption context as bytes that do not depend on the order it was written in."""
    return json.dumps(dict(sorted((context or {}).items())), separators=(",", ":")).encode()


def seal(
    material: bytes,
    nonce: bytes,
    key_id: str,
    account: str,
    region: str,
    material_version: int,
    plaintext: bytes,
    context: Mapping[str, str] | None,
) -> bytes:
    head = header(key_id, account, region, material_version)
    sealed = AESGCM(material).encrypt(nonce, plaintext, head + canonical_context(context))
    return head + nonce + sealed


def parse(blob: bytes) -> Envelope:
    """Splits a ciphertext into its parts; anything that is not one of ours is InvalidCiphertext."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 1 or blob[len(MAGIC)] != FORMAT:
        raise InvalidCiphertext()
    position = len(MAGIC) + 1
    fields: list[str] = []
    for _ in range(3):
        if position >= len(blob):
            raise InvalidCiphertext()
        size = blob[position]
        raw = blob[position + 1 : position + 1 + size]
        if size == 0 or len(raw) != size or not raw.isascii():
            raise InvalidCiphertext()
        fields.append(raw.decode("ascii"))
        position += 1 + size
    rest = blob[position:]
    if len(rest) < _VERSION.size + NONCE_BYTES + TAG_BYTES:
        raise InvalidCiphertext()
    (version,) = _VERSION.unpack_from(rest)
    nonce = rest[_VERSION.size : _VERSION.size + NONCE_BYTES]
    key_id, account, region = fields
    return Envelope(key_id, account, region, version, nonce, rest[_VERSION.size + NONCE_BYTES :])


def open_sealed(material: bytes, envelope: Envelope, context: Mapping[str, str] | None) -> bytes:
    associated = envelope.header + canonical_context(context)
    try:
        return AESGCM(material).decrypt(envelope.nonce, envelope.sealed, associated)
    except InvalidTag:
        raise InvalidCiphertext() from None


def material_label(account: str, region: str, key_id: str, version: int) -> bytes:
    return f"gureum-kms-material:{account}:{region}:{key_id}:{version}".encode()


def wrap(root: bytes, nonce: bytes, label: bytes, secret: bytes) -> bytes:
    """`secret` encrypted under the root key, bound to `label`: nonce | ciphertext | tag."""
    return nonce + AESGCM(root).encrypt(nonce, secret, label)


def unwrap(root: bytes, label: bytes, wrapped: bytes) -> bytes | None:
    """The secret, or None when `wrapped` was not made under `root` for `label`."""
    try:
        return AESGCM(root).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], label)
    except (InvalidTag, ValueError):
        return None
