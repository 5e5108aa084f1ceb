"""S3's errors, with the codes, statuses and messages S3 answers them with.

S3's model names only a few of them (NoSuchBucket, NoSuchKey, NoSuchUpload,
BucketAlreadyExists, BucketAlreadyOwnedByYou); the rest are from AWS's error-code list
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
"""

from __future__ import annotations

from gureum.aws.errors import AwsError, ClientError


class S3Error(ClientError):
    pass


class AccessDenied(S3Error):
    """Another account's bucket (S3 tells no one else whether it exists)."""

    code = "AccessDenied"
    status = 403

    def __init__(self) -> None:
        super().__init__("Access Denied")


class NoSuchBucket(S3Error):
    code = "NoSuchBucket"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist", BucketName=bucket)


class NoSuchKey(S3Error):
    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.", Key=key)


class NoSuchUpload(S3Error):
    code = "NoSuchUpload"
    status = 404

    def __init__(self, upload_id: str) -> None:
        super().__init__(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            UploadId=upload_id,
        )


class BucketAlreadyExists(S3Error):
    code = "BucketAlreadyExists"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "The requested bucket name is not available. The bucket namespace is shared by all "
            "users of the system. Please select a different name and try again.",
            BucketName=bucket,
        )


class BucketAlreadyOwnedByYou(S3Error):
    code = "BucketAlreadyOwnedByYou"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__(
            "Your previous request to create the named bucket succeeded and you already own it.",
            BucketName=bucket,
        )


class BucketNotEmpty(S3Error):
    code = "BucketNotEmpty"
    status = 409

    def __init__(self, bucket: str) -> None:
        super().__init__("The bucket you tried to delete is not empty", BucketName=bucket)


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket is not valid.", BucketName=bucket)


class KeyTooLong(S3Error):
    code = "KeyTooLongError"

    def __init__(self, size: int) -> None:
        super().__init__("Your key is too long", Size=size, MaxSizeAllowed=1024)


class InvalidArgument(S3Error):
    code = "InvalidArgument"


class InvalidRequest(S3Error):
    code = "InvalidRequest"


class InvalidPart(S3Error):
    code = "InvalidPart"

    def __init__(self) -> None:
        super().__init__(
            "One or more of the specified parts could not be found.  The part may not have "
            "been uploaded, or the specified entity tag may not match the part's entity tag."
        )


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"

    def __init__(self) -> None:
        super().__init__(
            "The list of parts was not in ascending order. Parts must be ordered by part number."
        )


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"

    def __init__(self) -> None:
        super().__init__("Your proposed upload is smaller than the minimum allowed object size.")


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"

    def __init__(self) -> None:
        super().__init__("Your proposed upload exceeds the maximum allowed object size.")


class BadDigest(S3Error):
    code = "BadDigest"

    def __init__(self) -> None:
        super().__init__("The Content-MD5 you specified did not match what we received.")


class InvalidDigest(S3Error):
    code = "InvalidDigest"

    def __init__(self) -> None:
        super().__init__("The Content-MD5 you specified is not valid.")


class InvalidRange(S3Error):
    code = "InvalidRange"
    status = 416

    def __init__(self, size: int) -> None:
        super().__init__("The requested range is not satisfiable", ActualObjectSize=size)


class PreconditionFailed(S3Error):
    code = "PreconditionFailed"
    status = 412

    def __init__(self, condition: str) -> None:
        super().__init__(
            "At least one of the pre-conditions you specified did not hold", Condition=condition
        )


class NotModified(S3Error):
    code = "NotModified"
    status = 304

    def __init__(self) -> None:
        super().__init__("Not Modified")


class MalformedXml(S3Error):
    code = "MalformedXML"

    def __init__(self) -> None:
        super().__init__(
            "The XML you provided was not well-formed or did not validate against our "
            "published schema"
        )


class IllegalLocationConstraint(S3Error):
    code = "IllegalLocationConstraintException"

    def __init__(self, constraint: str) -> None:
        super().__init__(
            f"The {constraint} location constraint is incompatible for the region specific "
            "endpoint this request was sent to."
        )


class InvalidLocationConstraint(S3Error):
    code = "InvalidLocationConstraint"

    def __init__(self) -> None:
        super().__init__("The specified location-constraint is not valid")


class NotImplementedFeature(AwsError):
    """A feature of S3 gureum does not act on: refused, never stored and ignored."""

    code = "NotImplemented"
    status = 501

    def __init__(self, what: str) -> None:
        super().__init__(f"gureum does not implement {what}.")
