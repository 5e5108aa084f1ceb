"""Raw SigV4-signed HTTP requests, for what boto3 will not send.

botocore validates parameters on the client (`MaxItems=0` never leaves it) and always sends
well-formed JSON; these helpers sign whatever bytes a test wants with botocore's own signer and
send them over a plain `http.client` connection, so the server's answer is seen unfiltered.
"""

from __future__ import annotations

import http.client
import io
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True, slots=True)
class RawReply:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class RepeatedBody(io.RawIOBase):
    """`head`, then `filler` repeated up to `size` bytes in all, then `tail`: a request body of
    any size that never sits in memory, seekable so botocore can hash it before it is sent."""

    def __init__(self, head: bytes, size: int, tail: bytes, filler: bytes = b"A") -> None:
        super().__init__()
        self._head, self._tail, self._filler = head, tail, filler
        self._middle = size - len(head) - len(tail)
        assert self._middle >= 0
        self.size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), self.size - self._position)
        written = 0
        while written < count:
            chunk = self._chunk_at(self._position + written, count - written)
            view[written : written + len(chunk)] = chunk
            written += len(chunk)
        self._position += count
        return count

    def _chunk_at(self, position: int, most: int) -> bytes:
        middle_end = len(self._head) + self._middle
        if position < len(self._head):
            return self._head[position : position + most]
        if position < middle_end:
            length = min(most, middle_end - position)
            return (self._filler * (length // len(self._filler) + 1))[:length]
        start = position - middle_end
        return self._tail[start : start + most]


def send(
    url: str,
    method: str,
    path: str,
    body: bytes | RepeatedBody = b"",
    *,
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    service: str = "lambda",
    access_key: str = "test",
    secret_key: str = "test",
) -> RawReply:
    """Signs (as botocore would) and sends one request; `path` may carry a query string."""
    size = body.size if isinstance(body, RepeatedBody) else len(body)
    request = AWSRequest(
        method=method,
        url=url + path,
        data=body,
        headers={**(headers or {}), "Content-Length": str(size)},
    )
    SigV4Auth(Credentials(access_key, secret_key), service, region).add_auth(request)
    if isinstance(body, RepeatedBody):
        body.seek(0)
    target = urlsplit(url)
    assert target.hostname is not None
    assert target.port is not None
    connection = http.client.HTTPConnection(
        target.hostname, target.port, timeout=60, blocksize=1 << 20
    )
    try:
        connection.request(method, path, body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        reply_headers = {name.lower(): value for name, value in response.getheaders()}
        return RawReply(response.status, reply_headers, response.read())
    finally:
        connection.close()
