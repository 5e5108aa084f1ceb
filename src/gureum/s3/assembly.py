"""S3, built from the kernel: buckets, objects and multipart uploads (their records in the
services' store, SQLite or PostgreSQL; their bytes under the shared directory), their endpoint
(rest-xml, path-style and virtual-hosted), and the notifier that drains event notifications
into the `NotificationTarget` the composition root gives (Lambda's event queue)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.protocols.restxml import RestXmlProtocol
from gureum.s3.api.addressing import bucket_in_host
from gureum.s3.api.handlers import S3Api
from gureum.s3.services.buckets import BucketService
from gureum.s3.services.multipart import MultipartService
from gureum.s3.services.notifier import Notifier
from gureum.s3.services.objects import MAX_OBJECT_SIZE, ObjectService
from gureum.s3.services.ports import NotificationTarget
from gureum.s3.store.blobs import BlobStore
from gureum.s3.store.records import S3Records

log = logging.getLogger("gureum.s3")

# The shared errors as S3 names them on the wire.
S3_ERRORS = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidAccessKeyId",
    "IncompleteSignatureException": "AuthorizationHeaderMalformed",
    "MissingAuthenticationTokenException": "AccessDenied",
    "ExpiredTokenException": "ExpiredToken",
    "ValidationException": "InvalidArgument",
    "RequestEntityTooLargeException": "EntityTooLarge",
    "UnknownOperationException": "MethodNotAllowed",
    "NotImplementedException": "NotImplemented",
    "AccessDeniedException": "AccessDenied",
    "ServiceException": "InternalError",
}
# A single PUT of the largest object, with room for aws-chunked framing (about 0.1%).
SPOOL_LIMIT = MAX_OBJECT_SIZE + MAX_OBJECT_SIZE // 256
# In a cluster, how long a blob or scratch file must have been left unchanged before a starting
# process's sweep may count it as a crash's leftover: far longer than any process takes between
# placing a blob and committing the row that names it.
SETTLED_AFTER = timedelta(hours=1)


@dataclass(eq=False)
class S3(Assembly):
    buckets: BucketService
    objects: ObjectService
    uploads: MultipartService
    notifier: Notifier
    records: S3Records
    blobs: BlobStore
    endpoint: ServiceEndpoint
    kernel: Kernel

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        swept = await loop.run_in_executor(None, self._recover)
        if swept:
            log.info("removed %d blobs no object names (left by an interrupted write)", swept)
        self.notifier.start()

    def _recover(self) -> int:
        """Tidies what a previous run left; returns how many blobs went. On PostgreSQL other
        processes share the records and the blobs, and write them while this one starts: only
        what they left long ago can be a crash's leftover, and their claims on the outbox end
        with their lease. In the embedded default this process is the only one: every blob no
        row names and every claim are a previous run's, so its outbox is sent again at once."""
        clustered = bool(self.kernel.settings.store)
        with self.records.transaction() as tx:
            if not clustered:
                tx.release_all()
            named = tx.blobs()
        settled = (self.kernel.clock.now() - SETTLED_AFTER).timestamp() if clustered else None
        return self.blobs.sweep(named, settled)

    async def stop(self) -> None:
        await self.notifier.stop()

    def close(self) -> None:
        self.records.close()


def assemble(kernel: Kernel, target: NotificationTarget) -> S3:
    records = S3Records(kernel.stores)
    # Every process of a cluster reads and writes the same objects' bytes (`<data>/s3/blobs`
    # in the embedded default, where the shared directory is the data directory).
    blobs = BlobStore(kernel.settings.shared / "s3" / "blobs")
    notifier = Notifier(records, target, kernel.executor, kernel.clock)
    buckets = BucketService(records, kernel.clock, target)
    objects = ObjectService(records, blobs, kernel.clock, notifier.wake)
    uploads = MultipartService(records, blobs, kernel.clock, notifier.wake)
    protocol = RestXmlProtocol(kernel.model("s3"), S3_ERRORS, host_prefix=bucket_in_host)
    endpoint = ServiceEndpoint(
        "s3",
        protocol,
        S3Api(buckets, objects, uploads, blobs).handlers(),
        # S3 allows 15 minutes of clock skew (RequestTimeTooSkewed past it).
        signature_window=timedelta(minutes=15),
        spooled_body_limit=SPOOL_LIMIT,
        presigned_v2=bucket_in_host,
        # S3 answers a LocationConstraint outside the model's enum (us-east-1 named) with its
        # own error, which the bucket service words.
        unvalidated={"CreateBucket": frozenset({"CreateBucketConfiguration"})},
    )
    return S3(buckets, objects, uploads, notifier, records, blobs, endpoint, kernel)
