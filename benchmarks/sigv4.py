"""A small SigV4 signer for the load client: what botocore signs, at a fraction of its cost.

botocore spends about a millisecond of CPU per request on these machines, which would hide the
server. Here the signing key is cached per date and a whole signed request is cached per second
(`X-Amz-Date` has one-second resolution, so the bytes on the wire are identical to signing each
request afresh). Only `host` and `x-amz-date` are signed, as the server requires at least `host`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key: str = "test"
    secret_key: str = "test"
    region: str = "us-east-1"
    service: str = "lambda"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, before signing. `path` is already percent-encoded, as on the wire."""

    method: str
    path: str
    body: bytes = b""
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()


def canonical_uri(path: str) -> str:
    """botocore's rule for non-S3 services: the wire path, percent-encoded once more."""
    return quote(path, safe="/~")


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, _, v in (item.partition("=") for item in query.split("&"))
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


class Signer:
    """Renders a `Request` to signed HTTP/1.1 bytes; caches per date (key) and second (bytes)."""

    def __init__(self, host: str, credentials: Credentials | None = None) -> None:
        self.host = host
        self.credentials = credentials or Credentials()
        self._keys: dict[str, bytes] = {}
        self._second = ""
        self._rendered: dict[Request, bytes] = {}

    def signing_key(self, date: str) -> bytes:
        key = self._keys.get(date)
        if key is None:
            c = self.credentials
            key = f"AWS4{c.secret_key}".encode()
            for part in (date, c.region, c.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {date: key}
        return key

    def authorization(self, request: Request, amz_date: str) -> str:
        c = self.credentials
        date = amz_date[:8]
        scope = f"{date}/{c.region}/{c.service}/aws4_request"
        canonical = "\n".join(
            (
                request.method,
                canonical_uri(request.path),
                canonical_query(request.query),
                f"host:{self.host}\nx-amz-date:{amz_date}\n",
                "host;x-amz-date",
                hashlib.sha256(request.body).hexdigest(),
            )
        )
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
        signature = hmac.new(self.signing_key(date), to_sign.encode(), hashlib.sha256).hexdigest()
        return (
            f"{ALGORITHM} Credential={c.access_key}/{scope}, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}"
        )

    def render(self, request: Request, now: float | None = None) -> bytes:
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        if amz_date != self._second:
            self._second, self._rendered = amz_date, {}
        cached = self._rendered.get(request)
        if cached is not None:
            return cached
        target = f"{request.path}?{request.query}" if request.query else request.path
        lines = [
            f"{request.method} {target} HTTP/1.1",
            f"Host: {self.host}",
            f"X-Amz-Date: {amz_date}",
            f"Authorization: {self.authorization(request, amz_date)}",
            f"Content-Length: {len(request.body)}",
            *(f"{name}: {value}" for name, value in request.headers),
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body
        self._rendered[request] = data
        return data


def invoke_request(
    function: str, payload: bytes = b"{}", *, event: bool = False, tail: bool = False
) -> Request:
    headers: list[tuple[str, str]] = []
    if event:
        headers.append(("X-Amz-Invocation-Type", "Event"))
    if tail:
        headers.append(("X-Amz-Log-Type", "Tail"))
    path = f"/2015-03-31/functions/{quote(function, safe='')}/invocations"
    return Request("POST", path, payload, headers=tuple(headers))
