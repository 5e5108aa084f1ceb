"""Lambda deploys code from gureum's own S3: CreateFunction, UpdateFunctionCode and
PublishLayerVersion with S3Bucket / S3Key, and AWS's errors when the object is missing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ROLE
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

WAIT = {"Delay": 0.1}


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_functions_and_layers_from_s3_objects(server: GureumProcess, s3: Any, bucket: str) -> None:
    lam = server.client("lambda")
    s3.put_object(
        Bucket=bucket,
        Key="v1.zip",
        Body=zip_of({"index.py": "def handler(e, c):\n    return 'v1'\n"}),
    )
    s3.put_object(
        Bucket=bucket,
        Key="v2.zip",
        Body=zip_of({"index.py": "def handler(e, c):\n    return 'v2'\n"}),
    )
    lam.create_function(
        FunctionName="from-s3",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"S3Bucket": bucket, "S3Key": "v1.zip"},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="from-s3", WaiterConfig=WAIT)
    assert json.loads(lam.invoke(FunctionName="from-s3")["Payload"].read()) == "v1"
    lam.update_function_code(FunctionName="from-s3", S3Bucket=bucket, S3Key="v2.zip")
    lam.get_waiter("function_updated_v2").wait(FunctionName="from-s3", WaiterConfig=WAIT)
    assert json.loads(lam.invoke(FunctionName="from-s3")["Payload"].read()) == "v2"
    layer = lam.publish_layer_version(
        LayerName="from-s3", Content={"S3Bucket": bucket, "S3Key": "v1.zip"}
    )
    assert layer["Version"] == 1


def test_a_missing_object_or_bucket_is_awss_error(server: GureumProcess, bucket: str) -> None:
    lam = server.client("lambda")
    params: dict[str, Any] = {
        "FunctionName": "never-made",
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "index.handler",
    }
    code, message = error_of(
        lam.create_function, **params, Code={"S3Bucket": bucket, "S3Key": "nothing.zip"}
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
        "The specified key does not exist."
    )
    code, message = error_of(
        lam.create_function, **params, Code={"S3Bucket": "no-bucket-at-all", "S3Key": "k.zip"}
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
        "The specified bucket does not exist"
    )
    code, message = error_of(
        lam.publish_layer_version,
        LayerName="nothing",
        Content={"S3Bucket": bucket, "S3Key": "nothing.zip"},
    )
    assert "S3 Error Code: NoSuchKey" in message
