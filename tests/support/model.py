"""Values of Lambda's pure core for unit and service tests: one function, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime

from gureum.lambda_.domain.arns import LATEST
from gureum.lambda_.domain.functions import Code, Function, FunctionSettings, FunctionVersion
from gureum.lambda_.domain.lifecycle import READY, Lifecycle

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/lambda"
CODE = Code(sha256="Y29kZS0x", size=300, blob="blobs/1", unzipped_size=900)
SETTINGS = FunctionSettings(role=ROLE, runtime="python3.12", handler="index.handler")


def a_function(
    *,
    lifecycle: Lifecycle = READY,
    settings: FunctionSettings = SETTINGS,
    code: Code = CODE,
    revision: str = "rev-latest",
    next_version: int = 1,
) -> Function:
    latest = FunctionVersion(
        version=LATEST,
        settings=settings,
        code=code,
        revision_id=revision,
        last_modified=NOW,
        lifecycle=lifecycle,
    )
    return Function(
        id="fn-1",
        account="123456789012",
        region="us-east-1",
        name="my-fn",
        latest=latest,
        next_version=next_version,
    )
