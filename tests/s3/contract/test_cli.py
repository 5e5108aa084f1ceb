"""The AWS CLI's high-level S3 commands against gureum: `cp` (a large file, multipart), `sync`
both ways, `ls`, `rm --recursive`, `mb` / `rb`, and `s3api` where a user reaches for it."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
from pathlib import Path

from tests.support.cli import run_aws
from tests.support.server import GureumProcess


def aws(server: GureumProcess, home: Path, *args: str) -> str:
    done = run_aws(server, home, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cp_sync_ls_and_rm_recursive(server: GureumProcess, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024)  # past the CLI's 8 MB multipart threshold
    big.write_bytes(data)
    tree = tmp_path / "tree"
    (tree / "sub dir").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub dir/c d.txt", "sub dir/ünï.txt"):
        (tree / name).write_text(f"content of {name}\n")

    aws(server, tmp_path, "s3", "mb", "s3://cli-bucket")
    aws(server, tmp_path, "s3", "cp", str(big), "s3://cli-bucket/big.bin")
    back = tmp_path / "back.bin"
    aws(server, tmp_path, "s3", "cp", "s3://cli-bucket/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()
    head = aws(
        server, tmp_path, "s3api", "head-object", "--bucket", "cli-bucket", "--key", "big.bin"
    )
    assert json.loads(head)["ETag"].endswith('-3"')  # three 8 MB parts: S3's multipart ETag

    aws(server, tmp_path, "s3", "sync", str(tree), "s3://cli-bucket/tree")
    listing = aws(server, tmp_path, "s3", "ls", "s3://cli-bucket/tree/", "--recursive")
    assert sorted(line.split(maxsplit=3)[3] for line in listing.splitlines()) == [
        "tree/a.txt",
        "tree/b.txt",
        "tree/sub dir/c d.txt",
        "tree/sub dir/ünï.txt",
    ]
    top = aws(server, tmp_path, "s3", "ls", "s3://cli-bucket/")
    assert "PRE tree/" in top
    (tree / "a.txt").write_text("changed, and longer than before\n")
    synced = aws(server, tmp_path, "s3", "sync", str(tree), "s3://cli-bucket/tree")
    assert "a.txt" in synced
    assert "b.txt" not in synced  # unchanged files are not uploaded again
    out = tmp_path / "out"
    aws(server, tmp_path, "s3", "sync", "s3://cli-bucket/tree", str(out))
    assert not filecmp.dircmp(tree, out).diff_files
    assert (out / "sub dir" / "ünï.txt").read_text() == "content of sub dir/ünï.txt\n"

    aws(server, tmp_path, "s3", "rm", "s3://cli-bucket", "--recursive")
    assert aws(server, tmp_path, "s3", "ls", "s3://cli-bucket", "--recursive").strip() == ""
    aws(server, tmp_path, "s3", "rb", "s3://cli-bucket")
    failed = run_aws(server, tmp_path, "s3", "ls", "s3://cli-bucket")
    assert failed.returncode != 0
    assert "NoSuchBucket" in failed.stderr
