"""Buckets: create, head, list, delete, their location and notification configurations.

Bucket names are one namespace across accounts, as on S3; a bucket is visible to its own
account only (another's is `AccessDenied`). Every method blocks on SQLite: call it from worker
threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from gureum.clock import Clock
from gureum.s3.domain.buckets import Bucket, check_bucket_name
from gureum.s3.domain.errors import (
    AccessDenied,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraint,
    InvalidArgument,
    InvalidLocationConstraint,
    NoSuchBucket,
)
from gureum.s3.domain.notifications import FunctionNotification, parse_configuration
from gureum.s3.services.ports import NotificationTarget
from gureum.s3.store.records import S3Records, S3Transaction

# S3's classic region: re-creating a bucket one owns there answers 200, not 409.
CLASSIC_REGION = "us-east-1"


def owned_bucket(tx: S3Transaction, account: str, name: str) -> Bucket:
    """The bucket `name` if `account` owns it: NoSuchBucket when there is none, AccessDenied
    when another account does."""
    bucket = tx.bucket(name)
    if bucket is None:
        raise NoSuchBucket(name)
    if bucket.account != account:
        raise AccessDenied()
    return bucket


class BucketService:
    def __init__(self, records: S3Records, clock: Clock, target: NotificationTarget) -> None:
        self._records = records
        self._clock = clock
        self._target = target

    def create(self, account: str, region: str, name: str, constraint: str | None) -> Bucket:
        check_bucket_name(name)
        # S3's rules: us-east-1 takes no constraint (naming it is invalid), every other region
        # its own name and nothing else.
        if constraint == CLASSIC_REGION:
            raise InvalidLocationConstraint()
        if region != CLASSIC_REGION and not constraint:
            raise IllegalLocationConstraint("unspecified")
        if constraint and constraint != region:
            raise IllegalLocationConstraint(constraint)
        with self._records.transaction() as tx:
            existing = tx.bucket(name)
            if existing is not None:
                if existing.account != account:
                    raise BucketAlreadyExists(name)
                if existing.region == CLASSIC_REGION and region == CLASSIC_REGION:
                    return existing
                raise BucketAlreadyOwnedByYou(name)
            bucket = Bucket(name, account, region, self._clock.now().timestamp())
            tx.add_bucket(bucket)
        return bucket

    def get(self, account: str, name: str) -> Bucket:
        with self._records.transaction() as tx:
            return owned_bucket(tx, account, name)

    def list_buckets(self, account: str) -> list[Bucket]:
        with self._records.transaction() as tx:
            return tx.buckets(account)

    def delete(self, account: str, name: str) -> None:
        with self._records.transaction() as tx:
            owned_bucket(tx, account, name)
            if tx.bucket_in_use(name):
                raise BucketNotEmpty(name)
            tx.remove_bucket(name)

    # --- notification configurations --------------------------------------------------------

    def notifications(self, account: str, name: str) -> list[FunctionNotification]:
        with self._records.transaction() as tx:
            owned_bucket(tx, account, name)
            return tx.notifications(name)

    def put_notifications(
        self, account: str, name: str, document: Mapping[str, Any], validate: bool = True
    ) -> list[FunctionNotification]:
        """Replaces the bucket's configurations, once every function they name exists (S3
        validates its destinations before it keeps a configuration, unless told to skip it:
        a notification to a function that does not exist is then dropped)."""
        count = len(document.get("LambdaFunctionConfigurations", []))
        configs = parse_configuration(document, [str(uuid.uuid4()) for _ in range(count)])
        with self._records.transaction() as tx:
            bucket = owned_bucket(tx, account, name)
        missing = {
            c.function_arn
            for c in configs
            if validate and not self._target.function_exists(account, bucket.region, c.function_arn)
        }
        if missing:
            raise InvalidArgument(
                "Unable to validate the following destination configurations",
                ArgumentName1=sorted(missing)[0],
                ArgumentValue1="The destination function does not exist",
            )
        with self._records.transaction() as tx:
            owned_bucket(tx, account, name)
            tx.set_notifications(name, configs)
        return configs
