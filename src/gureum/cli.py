"""The `gureum` command: `gureum serve` runs the server until Ctrl-C or SIGTERM; `gureum runtimes`
lists the runtimes this host has and can add, and `gureum runtimes add NAME` adds one."""

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
from types import FrameType
from typing import Any

import uvicorn

from gureum import __version__
from gureum.app import GureumApp
from gureum.aws.http_head import BoundedHttpToolsProtocol
from gureum.config import Settings, default_data_dir
from gureum.lambda_.sandbox.catalog import (
    NODE_RUNTIMES,
    PYTHON_RUNTIMES,
    RuntimeCatalog,
    python_help,
)
from gureum.lambda_.sandbox.interpreters import discover_pythons, host_nodes
from gureum.lambda_.sandbox.provisioning import ProvisioningError, RuntimeShelf, npm_registry

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
    ("efs-connection-limit", int, "EFS client connections per file system (AWS: 25,000)"),
    ("efs-connection-burst", int, "EFS connections opened at once before 500 a minute"),
    ("snapshot-memory", int, "MB of memory SnapStart snapshots may hold together"),
    ("isolation", str, "namespaces, none, or auto (namespaces when the machine allows them)"),
    ("kms-root-key-file", Path, "the key wrapping KMS key material (default SHARED_DIR/root.key)"),
    ("log-level", str, "debug, info, warning or error"),
    ("iam", str, "off (only resource policies apply) or enforce (every request is authorized)"),
    ("hot-reload-bucket", str, "S3Bucket naming hot reload: S3Key is then a directory here"),
    ("debug-functions", str, "comma-separated functions to run under a debugger (off: none)"),
    ("debug-port", int, "debugpy's port for Python functions in debug mode (127.0.0.1 only)"),
    ("inspect-port", int, "the inspector's port for Node.js functions in debug mode"),
    ("debug-wait", float, "seconds Init waits for a debugger to attach (0: no wait)"),
    ("ledger", str, "the concurrency ledger: in-process (default) or redis://HOST:PORT/DB"),
    ("lease-ttl", float, "seconds a dead process's Redis leases outlive it (default 30)"),
    ("store", str, "postgresql://user@host/db: every service's store there (default: SQLite)"),
    ("shared-dir", Path, "what every process of a cluster reads: code, objects (default DATA_DIR)"),
    ("sandboxes", str, "local (this server runs functions) or agents (a cluster's front door)"),
    ("hop", str, "an agent's HOST:PORT for front doors (gureum agent: default 127.0.0.1:4570)"),
    ("hop-advertise", str, "the HOST:PORT front doors reach this agent at (default: --hop)"),
)


# Where `gureum agent` listens for front doors unless told (--hop).
DEFAULT_HOP = "127.0.0.1:4570"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="gureum", description="A self-hosted AWS Lambda.")
    top.add_argument("--version", action="version", version=f"gureum {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (every option is also GUREUM_<NAME>)")
    agent = commands.add_parser(
        "agent",
        help="run a cluster's agent: sandboxes for front doors (needs --store, --ledger)",
    )
    defaults = Settings(data_dir=default_data_dir())
    for command in (serve, agent):
        for name, kind, text in OPTIONS:
            field = name.replace("-", "_")
            from_env = os.environ.get(f"GUREUM_{field.upper()}")
            default = kind(from_env) if from_env else getattr(defaults, field)
            command.add_argument(f"--{name}", type=kind, default=default, help=text)
    # `--data-dir` before or after `add`: both parsers take it, the inner one only if given.
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        default=os.environ.get("GUREUM_DATA_DIR") or defaults.data_dir,
        help="gureum's data directory, where fetched runtimes are kept",
    )
    runtimes = commands.add_parser(
        "runtimes", parents=[data_dir], help="list the runtimes this host has and can add"
    )
    actions = runtimes.add_subparsers(dest="action")
    add = actions.add_parser(
        "add", help="fetch a runtime into the data directory", argument_default=argparse.SUPPRESS
    )
    add.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    add.add_argument("runtime", help="a Lambda runtime, such as nodejs22.x")
    return top


def settings_from(args: argparse.Namespace) -> Settings:
    values = {
        name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name, _, _ in OPTIONS
    }
    if values["isolation"] not in ("auto", "namespaces", "none"):
        raise SystemExit(
            f"gureum: --isolation must be auto, namespaces or none, not {values['isolation']}"
        )
    if values["iam"] not in ("off", "enforce"):
        raise SystemExit(f"gureum: --iam must be off or enforce, not {values['iam']}")
    values["ledger"] = _ledger_url(values["ledger"])
    if values["store"] and not values["store"].startswith(("postgresql://", "postgres://")):
        raise SystemExit("gureum: --store must be a PostgreSQL URL (postgresql://user@host/db)")
    values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
    if values["shared_dir"] is not None:
        values["shared_dir"] = Path(values["shared_dir"]).expanduser().resolve()
    if args.command == "agent" and not values["hop"]:
        values["hop"] = DEFAULT_HOP
    _check_cluster(values, args.command)
    return Settings(**values)


def _check_cluster(values: dict[str, Any], command: str) -> None:
    """What a cluster's processes need: the shared store and ledger, and sane addresses."""
    if values["sandboxes"] not in ("local", "agents"):
        raise SystemExit(f"gureum: --sandboxes must be local or agents, not {values['sandboxes']}")
    clustered = command == "agent" or values["sandboxes"] == "agents"
    if clustered and not (values["store"] and values["ledger"]):
        raise SystemExit(
            "gureum: a cluster's front doors and agents share their state: give --store "
            "postgresql://... and --ledger redis://..."
        )
    if command == "agent" and values["sandboxes"] == "agents":
        raise SystemExit("gureum: an agent runs sandboxes: --sandboxes agents is a front door's")
    if values["shared_dir"] is not None and not values["store"]:
        # Servers with stores of their own would each sweep the others' files as orphans.
        raise SystemExit("gureum: --shared-dir is for servers that share a --store")
    for option in ("hop", "hop_advertise"):
        host, _, port = str(values[option]).rpartition(":")
        if values[option] and not (host and port.isdigit() and 0 < int(port) < 65536):
            flag = "--" + option.replace("_", "-")
            raise SystemExit(f"gureum: {flag} must be HOST:PORT, not {values[option]}")


def _ledger_url(value: str) -> str:
    """ "" for the in-process ledger, else a Redis URL (redis-py's forms)."""
    if value in ("", "in-process"):
        return ""
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise SystemExit(
            f"gureum: --ledger must be in-process or a redis://, rediss:// or unix:// URL, "
            f"not {value}"
        )
    # Read as the ledger reads it: options it would not honour are refused here, not ignored.
    from gureum.lambda_.store.redis_pipe import Address  # noqa: PLC0415 (redis-py on demand)

    try:
        Address.parse(value)
    except ValueError as exc:
        raise SystemExit(f"gureum: --ledger {value}: {exc}") from None
    return value


class _Server(uvicorn.Server):
    """uvicorn, except that a stop by SIGTERM or Ctrl-C is a clean exit (status 0).

    uvicorn re-raises the signal it caught once it has shut down gracefully, so the process
    would end "killed by SIGTERM"; for gureum a requested stop that completed is a success.
    `draining` is told at once, so connections that would stay open (the console's live
    streams) end and the graceful shutdown does not wait on them.
    """

    def __init__(self, config: uvicorn.Config, draining: Callable[[], None]) -> None:
        super().__init__(config)
        self._draining = draining

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._draining()

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
        # SDKs keep connections in a pool and reuse them seconds later: uvicorn's default of 5 s
        # closes idle ones under them, and a request sent as one closes fails ("Connection was
        # closed before we received a valid response"). AWS's endpoints keep them open about
        # a minute (a load balancer's default idle timeout is 60 s).
        timeout_keep_alive=65,
    )
    # Server.run() is what applies `loop="uvloop"`; asyncio.run() alone would not.
    _Server(config, app.draining).run()


def _catalog(data_dir: Path) -> tuple[RuntimeCatalog, RuntimeShelf]:
    shelf = RuntimeShelf(data_dir / "runtimes", registry=npm_registry(os.environ))
    return RuntimeCatalog(discover_pythons(), host_nodes(), shelf), shelf


def list_runtimes(data_dir: Path) -> int:
    catalog, shelf = _catalog(data_dir)
    print("Available:")
    for runtime in catalog.available():
        launcher = catalog.launcher(runtime)
        assert launcher is not None
        where = launcher.zygote if launcher.program is None else " ".join(launcher.program[:1])
        if launcher.lang is not None and launcher.program is not None:  # a fetched Node.js
            where = f"{launcher.lang}/bin/node"
        print(f"  {runtime:<16} {where or '(the function brings its own bootstrap)'}")
    addable = catalog.addable()
    if addable:
        print("Can be added (`gureum runtimes add NAME`; a function's first use fetches it too):")
        for runtime in addable:
            print(f"  {runtime:<16} {shelf.describe(runtime)}")
    missing = [r for r in PYTHON_RUNTIMES + NODE_RUNTIMES if r not in catalog.creatable()]
    if missing:
        print("Cannot be added here:")
        for runtime in missing:
            why = catalog.reason(runtime)
            print(f"  {runtime:<16} {why} (`gureum runtimes add {runtime}` says how)")
    return 0


def add_runtime(data_dir: Path, runtime: str) -> int:
    catalog, shelf = _catalog(data_dir)
    if runtime in catalog.available():
        print(f"{runtime} is already available.")
        return 0
    if runtime in catalog.addable():
        print(f"Fetching {shelf.describe(runtime)} into {shelf.root / runtime} ...", flush=True)
        try:
            installed = shelf.add(runtime)
        except ProvisioningError as exc:
            print(f"gureum: could not add {runtime}: {exc}", file=sys.stderr)
            return 1
        print(f"Added {runtime}: Node.js {installed.version}, {installed.node}")
        return 0
    if runtime in PYTHON_RUNTIMES:
        print(f"gureum: cannot add {runtime} here. {python_help(runtime)}", file=sys.stderr)
        return 1
    if runtime in NODE_RUNTIMES:
        print(f"gureum: cannot add {runtime} here: {catalog.why_not(runtime)}", file=sys.stderr)
        return 1
    known = ", ".join(PYTHON_RUNTIMES + NODE_RUNTIMES)
    print(f"gureum: {runtime} is not a runtime gureum can add; these are: {known}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("serve", "agent"):
        serve(settings_from(args))
    elif args.command == "runtimes":
        data_dir = Path(args.data_dir).expanduser().resolve()
        if args.action == "add":
            return add_runtime(data_dir, args.runtime)
        return list_runtimes(data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
