"""The AWS SDK for JavaScript v3 against a real server: Lambda, SQS, KMS and CloudWatch Logs.

boto3 is not the only client: a Node.js user drives gureum with `@aws-sdk/client-*`, whose
serializers, error parsers, waiters and paginators are generated from the Smithy models, not from
botocore's. `js_sdk/scenario.mjs` does what such a user does (create and wait, invoke with Tail,
update and wait, publish, a weighted alias, paginate, catch typed exceptions, an async invoke to
an SQS destination, a KMS round trip, read the function's logs) and prints one JSON line per step;
each test here checks one step, so a failure names what the SDK could not use.

The SDK is installed with `npm ci` from the committed lock file into a cache folder keyed by the
lock file's hash, outside the checkout, so repeated runs do not reinstall. The tests are skipped
only when `node` or `npm` is missing; an install that fails is a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import GureumProcess

HERE = Path(__file__).resolve().parent / "js_sdk"
NODE = shutil.which("node")
NPM = shutil.which("npm")
ACCOUNT = "000000000000"
REGION = "us-east-1"
# Names the scenario gives what it creates; the server is the session's, shared with other tests.
PREFIX = f"js-{os.getpid()}"
FUNCTION = f"{PREFIX}-fn"

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are needed to run the AWS SDK for JavaScript"
)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gureum-tests"


def _install_key() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def _installed_modules() -> Path:
    """`node_modules` for the pinned lock file: reused when present, else `npm ci` once.

    The install happens in a fresh folder that is renamed into place when complete, so an
    interrupted install is never mistaken for a finished one and two runs never share a half.
    """
    root = _cache_root()
    target = root / f"js-sdk-{_install_key()}"
    if (target / "node_modules" / ".package-lock.json").is_file():
        return target / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="js-sdk-install-", dir=root))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, scratch / name)
        assert NPM is not None
        done = subprocess.run(
            [NPM, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        try:
            scratch.rename(target)
        except OSError:
            if not (target / "node_modules").is_dir():  # not another run finishing first
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / "node_modules"


class Scenario:
    """The lines one run of `scenario.mjs` printed, by step, with how the process ended."""

    def __init__(self, steps: dict[str, dict[str, Any]], code: int, stderr: str) -> None:
        self.steps, self.code, self.stderr = steps, code, stderr

    def passed(self, name: str) -> dict[str, Any]:
        """What step `name` saw; fails with the SDK's error when the step threw."""
        assert self.code == 0, f"the scenario exited with {self.code}:\n{self.stderr}"
        assert name in self.steps, f"no line for step {name!r}:\n{self.stderr}"
        seen = self.steps[name]
        assert seen["ok"], f"step {name!r} failed: {json.dumps(seen['error'], indent=2)}"
        return seen


@pytest.fixture(scope="module")
def steps(server: GureumProcess, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Runs the scenario once against the session's server; maps each step to what it printed."""
    modules = _installed_modules()
    workdir = tmp_path_factory.mktemp("js-sdk")
    shutil.copyfile(HERE / "scenario.mjs", workdir / "scenario.mjs")
    (workdir / "node_modules").symlink_to(modules, target_is_directory=True)
    # Nothing from the caller's AWS configuration may reach the SDK: the scenario names the
    # endpoint, region and credentials itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    assert NODE is not None
    done = subprocess.run(
        [NODE, "scenario.mjs", server.url, PREFIX],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return Scenario({line["step"]: line for line in lines}, done.returncode, done.stderr)


def function_arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def test_create_function_and_wait_until_active(steps: Scenario) -> None:
    seen = steps.passed("create")
    assert seen["functionArn"] == function_arn(FUNCTION)
    assert seen["runtime"] == "python3.12"
    assert seen["createdState"] == "Pending"
    assert seen["waiter"] == "SUCCESS"
    assert (seen["state"], seen["lastUpdateStatus"]) == ("Active", "Successful")
    assert seen["codeSize"] > 0
    assert seen["codeLocation"] == "string"
    assert seen["status"] == 200
    assert seen["requestId"]


def test_invoke_with_tail_returns_the_log_lines(steps: Scenario) -> None:
    seen = steps.passed("invoke-tail")
    assert seen["status"] == 200
    assert seen["executedVersion"] == "$LATEST"
    assert seen["functionError"] is None
    assert seen["body"] == {"tag": "v1", "event": {"hello": "world"}}
    words = [line.split(" ")[0] for line in seen["tail"]]
    assert words[-4:] == ["START", "handling", "END", "REPORT"], seen["tail"]
    # The response's request id is the invocation's, as the platform lines name it.
    assert seen["tail"][-4] == f"START RequestId: {seen['requestId']} Version: $LATEST"
    assert seen["tail"][-2] == f"END RequestId: {seen['requestId']}"


def test_function_error_is_reported_not_thrown(steps: Scenario) -> None:
    seen = steps.passed("function-error")
    assert seen["status"] == 200
    assert seen["functionError"] == "Unhandled"
    assert seen["body"]["errorType"] == "ValueError"
    assert seen["body"]["errorMessage"] == "broken on purpose"


def test_update_code_and_wait_until_updated(steps: Scenario) -> None:
    seen = steps.passed("update-code")
    assert seen["lastUpdateStatus"] == "InProgress"
    assert seen["waiter"] == "SUCCESS"
    assert seen["tag"] == "v2"


def test_publish_versions_and_paginate_them(steps: Scenario) -> None:
    seen = steps.passed("publish")
    assert seen["versions"] == ["1", "2"]
    assert seen["arns"] == [function_arn(FUNCTION, "1"), function_arn(FUNCTION, "2")]
    assert seen["pages"] == [["$LATEST"], ["1"], ["2"]]
    assert (seen["pinnedExecuted"], seen["pinnedTag"]) == ("1", "v2")


def test_weighted_alias_routes_to_both_versions(steps: Scenario) -> None:
    seen = steps.passed("weighted-alias")
    assert seen["aliasArn"] == function_arn(FUNCTION, "live")
    assert seen["functionVersion"] == "1"
    assert seen["weights"] == {"2": 0.5}
    # 24 draws at 50/50: each version is chosen at least once but for a 2 ** -23 chance.
    assert set(seen["executed"]) == {"1:v2", "2:v3"}, seen["executed"]
    assert sum(seen["executed"].values()) == 24


def test_paginators_walk_every_function_once(steps: Scenario) -> None:
    seen = steps.passed("paginate-functions")
    assert seen["ours"] == 5
    assert seen["duplicates"] == 0
    assert all(size <= 2 for size in seen["pageSizes"])
    assert len(seen["pageSizes"]) >= 3
    assert (seen["firstPageSize"], seen["firstPageMarker"]) == (2, "string")


def typed(error: dict[str, Any], check: str, name: str, status: int) -> None:
    """The SDK threw `name` with this HTTP status, and `instanceof` the class behind `check`."""
    assert (error.get("name"), error.get("status"), error.get("fault")) == (name, status, "client")
    assert error[f"is{check}"], error


def test_errors_are_typed_exceptions(steps: Scenario) -> None:
    seen = steps.passed("typed-errors")
    missing = seen["missing"]
    typed(missing, "ResourceNotFound", "ResourceNotFoundException", 404)
    assert missing["isLambdaService"]
    assert not missing["isResourceConflict"]
    assert missing["message"] == f"Function not found: {function_arn(f'{PREFIX}-nowhere')}"
    assert missing["type"] == "User"
    duplicate = seen["duplicate"]
    typed(duplicate, "ResourceConflict", "ResourceConflictException", 409)
    assert not duplicate["isResourceNotFound"]
    assert duplicate["message"] == f"Function already exist: {FUNCTION}"
    typed(seen["badAlias"], "ResourceNotFound", "ResourceNotFoundException", 404)
    assert seen["badAlias"]["message"] == f"Function not found: {function_arn(FUNCTION, '99')}"
    typed(seen["invalid"], "InvalidRequestContent", "InvalidRequestContentException", 400)
    # Not in Lambda's model: the SDK's base class, named after the code.
    unmodeled = seen["unmodeled"]
    typed(unmodeled, "LambdaService", "ValidationException", 400)
    assert not unmodeled["isResourceNotFound"]
    assert unmodeled["message"].startswith("1 validation error detected: Value '2024' at 'name'")
    typed(seen["queue"], "QueueDoesNotExist", "QueueDoesNotExist", 400)
    assert seen["queue"]["message"] == "The specified queue does not exist."
    # SQS left the query protocol but still names its errors the old way, in x-amzn-query-error;
    # the SDK reports that as the error's Code and Type, which code written for SQS checks.
    assert (seen["queue"].get("code"), seen["queue"].get("type")) == (
        "AWS.SimpleQueueService.NonExistentQueue",
        "Sender",
    )
    typed(seen["key"], "NotFound", "NotFoundException", 400)
    # CloudWatch Logs answers a missing stream with a 400, not an empty page of events.
    typed(seen["stream"], "ResourceNotFound", "ResourceNotFoundException", 400)
    assert seen["stream"]["message"] == "The specified log stream does not exist."


def test_async_invoke_delivers_to_an_sqs_destination(steps: Scenario) -> None:
    seen = steps.passed("async-destination")
    assert seen["configLastModified"] is True
    assert seen["configDestination"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{PREFIX}-success"
    assert seen["status"] == 202
    assert seen["condition"] == "Success"
    assert seen["recordRequestId"] == seen["acceptedRequestId"]
    assert seen["functionArn"] == function_arn(FUNCTION, "$LATEST")
    assert seen["requestPayload"] == {"async": True}
    assert seen["responsePayload"] == {"tag": "v3", "event": {"async": True}}


def test_kms_encrypt_decrypt_round_trip(steps: Scenario) -> None:
    seen = steps.passed("kms")
    assert seen["keyState"] == "Enabled"
    assert seen["creationDate"] is True
    assert seen["roundTrip"] is True
    assert seen["encryptedWith"] == seen["decryptedWith"] == seen["keyArn"]


def test_function_logs_are_readable_with_the_logs_client(steps: Scenario) -> None:
    seen = steps.passed("logs")
    assert seen["streams"] >= 1
    assert seen["firstEventTimestamp"] == "number"
    # Every invocation of the function so far, sync and async, left its three lines.
    assert seen["starts"] == seen["ends"] == seen["reports"] == seen["handled"] == 28


def test_invoke_with_response_stream_reads_the_event_stream(steps: Scenario) -> None:
    seen = steps.passed("response-stream")
    assert (seen["status"], seen["executedVersion"]) == (200, "$LATEST")
    assert seen["events"] == [
        ["PayloadChunk", "one "],
        ["PayloadChunk", "two"],
        ["InvokeComplete", None, "string"],
    ]
