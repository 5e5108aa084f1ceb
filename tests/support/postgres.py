"""A private PostgreSQL cluster for the test run: no system set-up, nothing left behind.

`PostgresCluster` runs `initdb` and `pg_ctl` from the machine's PostgreSQL (found on PATH, or
where Debian's `postgresql` package puts it) in a directory of the test run's basetemp, on a
free loopback port with its socket in that directory. PostgreSQL refuses to run as root, so as
root the cluster belongs to `nobody`. Each test gets a database of its own
(`PostgresCluster.database`), so tests never see each other's rows.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

from tests.support.server import free_port

# Where Debian's (and Ubuntu's) postgresql packages install the server's binaries.
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
_databases = itertools.count()


def find_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when this machine has no PostgreSQL."""
    found = shutil.which("initdb")
    if found is not None and shutil.which("pg_ctl") is not None:
        return Path(found).parent
    for directory in sorted(glob.glob(DEBIAN_BINARIES), reverse=True):  # the newest first
        if (Path(directory) / "initdb").exists():
            return Path(directory)
    return None


class PostgresCluster:
    """initdb + pg_ctl start in `root`; `stop` ends it (fast shutdown), `start` again
    restarts it on the same data and port."""

    def __init__(
        self,
        binaries: Path,
        root: Path,
        basetemp: Path | None = None,
        also: tuple[str, str] | None = None,
    ) -> None:
        self.binaries = binaries
        # An address to listen on besides loopback, and the network trusted there (CIDR).
        self.also = also
        self.root = root
        self.basetemp = basetemp or root
        self.port = free_port()
        self.user = "gureum"
        self._run_as: list[str] = []
        self.running = False
        if os.getuid() == 0:
            self._run_as = ["runuser", "-u", "nobody", "--"]
            self._open_path_for(pwd.getpwnam("nobody").pw_uid)

    def _open_path_for(self, uid: int) -> None:
        """The basetemp is root's and private (0700): `nobody` needs to pass through it to its
        own directory (search only: nothing in it becomes readable), and to own that one. The
        directories above the basetemp are left as they are, and must let others through."""
        self.root.mkdir(parents=True, exist_ok=True)
        inside = self.root.relative_to(self.basetemp).parents  # up to "." (the basetemp)
        for directory in [self.root, *(self.basetemp / part for part in inside)]:
            os.chmod(directory, directory.stat().st_mode | 0o011)
        for above in self.basetemp.parents:
            if not above.stat().st_mode & 0o001:
                raise RuntimeError(f"PostgreSQL runs as nobody, who cannot pass through {above}")
        os.chown(self.root, uid, -1)

    def _tool(self, name: str, *args: str) -> None:
        subprocess.run(
            [*self._run_as, str(self.binaries / name), *args],
            check=True,
            capture_output=True,
            cwd=self.root,
        )

    def start(self) -> PostgresCluster:
        data = self.root / "data"
        if not data.exists():
            self._tool("initdb", "-D", str(data), "-A", "trust", "-U", self.user, "-E", "UTF8")
            if self.also is not None:
                with (data / "pg_hba.conf").open("a") as hba:
                    hba.write(f"host all all {self.also[1]} trust\n")
        listen = "127.0.0.1" if self.also is None else f"127.0.0.1,{self.also[0]}"
        options = f"-p {self.port} -k {self.root} -c listen_addresses={listen}"
        options += " -c max_connections=200"
        self._tool(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def stop(self) -> None:
        """Stops the cluster if it runs (so a `finally` may call it whatever happened)."""
        if self.running:
            self._tool("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
            self.running = False
