"""S3's operations on the wire: each parses what botocore's model read, calls one service
method, and renders (see `aws.protocols.restxml`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

from gureum.aws.frontend import CallContext, Handler
from gureum.aws.http import BodyFile, FileSlice
from gureum.aws.payloads import check_trailers
from gureum.aws.protocols.restxml import STATUS
from gureum.s3.api import headers as wire
from gureum.s3.api.headers import Params
from gureum.s3.domain.errors import AccessDenied, InvalidArgument, NotImplementedFeature
from gureum.s3.domain.listing import MAX_KEYS
from gureum.s3.services.buckets import BucketService
from gureum.s3.services.multipart import MultipartService
from gureum.s3.services.objects import ObjectService
from gureum.s3.services.ports import Requester
from gureum.s3.store.blobs import BlobStore

CHECKSUM_HEADERS = {
    "ChecksumCRC32": "x-amz-checksum-crc32",
    "ChecksumCRC32C": "x-amz-checksum-crc32c",
    "ChecksumCRC64NVME": "x-amz-checksum-crc64nvme",
    "ChecksumSHA1": "x-amz-checksum-sha1",
    "ChecksumSHA256": "x-amz-checksum-sha256",
}


def requester(ctx: CallContext) -> Requester:
    return Requester(
        ctx.account_id, ctx.region, ctx.request_id, ctx.principal, trace_header=ctx.trace_header
    )


def check_owner(ctx: CallContext, params: Params) -> None:
    expected = params.get("ExpectedBucketOwner")
    if expected is not None and expected != ctx.account_id:
        raise AccessDenied()


def checksums(params: Params) -> dict[str, str]:
    return {h: params[m] for m, h in CHECKSUM_HEADERS.items() if params.get(m) is not None}


def _url(text: str | None, encode: bool) -> str | None:
    return quote(text, safe="/") if encode and text is not None else text


class S3Api:
    def __init__(
        self,
        buckets: BucketService,
        objects: ObjectService,
        uploads: MultipartService,
        blobs: BlobStore,
    ) -> None:
        self._buckets = buckets
        self._objects = objects
        self._uploads = uploads
        self._blobs = blobs

    def handlers(self) -> dict[str, Handler]:
        table: dict[str, Callable[[CallContext, Params], Params]] = {
            "CreateBucket": self.create_bucket,
            "HeadBucket": self.head_bucket,
            "ListBuckets": self.list_buckets,
            "DeleteBucket": self.delete_bucket,
            "PutObject": self.put_object,
            "GetObject": self.get_object,
            "HeadObject": self.head_object,
            "DeleteObject": self.delete_object,
            "DeleteObjects": self.delete_objects,
            "CopyObject": self.copy_object,
            "ListObjectsV2": self.list_objects_v2,
            "CreateMultipartUpload": self.create_multipart_upload,
            "UploadPart": self.upload_part,
            "CompleteMultipartUpload": self.complete_multipart_upload,
            "AbortMultipartUpload": self.abort_multipart_upload,
            "ListParts": self.list_parts,
            "PutBucketNotificationConfiguration": self.put_notifications,
            "GetBucketNotificationConfiguration": self.get_notifications,
        }
        return {name: self._checked(handler) for name, handler in table.items()}

    @staticmethod
    def _checked(handler: Callable[[CallContext, Params], Params]) -> Handler:
        def checked(ctx: CallContext, params: Params) -> Params:
            check_owner(ctx, params)
            return handler(ctx, params)

        return checked

    def _body(self, params: Params) -> BodyFile:
        body = params.get("Body")
        if isinstance(body, BodyFile):
            return body
        return self._blobs.spool_bytes(body if isinstance(body, bytes) else b"")

    # --- buckets ----------------------------------------------------------------------------

    def create_bucket(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.ACL)
        if params.get("ObjectLockEnabledForBucket"):
            raise NotImplementedFeature("object lock")
        ownership = params.get("ObjectOwnership")
        if ownership not in (None, "BucketOwnerEnforced"):
            raise NotImplementedFeature(f"the {ownership} object ownership (ACLs)")
        config = params.get("CreateBucketConfiguration") or {}
        for member in ("Location", "Bucket", "Tags"):
            if config.get(member):
                raise NotImplementedFeature(f"CreateBucketConfiguration.{member}")
        bucket = self._buckets.create(
            ctx.account_id, ctx.region, params["Bucket"], config.get("LocationConstraint")
        )
        return {"Location": f"/{bucket.name}"}

    def head_bucket(self, ctx: CallContext, params: Params) -> Params:
        bucket = self._buckets.get(ctx.account_id, params["Bucket"])
        return {"BucketRegion": bucket.region}

    def list_buckets(self, ctx: CallContext, params: Params) -> Params:
        buckets = self._buckets.list_buckets(ctx.account_id)
        prefix, region = params.get("Prefix"), params.get("BucketRegion")
        token = params.get("ContinuationToken")
        shown = [
            b
            for b in buckets
            if (prefix is None or b.name.startswith(prefix))
            and (region is None or b.region == region)
            and (token is None or b.name > token)
        ]
        limit = params.get("MaxBuckets")
        next_token = None
        if limit is not None and len(shown) > limit:
            shown = shown[:limit]
            next_token = shown[-1].name
        return {
            "Buckets": [
                {
                    "Name": b.name,
                    "CreationDate": datetime.fromtimestamp(b.created, UTC),
                    "BucketRegion": b.region,
                }
                for b in shown
            ],
            "Owner": wire.owner(ctx.account_id),
            "ContinuationToken": next_token,
            "Prefix": prefix,
        }

    def delete_bucket(self, ctx: CallContext, params: Params) -> Params:
        self._buckets.delete(ctx.account_id, params["Bucket"])
        return {}

    # --- objects ----------------------------------------------------------------------------

    def put_object(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.PUT_REFUSED)
        item = self._objects.put(
            requester(ctx),
            params["Bucket"],
            params["Key"],
            self._body(params),
            wire.object_headers(params),
            params.get("ContentMD5"),
            checksums(params),
        )
        return {"ETag": item.etag, **{m: params.get(m) for m in CHECKSUM_HEADERS}}

    def get_object(self, ctx: CallContext, params: Params) -> Params:
        return self._read(ctx, params, read=True)

    def head_object(self, ctx: CallContext, params: Params) -> Params:
        return self._read(ctx, params, read=False)

    def _read(self, ctx: CallContext, params: Params, read: bool) -> Params:
        wire.refuse(params, wire.READ_REFUSED)
        opened = self._objects.open(
            ctx.account_id,
            params["Bucket"],
            params["Key"],
            params.get("Range"),
            wire.conditions(params),
            read=read,
        )
        item, wanted = opened.item, opened.range
        result = wire.overridden(wire.described(item), params)
        offset, length = (0, item.size) if wanted is None else (wanted.start, wanted.length)
        result["ContentLength"] = length
        if wanted is not None:
            result["ContentRange"] = wanted.content_range(item.size)
            result[STATUS] = 206
        if opened.file is not None:
            result["Body"] = FileSlice(opened.file, offset, length)
        return result

    def delete_object(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, ("MFA", "BypassGovernanceRetention", "IfMatch"))
        self._objects.delete(requester(ctx), params["Bucket"], params["Key"])
        return {}

    def delete_objects(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, ("MFA", "BypassGovernanceRetention"))
        request = params["Delete"]
        entries = request.get("Objects", [])
        for entry in entries:
            if entry.get("VersionId") not in (None, "null"):
                raise NotImplementedFeature("object versions (gureum's buckets are unversioned)")
        keys = [entry.get("Key", "") for entry in entries]
        if not keys:
            raise InvalidArgument("The XML you provided did not name any object to delete")
        done = self._objects.delete_many(requester(ctx), params["Bucket"], keys)
        return {
            "Deleted": None if request.get("Quiet") else [{"Key": k} for k in done.deleted],
            "Errors": [{"Key": k, "Code": c, "Message": m} for k, c, m in done.errors] or None,
        }

    def copy_object(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.COPY_REFUSED)
        directive = params.get("MetadataDirective", "COPY")
        item = self._objects.copy(
            requester(ctx),
            params["CopySource"],
            params["Bucket"],
            params["Key"],
            wire.object_headers(params) if directive == "REPLACE" else None,
            wire.conditions(params, "CopySource"),
        )
        return {"CopyObjectResult": {"ETag": item.etag, "LastModified": item.modified}}

    def list_objects_v2(self, ctx: CallContext, params: Params) -> Params:
        if params.get("OptionalObjectAttributes"):
            raise NotImplementedFeature("OptionalObjectAttributes")
        encoding = params.get("EncodingType")
        if encoding not in (None, "url"):
            raise InvalidArgument("Invalid Encoding Method specified in Request")
        encode = encoding == "url"
        max_keys = params.get("MaxKeys", MAX_KEYS)
        if max_keys < 0:
            raise InvalidArgument("maxKeys should be non-negative")
        prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or None
        listed = self._objects.list_objects(
            ctx.account_id,
            params["Bucket"],
            prefix,
            delimiter,
            min(max_keys, MAX_KEYS),
            params.get("ContinuationToken"),
            params.get("StartAfter"),
        )
        fetch_owner = params.get("FetchOwner")
        return {
            "Name": params["Bucket"],
            "Prefix": _url(prefix, encode),
            "Delimiter": _url(delimiter, encode),
            "MaxKeys": max_keys,
            "EncodingType": encoding,
            "KeyCount": len(listed.contents) + len(listed.common_prefixes),
            "IsTruncated": listed.truncated,
            "ContinuationToken": params.get("ContinuationToken"),
            "NextContinuationToken": listed.next_token,
            "StartAfter": _url(params.get("StartAfter"), encode),
            "Contents": [
                {
                    "Key": _url(o.key, encode),
                    "LastModified": o.modified,
                    "ETag": o.etag,
                    "Size": o.size,
                    "StorageClass": "STANDARD",
                    "Owner": wire.owner(ctx.account_id) if fetch_owner else None,
                }
                for o in listed.contents
            ]
            or None,
            "CommonPrefixes": [{"Prefix": _url(p, encode)} for p in listed.common_prefixes] or None,
        }

    # --- multipart uploads ------------------------------------------------------------------

    def create_multipart_upload(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.WRITE_EXTRAS)
        # Each part's checksum is verified as it is uploaded (gureum keeps no checksum of the
        # whole object, so GetObject answers none and SDKs validate nothing against it).
        algorithm = params.get("ChecksumAlgorithm")
        if algorithm not in (None, "CRC32", "SHA256"):
            raise NotImplementedFeature(f"{algorithm} checksums (gureum verifies CRC32 and SHA256)")
        upload = self._uploads.create(
            ctx.account_id, params["Bucket"], params["Key"], wire.object_headers(params)
        )
        return {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.id}

    def upload_part(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.ENCRYPTION)
        body = self._body(params)
        check_trailers(checksums(params), body)
        part = self._uploads.upload_part(
            ctx.account_id,
            params["Bucket"],
            params["Key"],
            params["UploadId"],
            params["PartNumber"],
            body,
            params.get("ContentMD5"),
        )
        return {"ETag": part.etag, **{m: params.get(m) for m in CHECKSUM_HEADERS}}

    def complete_multipart_upload(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, ("IfMatch", "IfNoneMatch", *wire.ENCRYPTION))
        parts = (params.get("MultipartUpload") or {}).get("Parts", [])
        requested = [(p.get("PartNumber", 0), p.get("ETag", "")) for p in parts]
        item = self._uploads.complete(
            requester(ctx), params["Bucket"], params["Key"], params["UploadId"], requested
        )
        return {
            "Location": f"{ctx.endpoint}/{item.bucket}/{quote(item.key)}",
            "Bucket": item.bucket,
            "Key": item.key,
            "ETag": item.etag,
        }

    def abort_multipart_upload(self, ctx: CallContext, params: Params) -> Params:
        self._uploads.abort(ctx.account_id, params["Bucket"], params["Key"], params["UploadId"])
        return {}

    def list_parts(self, ctx: CallContext, params: Params) -> Params:
        wire.refuse(params, wire.ENCRYPTION)
        max_parts = min(params.get("MaxParts", 1000), 1000)
        listed = self._uploads.list_parts(
            ctx.account_id,
            params["Bucket"],
            params["Key"],
            params["UploadId"],
            params.get("PartNumberMarker", 0),
            max_parts,
        )
        return {
            "Bucket": params["Bucket"],
            "Key": params["Key"],
            "UploadId": params["UploadId"],
            "PartNumberMarker": params.get("PartNumberMarker", 0),
            "NextPartNumberMarker": listed.next_marker,
            "MaxParts": max_parts,
            "IsTruncated": listed.truncated,
            "Parts": [
                {"PartNumber": p.number, "LastModified": p.modified, "ETag": p.etag, "Size": p.size}
                for p in listed.parts
            ]
            or None,
            "Initiator": {"ID": ctx.principal or ctx.account_id, "DisplayName": ctx.account_id},
            "Owner": wire.owner(ctx.account_id),
            "StorageClass": "STANDARD",
        }

    # --- notifications ----------------------------------------------------------------------

    def put_notifications(self, ctx: CallContext, params: Params) -> Params:
        self._buckets.put_notifications(
            ctx.account_id,
            params["Bucket"],
            params["NotificationConfiguration"],
            validate=not params.get("SkipDestinationValidation", False),
        )
        return {}

    def get_notifications(self, ctx: CallContext, params: Params) -> Params:
        configs = self._buckets.notifications(ctx.account_id, params["Bucket"])
        return {"LambdaFunctionConfigurations": [c.render() for c in configs] or None}
