"""Requests to function URLs: find the config, authenticate (AWS_IAM), answer CORS preflights,
invoke synchronously with the HTTP API payload format 2.0 event, map the answer back to HTTP.

Reached before the AWS front door (the app routes `/lambda-url/<id>/...` and hosts
`<id>.lambda-url.<region>.localhost` here). Throttles answer 429 and function errors 502, as
AWS's function URLs do.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Executor

from gureum.aws import sigv4
from gureum.aws.accounts import AccessKey, ExpiredCredential
from gureum.aws.errors import AwsError
from gureum.aws.http import HttpResponse
from gureum.aws.sigv4 import HttpRequest
from gureum.clock import Clock
from gureum.lambda_.domain.arns import LATEST, FunctionRef, function_arn
from gureum.lambda_.domain.errors import AccessDenied, ResourceNotFound, TooManyRequests
from gureum.lambda_.domain.function_urls import (
    HTTP_INTEGRATION,
    PRELUDE_END,
    PRELUDE_LIMIT,
    AuthType,
    FunctionUrlConfig,
    UrlRequest,
    UrlResponse,
    bad_gateway,
    cors_headers,
    forbidden,
    function_response,
    not_found,
    preflight,
    request_event,
    streamed_head,
    throttled,
    too_large,
    url_id_of,
)
from gureum.lambda_.sandbox.environment import InvocationRequest
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.function_urls import FunctionUrlService
from gureum.lambda_.services.invoker import SYNC_PAYLOAD_LIMIT, Invoker, Target, check_invocable
from gureum.lambda_.services.permissions import PermissionService
from gureum.lambda_.services.streaming import ResponseStreaming, StreamedInvocation

# The front door's key lookup: an access key id and the request's session token.
Accounts = Callable[[str, str | None], AccessKey | None]


def _header(request: HttpRequest, name: str) -> str | None:
    return next((v for k, v in request.headers if k.lower() == name), None)


def _http(
    response: UrlResponse, request_id: str, stream: AsyncGenerator[bytes, None] | None = None
) -> HttpResponse:
    headers = [*response.headers, ("x-amzn-RequestId", request_id)]
    return HttpResponse(response.status, headers, response.body, stream=stream)


async def _streamed(
    invocation: StreamedInvocation,
) -> tuple[UrlResponse, AsyncGenerator[bytes, None]]:
    """A RESPONSE_STREAM answer: its head (from an HTTP integration prelude, when the function
    wrote one), and the rest of its body as it comes."""
    stream = invocation.stream
    body = invocation.body()
    if stream is None or not stream.streaming:  # answered buffered: mapped as BUFFERED is
        data = b"".join([chunk async for chunk in body])
        result = await invocation.result()
        if result.function_error:
            return bad_gateway(), _empty()
        return function_response(data), _empty()
    if stream.content_type != HTTP_INTEGRATION:
        return UrlResponse(200, [("Content-Type", stream.content_type)], b""), body
    held = b""
    async for chunk in body:
        held += chunk
        if PRELUDE_END in held or len(held) > PRELUDE_LIMIT:
            break
    prelude, found, rest = held.partition(PRELUDE_END)
    head = streamed_head(prelude) if found else None
    if head is None:
        await body.aclose()
        return bad_gateway(), _empty()
    return UrlResponse(head.status, head.headers, rest), body


async def _empty() -> AsyncGenerator[bytes, None]:
    return
    yield b""  # an async generator that yields nothing


def _url_resource(config: FunctionUrlConfig) -> tuple[str, dict[str, str]]:
    """The function ARN a request to the URL acts on, and its condition keys."""
    qualifier = None if config.qualifier == LATEST else config.qualifier
    resource = function_arn(config.region, config.account, config.function_name, qualifier)
    return resource, {"lambda:FunctionUrlAuthType": config.auth_type}


class UrlGateway:
    """Serves every function URL of this server."""

    def __init__(
        self,
        urls: FunctionUrlService,
        invoker: Invoker,
        executor: Executor,
        clock: Clock,
        permissions: PermissionService | None = None,
    ) -> None:
        self._permissions = permissions
        self._urls = urls
        self._invoker = invoker
        self._streaming = ResponseStreaming(invoker)
        self._executor = executor
        self._clock = clock

    async def handle(
        self, request: HttpRequest, accounts: Accounts, oversized: bool = False
    ) -> HttpResponse | None:
        """The answer to a request for a function URL, or None for any other request;
        `oversized`: the body was past the server's cap and was not kept."""
        host = _header(request, "host") or ""
        found = url_id_of(request.raw_path, host)
        if found is None:
            return None
        url_id, raw_path = found
        request_id = str(uuid.uuid4())
        loop = asyncio.get_running_loop()
        config = await loop.run_in_executor(self._executor, self._urls.by_id, url_id)
        if config is None:
            return _http(not_found(), request_id)
        signer = None
        if config.auth_type == AuthType.AWS_IAM:
            signer = self._signer(request, config, accounts)
            if signer is not None and signer.account_id == config.account:
                signer = signer if self._allowed_within(signer, config) else None
            elif signer is not None:
                allowed = await loop.run_in_executor(
                    self._executor, self._allowed_from, signer, config
                )
                signer = signer if allowed else None
            if signer is None:
                return _http(forbidden(), request_id)
        if oversized or len(request.body) > SYNC_PAYLOAD_LIMIT:
            return _http(too_large(), request_id)
        origin = _header(request, "origin")
        if request.method == "OPTIONS":
            answer = preflight(
                config.cors,
                origin,
                _header(request, "access-control-request-method"),
                _header(request, "access-control-request-headers"),
            )
            if answer is not None:
                return _http(answer, request_id)
        response, stream = await self._invoke(config, request, raw_path, host, request_id, signer)
        headers = [*response.headers, *cors_headers(config.cors, origin)]
        return _http(UrlResponse(response.status, headers, response.body), request_id, stream)

    def _signer(
        self, request: HttpRequest, config: FunctionUrlConfig, accounts: Accounts
    ) -> AccessKey | None:
        """AWS_IAM: the key of a valid SigV4 signature for service `lambda` (another account's
        key is then weighed against the function's policy, `_allowed_from`)."""
        token = _header(request, "x-amz-security-token")
        try:
            claimed = sigv4.claim(request)
            key = accounts(claimed.scope.access_key, token)
            if key is None or claimed.scope.service != "lambda":
                return None
            if key.session_token is not None and key.session_token != token:
                return None
            sigv4.verify(request, key.secret_access_key, self._clock.now(), claimed=claimed)
        except (sigv4.SignatureFailure, ExpiredCredential):
            return None
        return key

    def _allowed_within(self, signer: AccessKey, config: FunctionUrlConfig) -> bool:
        """Under `--iam enforce`, a signer of the URL's own account needs lambda:InvokeFunctionUrl
        from an identity policy or the function's policy (the account's root always has it)."""
        permissions = self._invoker.permissions
        if permissions is None:
            return True
        resource, keys = _url_resource(config)
        return (
            permissions.denied(signer.principal, "lambda:InvokeFunctionUrl", resource, keys) is None
        )

    def _allowed_from(self, signer: AccessKey, config: FunctionUrlConfig) -> bool:
        """Whether the function's policy lets another account's signer call its URL:
        lambda:InvokeFunctionUrl, with the URL's auth type as `lambda:FunctionUrlAuthType`."""
        if self._permissions is None:
            return False
        resource, context = _url_resource(config)
        try:
            self._permissions.check_other_account(
                signer.principal, "lambda:InvokeFunctionUrl", resource, context
            )
        except AccessDenied:
            return False
        return True

    async def _invoke(
        self,
        config: FunctionUrlConfig,
        request: HttpRequest,
        raw_path: str,
        host: str,
        request_id: str,
        signer: AccessKey | None,
    ) -> tuple[UrlResponse, AsyncGenerator[bytes, None] | None]:
        forwarded = _header(request, "x-forwarded-for")
        source_ip = forwarded.split(",")[0].strip() if forwarded else "127.0.0.1"
        event = request_event(
            config,
            UrlRequest(
                request.method,
                raw_path,
                request.raw_query,
                request.headers,
                request.body,
                source_ip,
                request_id,
                int(self._clock.now().timestamp() * 1000),
                host.split(":", 1)[0] or "localhost",
                (signer.access_key_id, signer.account_id) if signer is not None else None,
            ),
        )
        qualifier = None if config.qualifier == LATEST else config.qualifier
        try:
            target = self._invoker.target(
                Caller(config.account, config.region), FunctionRef(config.function_name, qualifier)
            )
            if target.function.id != config.function_id:
                return not_found(), None
            check_invocable(target.version)
            payload = json.dumps(event).encode()
            if config.invoke_mode == "RESPONSE_STREAM":
                return await self._stream(target, payload, request_id)
            invocation = InvocationRequest(request_id, payload, target.invoked_arn)
            result = await self._invoker.run(target, invocation)
        except ResourceNotFound:
            return not_found(), None
        except TooManyRequests:
            return throttled(), None
        except AwsError as error:
            if error.status < 500:
                body = json.dumps({"Message": error.message}).encode()
                return UrlResponse(error.status, [("Content-Type", "application/json")], body), None
            return bad_gateway(), None
        if result.function_error:
            return bad_gateway(), None
        return function_response(result.payload), None

    async def _stream(
        self, target: Target, payload: bytes, request_id: str
    ) -> tuple[UrlResponse, AsyncGenerator[bytes, None]]:
        """RESPONSE_STREAM: the body is sent as the function writes it. A failure after the
        head was sent can only end the body early, as on AWS."""
        invocation = await self._streaming.start(target, payload, request_id, None, tail=False)
        return await _streamed(invocation)
