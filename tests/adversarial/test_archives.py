"""Archives that pass a glance but not a full read (issue #20, item 1).

A zip whose central directory is sound can still be unreadable: a stored byte flipped (its CRC no
longer matches), headers that under-declare a member's size (what is read is cut short, so its
CRC fails too), a deflate stream that is garbage. Such a zip used to be answered 201 and then
kill the settler, after which every later function stayed Pending, across restarts. Every path
that accepts a zip must now refuse it with AWS's 400, and a bad archive already on disk must fail
its own function only.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.archives import BAD_ARCHIVES
from tests.support.aws import ROLE, aws_error
from tests.support.packages import HANDLER, zip_of
from tests.support.server import GureumProcess

pytestmark = pytest.mark.adversarial

BAD_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
FAST = {"Delay": 0.1, "MaxAttempts": 100}


@pytest.fixture(params=sorted(BAD_ARCHIVES))
def bad_zip(request: pytest.FixtureRequest) -> bytes:
    data = BAD_ARCHIVES[request.param]()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # the central directory reads fine
        assert archive.namelist() == ["index.py"]
    return data


def assert_serves(client: Any, name: str) -> None:
    reply = client.invoke(FunctionName=name, Payload=b'{"ok": 1}')
    assert reply["StatusCode"] == 200
    assert "FunctionError" not in reply
    assert json.loads(reply["Payload"].read()) == {"ok": 1}


def test_create_function_refuses_an_unreadable_zip(
    lambda_client: Any,
    function_name: str,
    make_function: Callable[..., dict[str, Any]],
    bad_zip: bytes,
) -> None:
    with aws_error("InvalidParameterValueException", 400, BAD_ZIP):
        lambda_client.create_function(
            FunctionName=function_name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": bad_zip},
        )
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_function(FunctionName=function_name)
    # The next deployment is not held up by the one refused.
    make_function(name=f"{function_name}-next")
    assert_serves(lambda_client, f"{function_name}-next")


def test_update_function_code_refuses_an_unreadable_zip(
    lambda_client: Any,
    function_name: str,
    make_function: Callable[..., dict[str, Any]],
    bad_zip: bytes,
) -> None:
    make_function()
    with aws_error("InvalidParameterValueException", 400, BAD_ZIP):
        lambda_client.update_function_code(FunctionName=function_name, ZipFile=bad_zip)
    configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    assert configuration["LastUpdateStatus"] == "Successful"
    assert_serves(lambda_client, function_name)
    good = zip_of({"index.py": HANDLER + "# v2\n"})
    lambda_client.update_function_code(FunctionName=function_name, ZipFile=good)
    waiter = lambda_client.get_waiter("function_updated_v2")
    waiter.wait(FunctionName=function_name, WaiterConfig=FAST)
    assert_serves(lambda_client, function_name)


def test_publish_layer_version_refuses_an_unreadable_zip(
    lambda_client: Any, function_name: str, bad_zip: bytes
) -> None:
    with aws_error("InvalidParameterValueException", 400, BAD_ZIP):
        lambda_client.publish_layer_version(LayerName=function_name, Content={"ZipFile": bad_zip})
    with aws_error("ResourceNotFoundException", 404):
        lambda_client.get_layer_version(LayerName=function_name, VersionNumber=1)


# --- an unreadable archive already on disk -------------------------------------------------------


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[GureumProcess]:
    server = GureumProcess(tmp_path / "data")
    yield server
    if server.process is not None:
        server.stop()


def test_a_stuck_function_does_not_block_others_after_a_restart(
    private_server: GureumProcess,
) -> None:
    """A function left Pending on an archive that went bad on disk (or was stored before archives
    were verified) fails on its own at the next start; the functions after it settle."""
    package = zip_of({"index.py": HANDLER})
    private_server.extra = ("--settle-delay", "600")  # holds the function Pending
    client = private_server.start().client()
    client.create_function(
        FunctionName="stuck",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": package},
    )
    assert client.get_function(FunctionName="stuck")["Configuration"]["State"] == "Pending"
    private_server.stop()

    # The archive goes bad on disk, and nothing of it was unpacked yet.
    blob = hashlib.sha256(package).hexdigest()
    code = private_server.data_dir / "code"
    shutil.rmtree(code / "trees" / blob, ignore_errors=True)
    stored = code / "blobs" / blob[:2] / f"{blob}.zip"
    at = package.index(b"index.py") + len("index.py") + 2  # inside the deflated handler
    stored.write_bytes(package[:at] + bytes([package[at] ^ 0xFF]) + package[at + 1 :])

    private_server.extra = ()
    client = private_server.start().client()
    client.create_function(
        FunctionName="next",
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER + "# next\n"})},
    )
    client.get_waiter("function_active_v2").wait(FunctionName="next", WaiterConfig=FAST)
    assert_serves(client, "next")
    stuck = client.get_function_configuration(FunctionName="stuck")
    assert stuck["State"] == "Failed"
    assert stuck["StateReasonCode"] == "InvalidZipFileException"
    assert stuck["StateReason"] == "Lambda could not unzip the deployment package."
    log = private_server.log_path.read_text()
    assert "stuck" in log, "the failure was not logged with the function it belongs to"
