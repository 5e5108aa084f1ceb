"""Buckets and objects driven with boto3 over HTTP, as an application would."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.server import GureumProcess


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
    )


def test_a_bucket_is_created_listed_headed_and_deleted(s3: Any) -> None:
    s3.create_bucket(Bucket="lifecycle-bucket")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "lifecycle-bucket" in names
    assert s3.head_bucket(Bucket="lifecycle-bucket")["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.delete_bucket(Bucket="lifecycle-bucket")
    status, code, _ = error_of(s3.head_bucket, Bucket="lifecycle-bucket")
    assert (status, code) == (404, "404")  # HEAD answers carry no body
    assert error_of(s3.delete_bucket, Bucket="lifecycle-bucket")[:2] == (404, "NoSuchBucket")


def test_bucket_names_and_ownership_are_checked_as_s3_does(s3: Any, server: GureumProcess) -> None:
    assert error_of(s3.create_bucket, Bucket="No_Such..Name")[:2] == (400, "InvalidBucketName")
    s3.create_bucket(Bucket="owned-twice")
    s3.create_bucket(Bucket="owned-twice")  # us-east-1 answers 200 to its owner
    other = server.client("s3", aws_access_key_id="111111111111")
    status, code, message = error_of(other.create_bucket, Bucket="owned-twice")
    assert (status, code) == (409, "BucketAlreadyExists")
    assert message.startswith("The requested bucket name is not available.")
    west = server.client("s3", region_name="us-west-2")
    west.create_bucket(
        Bucket="owned-west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    status, code, _ = error_of(
        west.create_bucket,
        Bucket="owned-west",
        CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
    )
    assert (status, code) == (409, "BucketAlreadyOwnedByYou")
    assert west.head_bucket(Bucket="owned-west")["BucketRegion"] == "us-west-2"


def test_a_bucket_with_objects_is_not_deleted(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, code, message = error_of(s3.delete_bucket, Bucket=bucket)
    assert (status, code, message) == (
        409,
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty",
    )


def test_put_then_get_round_trips_bytes_headers_and_metadata(s3: Any, bucket: str) -> None:
    body = os.urandom(1000)
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/report.bin",
        Body=body,
        ContentType="application/x-report",
        CacheControl="max-age=60",
        Metadata={"owner": "ana", "Mixed-Case": "kept"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="docs/report.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-report"
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"owner": "ana", "mixed-case": "kept"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="docs/report.bin")
    assert head["ContentLength"] == 1000
    assert head["Metadata"]["owner"] == "ana"


def test_ranges_answer_206_with_the_bytes_asked_for(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-5")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == b"2345"
    assert part["ContentRange"] == "bytes 2-5/10"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].read() == b"789"
    status, code, _ = error_of(s3.get_object, Bucket=bucket, Key="r", Range="bytes=20-30")
    assert (status, code) == (416, "InvalidRange")


def test_missing_objects_and_buckets_are_s3s_errors(s3: Any, bucket: str) -> None:
    status, code, message = error_of(s3.get_object, Bucket=bucket, Key="nothing")
    assert (status, code, message) == (404, "NoSuchKey", "The specified key does not exist.")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_object(Bucket="no-bucket-here", Key="k")
    assert error_of(s3.head_object, Bucket=bucket, Key="nothing")[:2] == (404, "404")
    s3.delete_object(Bucket=bucket, Key="nothing")  # 204 whether or not it existed


def test_content_md5_is_checked(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, code, message = error_of(
        s3.put_object, Bucket=bucket, Key="m", Body=b"data", ContentMD5=wrong
    )
    assert (status, code) == (400, "BadDigest")
    assert message == "The Content-MD5 you specified did not match what we received."
    status, code, _ = error_of(
        s3.put_object, Bucket=bucket, Key="m", Body=b"data", ContentMD5="not-base64!"
    )
    assert (status, code) == (400, "InvalidDigest")
    assert error_of(s3.head_object, Bucket=bucket, Key="m")[:2] == (404, "404")  # nothing kept
    right = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"data", ContentMD5=right)


def test_conditional_reads(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    assert error_of(s3.get_object, Bucket=bucket, Key="c", IfMatch='"nope"')[:2] == (
        412,
        "PreconditionFailed",
    )
    status, _, _ = error_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert status == 304


def test_copy_keeps_or_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["Body"].read(), got["Metadata"]) == (b"payload", {"a": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src",
        Metadata={"b": "2"},
        MetadataDirective="REPLACE",
    )
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"b": "2"}
    status, code, _ = error_of(s3.copy_object, Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert (status, code) == (400, "InvalidRequest")
    s3.delete_object(Bucket=bucket, Key="src")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"payload"


def test_list_objects_v2_pages_with_prefix_delimiter_and_continuation(s3: Any, bucket: str) -> None:
    keys = [f"logs/2024/{i:02d}.txt" for i in range(7)] + ["logs/readme", "other/x", "top"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    rolled = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["logs/", "other/"]
    assert [o["Key"] for o in rolled["Contents"]] == ["top"]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": "logs/2024/", "MaxKeys": 3}
        if token:
            params["ContinuationToken"] = token
        page = s3.list_objects_v2(**params)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == keys[:7]
    assert pages == 3
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="logs/readme")
    assert [o["Key"] for o in after["Contents"]] == ["other/x", "top"]
    paginator = s3.get_paginator("list_objects_v2")
    listed = [
        o["Key"]
        for p in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
        for o in p["Contents"]
    ]
    assert listed == sorted(keys)


def test_delete_objects_in_bulk(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    done = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in done["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


def test_upload_file_of_a_large_file_is_multipart_with_s3s_etag(
    s3: Any, bucket: str, tmp_path: Any
) -> None:
    data = os.urandom(17 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    s3.upload_file(str(path), bucket, "big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    chunk = 8 * 1024 * 1024
    md5s = b"".join(hashlib.md5(data[i : i + chunk]).digest() for i in range(0, len(data), chunk))
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert head["ContentLength"] == len(data)
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(out))
    assert out.read_bytes() == data


def test_multipart_by_hand_checks_parts_order_and_sizes(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"a" * 10)
    last = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"b" * 10)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, 10), (2, 10)]

    def complete(parts: list[dict[str, Any]]) -> tuple[int, str, str]:
        return error_of(
            s3.complete_multipart_upload,
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            MultipartUpload={"Parts": parts},
        )

    one = {"PartNumber": 1, "ETag": small["ETag"]}
    two = {"PartNumber": 2, "ETag": last["ETag"]}
    assert complete([two, one])[:2] == (400, "InvalidPartOrder")
    assert complete([one, {"PartNumber": 2, "ETag": '"0"'}])[:2] == (400, "InvalidPart")
    assert complete([one, two])[:2] == (400, "EntityTooSmall")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": [two]}
    )
    assert done["ETag"] == f'"{hashlib.md5(hashlib.md5(b"b" * 10).digest()).hexdigest()}-1"'
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"b" * 10
    status, code, _ = error_of(s3.list_parts, Bucket=bucket, Key="mp", UploadId=upload)
    assert (status, code) == (404, "NoSuchUpload")


def test_an_aborted_upload_is_gone(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload)
    assert error_of(s3.list_parts, Bucket=bucket, Key="ab", UploadId=upload)[:2] == (
        404,
        "NoSuchUpload",
    )
    s3.delete_bucket(Bucket=bucket)  # no upload left behind in it


def test_presigned_get_and_put_urls_work_with_no_credentials(
    s3_with: Callable[..., Any], bucket: str
) -> None:
    client = s3_with(signature_version="s3v4")
    put = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p q+r"})
    request = urllib.request.Request(put, data=b"via url", method="PUT")
    with urllib.request.urlopen(request) as reply:
        assert reply.status == 200
    get = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p q+r"})
    with urllib.request.urlopen(get) as reply:
        assert reply.read() == b"via url"
    forged = get.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(forged)
    assert caught.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in caught.value.read()


def signed_get(server: GureumProcess, host: str, path: str) -> tuple[int, bytes]:
    """A GET signed for S3 as an SDK signs it, sent to 127.0.0.1 with `host` as its Host
    (`<bucket>.localhost` needs no DNS in curl and browsers, but does in Python)."""
    request = AWSRequest("GET", f"http://127.0.0.1:{server.port}{path}", headers={"Host": host})
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(request.url, headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_virtual_hosted_addressing_on_the_same_port(
    s3: Any, server: GureumProcess, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="v/key.txt", Body=b"hosted")
    port = server.port
    for host in (f"{bucket}.localhost:{port}", f"{bucket}.s3.localhost.localstack.cloud:{port}"):
        assert signed_get(server, host, "/v/key.txt") == (200, b"hosted")
        status, listing = signed_get(server, host, "/?list-type=2")
        assert status == 200
        assert b"<Key>v/key.txt</Key>" in listing
    # Path-style through the LocalStack-like host name too.
    host = f"s3.localhost.localstack.cloud:{port}"
    assert signed_get(server, host, f"/{bucket}/v/key.txt") == (200, b"hosted")


def test_streamed_bodies_are_not_capped_like_api_calls(s3: Any, bucket: str) -> None:
    data = io.BytesIO(os.urandom(60 * 1024 * 1024))  # past Lambda's 50 MB request cap
    s3.put_object(Bucket=bucket, Key="huge", Body=data)
    head = s3.head_object(Bucket=bucket, Key="huge")
    assert head["ContentLength"] == 60 * 1024 * 1024


def test_sigv2_presigned_urls_as_boto3_and_the_cli_make_them(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old sig/ü.txt", Body=b"v2")
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "old sig/ü.txt"})
    assert "AWSAccessKeyId=" in get  # boto3's default for S3 presigning
    with urllib.request.urlopen(get) as reply:
        assert reply.read() == b"v2"
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "v2-put"})
    request = urllib.request.Request(put, data=b"put v2", method="PUT")
    request.add_header("Content-Type", "")  # what was signed: no Content-Type
    with urllib.request.urlopen(request) as reply:
        assert reply.status == 200
    assert s3.get_object(Bucket=bucket, Key="v2-put")["Body"].read() == b"put v2"
    for forged in (get.replace("Signature=", "Signature=A"), get.replace("Expires=", "Expires=1")):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(forged)
        assert caught.value.code == 403
    expired = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "old sig/ü.txt"}, ExpiresIn=-10
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(expired)
    assert caught.value.code == 403
    assert b"<Code>AccessDenied</Code>" in caught.value.read()


def test_location_constraints_follow_s3s_rules(server: GureumProcess) -> None:
    east, west = server.client("s3"), server.client("s3", region_name="eu-west-1")
    status, code, message = error_of(west.create_bucket, Bucket="no-constraint-west")
    assert (status, code) == (400, "IllegalLocationConstraintException")
    assert message.startswith("The unspecified location constraint is incompatible")
    status, code, _ = error_of(
        east.create_bucket,
        Bucket="named-east",
        CreateBucketConfiguration={"LocationConstraint": "us-east-1"},
    )
    assert (status, code) == (400, "InvalidLocationConstraint")
    status, code, _ = error_of(
        west.create_bucket,
        Bucket="wrong-west",
        CreateBucketConfiguration={"LocationConstraint": "ap-south-1"},
    )
    assert (status, code) == (400, "IllegalLocationConstraintException")
