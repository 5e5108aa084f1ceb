"""Server-side verification of AWS Signature Version 4 (``AWS4-HMAC-SHA256``).

Mirrors byte for byte what botocore 1.44 signs for non-S3 services: ``SigV4Auth`` (Authorization
header) and ``SigV4QueryAuth`` (presigned URL). Notably the canonical URI is the wire path, dot
segments and ``//`` removed, percent-encoded *again* (``%3A`` -> ``%253A``); the canonical query
is every pair re-encoded with only ``A-Za-z0-9-_.~`` bare, sorted by key then value; a presigned
URL signs the body's SHA-256 like the header form (``UNSIGNED-PAYLOAD``, S3's way, is accepted too).
Pure: no I/O, no clock reads (the caller passes ``now``). `SignatureFailure.detail` is worded as
AWS words it. Routing by region or service is the caller's job: the signature is recomputed for
whatever scope the credential names.

It is on every request's path, so a request is read once (`claim`: the headers indexed in one
pass, the Authorization parsed), the front door verifies that same claim, the signing key of a
(secret, date, region, service) is derived once a day rather than per request (four HMACs), and
timestamps are read without `strptime`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum, auto
from functools import lru_cache, partial
from urllib.parse import quote, unquote_plus, unquote_to_bytes

from gureum.aws.http import BodyFile

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# aws-chunked payloads (S3's uploads): each chunk signed after the headers' seed signature, or
# none signed with a checksum in the trailer (what botocore sends for S3 since 1.36).
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_PAYLOADS = frozenset({STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER})
CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRES = 604_800  # seconds: a presigned URL lives at most one week
MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_TS = "%Y%m%dT%H%M%SZ"
_TIMESTAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)
_PRESIGN_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    raw_path: str  # path exactly as on the wire, still percent-encoded, no query
    raw_query: str  # query string as on the wire ('' if none), without '?'
    headers: Sequence[tuple[str, str]]  # as received, names in any case, duplicates possible
    body: bytes
    # The body, when it was spooled to disk instead of read into `body` (then empty).
    payload: BodyFile | None = None


@dataclass(frozen=True, slots=True)
class CredentialScope:
    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str


class SignatureProblem(StrEnum):
    MISSING = auto()  # neither an Authorization header nor a presigned query
    MALFORMED = auto()  # present, but garbled or incomplete
    MISMATCH = auto()  # well formed, but the signature, payload hash or scope date is wrong
    EXPIRED = auto()
    NOT_YET_VALID = auto()


class SignatureFailure(Exception):
    """Verification failed. ``canonical_request``/``string_to_sign`` are set on a MISMATCH."""

    def __init__(
        self, problem: SignatureProblem, detail: str, canonical: str = "", to_sign: str = ""
    ) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem, self.detail = problem, detail
        self.canonical_request, self.string_to_sign = canonical, to_sign


_malformed = partial(SignatureFailure, SignatureProblem.MALFORMED)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request says of its signature, read once; nothing in it is verified yet."""

    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # YYYYMMDDTHHMMSSZ
    expires: int | None  # X-Amz-Expires, when presigned
    headers: dict[str, list[str]]  # lower-cased name -> values, in order


def claim(request: HttpRequest) -> Claim:
    """Who claims to have signed `request`, and how; `verify` checks it."""
    return _parse(request)


def credential_scope(request: HttpRequest) -> CredentialScope:
    """Who claims to have signed `request`, for which date/region/service. Nothing is verified."""
    return _parse(request).scope


def verify(
    request: HttpRequest,
    secret_key: str,
    now: datetime,
    *,
    max_skew: timedelta = MAX_SKEW,
    claimed: Claim | None = None,
) -> CredentialScope:
    """Check `request`'s signature with `secret_key` at the (timezone-aware) time `now`.

    `claimed` is `claim(request)` when the caller has it already (the request is not read again).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    found = claimed or _parse(request)
    scope, signed_headers, signature = found.scope, found.signed_headers, found.signature
    timestamp, expires = found.timestamp, found.expires
    _check_time(timestamp, now.astimezone(UTC), max_skew, expires)
    if scope.date != timestamp[:8]:
        raise SignatureFailure(
            SignatureProblem.MISMATCH,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            f"HTTP: '{scope.date}' != '{timestamp[:8]}', from '{timestamp}'.",
        )
    presigned, key = expires is not None, signing_key(secret_key, scope)
    candidates = []  # (canonical request, string to sign)
    for payload in _payload_hashes(request, found.headers, presigned):
        canonical = canonical_request(
            request,
            signed_headers,
            payload,
            presigned=presigned,
            headers=found.headers,
            as_sent=scope.service == "s3",
        )
        to_sign = string_to_sign(timestamp, scope, canonical)
        expected = hmac.digest(key, to_sign.encode(), "sha256").hex()
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return scope
        candidates.append((canonical, to_sign))
    raise SignatureFailure(SignatureProblem.MISMATCH, MISMATCH_MESSAGE, *candidates[0])


def canonical_request(
    request: HttpRequest,
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    presigned: bool,
    headers: dict[str, list[str]] | None = None,
    as_sent: bool = False,
) -> str:
    """The canonical request, as ``SigV4Auth.canonical_request`` builds it."""
    values = _index(request) if headers is None else headers
    canonical_headers = "".join(
        f"{n}:{','.join(' '.join(v.split()) for v in values.get(n.lower(), ()))}\n"
        for n in signed_headers
    )
    pairs = sorted((_uri_encode(k), _uri_encode(v)) for k, v in _query_pairs(request.raw_query))
    skip = "X-Amz-Signature" if presigned else None  # the one parameter a presigned URL leaves out
    query = "&".join(f"{k}={v}" for k, v in pairs if k != skip)
    # S3's signers take the path as sent: neither normalized nor encoded again (botocore's
    # `S3SigV4Auth._normalize_url_path`).
    path = request.raw_path if as_sent else quote(_normalize_path(request.raw_path), safe="/~")
    method = request.method.upper()
    signed = ";".join(signed_headers)
    return f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed}\n{payload_hash}"


def chunk_signature(
    key: bytes, timestamp: str, scope: CredentialScope, previous: str, chunk_sha256: str
) -> str:
    """The signature of one chunk of an aws-chunked payload, chained to the one before (the
    headers' seed signature for the first chunk)."""
    scope_text = f"{scope.date}/{scope.region}/{scope.service}/{TERMINATOR}"
    to_sign = (
        f"{CHUNK_ALGORITHM}\n{timestamp}\n{scope_text}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256}"
    )
    return hmac.digest(key, to_sign.encode(), "sha256").hex()


def string_to_sign(timestamp: str, scope: CredentialScope, canonical: str) -> str:
    scope_text = f"{scope.date}/{scope.region}/{scope.service}/{TERMINATOR}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope_text}\n{digest}"


def signing_key(secret_key: str, scope: CredentialScope) -> bytes:
    return _signing_key(secret_key, scope.date, scope.region, scope.service)


@lru_cache(maxsize=256)  # a key lives for a day: memoized, it costs nothing per request
def _signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def _index(request: HttpRequest) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers.setdefault(name.lower(), []).append(value)
    return headers


# The last request parsed and its claim: a request is read for its scope (which service), its
# claim and its signature in turn, by one thread, and parsing is a fifth of checking a signature.
# Keyed by the request's header list and query, which are all a claim is read from: the server
# reads a request's head for its scope before its body, and the request with its body (made by
# `dataclasses.replace`) shares that list. Holding the list keeps its identity from being reused
# while it is remembered; header lists are never changed in place.
_last_parsed: list[tuple[Sequence[tuple[str, str]], str, Claim] | None] = [None]


def _parse(request: HttpRequest) -> Claim:
    last = _last_parsed[0]
    if last is not None and last[0] is request.headers and last[1] == request.raw_query:
        return last[2]
    claim = _parse_afresh(request)
    _last_parsed[0] = (request.headers, request.raw_query, claim)
    return claim


def _parse_afresh(request: HttpRequest) -> Claim:
    headers = _index(request)
    header = _single_header(headers, "authorization")
    query = [(unquote_plus(k), unquote_plus(v)) for k, v in _query_pairs(request.raw_query)]
    presigned = any(k in _PRESIGN_MARKERS for k, _ in query)
    if header is not None and presigned:
        raise _malformed("Only one auth mechanism allowed: Authorization header or X-Amz-* query")
    required: tuple[str, ...] = ("Credential", "SignedHeaders", "Signature")
    if presigned:  # X-Amz-Date and X-Amz-Expires are part of the signed query
        pairs = [(k[6:], v) for k, v in query if k.startswith("X-Amz-")]
        algorithm, required = dict(pairs).get("Algorithm", ""), (*required, "Date", "Expires")
    elif header is None:
        raise SignatureFailure(SignatureProblem.MISSING, "Missing Authentication Token")
    else:  # anything else in the (unsigned) Authorization header is ignored, never trusted
        algorithm, _, rest = header.strip().partition(" ")
        items = [item.partition("=") for item in re.split(r"[\s,]+", rest) if item]
        if any(not sep for _, sep, _ in items):
            raise _malformed("Invalid key=value pair (missing equal-sign) in Authorization header")
        pairs = [(k, v) for k, _, v in items if k in required]
    if len(fields := dict(pairs)) != len(pairs):
        raise _malformed("Repeated signature parameter.")
    if algorithm != ALGORITHM:
        raise _malformed(f"Unsupported AWS 'algorithm': '{algorithm}'")
    if missing := [name for name in required if name not in fields]:
        raise _malformed(" ".join(f"Authorization requires '{n}' parameter." for n in missing))
    expires = fields.get("Expires")
    if expires is not None and not (expires.isdecimal() and int(expires) <= MAX_EXPIRES):
        raise _malformed(f"X-Amz-Expires must be a whole number of seconds up to {MAX_EXPIRES}")
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    if not all(signed_headers) or "host" not in (n.lower() for n in signed_headers):
        raise _malformed("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    parts = (credential := fields["Credential"]).split("/")
    if len(parts) != 5 or not all(parts) or parts[4] != TERMINATOR or not parts[1].isdecimal():
        raise _malformed(
            f"Credential must be key/YYYYMMDD/region/service/{TERMINATOR}: {credential}"
        )
    timestamp = fields["Date"] if presigned else _header_timestamp(headers)
    seconds = None if expires is None else int(expires)
    scope = CredentialScope(*parts[:4])
    return Claim(scope, signed_headers, fields["Signature"], timestamp, seconds, headers)


def _header_timestamp(headers: dict[str, list[str]]) -> str:
    amz_date, date = _single_header(headers, "x-amz-date"), _single_header(headers, "date")
    if amz_date is not None:
        return amz_date.strip()
    if date is None:
        raise _malformed("Authorization header requires a 'X-Amz-Date' or a 'Date' header.")
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _malformed(f"Invalid Date header: '{date}'") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).strftime(_TS)


def _check_time(timestamp: str, now: datetime, skew: timedelta, expires: int | None) -> None:
    # The signature covers the raw string, so a lenient parse lets no forgery through; `datetime`
    # refuses out-of-range fields as `strptime` would, at a tenth of its cost.
    fields = _TIMESTAMP.fullmatch(timestamp)
    try:
        if fields is None:
            raise ValueError(timestamp)
        year, month, day, hour, minute, second = map(int, fields.groups())
        signed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise _malformed(f"Invalid X-Amz-Date: '{timestamp}'") from None
    span = f"{skew.total_seconds() / 60:g} min"
    if signed > (late := now + skew):
        detail = f"Signature not yet current: {signed:{_TS}} is still later than {late:{_TS}}"
        raise SignatureFailure(SignatureProblem.NOT_YET_VALID, f"{detail} ({now:{_TS}} + {span}.)")
    if expires is None and signed < (early := now - skew):
        detail = f"Signature expired: {signed:{_TS}} is now earlier than {early:{_TS}}"
        raise SignatureFailure(SignatureProblem.EXPIRED, f"{detail} ({now:{_TS}} - {span}.)")
    if expires is not None and now > signed + timedelta(seconds=expires):
        detail = f"Request has expired: {signed:{_TS}} + {expires} sec. is before {now:{_TS}}."
        raise SignatureFailure(SignatureProblem.EXPIRED, detail)


def _payload_hashes(
    request: HttpRequest, headers: dict[str, list[str]], presigned: bool
) -> list[str]:
    declared = _single_header(headers, "x-amz-content-sha256")
    if declared in STREAMING_PAYLOADS:
        return [declared]  # the chunks are checked as they are decoded (`aws.payloads`)
    if declared is not None and declared.startswith("STREAMING-"):
        raise _malformed(
            f"x-amz-content-sha256 {declared} is not supported: sign the payload, or send it "
            f"as {STREAMING_SIGNED} or {STREAMING_UNSIGNED_TRAILER}."
        )
    if request.payload is not None:
        actual = request.payload.sha256
    else:
        actual = hashlib.sha256(request.body).hexdigest()
    if declared is None:  # S3-style presigners sign UNSIGNED-PAYLOAD instead of the body hash
        return [actual, UNSIGNED_PAYLOAD] if presigned else [actual]
    if declared not in (UNSIGNED_PAYLOAD, actual):
        detail = "The provided 'x-amz-content-sha256' header does not match what was computed."
        raise SignatureFailure(SignatureProblem.MISMATCH, detail)
    return [declared]


def _single_header(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name, ())
    if len(values) > 1:
        raise _malformed(f"Repeated '{name}' header.")
    return values[0] if values else None


def _normalize_path(path: str) -> str:
    """``botocore.utils.normalize_url_path``: drop ``.`` and empty segments, resolve ``..``."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            segments = segments[:-1]
        elif segment not in ("", "."):
            segments.append(segment)
    last = "/" if path.endswith("/") and segments else ""
    return ("/" if path.startswith("/") or not path else "") + "/".join(segments) + last


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (i.partition("=") for i in raw_query.split("&") if raw_query)]


def _uri_encode(text: str) -> str:
    """Every byte but ``A-Za-z0-9-_.~`` percent-encoded (botocore's ``percent_encode``). SDKs that
    form-encode queries send a space as ``+``, which AWS also reads as a space."""
    return quote(unquote_to_bytes(text.replace("+", " ")), safe="-_.~")
