"""The platform's own log lines (spec 6.2), each in both of AWS's forms: the text line
(`START RequestId: ... Version: ...`) and the JSON record that replaces it with
LoggingConfig.LogFormat=JSON (`{"time": ..., "type": "platform.start", "record": {...}}`, the
Telemetry API's record shapes: https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html).
`LogSettings.render` picks the form.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

MEGABYTE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PlatformLine:
    """One platform line. `kind` is its JSON record's type; "" when it has none (END)."""

    text: str
    kind: str
    record: Mapping[str, object] = field(default_factory=dict)
    level: str = "INFO"


def init_start(
    runtime_version: str,
    runtime_version_arn: str,
    function_name: str,
    version: str,
    initialization_type: str = "on-demand",
) -> PlatformLine:
    return PlatformLine(
        f"INIT_START Runtime Version: {runtime_version}\t"
        f"Runtime Version ARN: {runtime_version_arn}\n",
        "platform.initStart",
        {
            "initializationType": initialization_type,
            "phase": "init",
            "runtimeVersion": runtime_version,
            "runtimeVersionArn": runtime_version_arn,
            "functionName": function_name,
            "functionVersion": version,
        },
    )


def init_report(
    init_ms: float,
    status: str,
    error_type: str | None = None,
    initialization_type: str = "on-demand",
) -> PlatformLine:
    """Init failed (`error`, with the error type) or timed out (`timeout`), or, for an Init run
    ahead of any invocation (provisioned concurrency), `success`: AWS always reports that one
    (spec 6.2); its text follows the failure lines' shape and the Telemetry API's `status`."""
    text = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
    record: dict[str, object] = {
        "initializationType": initialization_type,
        "phase": "init",
        "status": status,
        "metrics": {"durationMs": round(init_ms, 3)},
    }
    if error_type is not None:
        text += f"\tError Type: {error_type}"
        record["errorType"] = error_type
    return PlatformLine(text + "\n", "platform.initReport", record)


def start(request_id: str, version: str) -> PlatformLine:
    return PlatformLine(
        f"START RequestId: {request_id} Version: {version}\n",
        "platform.start",
        {"requestId": request_id, "version": version},
    )


def end(request_id: str) -> PlatformLine:
    return PlatformLine(f"END RequestId: {request_id}\n", "")


def restore_start(runtime_version: str, runtime_version_arn: str) -> PlatformLine:
    """RESTORE_START: a SnapStart environment is being restored from its version's snapshot."""
    return PlatformLine(
        f"RESTORE_START Runtime Version: {runtime_version}\t"
        f"Runtime Version ARN: {runtime_version_arn}\n",
        "platform.restoreStart",
        {"runtimeVersion": runtime_version, "runtimeVersionArn": runtime_version_arn},
    )


def restore_report(
    restore_ms: float, status: str | None = None, error_type: str | None = None
) -> PlatformLine:
    """RESTORE_REPORT: how long the restore took (the runtime's resumption and the after-restore
    hooks), with `Status: timeout` or `Status: error` and the error type when it failed."""
    fields = [f"RESTORE_REPORT Restore Duration: {restore_ms:.2f} ms"]
    record: dict[str, object] = {"metrics": {"durationMs": round(restore_ms, 3)}}
    if status is not None:
        fields.append(f"Status: {status}")
        record["status"] = status
        if error_type:
            fields.append(f"Error Type: {error_type}")
            record["errorType"] = error_type
    else:
        record["status"] = "success"
    return PlatformLine("\t".join(fields) + "\n", "platform.restoreReport", record)


def report(
    request_id: str,
    duration_ms: float,
    init_ms: float | None,
    memory_mb: int,
    peak_bytes: int,
    status: str | None,
    error_type: str | None,
    restore_ms: float | None = None,
) -> PlatformLine:
    """REPORT: `status` None (success), "timeout" or "error" (spec 6.2 for the fields, their
    order, the trailing tab, and billing that includes the init phase). A SnapStart restore
    reports `Restore Duration` and `Billed Restore Duration` instead of `Init Duration`, and
    its restore is billed apart from the invocation."""
    billed = math.ceil(duration_ms + (init_ms or 0))
    used = math.ceil(peak_bytes / MEGABYTE)
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {used} MB",
    ]
    metrics: dict[str, object] = {
        "durationMs": round(duration_ms, 3),
        "billedDurationMs": billed,
        "memorySizeMB": memory_mb,
        "maxMemoryUsedMB": used,
    }
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
        metrics["initDurationMs"] = round(init_ms, 3)
    if restore_ms is not None:
        fields.append(f"Restore Duration: {restore_ms:.2f} ms")
        fields.append(f"Billed Restore Duration: {math.ceil(restore_ms)} ms")
        metrics["restoreDurationMs"] = round(restore_ms, 3)
        metrics["billedRestoreDurationMs"] = math.ceil(restore_ms)
    record: dict[str, object] = {"requestId": request_id, "metrics": metrics}
    if status == "timeout":
        fields.append("Status: timeout")
        record["status"] = "timeout"
    elif status == "error" and error_type:
        fields += ["Status: error", f"Error Type: {error_type}"]
        record.update(status="error", errorType=error_type)
    else:
        record["status"] = "success" if status is None else "failure"
    return PlatformLine("\t".join(fields) + "\t\n", "platform.report", record)
