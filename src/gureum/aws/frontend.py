"""The single HTTP front door: authenticate, find the service and operation, dispatch, render.

One port serves every AWS service, as AWS's clients expect of a single endpoint URL: the service
of a request is read from its SigV4 credential scope (`.../us-east-1/lambda/aws4_request`), then
that service's protocol routes, parses and validates it against the botocore model, and one
handler per operation does the work. Every response gets an `x-amzn-RequestId`; every failure is
an `AwsError` rendered by the service's protocol, and anything unexpected becomes a
`ServiceException` whose details stay in the log. A service gureum does not serve is refused in
its own protocol too (the `ServiceCatalog` finds it among botocore's models), so that its SDK
shows the code and the message.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol, cast

from botocore.model import OperationModel

from gureum.aws import payloads, sigv2, sigv4
from gureum.aws.accounts import AccessKey, AccountDirectory, ExpiredCredential
from gureum.aws.catalog import Refusal, ServiceCatalog
from gureum.aws.documents import UnreadableDocument
from gureum.aws.errors import (
    AwsError,
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    RequestEntityTooLarge,
    ServiceError,
    UnrecognizedClient,
)
from gureum.aws.http import HttpResponse, header, query_params
from gureum.aws.models import ServiceModels
from gureum.aws.protocols.dialects import ErrorCodec
from gureum.aws.protocols.routes import Routed
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.validation import validate
from gureum.clock import Clock

log = logging.getLogger("gureum.frontend")
# Regions name files and ARNs: letters, digits and dashes only (no `..`, no `/`).
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")

BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def _mismatch_message(failure: sigv4.SignatureFailure) -> str:
    """AWS's text, followed by what it expected to have been signed (aws/aws-sdk-js#168), which
    is what lets a user find the header or path their client signed differently."""
    if not failure.canonical_request:
        return BAD_SIGNATURE
    return (
        f"{BAD_SIGNATURE}\n\nThe Canonical String for this request should have been\n"
        f"'{failure.canonical_request}'\n\nThe String-to-Sign should have been\n"
        f"'{failure.string_to_sign}'\n"
    )


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling, where, and how to name this call in logs and responses."""

    account_id: str
    region: str
    request_id: str
    endpoint: str
    # The operation routed to, set once routing has named it (AWS words some errors with it).
    operation: str = ""
    # Who signed: an IAM or STS ARN (the account's root for its numeric key) and the id
    # GetCallerIdentity names it by (the account id for root, AIDA... for a user, AROA...:session
    # for an assumed role).
    principal: str = ""
    user_id: str = ""
    # A session's session policy: under `--iam enforce` it bounds the role's policies.
    session_policy: str | None = None
    # The request's `X-Amzn-Trace-Id` (an SDK inside a function sends its invocation's): Lambda
    # follows a chain of invocations by its Lineage (recursive loop detection).
    trace_header: str | None = None


Result = Mapping[str, Any]
Handler = Callable[[CallContext, dict[str, Any]], Result | Awaitable[Result]]


class WireProtocol(Protocol):
    """What a protocol codec offers the front door (rest-json now; json, query, ec2 beside it)."""

    def route(self, request: HttpRequest) -> Routed: ...

    def parse(self, routed: Routed, request: HttpRequest) -> dict[str, Any]: ...

    def parse_failure(self, reason: str) -> AwsError:
        """The protocol's 400 for a request it cannot read (`reason` says why)."""
        ...

    def render(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str = ""
    ) -> HttpResponse:
        """The operation's answer; `request_id` for the protocols that carry it in the body."""
        ...

    def render_error(self, error: AwsError, request_id: str = "") -> HttpResponse: ...


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """One AWS service as served here: its codec and a handler per implemented operation."""

    signing_name: str
    protocol: WireProtocol
    handlers: Mapping[str, Handler]
    # Operation -> (largest body, AWS's message when it is exceeded).
    body_limits: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    # Operation -> top-level members whose model constraints the handler checks itself, because
    # AWS answers them differently (Lambda's Runtime enum: InvalidParameterValueException).
    unvalidated: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # How far X-Amz-Date may stray from now. The window is per service: Lambda answers
    # "Signature expired: ... (<now> - 5 min.)" (serverless/serverless#27), STS allows 15 minutes.
    signature_window: timedelta = timedelta(minutes=5)
    # A service that speaks several protocols (CloudWatch: rpc-v2-cbor, json, query) picks the
    # codec of each request with this; `protocol` is then the one for requests that name none.
    choose: Callable[[HttpRequest], WireProtocol] | None = None
    # A service whose request bodies are spooled to disk as they arrive (S3's uploads) rather
    # than read into memory under the server's cap: the largest it takes.
    spooled_body_limit: int | None = None
    # A service that takes S3's older presigned URLs (SigV2: `AWSAccessKeyId`, `Signature`,
    # `Expires`) gives the bucket a request's Host names (None for path-style): that is part of
    # what SigV2 signs.
    presigned_v2: Callable[[HttpRequest], str | None] | None = None

    def protocol_for(self, request: HttpRequest) -> WireProtocol:
        """The codec `request` is read and answered with."""
        return self.protocol if self.choose is None else self.choose(request)


def _signed_for(request: HttpRequest) -> str | None:
    """The service of the request's credential scope, if it has one that can be read (S3 for
    a SigV2 presigned URL, which names no service: only S3 makes them)."""
    try:
        return sigv4.credential_scope(request).service
    except sigv4.SignatureFailure:
        return "s3" if sigv2.is_presigned(request) else None


@functools.lru_cache(maxsize=4096)
def _on_loop(handler: Callable[..., Any]) -> bool:
    """Whether `handler` is a coroutine function (run on the loop) rather than a blocking one (run
    on a worker thread). Asked once per handler: `inspect` takes microseconds for each request."""
    return inspect.iscoroutinefunction(handler)


# The most a compressed body may grow to: beyond any operation's own limit (Lambda's largest is
# CreateFunction's 50 MB zip, never compressed by the SDKs).
_INFLATED_CAP = 64 * 1024 * 1024


def _decompressed(request: HttpRequest, protocol: WireProtocol) -> HttpRequest:
    """`request` with its body inflated when the SDK gzipped it: botocore compresses operations
    whose model asks for it (CloudWatch's PutMetricData past 10 KB) after signing the
    compressed bytes, which the signature check has already seen."""
    encoding = next((v for k, v in request.headers if k.lower() == "content-encoding"), "")
    if encoding.strip().lower() != "gzip":
        return request
    inflater = zlib.decompressobj(wbits=31)
    try:
        body = inflater.decompress(request.body, _INFLATED_CAP)
    except zlib.error:
        raise protocol.parse_failure("The request body is not valid gzip") from None
    if inflater.unconsumed_tail:
        raise RequestEntityTooLarge("Request entity too large")
    return replace(request, body=body)


def _session_token(request: HttpRequest) -> str | None:
    """The request's session token: a header, or a presigned URL's query parameter."""
    token = header(request.headers, "x-amz-security-token")
    if token is None:
        token = dict(query_params(request.raw_query)).get("X-Amz-Security-Token")
    return token


class Authorizer(Protocol):
    """Decides, before its handler runs, whether the caller may make a request (`--iam
    enforce`); the composition root fills it with IAM's authorizer."""

    def authorize(
        self, service: str, operation: str, context: CallContext, params: Mapping[str, Any]
    ) -> None:
        """Returns when allowed; raises the AWS error (AccessDeniedException) otherwise."""
        ...


class NotImplementedOperation(AwsError):
    code = "NotImplementedException"
    status = 501


class Frontend:
    """Turns an `HttpRequest` into an `HttpResponse` for any registered service."""

    def __init__(
        self,
        services: Mapping[str, ServiceEndpoint],
        accounts: AccountDirectory,
        clock: Clock,
        executor: Executor,
        default_service: str,
        catalog: ServiceCatalog | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self._services = services
        self._authorizer = authorizer
        self._accounts = accounts
        self._clock = clock
        self._executor = executor
        self._default = services[default_service]
        self._catalog = catalog or ServiceCatalog(ServiceModels())

    def spooled_body_limit(self, request: HttpRequest) -> int | None:
        """How large a body `request` (its head: no body yet) may spool to disk, when it is
        signed for a service that streams its bodies; None: read it into memory."""
        signed_for = _signed_for(request)
        service = self._services.get(signed_for) if signed_for is not None else None
        return None if service is None else service.spooled_body_limit

    async def handle(
        self, request: HttpRequest, endpoint: str, oversized: bool = False
    ) -> HttpResponse:
        """Answers one request; `oversized` means its body was too large to even read whole."""
        request_id = str(uuid.uuid4())
        service = self._default
        # Every error is in the protocol of the service the scope names, served or not, once the
        # scope can be read; before that (no signature at all), in the default service's.
        errors: ErrorCodec = service.protocol
        try:
            signed_for = _signed_for(request)
            refusal: Refusal | None = None
            if signed_for is not None and signed_for not in self._services:
                refusal = await self._refusal(signed_for, request)
                errors = refusal.errors
            elif signed_for is not None:
                service = self._services[signed_for]
                errors = service.protocol_for(request)
            if oversized:
                raise self._too_large(request)
            scope, key, claimed = self._authenticate(request)
            if _REGION.fullmatch(scope.region) is None:
                raise InvalidSignature(f"'{scope.region}' is not a valid region name.")
            if refusal is not None:
                raise refusal.error
            context = CallContext(
                key.account_id,
                scope.region,
                request_id,
                endpoint,
                principal=key.principal,
                user_id=key.caller_id,
                session_policy=key.session_policy,
                trace_header=header(request.headers, "x-amzn-trace-id"),
            )
            if request.payload is None:
                response = await self._dispatch(service, request, context)
            else:
                decoded = await self._decoded(request, claimed, key)
                try:
                    response = await self._dispatch(service, decoded, context)
                finally:  # the spool a handler did not take over (the server removes `request`'s)
                    if decoded.payload is not request.payload:
                        payloads.discard(decoded.payload)
        except AwsError as error:
            if error.status >= 500:
                log.warning("request %s failed: %s %s", request_id, error.code, error.message)
            response = errors.render_error(error, request_id)
        except RecursionError:
            # Only a request's nesting drives gureum this deep: it is the caller's input that
            # cannot be read, AWS's 400, not a 500 that clients would retry (issue #20).
            log.warning("request %s nested too deeply", request_id, exc_info=True)
            protocol = service.protocol_for(request)
            failure = protocol.parse_failure("Document nested too deeply to be read")
            response = errors.render_error(failure, request_id)
        except Exception:
            log.exception("request %s failed unexpectedly", request_id)
            internal = ServiceError(f"An internal error occurred (request id {request_id}).")
            response = errors.render_error(internal, request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    async def _refusal(self, signed_for: str, request: HttpRequest) -> Refusal:
        """What to answer a request signed for a service gureum does not serve, and in which
        protocol. The catalog may read models from disk, so a worker thread asks it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._catalog.refusal, signed_for, request
        )

    def _too_large(self, request: HttpRequest) -> RequestEntityTooLarge:
        """The 413 for a body past every limit, named after its operation when that is known."""
        try:
            service = self._services.get(sigv4.credential_scope(request).service, self._default)
            operation = service.protocol_for(request).route(request).operation.name
        except (sigv4.SignatureFailure, AwsError):
            return RequestEntityTooLarge("Request entity too large")
        limit = service.body_limits.get(operation)
        if limit is not None:
            return RequestEntityTooLarge(limit[1])
        return RequestEntityTooLarge(f"Request is too large for the {operation} operation")

    def _authenticate_v2(
        self, request: HttpRequest, bucket_of: Callable[[HttpRequest], str | None]
    ) -> tuple[sigv4.CredentialScope, AccessKey]:
        """A SigV2 presigned URL's signer. SigV2 names no region: the default one's scope."""
        try:
            found = sigv2.claim(request)
        except sigv4.SignatureFailure as failure:
            raise IncompleteSignature(failure.detail) from None
        assert found is not None
        key = self._find_key(found.access_key, _session_token(request))
        try:
            sigv2.verify(
                request, found, key.secret_access_key, self._clock.now(), bucket_of(request)
            )
        except sigv4.SignatureFailure as failure:
            if failure.problem is sigv4.SignatureProblem.MISMATCH:
                raise InvalidSignature(failure.detail) from None
            raise MissingAuthenticationToken(failure.detail) from None
        now = self._clock.now()
        return sigv4.CredentialScope(found.access_key, f"{now:%Y%m%d}", "us-east-1", "s3"), key

    def _find_key(self, access_key: str, token: str | None) -> AccessKey:
        try:
            key = self._accounts.find(access_key, token)
        except ExpiredCredential:
            raise ExpiredToken("The security token included in the request is expired") from None
        # A session's key is only good with its own token (a forged or missing one is refused
        # as an unknown key, as AWS does).
        if key is None or (key.session_token is not None and token != key.session_token):
            raise UnrecognizedClient("The security token included in the request is invalid.")
        return key

    async def _decoded(
        self, request: HttpRequest, claimed: sigv4.Claim | None, key: AccessKey
    ) -> HttpRequest:
        """`request` with its spooled aws-chunked body decoded (and each chunk's signature
        checked): the payload a handler sees is the object's bytes, never the framing."""
        assert request.payload is not None
        declared = header(request.headers, "x-amz-content-sha256")
        if declared not in sigv4.STREAMING_PAYLOADS:
            return request
        signer = None
        if declared == sigv4.STREAMING_SIGNED:
            if claimed is None:
                raise IncompleteSignature("A streaming payload needs a SigV4 signature.")
            secret = sigv4.signing_key(key.secret_access_key, claimed.scope)
            signer = payloads.ChunkSigner(
                secret, claimed.timestamp, claimed.scope, claimed.signature
            )
        length = header(request.headers, "x-amz-decoded-content-length")
        expected = int(length) if length is not None and length.isdecimal() else None
        loop = asyncio.get_running_loop()
        decoded = await loop.run_in_executor(
            self._executor, payloads.decode_chunked, request.payload, signer, expected
        )
        return replace(request, payload=decoded)

    def _authenticate(
        self, request: HttpRequest
    ) -> tuple[sigv4.CredentialScope, AccessKey, sigv4.Claim | None]:
        s3 = self._services.get("s3")
        if s3 is not None and s3.presigned_v2 is not None and sigv2.is_presigned(request):
            scope, key = self._authenticate_v2(request, s3.presigned_v2)
            return scope, key, None
        try:
            claimed = sigv4.claim(request)
        except sigv4.SignatureFailure as failure:
            if failure.problem is sigv4.SignatureProblem.MISSING:
                raise MissingAuthenticationToken("Missing Authentication Token") from None
            raise IncompleteSignature(failure.detail) from None
        scope = claimed.scope
        key = self._find_key(scope.access_key, _session_token(request))
        window = self._services.get(scope.service, self._default).signature_window
        try:
            sigv4.verify(
                request, key.secret_access_key, self._clock.now(), max_skew=window, claimed=claimed
            )
        except sigv4.SignatureFailure as failure:
            if failure.problem is sigv4.SignatureProblem.MISMATCH:
                raise InvalidSignature(_mismatch_message(failure)) from None
            if failure.problem is sigv4.SignatureProblem.MALFORMED:
                raise IncompleteSignature(failure.detail) from None
            raise InvalidSignature(failure.detail) from None
        return scope, key, claimed

    async def _dispatch(
        self, service: ServiceEndpoint, request: HttpRequest, context: CallContext
    ) -> HttpResponse:
        protocol = service.protocol_for(request)
        routed = protocol.route(request)
        operation = routed.operation
        limit = service.body_limits.get(operation.name)
        if limit is not None and len(request.body) > limit[0]:
            raise RequestEntityTooLarge(limit[1])
        # AWS validates before anything else, so an operation gureum lacks still answers a
        # malformed request with AWS's 400, not with 501.
        request = _decompressed(request, protocol)
        context = replace(context, operation=operation.name)
        params = self._parse(service, protocol, routed, request, context)
        handler = service.handlers.get(operation.name)
        if handler is None:
            raise NotImplementedOperation(
                f"gureum does not implement the {operation.name} operation yet."
            )
        if _on_loop(handler):
            result = await cast(Awaitable[Result], handler(context, params))
        else:
            loop = asyncio.get_running_loop()
            blocking = cast(Callable[[CallContext, dict[str, Any]], Result], handler)
            result = await loop.run_in_executor(self._executor, blocking, context, params)
        assert isinstance(result, Mapping)
        return protocol.render(operation, result, context.request_id)

    def _parse(
        self,
        service: ServiceEndpoint,
        protocol: WireProtocol,
        routed: Routed,
        request: HttpRequest,
        context: CallContext,
    ) -> dict[str, Any]:
        """The request's members, authorized (`--iam enforce`), then checked against the model.
        Whatever the input, a failure here is the protocol's 400: the codecs map what they
        foresee, and anything they did not (a parser's ValueError, OverflowError or
        RecursionError) is still the caller's input."""
        try:
            params = protocol.parse(routed, request)
            if self._authorizer is not None:
                # Before validation, as AWS does: a caller who may not call an operation learns
                # nothing from its constraints. Cached per principal and policy revision: no
                # I/O on the loop once warm.
                name = routed.operation.name
                self._authorizer.authorize(service.signing_name, name, context, params)
            if routed.operation.input_shape is not None:
                exempt = service.unvalidated.get(routed.operation.name, frozenset())
                validate(routed.operation.input_shape, params, exempt)
        except (ValueError, OverflowError, RecursionError) as exc:
            log.warning("unreadable request for %s", routed.operation.name, exc_info=True)
            reason = f"Unreadable request: {type(exc).__name__}"
            if isinstance(exc, UnreadableDocument):
                reason = exc.reason
            raise protocol.parse_failure(reason) from None
        return params
