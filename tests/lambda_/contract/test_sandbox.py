"""The sandbox's claims, each checked from inside a function (issue 3, "Sandboxes").

One probe handler does what each test asks (read a path, search the file system, dump the
environment, ...) and returns what it saw; the assertions are about what a function can and
cannot do, not about how gureum builds the sandbox.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.functions import bootstrap_package, create, invoke
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

PROBE = '''\
import errno
import json
import os
import socket
import subprocess

SKIP = {"/proc", "/sys", "/dev"}


def attempt(action):
    try:
        return {"ok": action()}
    except OSError as error:
        return {"error": errno.errorcode.get(error.errno, str(error.errno))}


def read(path):
    with open(path, "rb") as handle:
        return len(handle.read(64))


def write(path, data):
    with open(path, "w") as handle:
        handle.write(data)
    return len(data)


def find(name):
    found, scanned = [], 0
    for directory, subdirectories, files in os.walk("/"):
        subdirectories[:] = [
            d for d in subdirectories if os.path.join(directory, d) not in SKIP
        ]
        scanned += len(files)
        found += [os.path.join(directory, f) for f in files if f == name]
    return {"found": found, "scanned": scanned}


def processes():
    seen = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    uid = next(l for l in handle if l.startswith("Uid:")).split()[1]
                seen[entry] = int(uid)
            except OSError:
                pass
    return seen


def environs():
    texts = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() or entry in ("self", "thread-self"):
            result = attempt(lambda: open(f"/proc/{entry}/environ", "rb").read().decode("latin-1"))
            texts[entry] = result
    return texts


def fill(path, megabytes):
    written = 0
    chunk = b"\\0" * (1024 * 1024)
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(chunk)
                handle.flush()
                written += 1
        return {"written_mb": written, "error": None}
    except OSError as error:
        return {"written_mb": written, "error": errno.errorcode[error.errno]}
    finally:
        if os.path.exists(path):
            os.remove(path)


def runtime_apis(own, only=None):
    """Loopback listeners that answer like a Runtime API, besides our own."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and address in ("0100007F", "00000000000000000000000001000000"):
                ports.add(int(port, 16))
    answering = []
    if only is not None:
        ports &= {only}
    for port in sorted(ports - {own}):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3) as connection:
                connection.settimeout(0.3)
                connection.sendall(
                    b"POST /2018-06-01/runtime/invocation/not-a-request/response HTTP/1.1\\r\\n"
                    b"Host: x\\r\\nContent-Length: 2\\r\\n\\r\\n{}"
                )
                reply = connection.recv(4096)
        except OSError:
            continue
        if b"InvalidRequestID" in reply:
            answering.append(port)
    return {"listening": len(ports), "answering": answering}


def handler(event, context):
    action = event["action"]
    if action == "read":
        return {
            path: {
                "listdir": attempt(lambda: len(os.listdir(path))),
                "read": attempt(lambda: read(path)),
            }
            for path in event["paths"]
        }
    if action == "find":
        return find(event["filename"])
    if action == "identity":
        return {
            "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "pid": os.getpid(), "processes": processes(),
        }
    if action == "environ":
        return {"environ": dict(os.environ), "procs": environs(), "cwd": os.getcwd()}
    if action == "write":
        return {path: attempt(lambda: write(path, "x")) for path in event["paths"]}
    if action == "exists":
        return os.path.exists(event["path"])
    if action == "listdir":
        return sorted(os.listdir(event["path"]))
    if action == "keep":
        with open(event["path"], "wb") as handle:
            for _ in range(event["mb"]):
                handle.write(b"\\1" * (1024 * 1024))
            os.fsync(handle.fileno())
        return event["mb"]
    if action == "tmp":
        stats = os.statvfs("/tmp")
        return {"size": stats.f_blocks * stats.f_frsize, "fill": fill("/tmp/fill", event["mb"])}
    if action == "boto3":
        import boto3
        function = boto3.client("lambda").get_function(FunctionName=context.function_name)
        return function["Configuration"]["FunctionName"]
    if action == "spawn":
        subprocess.Popen(["sleep", "300"], start_new_session=True)
        return os.getpid()
    if action == "runtime-apis":
        own = int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
        return runtime_apis(own)
    if action == "own-runtime-api":
        return int(os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)[1])
    if action == "reach":
        return runtime_apis(-1, only=event["port"])
    raise ValueError(action)
'''

FIRST_UID = 20000
MEGABYTE = 1024 * 1024


def probe_code() -> dict[str, bytes]:
    return {"ZipFile": zip_of({"index.py": PROBE})}


def ask(client: Any, function: str, **event: Any) -> Any:
    invoked = invoke(client, function, event)
    assert invoked.function_error is None, invoked.payload
    return invoked.json()


@pytest.fixture
def probe(make_function: Callable[..., dict[str, Any]], function_name: str) -> str:
    make_function(Code=probe_code(), Timeout=30, MemorySize=256)
    return function_name


# --- what a function cannot see -------------------------------------------------------------


def test_cannot_read_the_data_directory(
    lambda_client: Any, server: GureumProcess, probe: str
) -> None:
    data = server.data_dir
    assert (data / "gureum.sqlite3").exists()  # on the host, it is there
    paths = [str(data), str(data / "gureum.sqlite3"), str(data / "code"), str(data / "links.key")]
    seen = ask(lambda_client, probe, action="read", paths=paths)
    for path in paths:
        assert "ok" not in seen[path]["listdir"], (path, seen[path])
        assert "ok" not in seen[path]["read"], (path, seen[path])


def test_cannot_see_another_functions_code(
    lambda_client: Any,
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    probe: str,
    function_name: str,
) -> None:
    secret = f"only-in-b-{uuid.uuid4().hex}.py"
    other = f"{function_name}-b"
    make_function(name=other, Code={"ZipFile": zip_of({"index.py": PROBE, secret: "SECRET = 1\n"})})
    assert ask(lambda_client, other, action="exists", path=f"/var/task/{secret}") is True
    on_host = [str(path) for path in server.data_dir.rglob(secret)]
    assert on_host, "B's code is stored on the host"
    search = ask(lambda_client, probe, action="find", filename=secret)
    assert search["scanned"] > 100  # the walk really covered the visible tree
    assert search["found"] == []
    seen = ask(lambda_client, probe, action="read", paths=on_host)
    for path in on_host:
        assert "ok" not in seen[path]["read"], (path, seen[path])


def test_cannot_reach_another_environments_runtime_api(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], probe: str, function_name: str
) -> None:
    # Another function's environment of the same server: its Runtime API is at 127.0.0.1:9001
    # in a network namespace of its own. From ours, that address is our own Runtime API, and
    # no other listener than ours (it and gureum's endpoint) is there to find, let alone talk to.
    other = f"{function_name}-b"
    make_function(name=other, Code=probe_code())
    port = ask(lambda_client, other, action="own-runtime-api")  # B now waits in `next`
    assert port == ask(lambda_client, probe, action="own-runtime-api")
    seen = ask(lambda_client, probe, action="runtime-apis")
    assert seen == {"listening": 2, "answering": []}, seen


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GureumProcess]:
    """A server whose own environment holds secrets and credentials of its own."""
    secrets = {
        "GUREUM_TEST_SECRET": "s3cr3t",
        "AWS_ACCESS_KEY_ID": "AKIASERVERONLY",
        "AWS_SECRET_ACCESS_KEY": "server-only-secret-key",
    }
    process = GureumProcess(tmp_path_factory.mktemp("secret") / "data", env=secrets).start()
    yield process
    process.stop()


def test_cannot_see_the_servers_environment(secret_server: GureumProcess) -> None:
    client = secret_server.client()
    create(client, "env-probe", Code=probe_code(), Timeout=30)
    seen = ask(client, "env-probe", action="environ")
    assert "GUREUM_TEST_SECRET" not in seen["environ"]
    values = " ".join(seen["environ"].values())
    for secret in ("s3cr3t", "AKIASERVERONLY", "server-only-secret-key"):
        assert secret not in values
        for pid, result in seen["procs"].items():
            assert secret not in result.get("ok", ""), pid
    assert any("ok" in result for result in seen["procs"].values())  # its own is readable


# --- who and where a function is -------------------------------------------------------------


def test_runs_as_an_unprivileged_uid_of_its_own(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], probe: str, function_name: str
) -> None:
    other = f"{function_name}-b"
    make_function(name=other, Code=probe_code())
    mine = ask(lambda_client, probe, action="identity")
    theirs = ask(lambda_client, other, action="identity")
    assert mine["uid"] >= FIRST_UID
    assert mine["euid"] == mine["uid"]
    assert mine["gid"] != 0
    assert 0 not in mine["groups"]
    assert theirs["uid"] != mine["uid"]


def test_is_pid_1_and_sees_only_its_own_processes(lambda_client: Any, probe: str) -> None:
    seen = ask(lambda_client, probe, action="identity")
    assert seen["pid"] == 1
    assert "1" in seen["processes"]
    assert set(seen["processes"].values()) == {seen["uid"]}  # no root, no server, no neighbour
    assert len(seen["processes"]) < 5


def test_code_is_read_only(lambda_client: Any, probe: str) -> None:
    seen = ask(
        lambda_client, probe, action="write", paths=["/var/task/new.txt", "/var/task/index.py"]
    )
    assert seen == {
        "/var/task/new.txt": {"error": "EROFS"},
        "/var/task/index.py": {"error": "EROFS"},
    }


def test_tmp_is_private_to_each_function(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], probe: str, function_name: str
) -> None:
    other = f"{function_name}-b"
    make_function(name=other, Code=probe_code())
    assert ask(lambda_client, probe, action="write", paths=["/tmp/marker"]) == {
        "/tmp/marker": {"ok": 1}
    }
    assert ask(lambda_client, probe, action="exists", path="/tmp/marker") is True
    assert ask(lambda_client, other, action="exists", path="/tmp/marker") is False


def test_tmp_is_disk_not_memory(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    # AWS's /tmp is disk: a 128 MB function may write 200 MB to it without being killed.
    make_function(Code=probe_code(), Timeout=60, MemorySize=128)
    seen = ask(lambda_client, function_name, action="tmp", mb=200)
    assert seen["fill"] == {"written_mb": 200, "error": None}


def test_tmp_size_follows_ephemeral_storage(
    lambda_client: Any,
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(Code=probe_code(), Timeout=60, MemorySize=128, EphemeralStorage={"Size": 512})
    seen = ask(lambda_client, function_name, action="tmp", mb=600)
    # The whole EphemeralStorage is the function's to write, and no more: then ENOSPC, not an
    # out-of-memory kill (df shows a little more: the file system's own room).
    assert seen["fill"]["error"] == "ENOSPC"
    assert 512 <= seen["fill"]["written_mb"] <= 520
    assert 512 * MEGABYTE <= seen["size"] <= 540 * MEGABYTE
    assert server.health()["status"] == "ok"
    # The environment and its /tmp go on working once the file is gone.
    assert ask(lambda_client, function_name, action="tmp", mb=1)["fill"]["error"] is None
    # Any size from 512 MB to 10,240 MB: only what is written takes room on the host.
    largest = f"{function_name}-largest"
    make_function(name=largest, Code=probe_code(), EphemeralStorage={"Size": 10240})
    seen = ask(lambda_client, largest, action="tmp", mb=1)
    assert 10240 * MEGABYTE <= seen["size"] <= 10300 * MEGABYTE


def test_tmp_starts_empty_in_every_environment(
    lambda_client: Any, make_function: Callable[..., dict[str, Any]], function_name: str
) -> None:
    make_function(Code=probe_code())
    assert ask(lambda_client, function_name, action="listdir", path="/tmp") == []
    ask(lambda_client, function_name, action="write", paths=["/tmp/left-behind"])
    assert ask(lambda_client, function_name, action="listdir", path="/tmp") == ["left-behind"]
    # A configuration change retires the environment; the next one starts from an empty /tmp.
    lambda_client.update_function_configuration(FunctionName=function_name, Description="next")
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 0.1}
    )
    assert ask(lambda_client, function_name, action="listdir", path="/tmp") == []


def _loop_backing_files() -> list[str]:
    found = []
    for entry in Path("/sys/block").glob("loop*/loop/backing_file"):
        with contextlib.suppress(OSError):
            found.append(entry.read_text().strip())
    return found


def _image_bytes(data_dir: Path) -> int:
    return sum(image.stat().st_blocks * 512 for image in (data_dir / "scratch").glob("*.img"))


def test_tmp_space_is_freed_when_the_environment_ends(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", "--keep-alive", "0.5").start()
    data = str(process.data_dir)
    try:
        client = process.client()
        create(client, "filler", Code=probe_code(), Timeout=30)
        assert ask(client, "filler", action="keep", path="/tmp/kept", mb=64) == 64
        assert _image_bytes(process.data_dir) >= 64 * MEGABYTE  # on the host's disk, for now
        # Retired after the keep-alive: its disk is unmounted, its image deleted and released.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            deleted = [f for f in _loop_backing_files() if f.startswith(data) and "deleted" in f]
            freed = _image_bytes(process.data_dir) < 64 * MEGABYTE  # removal is asynchronous
            if not process.health()["environments"] and not deleted and freed:
                break
            time.sleep(0.1)
        assert process.health()["environments"] == 0
        assert [f for f in _loop_backing_files() if f.startswith(data) and "deleted" in f] == []
        assert _image_bytes(process.data_dir) < 64 * MEGABYTE
    finally:
        process.stop()
    # Nothing of the server's disks outlives it: no mount, no loop device, no image.
    with open("/proc/mounts") as mounts:
        assert data not in mounts.read()
    deadline = time.monotonic() + 5
    while any(f.startswith(data) for f in _loop_backing_files()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [f for f in _loop_backing_files() if f.startswith(data)] == []
    assert list((process.data_dir / "scratch").iterdir()) == []


def test_a_killed_server_leaves_no_mount_and_no_loop_device(tmp_path: Path) -> None:
    """kill -9 gives the server no chance to clean up: its mounts live in a mount namespace of
    its own, which the kernel drops with it, and the loop devices under them detach."""
    process = GureumProcess(tmp_path / "data").start()
    data = str(process.data_dir)
    client = process.client()
    create(client, "holder", Code=probe_code(), Timeout=30)
    assert ask(client, "holder", action="keep", path="/tmp/kept", mb=8) == 8
    assert any(f.startswith(data) for f in _loop_backing_files())  # disks are in use
    process.kill()
    with open("/proc/mounts") as mounts:
        assert data not in mounts.read()
    deadline = time.monotonic() + 10
    while any(f.startswith(data) for f in _loop_backing_files()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [f for f in _loop_backing_files() if f.startswith(data)] == []
    # The next start sweeps the images a killed server left.
    process.start()
    process.stop()
    assert list((process.data_dir / "scratch").glob("*.img")) == []


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _mounts_under(pid: int, directory: Path) -> list[str]:
    with open(f"/proc/{pid}/mountinfo") as mounts:
        points = [line.split(" ")[4] for line in mounts]
    return [point for point in points if point.startswith(f"{directory}/")]


def test_sandboxes_are_made_without_the_other_environments_tmp_disks(tmp_path: Path) -> None:
    """Each environment's /tmp disk is mounted in the server's mount namespace; its zygote forks
    sandboxes in a namespace of its own that holds none of them, so a cold start does not copy
    (and then let go of) one mount per environment the server has."""
    process = GureumProcess(tmp_path / "data").start()
    try:
        client = process.client()
        for name in ("first", "second", "third"):
            create(client, name, Code=probe_code(), Timeout=30)
            assert ask(client, name, action="keep", path="/tmp/kept", mb=1) == 1
        assert process.process is not None
        server, scratch = process.process.pid, process.data_dir / "scratch"
        assert len(_mounts_under(server, scratch)) >= 3
        zygotes = [
            pid
            for pid in _children(server)
            if b"--own-mounts" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert zygotes
        for zygote in zygotes:
            assert _mounts_under(zygote, scratch) == []
        # Each function still has its own /tmp, as it left it.
        for name in ("first", "second", "third"):
            assert ask(client, name, action="exists", path="/tmp/kept") is True
    finally:
        process.stop()


def test_health_says_what_backs_tmp(server: GureumProcess) -> None:
    assert server.health()["tmp"]["backing"] == "disk"
    assert server.health()["tmp"]["sizeLimited"] is True


# --- environment variables (spec 3.2) ----------------------------------------------------------


def test_system_and_function_environment_variables(
    lambda_client: Any,
    server: GureumProcess,
    make_function: Callable[..., dict[str, Any]],
    function_name: str,
) -> None:
    make_function(
        Code=probe_code(),
        MemorySize=256,
        Environment={"Variables": {"MY_SETTING": "from the function", "OTHER": "2"}},
    )
    seen = ask(lambda_client, function_name, action="environ")
    env = seen["environ"]
    expected = {
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "index.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": server.url,
        "MY_SETTING": "from the function",
        "OTHER": "2",
    }
    assert {key: env.get(key) for key in expected} == expected
    today = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
    assert re.fullmatch(
        r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]
    )
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"][:10] == today
    assert re.fullmatch(r"[0-9.]+:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert seen["cwd"] == "/var/task"


def test_boto3_inside_a_function_reaches_gureum(lambda_client: Any, probe: str) -> None:
    assert ask(lambda_client, probe, action="boto3") == probe


# --- isolation modes -------------------------------------------------------------------------


def test_health_reports_namespace_isolation(server: GureumProcess) -> None:
    isolation = server.health()["isolation"]
    assert isolation["mode"] == "namespaces"
    assert isolation["memoryLimits"] is True


def test_without_isolation_functions_still_run(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data", "--isolation", "none").start()
    try:
        assert process.health()["isolation"]["mode"] == "processes"
        client = process.client()
        create(client, "plain", Code=probe_code())
        assert ask(client, "plain", action="exists", path="/tmp") is True
        assert process.health()["tmp"] == {
            "backing": "directory",
            "sizeLimited": False,
            "reason": "functions are not isolated, so nothing can be mounted for them",
        }
        identity = ask(client, "plain", action="identity")
        assert identity["pid"] != 1
    finally:
        process.stop()
    # ...and it said so when it started.
    assert "not sandboxed" in process.log_path.read_text().lower()
    assert "/tmp is a plain directory without a size limit" in process.log_path.read_text().lower()


# --- nothing is left behind ----------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, start time, uid) of every process on the machine."""
    table: dict[int, tuple[int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        uid = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
        table[int(entry)] = (int(fields[1]), int(fields[19]), int(uid))
    return table


def _descendants(root: int) -> dict[int, tuple[int, int, int]]:
    table = _process_table()
    found: dict[int, tuple[int, int, int]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, row in table.items():
            if row[0] == parent and pid not in found:
                found[pid] = row
                frontier.append(pid)
    return found


def _survivors(processes: dict[int, tuple[int, int, int]]) -> list[int]:
    table = _process_table()
    return [pid for pid, row in processes.items() if pid in table and table[pid][1] == row[1]]


SHELL_RUNTIME_WITH_A_CHILD = (
    "#!/bin/sh\n"
    "sleep 300 &\n"
    "API=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime\n"
    "while true; do\n"
    '  ID=$(curl -sS -D - -o /dev/null "$API/invocation/next" '
    "| tr -d '\\r' | sed -n 's/^lambda-runtime-aws-request-id: //Ip')\n"
    '  curl -sS -o /dev/null -d \'"ok"\' "$API/invocation/$ID/response"\n'
    "done\n"
)


def test_stopping_the_server_leaves_no_process(tmp_path: Path) -> None:
    process = GureumProcess(tmp_path / "data").start()
    try:
        client = process.client()
        create(client, "leaves-a-child", Code=probe_code())
        ask(client, "leaves-a-child", action="spawn")  # a detached `sleep 300`, own session
        create(
            client,
            "shell",
            Runtime="provided.al2023",
            Handler="unused",
            Code={"ZipFile": bootstrap_package(SHELL_RUNTIME_WITH_A_CHILD)},
        )
        assert invoke(client, "shell", {}).payload == b'"ok"'
        assert process.process is not None
        before = _descendants(process.process.pid)
        sandboxed = {pid: row for pid, row in before.items() if row[2] >= FIRST_UID}
        assert len(sandboxed) >= 4  # two runtimes and their two `sleep`s, at least
    finally:
        if process.process is not None:
            process.stop()
    deadline = time.monotonic() + 5
    while _survivors(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _survivors(before) == []


def test_a_second_server_does_not_disturb_the_first(
    lambda_client: Any,
    make_function: Callable[..., dict[str, Any]],
    probe: str,
    function_name: str,
    tmp_path: Path,
) -> None:
    """Two servers on one machine (or a test suite next to a dev server) share the kernel."""
    assert ask(lambda_client, probe, action="exists", path="/tmp") is True
    other = GureumProcess(tmp_path / "data").start()
    try:
        second = f"{function_name}-b"
        make_function(name=second, Code=probe_code())
        assert ask(lambda_client, second, action="exists", path="/tmp") is True
        assert ask(lambda_client, probe, action="exists", path="/tmp") is True
        other.stop()
        third = f"{function_name}-c"
        make_function(name=third, Code=probe_code())
        assert ask(lambda_client, third, action="exists", path="/tmp") is True
    finally:
        if other.process is not None:
            other.stop()
