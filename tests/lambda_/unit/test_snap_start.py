"""SnapStart's pure rules: which versions restore, what SnapStart refuses, its log lines."""

from __future__ import annotations

import pytest

from gureum.lambda_.domain import platform_log, snap_start
from gureum.lambda_.domain.errors import InvalidParameterValue


@pytest.mark.parametrize(
    ("apply_on", "version", "status"),
    [
        ("PublishedVersions", "1", "On"),
        ("PublishedVersions", "$LATEST", "Off"),
        ("None", "1", "Off"),
        ("None", "$LATEST", "Off"),
    ],
)
def test_optimization_status(apply_on: str, version: str, status: str) -> None:
    assert snap_start.optimization_status(apply_on, version) == status
    assert snap_start.applies(apply_on, version) is (status == "On")


@pytest.mark.parametrize(
    ("runtime", "ephemeral", "efs", "wrapper", "message"),
    [
        (
            "nodejs22.x",
            512,
            False,
            False,
            "nodejs22.x is not supported for SnapStart enabled functions.",
        ),
        (
            "python3.11",
            512,
            False,
            False,
            "python3.11 is not supported for SnapStart enabled functions.",
        ),
        (
            "python3.12",
            512,
            True,
            False,
            "SnapStart is not supported for functions with Amazon EFS file systems.",
        ),
        (
            "python3.13",
            513,
            False,
            False,
            "SnapStart is not supported for functions with ephemeral storage greater than 512 MB.",
        ),
        (
            "python3.12",
            512,
            False,
            True,
            "gureum does not support SnapStart together with AWS_LAMBDA_EXEC_WRAPPER.",
        ),
    ],
)
def test_what_snap_start_refuses(
    runtime: str, ephemeral: int, efs: bool, wrapper: bool, message: str
) -> None:
    with pytest.raises(InvalidParameterValue) as refused:
        snap_start.check("PublishedVersions", runtime, ephemeral, efs, wrapper)
    assert refused.value.message == message
    snap_start.check("None", runtime, ephemeral, efs, wrapper)  # without SnapStart: anything


def test_supported_configurations_pass() -> None:
    for runtime in ("python3.12", "python3.13", "python3.14"):
        snap_start.check("PublishedVersions", runtime, 512, False, False)


def test_restore_lines() -> None:
    start = platform_log.restore_start("python:3.12.v1", "arn:aws:lambda:us-east-1::runtime:ab")
    assert start.text == (
        "RESTORE_START Runtime Version: python:3.12.v1\t"
        "Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:ab\n"
    )
    assert (
        platform_log.restore_report(398.971).text == "RESTORE_REPORT Restore Duration: 398.97 ms\n"
    )
    failed = platform_log.restore_report(12.5, "error", "Runtime.AfterRestoreError")
    assert failed.text == (
        "RESTORE_REPORT Restore Duration: 12.50 ms\tStatus: error\t"
        "Error Type: Runtime.AfterRestoreError\n"
    )
    report = platform_log.report("id", 2.5, None, 128, 40 << 20, None, None, restore_ms=3.2)
    assert report.text == (
        "REPORT RequestId: id\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tRestore Duration: 3.20 ms\tBilled Restore Duration: 4 ms\t\n"
    )
