"""Function URLs: their configs, the HTTP API payload format 2.0 event a request becomes, the
response a function's answer becomes, and CORS. Pure: ids, times and requests come in.

https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from gureum.lambda_.domain.errors import InvalidParameterValue

PATH_PREFIX = "/lambda-url/"
HOST_MARK = ".lambda-url."
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


class AuthType(StrEnum):
    NONE = "NONE"
    AWS_IAM = "AWS_IAM"


@dataclass(frozen=True, slots=True)
class Cors:
    allow_credentials: bool | None = None
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None


@dataclass(frozen=True, slots=True)
class FunctionUrlConfig:
    url_id: str
    account: str
    region: str
    function_name: str
    qualifier: str  # `$LATEST` or an alias name
    function_arn: str
    # The function's record id: a URL config is the function's, and goes with it (a function
    # re-created under the same name has none).
    function_id: str
    auth_type: str
    cors: Cors | None
    invoke_mode: str
    created: str  # ISO-8601, as AWS renders CreationTime
    modified: str

    def url(self, endpoint: str) -> str:
        """The address a client reaches it at: path-based on gureum's own endpoint."""
        return f"{endpoint.rstrip('/')}{PATH_PREFIX}{self.url_id}/"

    def changed(
        self, auth_type: str | None, cors: Cors | None, invoke_mode: str | None, now: str
    ) -> FunctionUrlConfig:
        return replace(
            self,
            auth_type=auth_type or self.auth_type,
            cors=cors if cors is not None else self.cors,
            invoke_mode=check_invoke_mode(invoke_mode or self.invoke_mode),
            modified=now,
        )


def iso_time(epoch: float) -> str:
    """AWS's rendering of a function URL's times: `2021-10-27T16:10:36.123456Z`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_invoke_mode(mode: str) -> str:
    """BUFFERED or RESPONSE_STREAM (the model's enum has no other)."""
    return mode


# A streamed function URL response that starts with its status and headers (Node.js's
# `awslambda.HttpResponseStream.from`): this content type, a JSON prelude, then eight NUL bytes.
HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
PRELUDE_END = b"\0" * 8
PRELUDE_LIMIT = 64 * 1024


def streamed_head(prelude: bytes) -> UrlResponse | None:
    """The status and headers a streamed response's prelude describes (its body follows, not
    here); None when the prelude is no such description (the caller answers 502)."""
    try:
        answer = json.loads(prelude) if prelude.strip() else {}
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    status = answer.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return None
    headers = [(str(k), _header_text(v)) for k, v in (answer.get("headers") or {}).items()]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/octet-stream"))
    headers += [("Set-Cookie", str(cookie)) for cookie in answer.get("cookies") or []]
    return UrlResponse(status, headers, b"")


def check_qualifier(qualifier: str | None) -> str:
    """A URL is for `$LATEST` or an alias, never a version number."""
    if qualifier is None or qualifier == "$LATEST":
        return "$LATEST"
    if qualifier.isdigit():
        raise InvalidParameterValue(
            "Function URLs can only be created for $LATEST or an alias, not a version."
        )
    return qualifier


def url_id_of(path: str, host: str) -> tuple[str, str] | None:
    """(url id, raw path) of a request to a function URL, or None for any other request:
    path-based `/lambda-url/<id>/<path>` or host-based `<id>.lambda-url.<region>.localhost`."""
    if path.startswith(PATH_PREFIX):
        rest = path[len(PATH_PREFIX) :]
        url_id, _, tail = rest.partition("/")
        return (url_id, "/" + tail) if url_id else None
    name = host.split(":", 1)[0].lower()
    if HOST_MARK in name:
        url_id = name.split(".", 1)[0]
        return (url_id, path or "/") if url_id else None
    return None


# --- the event --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrlRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str
    epoch_ms: int
    domain: str
    signer: tuple[str, str] | None = None  # (access key, account) of an AWS_IAM signature


def _is_text(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    textual = kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml"))
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def request_event(config: FunctionUrlConfig, request: UrlRequest) -> dict[str, Any]:
    """AWS's HTTP API payload format 2.0 event of one request to a function URL."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    when = datetime.fromtimestamp(request.epoch_ms / 1000, UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous" if config.auth_type == AuthType.NONE else config.account,
            "apiId": config.url_id,
            "domainName": request.domain,
            "domainPrefix": config.url_id,
            "http": {
                "method": request.method,
                "path": request.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": request.epoch_ms,
        },
        "isBase64Encoded": False,
    }
    if request.signer is not None:
        key, account = request.signer
        event["requestContext"]["accountId"] = account
        event["requestContext"]["authorizer"] = {
            "iam": {
                "accessKey": key,
                "accountId": account,
                "callerId": account,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": f"arn:aws:iam::{account}:root",
                "userId": account,
            }
        }
    if cookies:
        event["cookies"] = cookies
    if request.raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if request.body:
        if _is_text(headers.get("content-type", ""), request.body):
            event["body"] = request.body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


# --- the response -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UrlResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def function_response(payload: bytes) -> UrlResponse:
    """The HTTP response a function's answer becomes: a JSON object with `statusCode` is a
    response description; any other answer is a 200 JSON body as returned."""
    try:
        answer = json.loads(payload) if payload.strip() else None
    except ValueError:
        return UrlResponse(200, [("Content-Type", "application/json")], payload)
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return UrlResponse(200, [("Content-Type", "application/json")], payload)
    status = answer.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return bad_gateway()
    headers: list[tuple[str, str]] = []
    for name, value in (answer.get("headers") or {}).items():
        headers.append((str(name), _header_text(value)))
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    for cookie in answer.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    body = answer.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif answer.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return bad_gateway()
    else:
        data = body.encode()
    return UrlResponse(status, headers, data)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bad_gateway() -> UrlResponse:
    """A function error, or an answer that is no valid response: 502, as AWS answers."""
    return UrlResponse(
        502, [("Content-Type", "application/json")], b'{"Message":"Internal Server Error"}'
    )


def throttled() -> UrlResponse:
    return UrlResponse(429, [("Content-Type", "application/json")], b'{"Message":"Rate Exceeded."}')


def too_large() -> UrlResponse:
    return UrlResponse(
        413, [("Content-Type", "application/json")], b'{"Message":"Request Entity Too Large"}'
    )


def forbidden() -> UrlResponse:
    return UrlResponse(403, [("Content-Type", "application/json")], b'{"Message":"Forbidden"}')


def not_found() -> UrlResponse:
    return UrlResponse(404, [("Content-Type", "application/json")], b'{"Message":null}')


# --- CORS -------------------------------------------------------------------------------------


def _allowed(values: Sequence[str], wanted: str) -> bool:
    return "*" in values or any(v.lower() == wanted.lower() for v in values)


def cors_headers(cors: Cors | None, origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers of a response to a request from `origin` (none when not allowed)."""
    if cors is None or origin is None or not _allowed(cors.allow_origins, origin):
        return []
    allow_origin = "*" if cors.allow_origins == ("*",) and not cors.allow_credentials else origin
    headers = [("Access-Control-Allow-Origin", allow_origin)]
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if allow_origin != "*":
        headers.append(("Vary", "Origin"))
    return headers


def preflight(
    cors: Cors | None, origin: str | None, method: str | None, request_headers: str | None
) -> UrlResponse | None:
    """The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method), or None
    when the URL has no CORS config (the request goes to the function)."""
    if cors is None or method is None:
        return None
    headers = cors_headers(cors, origin)
    if headers and cors.allow_methods and _allowed(cors.allow_methods, method):
        headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
        elif request_headers:
            headers.append(("Access-Control-Allow-Headers", request_headers))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    else:
        headers = []
    return UrlResponse(200, headers, b"")
