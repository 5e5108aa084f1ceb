"""Lambda's environment variables under KMS (spec 3.3, 3.4), driven with boto3 over HTTP.

Variables are sealed with the AWS-managed `aws/lambda` key or a customer key, returned decrypted
by GetFunction, never stored in the clear; a key that stops working fails new execution
environments with Lambda's 502 KMS errors while warm ones keep running. The functions here never
print a secret: they return its SHA-256, so logs hold nothing a scan could trip over.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gureum.lambda_.sandbox.scratch_disks import data_extents
from tests.support.packages import zip_of
from tests.support.server import GureumProcess

ACCOUNT = "000000000000"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
WAIT = {"Delay": 0.1, "MaxAttempts": 300}
_numbers = itertools.count()

# Returns the SHA-256 of the variable the event names (never the value itself), or, with
# `decrypt`, the plaintext of the base64 ciphertext in that variable, opened with boto3's KMS.
HANDLER = """\
import base64, hashlib, os

def handler(event, context):
    value = os.environ.get(event["name"])
    if event.get("decrypt"):
        import boto3
        blob = base64.b64decode(value)
        return boto3.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"].decode()
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()
"""

DISABLED = (
    "Lambda was unable to decrypt the environment variables because the KMS key used is "
    "disabled. Please check the function's KMS key settings."
)
INVALID_STATE = (
    "Lambda couldn't decrypt the environment variables because the state of the KMS key used is "
    "not valid for Decrypt. Check the function's KMS key settings."
)
ALIAS_REFUSED = (
    "Lambda was unable to configure access to your environment variables because the KMS key "
    "is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: "
    "InvalidArnException KMS Message: Key Aliases are not supported for this operation."
)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def secret() -> str:
    """A value distinctive enough that finding it anywhere on disk means it leaked."""
    return f"plaintext-canary-{uuid.uuid4().hex}"


def error_of(call: Callable[..., Any], **params: Any) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


@dataclass
class Kms:
    server: GureumProcess
    lam: Any  # clients with retries off: a 502 is seen once, not retried by boto3
    kms: Any

    def key(self) -> str:
        arn: str = self.kms.create_key(Description="lambda env")["KeyMetadata"]["Arn"]
        return arn

    def function(self, name: str, variables: dict[str, str], **params: Any) -> dict[str, Any]:
        created: dict[str, Any] = self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
            Environment={"Variables": variables},
            **params,
        )
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=WAIT)
        return created

    def call(self, name: str, event: dict[str, Any], **params: Any) -> Any:
        """Invokes synchronously; the function's result, which must not be an error."""
        response = self.lam.invoke(FunctionName=name, Payload=json.dumps(event), **params)
        with response["Payload"] as stream:
            payload = stream.read()
        assert response["StatusCode"] == 200
        assert "FunctionError" not in response, payload
        return json.loads(payload)

    def configuration(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        params = {"Qualifier": qualifier} if qualifier else {}
        found: dict[str, Any] = self.lam.get_function(FunctionName=name, **params)
        configuration: dict[str, Any] = found["Configuration"]
        return configuration


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kms]:
    process = GureumProcess(tmp_path_factory.mktemp("gureum-lambda-kms") / "data").start()
    yield Kms(process, process.client("lambda"), process.client("kms"))
    process.stop()


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)[:40]}-{next(_numbers)}"


# --- at rest ------------------------------------------------------------------------------------


def test_default_key_returns_variables_decrypted_without_a_kms_key_arn(env: Kms, name: str) -> None:
    value = secret()
    created = env.function(name, {"SECRET": value, "PLAIN": "x"})
    assert created["Environment"] == {"Variables": {"SECRET": value, "PLAIN": "x"}}
    assert "KMSKeyArn" not in created
    configuration = env.configuration(name)
    assert configuration["Environment"] == {"Variables": {"SECRET": value, "PLAIN": "x"}}
    assert "KMSKeyArn" not in configuration
    assert env.call(name, {"name": "SECRET"}) == digest(value)
    # The account's AWS-managed key was made for it, as on AWS.
    aliases = env.kms.list_aliases()["Aliases"]
    assert "alias/aws/lambda" in [alias["AliasName"] for alias in aliases]


def test_customer_key_is_shown_and_variables_are_returned_decrypted(env: Kms, name: str) -> None:
    key = env.key()
    value = secret()
    created = env.function(name, {"SECRET": value}, KMSKeyArn=key)
    assert created["KMSKeyArn"] == key
    assert created["Environment"] == {"Variables": {"SECRET": value}}
    configuration = env.configuration(name)
    assert configuration["KMSKeyArn"] == key
    assert configuration["Environment"] == {"Variables": {"SECRET": value}}
    assert env.call(name, {"name": "SECRET"}) == digest(value)

    # An empty KMSKeyArn goes back to the AWS-managed key; the variables stay.
    updated = env.lam.update_function_configuration(FunctionName=name, KMSKeyArn="")
    assert "KMSKeyArn" not in updated
    env.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    configuration = env.configuration(name)
    assert "KMSKeyArn" not in configuration
    assert configuration["Environment"] == {"Variables": {"SECRET": value}}


def test_an_alias_arn_as_kms_key_arn_is_refused(env: Kms, name: str) -> None:
    key = env.key()
    alias = f"alias/{name}"
    env.kms.create_alias(AliasName=alias, TargetKeyId=key)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    refused = (400, "InvalidParameterValueException", ALIAS_REFUSED)
    assert (
        error_of(
            env.lam.create_function,
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
            Environment={"Variables": {"A1": "b"}},
            KMSKeyArn=alias_arn,
        )
        == refused
    )
    env.function(name, {"A1": "b"})
    assert (
        error_of(env.lam.update_function_configuration, FunctionName=name, KMSKeyArn=alias_arn)
        == refused
    )
    assert "KMSKeyArn" not in env.configuration(name)


def files_under(root: Path) -> Iterator[Path]:
    for directory, _, names in os.walk(root):  # symlinks are not followed
        for file_name in names:
            path = Path(directory, file_name)
            if path.is_file() and not path.is_symlink():
                yield path


def written_parts(path: Path) -> Iterator[bytes]:
    """The parts of `path` that hold data: a sparse file's holes read as zeros, and the /tmp
    disks' images (hundreds of MB each) are mostly hole, which reading whole took 30 s."""
    with path.open("rb") as handle:
        for start, stop in data_extents(handle.fileno()):
            yield os.pread(handle.fileno(), stop - start, start)


def test_no_plaintext_variable_is_stored_anywhere(env: Kms, name: str) -> None:
    key = env.key()
    managed_value, customer_value, published_value = secret(), secret(), secret()
    managed = f"{name}-managed"
    env.function(managed, {"SECRET": managed_value})
    customer = f"{name}-customer"
    env.function(customer, {"SECRET": published_value}, KMSKeyArn=key, Publish=True)
    env.lam.update_function_configuration(
        FunctionName=customer, Environment={"Variables": {"SECRET": customer_value}}
    )
    env.lam.get_waiter("function_updated_v2").wait(FunctionName=customer, WaiterConfig=WAIT)
    # Running them makes execution environments, which must not write the values down either.
    assert env.call(managed, {"name": "SECRET"}) == digest(managed_value)
    assert env.call(customer, {"name": "SECRET"}) == digest(customer_value)
    assert env.call(customer, {"name": "SECRET"}, Qualifier="1") == digest(published_value)
    assert env.configuration(customer, "1")["Environment"] == {
        "Variables": {"SECRET": published_value}
    }

    needles = [v.encode() for v in (managed_value, customer_value, published_value)]
    needles += [base64.b64encode(n) for n in needles]
    scanned = 0
    function_names_seen = False
    paths = [*files_under(env.server.data_dir), env.server.log_path]
    for path in paths:
        try:
            parts = list(written_parts(path))
        except (FileNotFoundError, PermissionError):  # scratch files come and go
            continue
        scanned += 1
        for data in parts:
            function_names_seen |= customer.encode() in data
            for needle in needles:
                assert needle not in data, f"{path} holds an environment variable in the clear"
    sqlite = [p for p in paths if ".sqlite" in p.name]
    assert sqlite, "the scan did not reach the SQLite files"
    assert scanned >= len(sqlite)
    assert function_names_seen, "the scan did not see the function's record at all"


# --- at invoke time -----------------------------------------------------------------------------


def test_a_key_that_stops_working_fails_new_environments_only(env: Kms, name: str) -> None:
    key = env.key()
    value = secret()
    warm, cold, later = f"{name}-warm", f"{name}-cold", f"{name}-later"
    for function in (warm, cold, later):
        env.function(function, {"SECRET": value}, KMSKeyArn=key)
    assert env.call(warm, {"name": "SECRET"}) == digest(value)

    env.kms.disable_key(KeyId=key)
    assert error_of(env.lam.invoke, FunctionName=cold, Payload=b'{"name": "SECRET"}') == (
        502,
        "KMSDisabledException",
        DISABLED,
    )
    configuration = env.configuration(cold)
    assert configuration["Environment"] == {
        "Error": {"ErrorCode": "KMSDisabledException", "Message": DISABLED}
    }
    assert configuration["KMSKeyArn"] == key
    # The warm environment already holds its variables and keeps running, as on AWS.
    assert env.call(warm, {"name": "SECRET"}) == digest(value)

    env.kms.enable_key(KeyId=key)
    assert env.call(cold, {"name": "SECRET"}) == digest(value)
    assert env.configuration(cold)["Environment"] == {"Variables": {"SECRET": value}}

    env.kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert error_of(env.lam.invoke, FunctionName=later, Payload=b'{"name": "SECRET"}') == (
        502,
        "KMSInvalidStateException",
        INVALID_STATE,
    )
    assert env.configuration(later)["Environment"] == {
        "Error": {"ErrorCode": "KMSInvalidStateException", "Message": INVALID_STATE}
    }
    assert env.call(warm, {"name": "SECRET"}) == digest(value)
    assert env.call(cold, {"name": "SECRET"}) == digest(value)

    env.kms.cancel_key_deletion(KeyId=key)  # leaves the key disabled, as on AWS
    env.kms.enable_key(KeyId=key)
    assert env.call(later, {"name": "SECRET"}) == digest(value)


def test_event_invoke_with_a_disabled_key_is_refused(env: Kms, name: str) -> None:
    key = env.key()
    env.function(name, {"SECRET": secret()}, KMSKeyArn=key)
    env.kms.disable_key(KeyId=key)
    try:
        refused = error_of(env.lam.invoke, FunctionName=name, InvocationType="Event", Payload=b"{}")
        assert refused == (502, "KMSDisabledException", DISABLED)
    finally:
        # An accepted event would be retried for hours; without its function it is dropped.
        env.lam.delete_function(FunctionName=name)


def test_event_invokes_follow_the_key_as_it_is_disabled_and_enabled(env: Kms, name: str) -> None:
    # The accepts remember that the variables opened, until the function or a key changes.
    key = env.key()
    env.function(name, {"SECRET": secret()}, KMSKeyArn=key)
    event = {"FunctionName": name, "InvocationType": "Event", "Payload": b"{}"}
    try:
        for _ in range(3):
            assert env.lam.invoke(**event)["StatusCode"] == 202
        env.kms.disable_key(KeyId=key)
        assert error_of(env.lam.invoke, **event) == (502, "KMSDisabledException", DISABLED)
        env.kms.enable_key(KeyId=key)
        assert env.lam.invoke(**event)["StatusCode"] == 202
    finally:
        # An accepted event would be retried for hours; without its function it is dropped.
        env.lam.delete_function(FunctionName=name)


UPDATES: dict[str, Callable[[Any, str], object]] = {
    "configuration": lambda lam, name: lam.update_function_configuration(
        FunctionName=name, MemorySize=256
    ),
    "code": lambda lam, name: lam.update_function_code(
        FunctionName=name, ZipFile=zip_of({"index.py": HANDLER + "\n"})
    ),
    "concurrency": lambda lam, name: lam.put_function_concurrency(
        FunctionName=name, ReservedConcurrentExecutions=5
    ),
    "tags": lambda lam, name: lam.tag_resource(
        Resource=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", Tags={"team": "a"}
    ),
    "publish": lambda lam, name: lam.publish_version(FunctionName=name),
}


@pytest.mark.parametrize("change", sorted(UPDATES))
def test_changes_while_the_key_is_disabled_keep_the_variables(
    env: Kms, name: str, change: str
) -> None:
    key = env.key()
    value = secret()
    env.function(name, {"SECRET": value}, KMSKeyArn=key)
    env.kms.disable_key(KeyId=key)
    with contextlib.suppress(ClientError):  # refusing the change is fine, losing variables not
        UPDATES[change](env.lam, name)
    env.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    env.kms.enable_key(KeyId=key)
    for version in env.lam.list_versions_by_function(FunctionName=name)["Versions"]:
        assert version.get("Environment") == {"Variables": {"SECRET": value}}, version["Version"]
    assert env.call(name, {"name": "SECRET"}) == digest(value)


def test_a_new_configuration_with_the_key_disabled_fails_to_start(env: Kms, name: str) -> None:
    key = env.key()
    env.function(name, {"SECRET": secret()}, KMSKeyArn=key)
    env.kms.disable_key(KeyId=key)
    try:
        env.lam.update_function_configuration(FunctionName=name, MemorySize=256)
        env.lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=WAIT)
    except ClientError:
        pass  # refused: the old configuration, never run, needs a new environment all the same
    assert error_of(env.lam.invoke, FunctionName=name, Payload=b'{"name": "SECRET"}') == (
        502,
        "KMSDisabledException",
        DISABLED,
    )


# --- inside the function ------------------------------------------------------------------------


def test_a_handler_decrypts_a_ciphertext_from_its_environment(env: Kms, name: str) -> None:
    key = env.key()
    value = secret()
    blob = env.kms.encrypt(KeyId=key, Plaintext=value.encode())["CiphertextBlob"]
    assert value.encode() not in blob
    env.function(name, {"CIPHER": base64.b64encode(blob).decode()}, KMSKeyArn=key)
    assert env.call(name, {"name": "CIPHER", "decrypt": True}) == value
