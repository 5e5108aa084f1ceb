"""A real `gureum serve` process on a free loopback port, for tests that drive it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class GureumProcess:
    """Starts, stops and kills one server; restarts keep the same data directory and port."""

    def __init__(
        self,
        data_dir: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        command: tuple[str, ...] = (sys.executable, "-m", "gureum"),
        cwd: Path | None = None,
        subcommand: str = "serve",
        prefix: tuple[str, ...] = (),
        host: str = "127.0.0.1",
    ) -> None:
        self.data_dir = data_dir
        self.subcommand = subcommand  # `agent` for a cluster's agent
        self.command = command  # how to run gureum (an installed `gureum` script, say)
        self.cwd = cwd
        self.prefix = prefix  # run under it (`ip netns exec NAME`, say)
        self.host = host  # the address its HTTP listens on and tests reach it at
        self.port = free_port()
        self.extra = extra
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> GureumProcess:
        command = [*self.prefix, *self.command, self.subcommand, "--port", str(self.port)]
        if self.host != "127.0.0.1":
            command += ["--host", self.host]
        command += ["--data-dir", str(self.data_dir), "--log-level", "warning", *self.extra]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                cwd=self.cwd,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gureum exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_gureum/health", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"gureum did not become healthy:\n{self.log_path.read_text()}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_gureum/health", timeout=2) as reply:
            document: dict[str, Any] = json.load(reply)
            return document

    def stop(self) -> int:
        """SIGTERM, as an operator's Ctrl-C or service manager would; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Killed, so that it holds nothing the next test needs (a port, its sandboxes), and
            # failed with what it logged while it did not stop.
            self.kill()
            tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-300:])
            raise AssertionError(f"gureum did not stop within 20 s of SIGTERM:\n{tail}") from None
        self.process = None
        return code

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=20)
        self.process = None

    def client(self, service: str = "lambda", **overrides: Any) -> Any:
        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
            "config": Config(retries={"total_max_attempts": 1}),
        }
        options.update(overrides)
        return boto3.client(service, **options)
