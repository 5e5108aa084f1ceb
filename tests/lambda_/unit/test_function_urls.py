"""Function URLs' pure core: addressing, the payload format 2.0 event, the response mapping,
CORS."""

from __future__ import annotations

import base64
import json

import pytest

from gureum.lambda_.domain.errors import InvalidParameterValue
from gureum.lambda_.domain.function_urls import (
    Cors,
    FunctionUrlConfig,
    UrlRequest,
    check_invoke_mode,
    check_qualifier,
    cors_headers,
    function_response,
    preflight,
    request_event,
    streamed_head,
    url_id_of,
)

CONFIG = FunctionUrlConfig(
    "abc123",
    "000000000000",
    "us-east-1",
    "f",
    "$LATEST",
    "arn:aws:lambda:us-east-1:000000000000:function:f",
    "fid",
    "NONE",
    None,
    "BUFFERED",
    "t",
    "t",
)


@pytest.mark.parametrize(
    ("path", "host", "found"),
    [
        ("/lambda-url/abc123/", "127.0.0.1:4566", ("abc123", "/")),
        ("/lambda-url/abc123", "127.0.0.1:4566", ("abc123", "/")),
        ("/lambda-url/abc123/a/b", "x", ("abc123", "/a/b")),
        ("/lambda-url//a", "x", None),
        ("/2015-03-31/functions", "127.0.0.1:4566", None),
        ("/a/b", "abc123.lambda-url.us-east-1.localhost:4566", ("abc123", "/a/b")),
        ("/", "ABC123.lambda-url.us-east-1.localhost", ("abc123", "/")),
    ],
)
def test_addressing(path: str, host: str, found: tuple[str, str] | None) -> None:
    assert url_id_of(path, host) == found


def test_urls_are_for_latest_or_an_alias() -> None:
    assert check_qualifier(None) == "$LATEST"
    assert check_qualifier("live") == "live"
    with pytest.raises(InvalidParameterValue):
        check_qualifier("3")
    assert check_invoke_mode("RESPONSE_STREAM") == "RESPONSE_STREAM"
    assert CONFIG.url("http://127.0.0.1:4566") == "http://127.0.0.1:4566/lambda-url/abc123/"


def request(**changes: object) -> UrlRequest:
    values: dict[str, object] = {
        "method": "GET",
        "raw_path": "/p",
        "raw_query": "",
        "headers": [("Host", "h"), ("User-Agent", "ua")],
        "body": b"",
        "source_ip": "1.2.3.4",
        "request_id": "r-1",
        "epoch_ms": 1_583_348_638_390,
        "domain": "h",
    }
    values.update(changes)
    return UrlRequest(**values)  # type: ignore[arg-type]


def test_event_of_a_plain_get() -> None:
    event = request_event(CONFIG, request())
    assert event == {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/p",
        "rawQueryString": "",
        "headers": {"host": "h", "user-agent": "ua"},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc123",
            "domainName": "h",
            "domainPrefix": "abc123",
            "http": {
                "method": "GET",
                "path": "/p",
                "protocol": "HTTP/1.1",
                "sourceIp": "1.2.3.4",
                "userAgent": "ua",
            },
            "requestId": "r-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1_583_348_638_390,
        },
        "isBase64Encoded": False,
    }


def test_event_headers_query_cookies_and_bodies() -> None:
    event = request_event(
        CONFIG,
        request(
            raw_query="a=1&a=2&b=x%20y&c=",
            headers=[
                ("X-A", "1"),
                ("x-a", "2"),
                ("Cookie", "k1=v1; k2=v2"),
                ("Content-Type", "text/plain; charset=utf-8"),
            ],
            body="héllo".encode(),
        ),
    )
    assert event["headers"] == {"x-a": "1,2", "content-type": "text/plain; charset=utf-8"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "c": ""}
    assert event["cookies"] == ["k1=v1", "k2=v2"]
    assert (event["body"], event["isBase64Encoded"]) == ("héllo", False)
    binary = request_event(
        CONFIG, request(headers=[("Content-Type", "image/png")], body=b"\x89PNG")
    )
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG"
    untyped = request_event(CONFIG, request(headers=[], body=b"data"))
    assert untyped["isBase64Encoded"] is True


@pytest.mark.parametrize(
    ("payload", "status", "headers", "body"),
    [
        (b'{"a": 1}', 200, [("Content-Type", "application/json")], b'{"a": 1}'),
        (b'"text"', 200, [("Content-Type", "application/json")], b'"text"'),
        (b"null", 200, [("Content-Type", "application/json")], b"null"),
        (
            json.dumps({"statusCode": 204}).encode(),
            204,
            [("Content-Type", "application/json")],
            b"",
        ),
        (
            json.dumps(
                {
                    "statusCode": 201,
                    "headers": {"content-type": "text/plain", "x-n": 5},
                    "cookies": ["a=1"],
                    "body": "made",
                }
            ).encode(),
            201,
            [("content-type", "text/plain"), ("x-n", "5"), ("Set-Cookie", "a=1")],
            b"made",
        ),
        (
            json.dumps(
                {
                    "statusCode": 200,
                    "body": base64.b64encode(b"\x00").decode(),
                    "isBase64Encoded": True,
                }
            ).encode(),
            200,
            [("Content-Type", "application/json")],
            b"\x00",
        ),
        (json.dumps({"statusCode": "x"}).encode(), 502, None, None),
        (json.dumps({"statusCode": 99}).encode(), 502, None, None),
    ],
)
def test_response_mapping(
    payload: bytes, status: int, headers: list[tuple[str, str]] | None, body: bytes | None
) -> None:
    response = function_response(payload)
    assert response.status == status
    if headers is not None:
        assert response.headers == headers
        assert response.body == body


CORS = Cors(
    allow_credentials=True,
    allow_headers=("x-token",),
    allow_methods=("GET", "POST"),
    allow_origins=("https://a.example",),
    expose_headers=("x-out",),
    max_age=30,
)


def test_cors_headers() -> None:
    assert cors_headers(None, "https://a.example") == []
    assert cors_headers(CORS, None) == []
    assert cors_headers(CORS, "https://b.example") == []
    assert cors_headers(CORS, "https://a.example") == [
        ("Access-Control-Allow-Origin", "https://a.example"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "x-out"),
        ("Vary", "Origin"),
    ]
    anyone = Cors(allow_origins=("*",))
    assert cors_headers(anyone, "https://z.example") == [("Access-Control-Allow-Origin", "*")]


def test_preflight() -> None:
    assert preflight(None, "https://a.example", "GET", None) is None
    assert preflight(CORS, "https://a.example", None, None) is None
    allowed = preflight(CORS, "https://a.example", "POST", "x-token")
    assert allowed is not None
    assert allowed.status == 200
    assert ("Access-Control-Allow-Methods", "GET,POST") in allowed.headers
    assert ("Access-Control-Allow-Headers", "x-token") in allowed.headers
    assert ("Access-Control-Max-Age", "30") in allowed.headers
    refused = preflight(CORS, "https://a.example", "DELETE", None)
    assert refused is not None
    assert refused.headers == []


@pytest.mark.parametrize(
    ("prelude", "expected"),
    [
        (b"", (200, [("Content-Type", "application/octet-stream")])),
        (
            b'{"statusCode": 201, "headers": {"content-type": "text/plain"}, "cookies": ["a=1"]}',
            (201, [("content-type", "text/plain"), ("Set-Cookie", "a=1")]),
        ),
        (b'{"statusCode": 99}', None),
        (b'{"statusCode": true}', None),
        (b"[1]", None),
        (b"not json", None),
    ],
)
def test_a_streamed_prelude_describes_the_head(
    prelude: bytes, expected: tuple[int, list[tuple[str, str]]] | None
) -> None:
    head = streamed_head(prelude)
    assert (None if head is None else (head.status, head.headers)) == expected
