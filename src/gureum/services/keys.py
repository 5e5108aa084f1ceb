"""A KMS-compatible key service (skeleton: being implemented)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gureum.clock import Clock


class KeyService:
    def __init__(self, db_path: Path, root_key_file: Path, clock: Clock, time_scale: float) -> None:
        self._db_path = db_path
        self._root_key_file = root_key_file
        self._clock = clock
        self._time_scale = time_scale

    def encrypt(
        self,
        account: str,
        region: str,
        key_id: str,
        plaintext: bytes,
        context: Mapping[str, str] | None = None,
    ) -> bytes:
        raise NotImplementedError

    def decrypt(
        self,
        account: str,
        region: str,
        ciphertext: bytes,
        context: Mapping[str, str] | None = None,
    ) -> bytes:
        raise NotImplementedError

    def managed_key_arn(self, account: str, region: str, alias: str) -> str:
        """The ARN of the AWS-managed key `alias` (e.g. alias/aws/lambda), created on first use."""
        raise NotImplementedError

    def close(self) -> None:
        return None
