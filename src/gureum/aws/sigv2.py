"""Presigned URLs of S3's older signature (`AWSAccessKeyId`, `Signature`, `Expires`), which
boto3's `generate_presigned_url` and `aws s3 presign` still make for S3 unless told to sign
with SigV4.

Mirrors botocore's `HmacV1QueryAuth`: the string to sign is the method, the Content-MD5 and
Content-Type headers, the expiry (epoch seconds), the `x-amz-*` headers, and the resource (the
path as sent, with the bucket in front for a virtual-hosted request, and S3's sub-resources
from the query); the signature is its HMAC-SHA1 under the secret key, in base64. Pure: the
caller passes `now`. Only presigned URLs are read here; a SigV2 Authorization header is refused
by the front door as an unknown scheme.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, unquote_plus

from gureum.aws.http import header
from gureum.aws.sigv4 import HttpRequest, SignatureFailure, SignatureProblem

# The query parameters S3 signs as part of the resource (botocore's
# `auth.HmacV1Auth.QSAOfInterest`).
SUB_RESOURCES = frozenset(
    {
        "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber",
        "policy", "requestPayment", "torrent", "versioning", "versionId", "versions", "website",
        "uploads", "uploadId", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
        "storageClass", "notification", "replication", "analytics",
        "metrics", "inventory", "select", "select-type", "object-lock",
    }
)  # fmt: skip
_MARKERS = ("AWSAccessKeyId", "Signature", "Expires")


@dataclass(frozen=True, slots=True)
class PresignedV2:
    access_key: str
    signature: str
    expires: int


def _pairs(raw_query: str) -> list[tuple[str, str]]:
    return [
        (unquote_plus(k), unquote_plus(v))
        for k, _, v in (item.partition("=") for item in raw_query.split("&") if item)
    ]


def is_presigned(request: HttpRequest) -> bool:
    names = {item.partition("=")[0] for item in request.raw_query.split("&")}
    return all(name in names for name in _MARKERS)


def claim(request: HttpRequest) -> PresignedV2 | None:
    """The SigV2 presigned claim of `request`, or None when it is not one."""
    query = dict(_pairs(request.raw_query))
    if not all(name in query for name in _MARKERS):
        return None
    expires = query["Expires"]
    if not expires.isdecimal():
        raise SignatureFailure(SignatureProblem.MALFORMED, f"Invalid Expires: '{expires}'")
    return PresignedV2(query["AWSAccessKeyId"], query["Signature"], int(expires))


def string_to_sign(request: HttpRequest, expires: int, bucket_in_host: str | None) -> str:
    amz = sorted(
        (name.lower().strip(), value.strip())
        for name, value in request.headers
        if name.lower().startswith("x-amz-")
    )
    amz_text = "".join(f"{name}:{value}\n" for name, value in amz)
    resource = request.raw_path or "/"
    if bucket_in_host is not None:
        resource = f"/{bucket_in_host}{resource}"
    # As botocore writes them: `name` alone when it had no `=`, else `name=<unquoted value>`.
    items = [item.split("=", 1) for item in request.raw_query.split("&") if item]
    signed = sorted(
        (parts[0], "=".join([parts[0], unquote(parts[1])]) if len(parts) == 2 else parts[0])
        for parts in items
        if parts[0] in SUB_RESOURCES
    )
    if signed:
        resource += "?" + "&".join(text for _, text in signed)
    md5 = header(request.headers, "content-md5") or ""
    kind = header(request.headers, "content-type") or ""
    return f"{request.method.upper()}\n{md5}\n{kind}\n{expires}\n{amz_text}{resource}"


def verify(
    request: HttpRequest,
    found: PresignedV2,
    secret_key: str,
    now: datetime,
    bucket_in_host: str | None = None,
) -> None:
    """Checks a SigV2 presigned URL; raises SignatureFailure as AWS words its refusals."""
    if now.timestamp() > found.expires:
        raise SignatureFailure(SignatureProblem.EXPIRED, "Request has expired")
    to_sign = string_to_sign(request, found.expires, bucket_in_host)
    digest = hmac.digest(secret_key.encode(), to_sign.encode(), "sha1")
    expected = base64.b64encode(digest).decode()
    if not hmac.compare_digest(expected.encode(), found.signature.encode()):
        raise SignatureFailure(
            SignatureProblem.MISMATCH,
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            to_sign=to_sign,
        )
