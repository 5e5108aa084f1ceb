"""Helpers shared by contract tests: the default account's ARNs and AWS error assertions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


def arn(name: str, qualifier: str | None = None) -> str:
    """A function's ARN in the default account and region, qualified when asked."""
    unqualified = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{unqualified}:{qualifier}" if qualifier else unqualified


@contextmanager
def aws_error(
    code: str, status: int, message: str | None = None
) -> Iterator[pytest.ExceptionInfo[ClientError]]:
    """The call inside must fail with this AWS error code, HTTP status and (if given) message."""
    with pytest.raises(ClientError) as caught:
        yield caught
    response = caught.value.response
    assert response["Error"]["Code"] == code, response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response
    if message is not None:
        assert response["Error"]["Message"] == message
