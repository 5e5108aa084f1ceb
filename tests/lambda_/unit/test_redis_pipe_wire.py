"""The Redis ledger's pipe, on the wire: RESP replies parsed whole or not at all, commands
written as Redis reads them, and Redis URLs read as redis-py reads them."""

from __future__ import annotations

import ssl

import pytest
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from gureum.lambda_.store.redis_pipe import Address, Reply, _Incomplete, command, parse

REPLIES: list[tuple[bytes, Reply]] = [
    (b":42\r\n", 42),
    (b":-2\r\n", -2),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"+OK\r\n", "OK"),
    (b"*0\r\n", []),
    (b"*2\r\n:7\r\n$10\r\nunreserved\r\n", [7, b"unreserved"]),
    (b"*2\r\n*1\r\n$4\r\na\r\nb\r\n*0\r\n", [[b"a\r\nb"], []]),  # CRLF inside a bulk string
]


@pytest.mark.parametrize(("wire", "expected"), REPLIES)
def test_a_reply_is_parsed_whole(wire: bytes, expected: Reply) -> None:
    assert parse(wire, 0) == (expected, len(wire))
    # Any shorter prefix is incomplete: nothing is taken until the reply is all there.
    for cut in range(len(wire)):
        with pytest.raises(_Incomplete):
            parse(wire[:cut], 0)


def test_replies_follow_one_another_in_one_buffer() -> None:
    wire = b":1\r\n$3\r\nabc\r\n-NOSCRIPT No matching script.\r\n:2\r\n"
    at, replies = 0, []
    while at < len(wire):
        reply, at = parse(wire, at)
        replies.append(reply)
    assert replies[:2] == [1, b"abc"]
    assert replies[3] == 2
    assert isinstance(replies[2], ResponseError)  # returned for its caller, not raised
    assert str(replies[2]).startswith("NOSCRIPT")


@pytest.mark.parametrize("wire", [b"HTTP/1.1 400 Bad Request\r\n", b"$2\r\nabc\r\n:1\r\n"])
def test_what_is_not_resp_breaks_the_connection(wire: bytes) -> None:
    # A bulk string longer than it says would shift every later reply onto the wrong caller.
    with pytest.raises(RedisConnectionError):
        parse(wire, 0)


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert command(b"EVALSHA", "ab", 2, 1.5, "é") == (
        b"*5\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$3\r\n1.5\r\n$2\r\n\xc3\xa9\r\n"
    )


URLS = [
    ("redis://127.0.0.1:6380/0", Address("127.0.0.1", 6380, None, False, None, None, 0)),
    ("redis://redis.internal", Address("redis.internal", 6379, None, False, None, None, 0)),
    ("redis://:s%40cret@h:1/3", Address("h", 1, None, False, None, "s@cret", 3)),
    ("rediss://ledger:pw@h:6390/2", Address("h", 6390, None, True, "ledger", "pw", 2)),
    ("redis://h/0?db=5", Address("h", 6379, None, False, None, None, 5)),
    (
        "unix:///run/redis.sock?db=1",
        Address("localhost", 6379, "/run/redis.sock", False, None, None, 1),
    ),
]


URLS += [
    ("redis://:@h:1/0", Address("h", 1, None, False, None, None, 0)),  # an empty password: no AUTH
    (
        "rediss://h:1/0?ssl_cert_reqs=none&ssl_ca_certs=/etc/ca.pem&ssl_check_hostname=false",
        Address("h", 1, None, True, None, None, 0, "none", "/etc/ca.pem", False),
    ),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_a_url_is_read_as_redis_py_reads_it(url: str, expected: Address) -> None:
    address = Address.parse(url)
    assert address == expected
    # And as redis-py itself reads it, for what both take from a URL.
    theirs = parse_url(url)  # type: ignore[no-untyped-call]
    if address.path is None:
        assert (address.host, address.port) == (theirs["host"], theirs.get("port", 6379))
    else:
        assert address.path == theirs["path"]
    assert address.db == theirs.get("db", 0)
    assert (address.username, address.password) == (
        theirs.get("username"),
        theirs.get("password"),
    )
    assert address.cert_reqs == theirs.get("ssl_cert_reqs", "required")
    assert address.ca_certs == theirs.get("ssl_ca_certs")
    assert address.check_hostname == theirs.get("ssl_check_hostname", True)


def test_a_url_that_is_not_redis_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        Address.parse("postgresql://h/db")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis://h:1/0?socket_timeout=5", "options gureum does not take"),
        ("redis://h:1/cache", "not a Redis database number"),
        ("rediss://h:1/0?ssl_cert_reqs=sometimes", "ssl_cert_reqs must be"),
        ("rediss://h:1/0?ssl_check_hostname=maybe", "ssl_check_hostname must be"),
    ],
)
def test_a_url_with_what_the_pipe_would_not_honour_is_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Address.parse(url)


def test_tls_follows_the_urls_options() -> None:
    strict = Address.parse("rediss://h:1/0").tls_context()
    assert strict is not None
    assert strict.verify_mode is ssl.CERT_REQUIRED
    assert strict.check_hostname
    lax = Address.parse("rediss://h:1/0?ssl_cert_reqs=none").tls_context()
    assert lax is not None
    assert lax.verify_mode is ssl.CERT_NONE
    assert not lax.check_hostname
    assert Address.parse("redis://h:1/0").tls_context() is None
