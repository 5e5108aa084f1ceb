"""The rest-xml codec against botocore itself: what botocore's serializer writes for S3 is
parsed back to the same parameters, and what the codec renders, botocore's parser reads back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from botocore.serialize import RestXMLSerializer

from gureum.aws.http import FileSlice
from gureum.aws.protocols.restxml import STATUS, RestXmlProtocol
from gureum.aws.sigv4 import HttpRequest

MODEL = botocore.session.get_session().get_service_model("s3")
CODEC = RestXmlProtocol(MODEL)


def wire(operation: str, params: dict[str, Any]) -> HttpRequest:
    """The request botocore would send (path-style), as the server receives it."""
    serialized = RestXMLSerializer().serialize_to_request(params, MODEL.operation_model(operation))
    path, _, query = serialized["url_path"].partition("?")
    pairs = [f"{k}={v}" for k, v in serialized["query_string"].items()]
    raw_query = "&".join(filter(None, [query, *pairs]))
    body = serialized["body"] if isinstance(serialized["body"], bytes) else b""
    headers = [(k, str(v)) for k, v in serialized["headers"].items()]
    return HttpRequest(serialized["method"], path, raw_query, headers, body)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("ListObjectsV2", {"Bucket": "b", "Prefix": "p/", "Delimiter": "/", "MaxKeys": 5}),
        ("CreateMultipartUpload", {"Bucket": "b", "Key": "k/é y", "Metadata": {"a": "1"}}),
        ("UploadPart", {"Bucket": "b", "Key": "k", "UploadId": "u", "PartNumber": 3}),
        ("ListParts", {"Bucket": "b", "Key": "k", "UploadId": "u"}),
        ("AbortMultipartUpload", {"Bucket": "b", "Key": "k", "UploadId": "u"}),
        (
            "CompleteMultipartUpload",
            {
                "Bucket": "b",
                "Key": "k",
                "UploadId": "u",
                "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e"'}]},
            },
        ),
        (
            "DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}], "Quiet": True}},
        ),
        ("CopyObject", {"Bucket": "b", "Key": "k", "CopySource": "src/key"}),
        ("GetObject", {"Bucket": "b", "Key": "a/b/c", "Range": "bytes=1-2"}),
        ("HeadBucket", {"Bucket": "b"}),
        ("DeleteBucket", {"Bucket": "b"}),
        ("ListBuckets", {}),
        (
            "PutBucketNotificationConfiguration",
            {
                "Bucket": "b",
                "NotificationConfiguration": {
                    "LambdaFunctionConfigurations": [
                        {
                            "Id": "i",
                            "LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:f",
                            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
                            "Filter": {
                                "Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}
                            },
                        }
                    ]
                },
            },
        ),
    ],
)
def test_requests_botocore_writes_route_and_parse_back(
    operation: str, params: dict[str, Any]
) -> None:
    request = wire(operation, params)
    routed = CODEC.route(request)
    assert routed.operation.name == operation
    parsed = CODEC.parse(routed, request)
    for name, value in params.items():
        assert parsed[name] == value, name


def read_back(operation: str, result: dict[str, Any]) -> dict[str, Any]:
    response = CODEC.render(MODEL.operation_model(operation), result, "req-1")
    body = response.body
    if response.content is not None:
        response.content.file.seek(response.content.offset)
        body = response.content.file.read(response.content.length)
    shape = MODEL.operation_model(operation).output_shape
    parsed: dict[str, Any] = RestXMLParser().parse(
        {"status_code": response.status, "headers": dict(response.headers), "body": body}, shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_a_listing_reads_back() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    result = {
        "Name": "b",
        "KeyCount": 2,
        "IsTruncated": True,
        "NextContinuationToken": "t",
        "Contents": [{"Key": "a", "Size": 1, "ETag": '"e"', "LastModified": moment}],
        "CommonPrefixes": [{"Prefix": "p/"}],
    }
    parsed = read_back("ListObjectsV2", result)
    assert parsed["Contents"] == result["Contents"]
    assert parsed["CommonPrefixes"] == result["CommonPrefixes"]
    assert (parsed["IsTruncated"], parsed["KeyCount"], parsed["NextContinuationToken"]) == (
        True,
        2,
        "t",
    )


def test_an_object_with_its_headers_and_a_status_reads_back(tmp_path: Any) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"0123456789")
    file = path.open("rb")
    result = {
        "Body": FileSlice(file, 2, 4),
        "ContentLength": 4,
        "ContentRange": "bytes 2-5/10",
        "ETag": '"e"',
        "Metadata": {"owner": "ana"},
        "LastModified": datetime(2024, 5, 1, tzinfo=UTC),
        STATUS: 206,
    }
    response = CODEC.render(MODEL.operation_model("GetObject"), result, "req-1")
    assert response.status == 206
    assert response.content is not None
    assert ("x-amz-meta-owner", "ana") in response.headers
    assert ("Last-Modified", "Wed, 01 May 2024 00:00:00 GMT") in response.headers
    file.close()


def test_the_notification_configuration_reads_back() -> None:
    config = {
        "Id": "i",
        "LambdaFunctionArn": "arn:aws:lambda:us-east-1:0:function:f",
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".jpg"}]}},
    }
    parsed = read_back(
        "GetBucketNotificationConfiguration", {"LambdaFunctionConfigurations": [config]}
    )
    assert parsed["LambdaFunctionConfigurations"] == [config]
