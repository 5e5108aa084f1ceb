"""A real `redis-server` on a free loopback port under the test run's basetemp (issue #24).

Debian's `redis-server` package provides it (`.ci/run` installs it when missing); where none can
be had, the tests that need one skip and say why, except in CI, where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.server import free_port

MISSING = "no redis-server on this machine (Debian: apt-get install redis-server)"


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


class RedisServer:
    """One server without persistence: a restart starts empty, as a lost Redis would come
    back. `stop`, `start` again on the same port: what the fault tests need."""

    def __init__(self, binary: str, directory: Path, also: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.also = also  # addresses it listens on besides loopback (a test's own network)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *self.also]
        if self.also:  # reached from another network namespace: not "local" to Redis
            command += ["--protected-mode", "no"]
        command += ["--dir", str(self.directory), "--save", "", "--appendonly", "no"]
        command += ["--logfile", str(self.directory / "redis.log"), "--daemonize", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            if self.ping():
                return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer: {self.log()}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
