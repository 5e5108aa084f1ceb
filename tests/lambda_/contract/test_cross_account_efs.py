"""Cross-account EFS (spec 8) against a real server with boto3 and real sandboxes: a function in
account A mounts an access point of account B's file system once the VPCs are peered and routed
both ways, B's mount target admits NFS from A's side and B's file system policy allows A's role
(and, under `--iam enforce`, A's role allows itself). Each piece taken away gives spec 7.2's
error; both accounts see the same files."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws import aws_error
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

A, B = "111111111111", "222222222222"
ROLE_A = f"arn:aws:iam::{A}:role/efs-reader"
ROLE_B = f"arn:aws:iam::{B}:role/lambda-role"
A_VPC, B_VPC = "10.10.0.0/16", "10.20.0.0/16"

HANDLER = """
import json, os

def handler(event, context):
    path = event["path"]
    try:
        if event["op"] == "write":
            with open(path, "w") as f:
                f.write(event["data"])
            return {"ok": True}
        with open(path) as f:
            return {"ok": True, "data": f.read()}
    except OSError as exc:
        return {"ok": False, "errno": exc.errno}
"""


@dataclass
class Accounts:
    """Both accounts' clients and what the scenario made in each."""

    server: GureumProcess
    peering: str = ""
    a_subnet: str = ""
    a_group: str = ""
    a_table: str = ""
    b_subnet: str = ""
    b_group: str = ""
    b_table: str = ""
    target_group: str = ""
    file_system: str = ""
    access_point: str = ""

    def client(self, service: str, account: str) -> Any:
        return self.server.client(service, aws_access_key_id=account)

    def vpc_config(self, account: str) -> dict[str, list[str]]:
        subnet, group = (
            (self.a_subnet, self.a_group)
            if account == A
            else (
                self.b_subnet,
                self.b_group,
            )
        )
        return {"SubnetIds": [subnet], "SecurityGroupIds": [group]}

    def nfs_in(self) -> list[dict[str, Any]]:
        return [
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "IpRanges": [{"CidrIp": A_VPC}, {"CidrIp": B_VPC}],
            }
        ]

    def policy(self, *principals: str) -> str:
        fs_arn = f"arn:aws:elasticfilesystem:us-east-1:{B}:file-system/{self.file_system}"
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": list(principals)},
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": fs_arn,
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def network(accounts: Accounts, account: str, cidr: str) -> tuple[str, str, str, str]:
    """A VPC with one subnet in us-east-1a and a group; its id, subnet, group, main table."""
    ec2 = accounts.client("ec2", account)
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"), AvailabilityZone="us-east-1a"
    )["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="fn", Description="d", VpcId=vpc)["GroupId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return vpc, subnet, group, tables["RouteTables"][0]["RouteTableId"]


def build(server: GureumProcess) -> Accounts:
    accounts = Accounts(server)
    a_vpc, accounts.a_subnet, accounts.a_group, accounts.a_table = network(accounts, A, A_VPC)
    b_vpc, accounts.b_subnet, accounts.b_group, accounts.b_table = network(accounts, B, B_VPC)
    a_ec2, b_ec2 = accounts.client("ec2", A), accounts.client("ec2", B)
    # B's file system, its mount target (2049 in from both VPCs) and an access point.
    efs = accounts.client("efs", B)
    accounts.file_system = efs.create_file_system(CreationToken="shared")["FileSystemId"]
    for _ in range(500):
        found = efs.describe_file_systems(FileSystemId=accounts.file_system)["FileSystems"]
        if found[0]["LifeCycleState"] == "available":
            break
        time.sleep(0.01)
    target_group = b_ec2.create_security_group(GroupName="mt", Description="m", VpcId=b_vpc)
    b_ec2.authorize_security_group_ingress(
        GroupId=target_group["GroupId"], IpPermissions=accounts.nfs_in()
    )
    efs.create_mount_target(
        FileSystemId=accounts.file_system,
        SubnetId=accounts.b_subnet,
        SecurityGroups=[target_group["GroupId"]],
    )
    accounts.target_group = target_group["GroupId"]
    accounts.access_point = efs.create_access_point(
        FileSystemId=accounts.file_system,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/shared",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"},
        },
    )["AccessPointArn"]
    efs.put_file_system_policy(
        FileSystemId=accounts.file_system, Policy=accounts.policy(ROLE_A, ROLE_B)
    )
    # The peering, accepted by B, and a route each way.
    accounts.peering = a_ec2.create_vpc_peering_connection(
        VpcId=a_vpc, PeerVpcId=b_vpc, PeerOwnerId=B
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    b_ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=accounts.peering)
    a_ec2.create_route(
        RouteTableId=accounts.a_table,
        DestinationCidrBlock=B_VPC,
        VpcPeeringConnectionId=accounts.peering,
    )
    b_ec2.create_route(
        RouteTableId=accounts.b_table,
        DestinationCidrBlock=A_VPC,
        VpcPeeringConnectionId=accounts.peering,
    )
    return accounts


def function(accounts: Accounts, account: str, name: str, role: str) -> Any:
    client = accounts.client("lambda", account)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER})},
        VpcConfig=accounts.vpc_config(account),
        FileSystemConfigs=[{"Arn": accounts.access_point, "LocalMountPath": "/mnt/shared"}],
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    return client


def run(client: Any, name: str, **event: Any) -> dict[str, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def fresh(client: Any, name: str, step: int) -> None:
    """A configuration change: the next invocation starts a new environment (and mounts)."""
    client.update_function_configuration(FunctionName=name, Description=f"step {step}")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def connectivity(accounts: Accounts) -> Any:
    return aws_error(
        "EFSMountConnectivityException",
        408,
        "The function couldn't connect to the Amazon EFS file system with access point "
        f"{accounts.access_point}. Check your network configuration and try again.",
    )


def refused(accounts: Accounts) -> Any:
    return aws_error(
        "EFSMountFailureException",
        403,
        f"The function could not mount the EFS file system with access point "
        f"{accounts.access_point}.",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-xefs") / "data").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def accounts(server: GureumProcess) -> Accounts:
    return build(server)


def test_both_accounts_share_the_files(accounts: Accounts, server: GureumProcess) -> None:
    a = function(accounts, A, "writer", ROLE_A)
    assert run(a, "writer", op="write", path="/mnt/shared/note", data="from A") == {"ok": True}
    b = function(accounts, B, "reader", ROLE_B)
    assert run(b, "reader", op="read", path="/mnt/shared/note") == {"ok": True, "data": "from A"}
    (on_disk,) = (server.data_dir / "efs").glob(f"{accounts.file_system}/shared/note")
    assert (on_disk.stat().st_uid, on_disk.stat().st_gid) == (1001, 1001)


def test_nfs_admitted_by_a_group_of_the_functions_account(accounts: Accounts) -> None:
    """B's mount target may admit 2049 from A's function group itself (a group reference across
    accounts, over the active peering) instead of A's block."""
    a = function(accounts, A, "by-group", ROLE_A)
    b_ec2 = accounts.client("ec2", B)
    b_ec2.revoke_security_group_ingress(
        GroupId=accounts.target_group, IpPermissions=accounts.nfs_in()
    )
    by_group = [
        {
            "IpProtocol": "tcp",
            "FromPort": 2049,
            "ToPort": 2049,
            "UserIdGroupPairs": [{"GroupId": accounts.a_group, "UserId": A}],
        }
    ]
    b_ec2.authorize_security_group_ingress(GroupId=accounts.target_group, IpPermissions=by_group)
    try:
        assert run(a, "by-group", op="write", path="/mnt/shared/g", data="y") == {"ok": True}
    finally:
        b_ec2.revoke_security_group_ingress(GroupId=accounts.target_group, IpPermissions=by_group)
        b_ec2.authorize_security_group_ingress(
            GroupId=accounts.target_group, IpPermissions=accounts.nfs_in()
        )


def test_each_missing_piece_gives_its_error(accounts: Accounts) -> None:
    a = function(accounts, A, "pieces", ROLE_A)
    assert run(a, "pieces", op="write", path="/mnt/shared/p", data="x") == {"ok": True}
    efs, a_ec2, b_ec2 = (
        accounts.client("efs", B),
        accounts.client("ec2", A),
        accounts.client("ec2", B),
    )
    step = iter(range(100))

    # B's file system policy without A's role: refused (403).
    efs.put_file_system_policy(FileSystemId=accounts.file_system, Policy=accounts.policy(ROLE_B))
    fresh(a, "pieces", next(step))
    with refused(accounts):
        a.invoke(FunctionName="pieces", Payload=b"{}")
    efs.put_file_system_policy(
        FileSystemId=accounts.file_system, Policy=accounts.policy(ROLE_A, ROLE_B)
    )

    # No route back from B's VPC: unreachable (408). Then no route there from A's.
    for ec2, table, destination in (
        (b_ec2, accounts.b_table, A_VPC),
        (a_ec2, accounts.a_table, B_VPC),
    ):
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock=destination)
        fresh(a, "pieces", next(step))
        with connectivity(accounts):
            a.invoke(FunctionName="pieces", Payload=b"{}")
        ec2.create_route(
            RouteTableId=table,
            DestinationCidrBlock=destination,
            VpcPeeringConnectionId=accounts.peering,
        )

    # B's mount target admitting no NFS from A's side: unreachable.
    target_group = accounts.target_group
    b_ec2.revoke_security_group_ingress(GroupId=target_group, IpPermissions=accounts.nfs_in())
    fresh(a, "pieces", next(step))
    with connectivity(accounts):
        a.invoke(FunctionName="pieces", Payload=b"{}")
    b_ec2.authorize_security_group_ingress(GroupId=target_group, IpPermissions=accounts.nfs_in())

    # Everything back: it mounts again, and sees the file.
    fresh(a, "pieces", next(step))
    assert run(a, "pieces", op="read", path="/mnt/shared/p") == {"ok": True, "data": "x"}

    # The peering deleted: unreachable, and its routes are blackholes.
    b_ec2.delete_vpc_peering_connection(VpcPeeringConnectionId=accounts.peering)
    fresh(a, "pieces", next(step))
    with connectivity(accounts):
        a.invoke(FunctionName="pieces", Payload=b"{}")
    routes = a_ec2.describe_route_tables(RouteTableIds=[accounts.a_table])["RouteTables"][0]
    assert [r["State"] for r in routes["Routes"] if "VpcPeeringConnectionId" in r] == ["blackhole"]


def test_another_accounts_access_point_must_exist(accounts: Accounts) -> None:
    client = accounts.client("lambda", A)
    missing = accounts.access_point[: -len("0123456789abcdef0")] + "0123456789abcdef0"
    with aws_error("InvalidParameterValueException", 400):
        client.create_function(
            FunctionName="missing-ap",
            Runtime="python3.12",
            Role=ROLE_A,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
            VpcConfig=accounts.vpc_config(A),
            FileSystemConfigs=[{"Arn": missing, "LocalMountPath": "/mnt/shared"}],
        )


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def test_under_enforce_the_role_must_allow_itself(tmp_path: Path) -> None:
    """Across accounts both sides must allow (spec 8): B's policy names A's role, and A's role
    needs ClientMount (and ClientWrite to write) on B's file system in its own policies."""
    process = GureumProcess(tmp_path / "data", "--iam", "enforce").start()
    try:
        accounts = build(process)
        iam = accounts.client("iam", A)
        iam.create_role(RoleName="efs-reader", AssumeRolePolicyDocument=TRUST)
        a = function(accounts, A, "enforced", ROLE_A)
        with refused(accounts):
            a.invoke(FunctionName="enforced", Payload=b"{}")
        fs_arn = f"arn:aws:elasticfilesystem:us-east-1:{B}:file-system/{accounts.file_system}"
        iam.put_role_policy(
            RoleName="efs-reader",
            PolicyName="mount",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "elasticfilesystem:ClientMount",
                            "Resource": fs_arn,
                        }
                    ],
                }
            ),
        )
        fresh(a, "enforced", 1)
        # Mounted, but read-only: ClientWrite is in B's policy, not in the role's.
        written = run(a, "enforced", op="write", path="/mnt/shared/w", data="x")
        assert written == {"ok": False, "errno": 30}  # EROFS
    finally:
        process.stop()


def test_peered_vpcs_of_one_account(server: GureumProcess) -> None:
    """Within one account, a mount target in a VPC peered with the function's (and routed both
    ways) is reached as well; without the peering the function cannot even name it."""
    accounts = Accounts(server)
    account = "333333333333"
    ec2, efs = accounts.client("ec2", account), accounts.client("efs", account)
    fn_vpc, fn_subnet, fn_group, fn_table = network(accounts, account, "10.30.0.0/16")
    fs_vpc, fs_subnet, _, fs_table = network(accounts, account, "10.31.0.0/16")
    nfs = ec2.create_security_group(GroupName="mt", Description="m", VpcId=fs_vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=nfs,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 2049,
                "ToPort": 2049,
                "UserIdGroupPairs": [{"GroupId": fn_group}],
            }
        ],
    )
    fs = efs.create_file_system(CreationToken="one-account")["FileSystemId"]
    for _ in range(500):
        if efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"] == (
            "available"
        ):
            break
        time.sleep(0.01)
    efs.create_mount_target(FileSystemId=fs, SubnetId=fs_subnet, SecurityGroups=[nfs])
    point = efs.create_access_point(
        FileSystemId=fs,
        PosixUser={"Uid": 1001, "Gid": 1001},
        RootDirectory={
            "Path": "/one",
            "CreationInfo": {"OwnerUid": 1001, "OwnerGid": 1001, "Permissions": "755"},
        },
    )["AccessPointArn"]
    client = accounts.client("lambda", account)
    options: dict[str, Any] = {
        "Runtime": "python3.12",
        "Role": f"arn:aws:iam::{account}:role/lambda-role",
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_of({"index.py": HANDLER})},
        "VpcConfig": {"SubnetIds": [fn_subnet], "SecurityGroupIds": [fn_group]},
        "FileSystemConfigs": [{"Arn": point, "LocalMountPath": "/mnt/shared"}],
    }
    with aws_error("InvalidParameterValueException", 400):
        client.create_function(FunctionName="unpeered", **options)
    peering = ec2.create_vpc_peering_connection(VpcId=fn_vpc, PeerVpcId=fs_vpc)[
        "VpcPeeringConnection"
    ]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=peering)
    for table, destination in ((fn_table, "10.31.0.0/16"), (fs_table, "10.30.0.0/16")):
        ec2.create_route(
            RouteTableId=table, DestinationCidrBlock=destination, VpcPeeringConnectionId=peering
        )
    client.create_function(FunctionName="peered", **options)
    client.get_waiter("function_active_v2").wait(FunctionName="peered", WaiterConfig={"Delay": 0.1})
    assert run(client, "peered", op="write", path="/mnt/shared/one", data="1") == {"ok": True}
