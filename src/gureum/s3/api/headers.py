"""The object headers a request sets and a response carries, and the members gureum refuses.

S3 takes many request members gureum does not act on (ACLs, encryption, object lock, tags,
versions, storage classes). Each is refused with `NotImplemented` rather than stored and
ignored, so a client never believes it has, say, an encrypted or locked object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gureum.s3.domain.errors import NotImplementedFeature
from gureum.s3.domain.objects import Conditions, ObjectHeaders, StoredObject

Params = dict[str, Any]

ACL = ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP")
ENCRYPTION = (
    "ServerSideEncryption",
    "SSECustomerAlgorithm",
    "SSECustomerKey",
    "SSECustomerKeyMD5",
    "SSEKMSKeyId",
    "SSEKMSEncryptionContext",
    "BucketKeyEnabled",
)
OBJECT_LOCK = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
WRITE_EXTRAS = (
    *ACL,
    *ENCRYPTION,
    *OBJECT_LOCK,
    "Tagging",
    "WebsiteRedirectLocation",
    "WriteOffsetBytes",
)
# What each writing operation refuses, beyond its shared extras.
PUT_REFUSED = (*WRITE_EXTRAS, "IfMatch", "IfNoneMatch")
COPY_REFUSED = (
    *WRITE_EXTRAS,
    "TaggingDirective",
    "CopySourceSSECustomerAlgorithm",
    "CopySourceSSECustomerKey",
    "CopySourceSSECustomerKeyMD5",
)
READ_REFUSED = ("SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5", "PartNumber")


def refuse(params: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if params.get(name) is not None:
            raise NotImplementedFeature(
                f"the {name} request member (gureum's S3 stores plain objects)"
            )
    storage = params.get("StorageClass")
    if storage is not None and storage != "STANDARD":
        raise NotImplementedFeature(f"the {storage} storage class (gureum stores STANDARD only)")
    version = params.get("VersionId")
    if version is not None and version != "null":
        raise NotImplementedFeature("object versions (gureum's buckets are unversioned)")


def object_headers(params: Mapping[str, Any]) -> ObjectHeaders:
    # The SDKs' own framing is no part of the object (S3 drops it too).
    encoding = params.get("ContentEncoding")
    if encoding is not None:
        kept = [e.strip() for e in encoding.split(",") if e.strip() and e.strip() != "aws-chunked"]
        encoding = ", ".join(kept) or None
    expires = params.get("Expires")
    return ObjectHeaders(
        params.get("ContentType") or "binary/octet-stream",
        params.get("CacheControl"),
        params.get("ContentDisposition"),
        encoding,
        params.get("ContentLanguage"),
        expires.timestamp() if isinstance(expires, datetime) else None,
        dict(params.get("Metadata") or {}),
    )


def conditions(params: Mapping[str, Any], prefix: str = "") -> Conditions:
    def moment(name: str) -> float | None:
        value = params.get(f"{prefix}{name}")
        return value.timestamp() if isinstance(value, datetime) else None

    return Conditions(
        params.get(f"{prefix}IfMatch"),
        params.get(f"{prefix}IfNoneMatch"),
        moment("IfModifiedSince"),
        moment("IfUnmodifiedSince"),
    )


def described(item: StoredObject) -> Params:
    """The headers of a GetObject or HeadObject answer."""
    headers = item.headers
    result: Params = {
        "ETag": item.etag,
        "LastModified": item.modified,
        "ContentType": headers.content_type,
        "CacheControl": headers.cache_control,
        "ContentDisposition": headers.content_disposition,
        "ContentEncoding": headers.content_encoding,
        "ContentLanguage": headers.content_language,
        "Expires": headers.expires,
        "Metadata": dict(headers.metadata) or None,
        "AcceptRanges": "bytes",
    }
    return result


def overridden(result: Params, params: Mapping[str, Any]) -> Params:
    """GetObject's `response-*` query parameters replace the stored headers in the answer."""
    for member in (
        "CacheControl",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "ContentType",
    ):
        value = params.get(f"Response{member}")
        if value is not None:
            result[member] = value
    if params.get("ResponseExpires") is not None:
        result["Expires"] = params["ResponseExpires"]
    return result


def owner(account: str) -> Params:
    """The account as S3 names an owner: a 64-hex canonical user id."""
    return {"ID": hashlib.sha256(account.encode()).hexdigest(), "DisplayName": account}
