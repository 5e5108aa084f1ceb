"""Mount targets through the wire: boto3's own serializer and parser, the front door and EFS's
rest-json endpoint, in process, over the shipped in-memory network (the server has no EC2 to
seed subnets through yet). botocore's `before-send` hook hands each signed request to the front
door instead of a socket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config

from gureum.aws.accounts import DEFAULT_ACCESS_KEY, AccountDirectory
from gureum.aws.frontend import Frontend
from gureum.aws.kernel import Kernel
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.singletons import LocalSingletons
from gureum.aws.sql import SqliteBackend
from gureum.clock import SystemClock
from gureum.config import Settings
from gureum.efs import assembly
from gureum.efs.domain.mount_targets import Subnet
from gureum.efs.services.fakes import InMemoryNetwork
from tests.support.aws import aws_error

ACCOUNT, REGION = "000000000000", "us-east-1"
VPC, OTHER_VPC = "vpc-0aaaaaaaaaaaaaaaa", "vpc-0bbbbbbbbbbbbbbbb"
DEFAULT_SG, SG = "sg-0d0d0d0d0d0d0d0d0", "sg-0a0a0a0a0a0a0a0a0"
SUBNET_A = Subnet("subnet-0aaaaaaaaaaaaaaaa", VPC, "us-east-1a", "use1-az1", "10.0.1.0/24")
SUBNET_A2 = Subnet("subnet-0a2a2a2a2a2a2a2a2", VPC, "us-east-1a", "use1-az1", "10.0.2.0/24")
SUBNET_B = Subnet("subnet-0bbbbbbbbbbbbbbbb", VPC, "us-east-1b", "use1-az2", "10.0.3.0/24")
SUBNET_OTHER = Subnet(
    "subnet-0cccccccccccccccc", OTHER_VPC, "us-east-1c", "use1-az3", "10.1.0.0/24"
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@pytest.fixture
def efs(tmp_path: Path) -> Iterator[Any]:
    yield from _client(tmp_path, SystemClock(), time_scale=0.0)


class _Hurried(SystemClock):
    """The wall clock, two seconds further on at each reading: a host slower than every
    `creating` (AWS's second) between a create's write and its answer."""

    def __init__(self) -> None:
        self._ahead = timedelta()

    def now(self) -> datetime:
        self._ahead += timedelta(seconds=2)
        return super().now() + self._ahead


def test_a_create_answers_creating_however_long_it_took(tmp_path: Path) -> None:
    """As AWS answers: the new file system or mount target as created, `creating`; described
    afterwards, it is `available`."""
    for efs in _client(tmp_path, _Hurried(), time_scale=1.0):
        created = efs.create_file_system(CreationToken="t")
        assert created["LifeCycleState"] == "creating"
        fs_id = created["FileSystemId"]
        described_fs = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
        assert described_fs["LifeCycleState"] == "available"
        target = efs.create_mount_target(FileSystemId=fs_id, SubnetId=SUBNET_A.subnet_id)
        assert target["LifeCycleState"] == "creating"
        described = efs.describe_mount_targets(MountTargetId=target["MountTargetId"])
        assert described["MountTargets"][0]["LifeCycleState"] == "available"


def _client(tmp_path: Path, clock: SystemClock, time_scale: float) -> Iterator[Any]:
    network = InMemoryNetwork()
    network.add_vpc(ACCOUNT, REGION, VPC, DEFAULT_SG)
    network.add_vpc(ACCOUNT, REGION, OTHER_VPC, "sg-0e0e0e0e0e0e0e0e0")
    network.add_security_group(ACCOUNT, REGION, SG, VPC)
    for subnet in (SUBNET_A, SUBNET_A2, SUBNET_B, SUBNET_OTHER):
        network.add_subnet(ACCOUNT, REGION, subnet)
    executor = ThreadPoolExecutor(max_workers=2)
    settings = Settings(data_dir=tmp_path / "data", time_scale=time_scale)
    settings.data_dir.mkdir()
    kernel = Kernel(
        settings,
        clock,
        executor,
        "http://efs.test",
        botocore.session.get_session(),
        SqliteBackend(settings.data_dir),
        LocalSingletons(),
    )
    built = assembly.assemble(kernel, network)
    frontend = Frontend(
        {"elasticfilesystem": built.endpoint},
        AccountDirectory([DEFAULT_ACCESS_KEY]),
        kernel.clock,
        executor,
        default_service="elasticfilesystem",
        catalog=None,
    )

    def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body or b""
        wire = HttpRequest(
            request.method,
            url.path,
            url.query,
            # The socket layer adds Host, which the signature covers.
            [("host", url.netloc)]
            + [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()],
            body if isinstance(body, bytes) else body.encode(),
        )
        answer = asyncio.run(frontend.handle(wire, "http://efs.test"))
        return AWSResponse(request.url, answer.status, dict(answer.headers), _Raw(answer.body))

    client = boto3.client(
        "efs",
        endpoint_url="http://efs.test",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    client.meta.events.register("before-send.efs.*", send)
    yield client
    built.close()
    executor.shutdown()


def test_mount_targets_over_the_wire(efs: Any) -> None:
    fs_id = efs.create_file_system(CreationToken="t")["FileSystemId"]
    target = efs.create_mount_target(FileSystemId=fs_id, SubnetId=SUBNET_A.subnet_id)
    assert re.fullmatch(r"fsmt-[0-9a-f]{17}", target["MountTargetId"])
    assert target["OwnerId"] == ACCOUNT
    assert (target["VpcId"], target["AvailabilityZoneName"], target["AvailabilityZoneId"]) == (
        VPC,
        "us-east-1a",
        "use1-az1",
    )
    assert target["IpAddress"] == "10.0.1.4"
    assert target["LifeCycleState"] in ("creating", "available")
    assert target["NetworkInterfaceId"].startswith("eni-")
    mt_id = target["MountTargetId"]
    described = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    assert described["NumberOfMountTargets"] == 1
    groups = efs.describe_mount_target_security_groups(MountTargetId=mt_id)
    assert groups["SecurityGroups"] == [DEFAULT_SG]
    efs.modify_mount_target_security_groups(MountTargetId=mt_id, SecurityGroups=[SG])
    assert efs.describe_mount_target_security_groups(MountTargetId=mt_id)["SecurityGroups"] == [SG]
    with aws_error("MountTargetConflict", 409, "mount target already exists in this AZ"):
        efs.create_mount_target(FileSystemId=fs_id, SubnetId=SUBNET_A2.subnet_id)
    with aws_error("MountTargetConflict", 409):
        efs.create_mount_target(FileSystemId=fs_id, SubnetId=SUBNET_OTHER.subnet_id)
    with aws_error("SecurityGroupNotFound", 400):
        efs.create_mount_target(
            FileSystemId=fs_id, SubnetId=SUBNET_B.subnet_id, SecurityGroups=["sg-0ffffffffffffffff"]
        )
    second = efs.create_mount_target(
        FileSystemId=fs_id, SubnetId=SUBNET_B.subnet_id, IpAddress="10.0.3.10"
    )
    assert second["IpAddress"] == "10.0.3.10"
    page = efs.describe_mount_targets(FileSystemId=fs_id, MaxItems=1)
    assert len(page["MountTargets"]) == 1
    rest = efs.describe_mount_targets(FileSystemId=fs_id, Marker=page["NextMarker"])
    assert {t["MountTargetId"] for t in page["MountTargets"] + rest["MountTargets"]} == {
        mt_id,
        second["MountTargetId"],
    }
    ap_id = efs.create_access_point(FileSystemId=fs_id)["AccessPointId"]
    by_point = efs.describe_mount_targets(AccessPointId=ap_id)["MountTargets"]
    assert len(by_point) == 2
    with aws_error("FileSystemInUse", 409):
        efs.delete_file_system(FileSystemId=fs_id)
    for mount_target in (mt_id, second["MountTargetId"]):
        efs.delete_mount_target(MountTargetId=mount_target)
    efs.delete_file_system(FileSystemId=fs_id)


def test_mount_target_errors_over_the_wire(efs: Any) -> None:
    fs_id = efs.create_file_system(CreationToken="t")["FileSystemId"]
    efs.create_mount_target(FileSystemId=fs_id, SubnetId=SUBNET_A.subnet_id, IpAddress="10.0.1.4")
    other_id = efs.create_file_system(CreationToken="u")["FileSystemId"]
    with aws_error("IpAddressInUse", 409):
        efs.create_mount_target(
            FileSystemId=other_id, SubnetId=SUBNET_A.subnet_id, IpAddress="10.0.1.4"
        )
    with aws_error("BadRequest", 400):
        efs.create_mount_target(
            FileSystemId=fs_id, SubnetId=SUBNET_B.subnet_id, IpAddress="10.9.9.9"
        )
    with aws_error("SubnetNotFound", 400):
        efs.create_mount_target(FileSystemId=fs_id, SubnetId="subnet-0123456789abcdef0")
    with aws_error("MountTargetNotFound", 404):
        efs.describe_mount_target_security_groups(MountTargetId="fsmt-0123456789abcdef0")
