"""S3 on gureum against the raw disk: PutObject and GetObject of 1 KB (sequential, per second)
and of 64 MB (MB/s), and uploads that notify a function, end to end (uploads/s until every
notification has run as an invocation).

The floor column holds what the same bytes cost on the raw disk in this process: a 1 KB file
written, fsynced and renamed into place (what a durable PutObject must at least do) and read
back; 64 MB written and fsynced, and read. Uploads are sent by the lean client, signed for S3.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import uvloop

from benchmarks.client import AsyncConnection, BlockingConnection
from benchmarks.plan import Plan
from benchmarks.results import Results, median
from benchmarks.sigv4 import Credentials, Request, Signer
from benchmarks.targets import HOST, Gureum

SMALL = os.urandom(1024)
LARGE_MB = 64
BUCKET = "bench-s3"
NOTIFIED = "bench-s3-notified"


def _signer(target: Gureum) -> Signer:
    return Signer(f"{HOST}:{target.port}", Credentials(service="s3"))


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def objects(target: Gureum, results: Results, plan: Plan, scratch: Path) -> None:
    s3 = target.boto3_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    signer = _signer(target)
    connection = BlockingConnection(HOST, target.port)
    try:
        keys = [f"/{BUCKET}/small-{n}" for n in range(plan.s3_small)]
        puts = [signer.render(Request("PUT", key, SMALL)) for key in keys]
        start = time.perf_counter()
        bad = sum(connection.exchange(data).status != 200 for data in puts)
        results.set("s3_put_1k", target.name, _rate(len(keys) - bad, time.perf_counter() - start))
        gets = [signer.render(Request("GET", key)) for key in keys]
        start = time.perf_counter()
        bad = sum(connection.exchange(data).status != 200 for data in gets)
        results.set("s3_get_1k", target.name, _rate(len(keys) - bad, time.perf_counter() - start))
        large = os.urandom(LARGE_MB * 1024 * 1024)
        put_seconds, get_seconds = [], []
        for n in range(plan.s3_large):
            rendered = signer.render(Request("PUT", f"/{BUCKET}/large-{n}", large))
            start = time.perf_counter()
            assert connection.exchange(rendered).status == 200
            put_seconds.append(time.perf_counter() - start)
            rendered = signer.render(Request("GET", f"/{BUCKET}/large-{n}"))
            start = time.perf_counter()
            answer = connection.exchange(rendered)
            get_seconds.append(time.perf_counter() - start)
            assert len(answer.body) == len(large)
        results.set("s3_put_64m", target.name, LARGE_MB / median(put_seconds))
        results.set("s3_get_64m", target.name, LARGE_MB / median(get_seconds))
    finally:
        connection.close()
    raw_disk(results, plan, scratch, len(large))


def raw_disk(results: Results, plan: Plan, scratch: Path, large_size: int) -> None:
    """The floor: the same bytes written durably and read back, with no server between."""
    scratch.mkdir(parents=True, exist_ok=True)
    names = []
    start = time.perf_counter()
    for _ in range(plan.s3_small):
        temporary, name = scratch / f"{uuid.uuid4().hex}.part", scratch / uuid.uuid4().hex
        with temporary.open("wb") as out:
            out.write(SMALL)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, name)
        names.append(name)
    results.set("s3_put_1k", "floor", _rate(len(names), time.perf_counter() - start), "raw disk")
    start = time.perf_counter()
    for name in names:
        name.read_bytes()
    results.set("s3_get_1k", "floor", _rate(len(names), time.perf_counter() - start), "raw disk")
    large = os.urandom(large_size)
    path = scratch / "large"
    start = time.perf_counter()
    with path.open("wb") as out:
        out.write(large)
        out.flush()
        os.fsync(out.fileno())
    results.set("s3_put_64m", "floor", LARGE_MB / (time.perf_counter() - start), "raw disk")
    start = time.perf_counter()
    path.read_bytes()
    results.set("s3_get_64m", "floor", LARGE_MB / (time.perf_counter() - start), "raw disk")
    for name in [*names, path]:
        name.unlink()


async def _upload_all(port: int, signer: Signer, count: int, clients: int) -> int:
    remaining = list(range(count))
    done = 0

    async def client() -> None:
        nonlocal done
        connection = AsyncConnection(HOST, port)
        try:
            while remaining:
                n = remaining.pop()
                request = Request("PUT", f"/{NOTIFIED}/upload-{n}", b"x")
                if await connection.outcome(signer.render(request)) == 200:
                    done += 1
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


def events(target: Gureum, function: str, results: Results, plan: Plan) -> None:
    """Uploads whose notifications run `function` (a no-op): uploads per second from the first
    upload until every one has run as an invocation."""
    s3, lam = target.boto3_client("s3"), target.boto3_client("lambda")
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    s3.create_bucket(Bucket=NOTIFIED)
    s3.put_bucket_notification_configuration(
        Bucket=NOTIFIED,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    before = target.executed(function) or 0
    start = time.perf_counter()
    uploaded = uvloop.run(_upload_all(target.port, _signer(target), plan.s3_events, 32))
    deadline = time.perf_counter() + plan.drain_cap
    done = (target.executed(function) or 0) - before
    while done < uploaded and time.perf_counter() < deadline:
        time.sleep(0.05)
        done = (target.executed(function) or 0) - before
    note = f"{done}/{uploaded} run"
    results.set("s3_events", target.name, _rate(done, time.perf_counter() - start), note)
