"""Workloads driven by one client, one request at a time: warm and cold latency, the control
plane, and the boto3 row. Times are end to end from the client, with `time.perf_counter`."""

from __future__ import annotations

import base64
import contextlib
import http.cookiejar
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

from benchmarks.client import FUNCTION_ERROR, BlockingConnection, describe
from benchmarks.plan import Plan
from benchmarks.results import Results, median, percentile
from benchmarks.sigv4 import Credentials, Request, Signer, invoke_request
from benchmarks.targets import HOST, NOOP_SOURCE, ROLE, Target, zip_of

_INIT = re.compile(r"Init Duration: ([0-9.]+) ms")


def _note(statuses: Counter[int], expected: int, samples: int) -> str:
    wrong = {s: n for s, n in statuses.items() if s != expected}
    text = f"n={samples}"
    if wrong:
        text += ", errors " + ", ".join(f"{n}x {describe(s)}" for s, n in sorted(wrong.items()))
    return text


def _timed(
    send: Callable[[], int], count: int, cap: float
) -> tuple[list[float], Counter[int], float]:
    """Run `send` up to `count` times or `cap` seconds: per-call ms, statuses, total seconds."""
    samples: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    deadline = start + cap
    for _ in range(count):
        before = time.perf_counter()
        statuses[send()] += 1
        after = time.perf_counter()
        samples.append((after - before) * 1000)
        if after > deadline:
            break
    return samples, statuses, time.perf_counter() - start


def verify_signing(target: Target) -> None:
    """The signer must be right (a signed ListFunctions answers 200) and the server must check
    it (the same request signed with a wrong secret answers 403); otherwise nothing is valid."""
    request = Request("GET", "/2015-03-31/functions/")
    connection = BlockingConnection(HOST, target.port)
    try:
        good = connection.exchange(target.signer().render(request))
        wrong = Signer(f"{HOST}:{target.port}", Credentials(secret_key="wrong"))
        bad = connection.exchange(wrong.render(request))
    finally:
        connection.close()
    if good.status != 200 or bad.status != 403:
        raise SystemExit(
            f"the lean client's SigV4 does not match {target.name}: signed {good.status} "
            f"{good.body[:200]!r}, wrongly signed {bad.status}"
        )


def warm_latency(
    target: Target,
    function: str,
    results: Results,
    plan: Plan,
    signer: Signer | None = None,
    rows: tuple[str, str] = ("warm_p50", "warm_p99"),
) -> None:
    """Sequential warm invokes; `signer` signs as someone else than the account's root (an IAM
    user, for the `--iam enforce` rows)."""
    signer, connection = signer or target.signer(), BlockingConnection(HOST, target.port)
    request = invoke_request(function)

    def send() -> int:
        return connection.exchange(signer.render(request)).outcome

    try:
        _timed(send, plan.latency_warmup, plan.latency_cap / 5)
        samples, statuses, _ = _timed(send, plan.latency_count, plan.latency_cap)
    finally:
        connection.close()
    note = _note(statuses, 200, len(samples))
    results.set(rows[0], target.name, median(samples), note)
    results.set(rows[1], target.name, percentile(samples, 0.99), note)


def warm_latency_paired(
    first: Target, second: Target, function: str, plan: Plan
) -> tuple[list[float], list[float], Counter[int]]:
    """Warm invokes of `function` sent to `first` and `second` in turn, one after the other:
    per-call ms of each. Taken in turn, both see the same moment of a shared machine, whose
    speed drifts from one minute to the next by more than the difference being measured."""
    connections = [BlockingConnection(HOST, target.port) for target in (first, second)]
    rendered = [target.signer().render(invoke_request(function)) for target in (first, second)]
    samples: tuple[list[float], list[float]] = ([], [])
    statuses: Counter[int] = Counter()
    try:
        for round_ in range(plan.latency_warmup + plan.latency_count):
            for side in (0, 1):
                before = time.perf_counter()
                statuses[connections[side].exchange(rendered[side]).outcome] += 1
                if round_ >= plan.latency_warmup:
                    samples[side].append((time.perf_counter() - before) * 1000)
    finally:
        for connection in connections:
            connection.close()
    return samples[0], samples[1], statuses


def warm_latency_watched(target: Target, function: str, results: Results, plan: Plan) -> None:
    """Warm latency while a signed-in console streams its live dashboard (issue 16: the console
    must not slow the invoke path; its figures are read periodically, never pushed from it)."""
    with console_dashboard(target.port):
        rows = ("warm_console_p50", "warm_console_p99")
        warm_latency(target, function, results, plan, rows=rows)


@contextlib.contextmanager
def console_dashboard(port: int) -> Iterator[None]:
    """Signs in to the console with the default key and reads its dashboard's event stream on
    a thread, as an open browser tab would, until the block ends."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://{HOST}:{port}/_gureum/console"
    page = opener.open(f"{base}/sign-in", timeout=10).read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("the console's sign-in page has no form token")
    form = {"csrf": token.group(1), "access_key_id": "test", "secret_access_key": "test"}
    signed = urllib.request.Request(
        f"{base}/sign-in",
        urllib.parse.urlencode({**form, "region": "us-east-1"}).encode(),
        {"Origin": f"http://{HOST}:{port}"},
    )
    opener.open(signed, timeout=10).read()
    stop = threading.Event()
    events = [0]

    def watch() -> None:
        while not stop.is_set():  # the server ends a stream after a minute: reconnect
            with opener.open(f"{base}/events/dashboard", timeout=30) as stream:
                for line in stream:
                    events[0] += line.startswith(b"data:")
                    if stop.is_set():
                        return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)
    if events[0] == 0:
        raise RuntimeError("the console's dashboard streamed nothing")


def cold_start(
    target: Target, results: Results, plan: Plan, isolated: bool = False, prefix: str = ""
) -> None:
    """The first invoke of freshly created functions (created and Active before the clock).

    Back to back, each cold start overlaps what the one before left running (its environment's
    set-up finishing, the log writes, the server's own work). Isolated, `plan.cold_pause`
    seconds of quiet (untimed) come before each one: the figure a user who invokes a function
    now and then feels.
    """
    count = plan.cold_isolated_count if isolated else plan.cold_count
    prefix = prefix or ("cold_iso" if isolated else "cold")
    names = target.cold_functions(count, plan.cold_cap)
    signer, connection = target.signer(), BlockingConnection(HOST, target.port, timeout=120)
    samples: list[float] = []
    inits: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + plan.cold_cap + (count * plan.cold_pause if isolated else 0)
    try:
        for name in names:
            data = signer.render(invoke_request(name, tail=True))
            if isolated:
                time.sleep(plan.cold_pause)
            before = time.perf_counter()
            response = connection.exchange(data)
            samples.append((time.perf_counter() - before) * 1000)
            statuses[response.outcome] += 1
            log = base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()
            if found := _INIT.search(log):
                inits.append(float(found.group(1)))
            if time.perf_counter() > deadline:
                break
    finally:
        connection.close()
    note = _note(statuses, 200, len(samples))
    results.set(f"{prefix}_p50", target.name, median(samples), note)
    results.set(f"{prefix}_p99", target.name, percentile(samples, 0.99), note)
    if inits:
        results.set(f"{prefix}_init_p50", target.name, median(inits), f"n={len(inits)}")
    else:
        results.set(f"{prefix}_init_p50", target.name, None, "cannot: reports no Init Duration")


def control_plane(target: Target, results: Results, plan: Plan) -> None:
    """CreateFunction, then PublishVersion, then GetFunction, each over the same functions."""
    signer, connection = target.signer(), BlockingConnection(HOST, target.port)
    code = base64.b64encode(zip_of(NOOP_SOURCE)).decode()
    prefix = f"bench-cp-{int(time.time() * 1000) % 10**8}"
    names: list[str] = []

    def create() -> int:
        name = f"{prefix}-{len(names)}"
        names.append(name)
        body = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "index.handler",
            "Code": {"ZipFile": code},
        }
        request = Request("POST", "/2015-03-31/functions", json.dumps(body).encode())
        return connection.exchange(signer.render(request)).status

    def each(method: str, suffix: str, body: bytes) -> Callable[[], int]:
        queue = iter(list(names))

        def send() -> int:
            request = Request(method, f"/2015-03-31/functions/{next(queue)}{suffix}", body)
            return connection.exchange(signer.render(request)).status

        return send

    def rate(key: str, send: Callable[[], int], count: int, expected: int) -> None:
        samples, statuses, seconds = _timed(send, count, plan.control_cap)
        expected = 200 if target.role == "floor" else expected  # the floor answers 200 to all
        note = _note(statuses, expected, len(samples))
        results.set(key, target.name, statuses[expected] / seconds, note)

    try:
        rate("cp_create", create, plan.control_count, 201)
        _wait_active(target, connection, names)
        rate("cp_publish", each("POST", "/versions", b"{}"), len(names), 201)
        rate("cp_get", each("GET", "", b""), len(names), 200)
    finally:
        connection.close()


def _wait_active(target: Target, connection: BlockingConnection, names: list[str]) -> None:
    """Untimed: PublishVersion needs the last created function to have settled."""
    if target.role == "floor" or not names:
        return
    signer = target.signer()
    request = Request("GET", f"/2015-03-31/functions/{names[-1]}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = connection.exchange(signer.render(request))
        if response.status != 200:
            return
        if json.loads(response.body).get("Configuration", {}).get("State") == "Active":
            return
        time.sleep(0.02)


def boto3_latency(target: Target, function: str, results: Results, plan: Plan) -> None:
    client = target.boto3_client()

    def send() -> int:
        response = client.invoke(FunctionName=function, Payload=b"{}")
        response["Payload"].read()
        return FUNCTION_ERROR if "FunctionError" in response else int(response["StatusCode"])

    _timed(send, max(10, plan.boto3_count // 10), plan.boto3_cap / 5)
    samples, statuses, _ = _timed(send, plan.boto3_count, plan.boto3_cap)
    note = _note(statuses, 200, len(samples))
    results.set("boto3_p50", target.name, median(samples), note)
    results.set("boto3_p99", target.name, percentile(samples, 0.99), note)
