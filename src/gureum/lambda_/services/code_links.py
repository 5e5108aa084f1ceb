"""Presigned download links for deployment packages (GetFunction's `Code.Location`).

AWS hands out a presigned S3 URL valid for ten minutes; gureum serves the package itself under
`/_gureum/code/<blob>` with an expiry and an HMAC over both, keyed by a secret kept in the data
directory, so a link works without credentials and stops working when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

VALIDITY_SECONDS = 600
PREFIX = "/_gureum/code/"


class CodeLinks:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, blob: str, expires: int) -> str:
        message = f"{blob}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, endpoint: str, blob: str, now: datetime) -> str:
        expires = int(now.timestamp()) + VALIDITY_SECONDS
        signature = self._signature(blob, expires)
        return f"{endpoint}{PREFIX}{blob}?Expires={expires}&Signature={signature}"

    def allows(self, blob: str, expires: str, signature: str, now: datetime) -> bool:
        if not expires.isdigit() or int(expires) < now.timestamp():
            return False
        return hmac.compare_digest(self._signature(blob, int(expires)), signature)
