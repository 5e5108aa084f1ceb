"""Finding the host's interpreters, where `gureum runtimes add python3.X` says to put one."""

from __future__ import annotations

from pathlib import Path

import pytest

from gureum.lambda_.sandbox.interpreters import discover_pythons

PYENV_312 = Path.home() / ".pyenv" / "versions" / "3.12.1" / "bin" / "python3.12"


@pytest.mark.skipif(not PYENV_312.exists(), reason="needs a Python 3.12 to stand in for uv's")
def test_a_python_installed_by_uv_is_found_without_being_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = tmp_path / "uv-python"
    (uv / "cpython-3.12.1-linux-x86_64-gnu" / "bin").mkdir(parents=True)
    (uv / "cpython-3.12.1-linux-x86_64-gnu" / "bin" / "python3.12").symlink_to(PYENV_312)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(uv))
    found = discover_pythons()
    assert found["python3.12"].executable == str(PYENV_312.resolve())
    assert found["python3.12"].version == (3, 12)
