"""The AWS managed policies Lambda's users attach, with the documents AWS publishes for them
(https://docs.aws.amazon.com/aws-managed-policy/latest/reference/). They live in every
account at once, under the `aws` account in their ARNs, and cannot be changed or deleted.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gureum.iam.domain.entities import AWS_ACCOUNT, ManagedPolicy, PolicyVersion

_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


def _allow(actions: Any, sid: str | None = None, resource: Any = "*") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    return statement if sid is None else {"Sid": sid, **statement}


# name -> (path, default version, creation time, description, statements)
_CATALOGUE: Mapping[str, tuple[str, str, str, str, list[dict[str, Any]]]] = {
    "AWSLambdaBasicExecutionRole": (
        "/service-role/",
        "v1",
        "2015-04-09T15:03:43Z",
        "Provides write permissions to CloudWatch Logs.",
        [_allow(_LOGS)],
    ),
    "AWSLambdaVPCAccessExecutionRole": (
        "/service-role/",
        "v3",
        "2016-02-11T23:15:26Z",
        "Provides minimum permissions for a Lambda function to execute while accessing a "
        "resource within a VPC - create, describe, delete network interfaces and write "
        "permissions to CloudWatch Logs.",
        [
            _allow(
                [
                    *_LOGS,
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                "AWSLambdaVPCAccessExecutionPermissions",
            )
        ],
    ),
    "AWSLambdaSQSQueueExecutionRole": (
        "/service-role/",
        "v1",
        "2016-06-14T21:24:47Z",
        "Provides receive message, delete message, and read attribute access to SQS queues, "
        "and write permissions to CloudWatch logs.",
        [
            _allow(
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    *_LOGS,
                ]
            )
        ],
    ),
    "AWSLambdaRole": (
        "/service-role/",
        "v1",
        "2015-02-06T18:41:28Z",
        "Default policy for AWS Lambda service role.",
        [_allow(["lambda:InvokeFunction"])],
    ),
    "AmazonElasticFileSystemClientReadWriteAccess": (
        "/",
        "v1",
        "2020-01-13T16:21:26Z",
        "Provides read and write client access to an Amazon EFS file system",
        [
            _allow(
                [
                    "elasticfilesystem:ClientMount",
                    "elasticfilesystem:ClientWrite",
                    "elasticfilesystem:DescribeMountTargets",
                ]
            )
        ],
    ),
    "AmazonElasticFileSystemClientReadOnlyAccess": (
        "/",
        "v1",
        "2020-01-13T16:24:36Z",
        "Provides read only client access to an Amazon EFS file system",
        [_allow(["elasticfilesystem:ClientMount", "elasticfilesystem:DescribeMountTargets"])],
    ),
    "AWSLambdaDynamoDBExecutionRole": (
        "/service-role/",
        "v1",
        "2015-04-09T15:09:29Z",
        "Provides list and read access to DynamoDB streams and write permissions to CloudWatch "
        "logs.",
        [
            _allow(
                [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    *_LOGS,
                ]
            )
        ],
    ),
    "AWSLambdaKinesisExecutionRole": (
        "/service-role/",
        "v2",
        "2015-04-09T15:14:16Z",
        "Provides list and read access to Kinesis streams and write permissions to CloudWatch "
        "logs.",
        [
            _allow(
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:ListStreams",
                    "kinesis:SubscribeToShard",
                    *_LOGS,
                ]
            )
        ],
    ),
    "AmazonSQSReadOnlyAccess": (
        "/",
        "v4",
        "2015-02-06T18:41:07Z",
        "Provides read only access to Amazon SQS via the AWS Management Console.",
        [
            _allow(
                [
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ListDeadLetterSourceQueues",
                    "sqs:ListQueues",
                    "sqs:ListMessageMoveTasks",
                    "sqs:ListQueueTags",
                ],
                "AmazonSQSReadOnlyAccess",
            )
        ],
    ),
    "AdministratorAccess": (
        "/",
        "v1",
        "2015-02-06T18:39:46Z",
        "Provides full access to AWS services and resources.",
        [_allow("*")],
    ),
}


def _policy(name: str) -> ManagedPolicy:
    path, version, created_text, description, statements = _CATALOGUE[name]
    created = datetime.fromisoformat(created_text.replace("Z", "+00:00")).astimezone(UTC)
    document = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)
    # A stable id per policy (AWS's are fixed too), in AWS's form: ANPA and 17 characters of
    # base32, from the name's digest so that no two collide.
    tail = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode()[:17]
    return ManagedPolicy(
        AWS_ACCOUNT,
        name,
        f"ANPA{tail}",
        path,
        created,
        created,
        version,
        (PolicyVersion(version, document, created),),
        int(version[1:]) + 1,
        description,
    )


AWS_MANAGED: Mapping[str, ManagedPolicy] = {
    policy.arn: policy for policy in (_policy(name) for name in _CATALOGUE)
}
