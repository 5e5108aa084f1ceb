"""The action and resource ARN of each service's requests, as IAM names them."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.iam.domain.resources import action_of, resource_of

R, A = "eu-west-1", "111122223333"


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("lambda", "Invoke", "lambda:InvokeFunction"),
        ("lambda", "CreateFunction", "lambda:CreateFunction"),
        ("monitoring", "PutMetricData", "cloudwatch:PutMetricData"),
        ("elasticfilesystem", "CreateAccessPoint", "elasticfilesystem:CreateAccessPoint"),
        ("application-autoscaling", "PutScalingPolicy", "application-autoscaling:PutScalingPolicy"),
    ],
)
def test_actions(service: str, operation: str, action: str) -> None:
    assert action_of(service, operation) == action


@pytest.mark.parametrize(
    ("service", "params", "resource"),
    [
        ("lambda", {"FunctionName": "f"}, f"arn:aws:lambda:{R}:{A}:function:f"),
        (
            "lambda",
            {"FunctionName": "f", "Qualifier": "live"},
            f"arn:aws:lambda:{R}:{A}:function:f:live",
        ),
        (
            "lambda",
            {"FunctionName": "arn:aws:lambda:us-east-1:1:function:g"},
            "arn:aws:lambda:us-east-1:1:function:g",
        ),
        ("lambda", {"LayerName": "deps"}, f"arn:aws:lambda:{R}:{A}:layer:deps"),
        ("lambda", {}, "*"),
        ("sqs", {"QueueUrl": f"http://localhost/{A}/jobs"}, f"arn:aws:sqs:{R}:{A}:jobs"),
        ("sqs", {"QueueName": "jobs"}, f"arn:aws:sqs:{R}:{A}:jobs"),
        ("kms", {"KeyId": "1234abcd"}, f"arn:aws:kms:{R}:{A}:key/1234abcd"),
        ("kms", {"KeyId": "alias/app"}, f"arn:aws:kms:{R}:{A}:alias/app"),
        (
            "logs",
            {"logGroupName": "/aws/lambda/f"},
            f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/f:*",
        ),
        (
            "logs",
            {"logGroupName": "g", "logStreamName": "s"},
            f"arn:aws:logs:{R}:{A}:log-group:g:log-stream:s",
        ),
        (
            "elasticfilesystem",
            {"FileSystemId": "fs-1"},
            f"arn:aws:elasticfilesystem:{R}:{A}:file-system/fs-1",
        ),
        (
            "elasticfilesystem",
            {"AccessPointId": "fsap-1"},
            f"arn:aws:elasticfilesystem:{R}:{A}:access-point/fsap-1",
        ),
        ("ec2", {"VpcId": "vpc-1"}, f"arn:aws:ec2:{R}:{A}:vpc/vpc-1"),
        ("ec2", {"GroupId": "sg-1", "VpcId": "vpc-1"}, f"arn:aws:ec2:{R}:{A}:security-group/sg-1"),
        ("monitoring", {"AlarmName": "hot"}, f"arn:aws:cloudwatch:{R}:{A}:alarm:hot"),
        ("iam", {"RoleName": "app"}, f"arn:aws:iam::{A}:role/app"),
        ("iam", {"PolicyArn": "arn:aws:iam::aws:policy/X"}, "arn:aws:iam::aws:policy/X"),
        ("sts", {"RoleArn": f"arn:aws:iam::{A}:role/app"}, f"arn:aws:iam::{A}:role/app"),
        ("application-autoscaling", {"ResourceId": "function:f:live"}, "*"),
    ],
)
def test_resources(service: str, params: dict[str, Any], resource: str) -> None:
    assert resource_of(service, R, A, params) == resource
