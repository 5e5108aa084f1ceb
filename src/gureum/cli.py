"""The `gureum` command: `gureum serve` runs the server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from gureum import __version__
from gureum.app import GureumApp
from gureum.config import Settings, default_data_dir


def _env(name: str, default: str) -> str:
    return os.environ.get(f"GUREUM_{name.upper().replace('-', '_')}", default)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gureum", description="A self-hosted AWS Lambda.")
    top.add_argument("--version", action="version", version=f"gureum {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (every option is also GUREUM_<NAME>)")
    serve.add_argument("--host", default=_env("host", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("port", "4566")))
    serve.add_argument(
        "--data-dir", type=Path, default=Path(_env("data-dir", str(default_data_dir())))
    )
    serve.add_argument(
        "--time-scale",
        type=float,
        default=float(_env("time-scale", "1.0")),
        help="multiply every platform delay, period and age limit (not function timeouts)",
    )
    serve.add_argument(
        "--settle-delay",
        type=float,
        default=float(_env("settle-delay", "0")),
        help="seconds a created or updated function stays Pending/InProgress (scaled)",
    )
    serve.add_argument(
        "--account-concurrency", type=int, default=int(_env("account-concurrency", "1000"))
    )
    serve.add_argument(
        "--unreserved-minimum",
        type=int,
        default=int(_env("unreserved-minimum", "100")),
        help="concurrency that reservations may never take from the unreserved pool",
    )
    serve.add_argument(
        "--scaling-limit",
        type=int,
        default=int(_env("scaling-limit", "1000")),
        help="new execution environments per function per scaling period",
    )
    serve.add_argument(
        "--scaling-period",
        type=float,
        default=float(_env("scaling-period", "10")),
        help="seconds of the scaling period (scaled by --time-scale)",
    )
    serve.add_argument(
        "--async-payload-limit",
        type=int,
        default=int(_env("async-payload-limit", "1048576")),
        help="largest Event invocation payload in bytes (AWS: 1 MB, 262144 before Oct 2025)",
    )
    serve.add_argument(
        "--keep-alive",
        type=float,
        default=float(_env("keep-alive", "600")),
        help="seconds an idle execution environment stays warm (scaled)",
    )
    serve.add_argument(
        "--isolation",
        choices=("auto", "namespaces", "none"),
        default=_env("isolation", "auto"),
        help="sandbox functions with namespaces and cgroups (auto: when the machine allows it)",
    )
    serve.add_argument(
        "--kms-root-key-file",
        type=Path,
        default=Path(_env("kms-root-key-file", "")) if _env("kms-root-key-file", "") else None,
        help="the key that encrypts KMS key material at rest (default: DATA_DIR/root.key, 0600)",
    )
    serve.add_argument("--log-level", default=_env("log-level", "info"))
    return top


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir.expanduser().resolve(),
        time_scale=args.time_scale,
        settle_delay=args.settle_delay,
        account_concurrency=args.account_concurrency,
        unreserved_minimum=args.unreserved_minimum,
        scaling_limit=args.scaling_limit,
        scaling_period=args.scaling_period,
        keep_alive=args.keep_alive,
        async_payload_limit=args.async_payload_limit,
        isolation=args.isolation,
        kms_root_key_file=args.kms_root_key_file,
        log_level=args.log_level,
    )


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
        http="httptools",
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
