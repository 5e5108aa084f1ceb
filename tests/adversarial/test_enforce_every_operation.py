"""No request runs unauthorized under `--iam enforce`: every operation every service serves,
called by a user without policies (through boto3, with only its required members, so that
validation cannot be what stops it), is refused with AWS's AccessDenied before it runs."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape

from gureum.app import GureumApp
from gureum.cli import parser, settings_from
from tests.support.server import GureumProcess

# The boto3 client of each signing name gureum serves.
CLIENTS = {
    "lambda": "lambda",
    "sqs": "sqs",
    "kms": "kms",
    "logs": "logs",
    "monitoring": "cloudwatch",
    "ec2": "ec2",
    "elasticfilesystem": "efs",
    "application-autoscaling": "application-autoscaling",
    "iam": "iam",
    "sts": "sts",
    "s3": "s3",
}
# Operations that need no permission, or that their service authorizes itself.
OPEN = {("sts", "GetCallerIdentity")}
# Members the EC2 codec insists on beyond the model's required ones.
EXTRA: dict[tuple[str, str], dict[str, Any]] = {
    ("ec2", "CreateTags"): {"Tags": [{"Key": "k", "Value": "v"}]},
}
UNCHECKED = Config(parameter_validation=False, retries={"total_max_attempts": 1})


def served() -> list[tuple[str, str]]:
    """Every (signing name, operation) the app has a handler for, read from a real app."""
    with tempfile.TemporaryDirectory(prefix="gureum-ops-") as tmp:
        data = str(Path(tmp) / "data")
        app = GureumApp(
            settings_from(parser().parse_args(["serve", "--data-dir", data, "--isolation", "none"]))
        )
        try:
            return sorted(
                (s.endpoint.signing_name, name)
                for s in app.services
                for name in s.endpoint.handlers
                if (s.endpoint.signing_name, name) not in OPEN
            )
        finally:
            asyncio.run(app.shutdown())


OPERATIONS = served()


def _value(shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "string":
        return shape.enum[0] if shape.enum else "x" * max(shape.metadata.get("min", 1), 1)
    if kind in ("integer", "long"):
        return max(shape.metadata.get("min", 1), 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return True
    if kind == "blob":
        return b"x"
    if kind == "timestamp":
        return 0
    if kind == "list":
        return [_value(shape.member)]
    if kind == "map":
        return {}
    return {name: _value(shape.members[name]) for name in shape.required_members}


def required_only(operation: OperationModel) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    return {name: _value(shape.members[name]) for name in shape.required_members}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    data = tmp_path_factory.mktemp("gureum-every-op") / "data"
    process = GureumProcess(data, "--isolation", "none", "--iam", "enforce").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def nobody(server: GureumProcess) -> dict[str, str]:
    iam = server.client("iam")
    iam.create_user(UserName="nobody")
    key = iam.create_access_key(UserName="nobody")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def test_every_served_service_is_covered() -> None:
    assert {service for service, _ in OPERATIONS} == set(CLIENTS)


@pytest.mark.parametrize(
    ("service", "operation"), OPERATIONS, ids=[f"{s}.{o}" for s, o in OPERATIONS]
)
def test_refused_before_it_runs(
    server: GureumProcess, nobody: dict[str, str], service: str, operation: str
) -> None:
    client = server.client(CLIENTS[service], config=UNCHECKED, **nobody)
    model = client.meta.service_model.operation_model(operation)
    method = getattr(client, _snake(client, operation))
    with pytest.raises(ClientError) as caught:
        method(**{**required_only(model), **EXTRA.get((service, operation), {})})
    response = caught.value.response
    error = response["Error"]
    if model.http.get("method") == "HEAD":
        # A HEAD answer has no body (S3's HeadBucket, HeadObject): boto3 can only report the
        # status, as it does against AWS.
        assert (error["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("403", 403)
        return
    assert error["Code"] in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")
    assert "is not authorized to perform" in error["Message"]
    assert ":user/nobody " in error["Message"]


def _snake(client: Any, operation: str) -> str:
    mapping: dict[str, str] = {v: k for k, v in client.meta.method_to_api_mapping.items()}
    return mapping[operation]
