"""EFS (issue 13): what mounting an access point adds to a cold start, and file throughput through
the mount against the same directory used directly.

Only gureum mounts file systems among the targets (the peers ignore FileSystemConfigs).

* Cold start: pairs of fresh functions, one without a file system and one with, each invoked once
  after the isolated cold start's pause, alternating, so that both halves of a pair see the same
  machine; the added cost is the median of the pairs' differences (issue target: under 2 ms).
* Throughput: a function writes a file through its mount (fsync'd) and reads it back, reporting
  MB/s; the harness does the same in the file system's own directory on the host. Issue target:
  through the mount within 10% of direct.
"""

from __future__ import annotations

import base64
import json
import os
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.client import BlockingConnection
from benchmarks.plan import Plan
from benchmarks.results import Results, median, percentile
from benchmarks.sequential import _note
from benchmarks.sigv4 import invoke_request
from benchmarks.targets import HOST, Gureum, Target

MOUNT = "/mnt/bench"
ROOT = "bench"  # the access point's root directory in the file system
THROUGHPUT_MB = 64
THROUGHPUT_ROUNDS = 3
_INIT = re.compile(r"Init Duration: ([0-9.]+) ms")
THROUGHPUT_SOURCE = f"""
import json, os, time

BLOCK = b"x" * (1 << 20)


def measure(path, mb):
    began = time.perf_counter()
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(BLOCK)
        f.flush()
        os.fsync(f.fileno())
    wrote = time.perf_counter() - began
    began = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    read = time.perf_counter() - began
    os.unlink(path)
    return {{"write": mb / wrote, "read": mb / read}}


def handler(event, context):
    return measure("{MOUNT}/throughput-" + context.aws_request_id, event["mb"])
"""


def file_system(target: Target) -> tuple[dict[str, Any], str]:
    """A VPC, subnet and groups, a file system with its mount target and an access point: the
    function options that mount it, and the file system's id."""
    ec2, efs = target.boto3_client("ec2"), target.boto3_client("efs")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="fn", Description="f", VpcId=vpc)["GroupId"]
    nfs = ec2.create_security_group(GroupName="nfs", Description="m", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=nfs,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": group}],
            }
        ],
    )
    fs = efs.create_file_system(CreationToken=f"bench-{time.time_ns()}")["FileSystemId"]
    while efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"] != (
        "available"
    ):
        time.sleep(0.05)
    efs.create_mount_target(FileSystemId=fs, SubnetId=subnet_id, SecurityGroups=[nfs])
    point = efs.create_access_point(
        FileSystemId=fs,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": f"/{ROOT}",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"},
        },
    )["AccessPointArn"]
    options = {
        "VpcConfig": {"SubnetIds": [subnet_id], "SecurityGroupIds": [group]},
        "FileSystemConfigs": [{"Arn": point, "LocalMountPath": MOUNT}],
    }
    return options, fs


def efs(target: Target, results: Results, plan: Plan) -> None:
    assert isinstance(target, Gureum)
    options, fs = file_system(target)
    cold_start(target, results, plan, options)
    throughput(target, results, options, target.data_dir / "efs" / fs / ROOT)


def cold_start(target: Target, results: Results, plan: Plan, options: dict[str, Any]) -> None:
    count = plan.cold_isolated_count
    pairs = [
        (target.create("bench-efs-none"), target.create("bench-efs", options=options))
        for _ in range(count)
    ]
    signer, connection = target.signer(), BlockingConnection(HOST, target.port, timeout=120)
    plain: list[float] = []
    mounted: list[float] = []
    inits: list[float] = []
    statuses: Counter[int] = Counter()
    try:
        for without, with_fs in pairs:
            for name, samples in ((without, plain), (with_fs, mounted)):
                data = signer.render(invoke_request(name, tail=True))
                time.sleep(plan.cold_pause)
                before = time.perf_counter()
                response = connection.exchange(data)
                samples.append((time.perf_counter() - before) * 1000)
                statuses[response.outcome] += 1
                log = base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()
                if samples is mounted and (found := _INIT.search(log)):
                    inits.append(float(found.group(1)))
    finally:
        connection.close()
    note = _note(statuses, 200, len(plain) + len(mounted))
    added = [m - p for p, m in zip(plain, mounted, strict=True)]
    results.set("efs_cold_p50", target.name, median(mounted), note)
    results.set("efs_cold_p99", target.name, percentile(mounted, 0.99), note)
    results.set("efs_cold_plain_p50", target.name, median(plain), note)
    results.set("efs_cold_added_p50", target.name, median(added), f"pairs={len(added)}")
    if inits:
        results.set("efs_cold_init_p50", target.name, median(inits), f"n={len(inits)}")


def _direct(directory: Path, mb: int) -> dict[str, float]:
    """The handler's measurement, in the file system's directory on the host."""
    block = b"x" * (1 << 20)
    path = directory / f"direct-{time.time_ns()}"
    began = time.perf_counter()
    with path.open("wb") as f:
        for _ in range(mb):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    wrote = time.perf_counter() - began
    began = time.perf_counter()
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass
    read = time.perf_counter() - began
    path.unlink()
    return {"write": mb / wrote, "read": mb / read}


def throughput(target: Target, results: Results, options: dict[str, Any], directory: Path) -> None:
    name = target.create("bench-efs-io", THROUGHPUT_SOURCE, timeout=120, options=options)
    client = target.boto3_client()
    through: list[dict[str, float]] = []
    direct: list[dict[str, float]] = []
    for _ in range(THROUGHPUT_ROUNDS):
        response = client.invoke(FunctionName=name, Payload=f'{{"mb": {THROUGHPUT_MB}}}')
        answer = response["Payload"].read()
        if "FunctionError" in response:
            raise RuntimeError(f"the throughput function failed: {answer[:300]!r}")
        through.append(json.loads(answer))
        direct.append(_direct(directory, THROUGHPUT_MB))
    note = f"{THROUGHPUT_MB} MB x {THROUGHPUT_ROUNDS}, median"
    for kind in ("write", "read"):
        mount = statistics.median(r[kind] for r in through)
        host = statistics.median(r[kind] for r in direct)
        results.set(f"efs_{kind}_mbs", target.name, mount, note)
        results.set(f"efs_{kind}_direct_mbs", target.name, host, note)
        results.set(f"efs_{kind}_ratio", target.name, mount / host if host else None, note)
