"""The `gureum` command: `gureum serve` runs the server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from gureum import __version__
from gureum.app import GureumApp
from gureum.aws.http_head import BoundedHttpToolsProtocol
from gureum.config import Settings, default_data_dir

# Every `serve` option: (name, type, help). Defaults are Settings' own; each option can also be
# given as the environment variable GUREUM_<NAME> (dashes as underscores).
OPTIONS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("host", str, "address to listen on"),
    ("port", int, "port to listen on"),
    ("data-dir", Path, "where all state lives (default: a per-user data directory)"),
    ("time-scale", float, "multiply every platform delay, period and age limit (not timeouts)"),
    ("settle-delay", float, "seconds a created or updated function stays Pending/InProgress"),
    ("account-concurrency", int, "the account's concurrency pool"),
    ("unreserved-minimum", int, "concurrency reservations may never take from the shared pool"),
    ("scaling-limit", int, "new execution environments per function per scaling period"),
    ("scaling-period", float, "seconds of the scaling period (scaled by --time-scale)"),
    ("async-payload-limit", int, "largest Event payload in bytes (AWS: 1 MB; 256 KB before)"),
    ("keep-alive", float, "seconds an idle execution environment stays warm (scaled)"),
    ("isolation", str, "namespaces, none, or auto (namespaces when the machine allows them)"),
    ("kms-root-key-file", Path, "the key encrypting KMS key material (default DATA_DIR/root.key)"),
    ("log-level", str, "debug, info, warning or error"),
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gureum", description="A self-hosted AWS Lambda.")
    top.add_argument("--version", action="version", version=f"gureum {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (every option is also GUREUM_<NAME>)")
    defaults = Settings(data_dir=default_data_dir())
    for name, kind, text in OPTIONS:
        field = name.replace("-", "_")
        from_env = os.environ.get(f"GUREUM_{field.upper()}")
        default = kind(from_env) if from_env else getattr(defaults, field)
        serve.add_argument(f"--{name}", type=kind, default=default, help=text)
    return top


def settings_from(args: argparse.Namespace) -> Settings:
    values = {
        name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name, _, _ in OPTIONS
    }
    if values["isolation"] not in ("auto", "namespaces", "none"):
        raise SystemExit(
            f"gureum: --isolation must be auto, namespaces or none, not {values['isolation']}"
        )
    values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
    return Settings(**values)


class _Server(uvicorn.Server):
    """uvicorn, except that a stop by SIGTERM or Ctrl-C is a clean exit (status 0).

    uvicorn re-raises the signal it caught once it has shut down gracefully, so the process
    would end "killed by SIGTERM"; for gureum a requested stop that completed is a success.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {number: signal.signal(number, self.handle_exit) for number in handled}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def serve(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app = GureumApp(settings)
    print(f"gureum {__version__}: data directory {settings.data_dir}", flush=True)
    print(f"gureum: listening on http://{settings.host}:{settings.port}", flush=True)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        log_level=settings.log_level,
        access_log=False,
        http=BoundedHttpToolsProtocol,  # httptools, with the request head bounded (431)
        loop="uvloop",
    )
    # Server.run() is what applies `loop="uvloop"`; asyncio.run() alone would not.
    _Server(config).run()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "serve":
        serve(settings_from(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
