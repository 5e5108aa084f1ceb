"""Writing functions (issue #23): how soon a saved file runs, and whether streaming streams.

- hot reload: from writing a handler's file in a hot-reload directory to the first invoke that
  runs it (invoking back to back until it answers the new value);
- time to first byte of a Node.js `streamifyResponse` function that writes a chunk, waits
  `PAUSE` seconds and writes the rest: through a RESPONSE_STREAM function URL (the first chunk)
  against the same function through a BUFFERED one (the whole answer, after the pause);
- streaming throughput: `STREAM_MB` written by such a function in 64 KiB chunks, read through
  a RESPONSE_STREAM URL, against the same bytes sent over a loopback TCP socket in this process.

Only gureum runs them (the floor has no functions; the peers neither watch directories nor
stream).
"""

from __future__ import annotations

import http.client
import socket
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from benchmarks.plan import Plan
from benchmarks.results import Results, median
from benchmarks.targets import ROLE, Target, zip_of

PAUSE = 0.2
STREAM_MB = 64
CHUNK = 1 << 16

STREAMING_JS = f"""\
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {{
  if (event.rawPath === "/bulk") {{
    const chunk = Buffer.alloc({CHUNK}, 120);
    for (let i = 0; i < {STREAM_MB * (1 << 20) // CHUNK}; i++) {{
      if (!responseStream.write(chunk)) {{
        await new Promise((resolve) => responseStream.once("drain", resolve));
      }}
    }}
    responseStream.end();
    return;
  }}
  responseStream.write("first");
  await new Promise((resolve) => setTimeout(resolve, {int(PAUSE * 1000)}));
  responseStream.end(" rest");
}});
"""


def development(target: Target, results: Results, plan: Plan) -> None:
    samples = max(5, min(plan.latency_count // 20, 50))
    hot_reload(target, results, samples)
    streaming(target, results, samples)


def hot_reload(target: Target, results: Results, samples: int) -> None:
    client = target.boto3_client()
    directory = Path(tempfile.mkdtemp(prefix="bench-hot-", dir=target.workdir))
    directory.chmod(0o755)
    handler = directory / "index.py"
    handler.write_text("def handler(event, context):\n    return 0\n")
    handler.chmod(0o644)
    name = f"bench-hot-{int(time.time())}"
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="index.handler",
        Role=ROLE,
        Code={"S3Bucket": "hot-reload", "S3Key": str(directory)},
    )
    client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )
    client.invoke(FunctionName=name)  # warm: a reload retires a warm environment
    delays: list[float] = []
    for value in range(1, samples + 1):
        saved = time.perf_counter()
        handler.write_text(f"def handler(event, context):\n    return {value}\n")
        while client.invoke(FunctionName=name)["Payload"].read() != str(value).encode():
            if time.perf_counter() - saved > 10:
                raise RuntimeError("a saved file did not run within 10 s")
        delays.append((time.perf_counter() - saved) * 1000)
    results.set("dev_reload_p50", target.name, median(delays), f"{samples} saves")


def _url(client: Any, name: str, mode: str) -> urllib.parse.SplitResult:
    created = client.create_function_url_config(FunctionName=name, AuthType="NONE", InvokeMode=mode)
    return urllib.parse.urlsplit(str(created["FunctionUrl"]))


def streaming(target: Target, results: Results, samples: int) -> None:
    client = target.boto3_client()
    names = []
    for mode in ("RESPONSE_STREAM", "BUFFERED"):
        name = f"bench-stream-{mode.lower()}-{int(time.time())}"
        client.create_function(
            FunctionName=name,
            Runtime="nodejs20.x",
            Handler="index.handler",
            Role=ROLE,
            Code={"ZipFile": zip_of(STREAMING_JS, "index.js")},
            Timeout=120,
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
        )
        names.append((name, _url(client, name, mode)))
    for (name, url), key in zip(
        names, ("dev_ttfb_stream_p50", "dev_ttfb_buffered_p50"), strict=True
    ):
        firsts = [_first_byte(url) for _ in range(samples + 1)][1:]  # the first one is cold
        results.set(key, target.name, median(firsts), f"{name}: chunk, {PAUSE} s, the rest")
    streamed = _throughput(names[0][1])
    results.set("dev_stream_mbs", target.name, streamed, f"{STREAM_MB} MB through a function URL")
    results.set("dev_raw_mbs", target.name, _raw_socket(), f"{STREAM_MB} MB over loopback TCP")


def _first_byte(url: urllib.parse.SplitResult) -> float:
    """Milliseconds from sending the request to the first byte of the body."""
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
    try:
        began = time.perf_counter()
        connection.request("GET", url.path + "ttfb")
        response = connection.getresponse()
        response.read(1)
        first = (time.perf_counter() - began) * 1000
        response.read()
        return first
    finally:
        connection.close()


def _throughput(url: urllib.parse.SplitResult) -> float:
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=120)
    try:
        connection.request("GET", url.path + "bulk")
        response = connection.getresponse()
        began, size = time.perf_counter(), 0
        while chunk := response.read(1 << 20):
            size += len(chunk)
        seconds = time.perf_counter() - began
    finally:
        connection.close()
    if size != STREAM_MB << 20:
        raise RuntimeError(f"the stream carried {size} bytes, not {STREAM_MB} MB")
    return size / (1 << 20) / seconds


def _raw_socket() -> float:
    """MB/s of the same bytes, in the same chunks, over a loopback TCP connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def send() -> None:
        connection, _ = listener.accept()
        with connection:
            chunk = b"x" * CHUNK
            for _ in range((STREAM_MB << 20) // CHUNK):
                connection.sendall(chunk)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        began, size = time.perf_counter(), 0
        while data := sock.recv(1 << 20):
            size += len(data)
        seconds = time.perf_counter() - began
    sender.join()
    listener.close()
    return size / (1 << 20) / seconds
