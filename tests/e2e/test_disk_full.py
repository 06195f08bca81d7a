"""A full disk is an error, not an outage: the real server on a real 64 MiB filesystem.

The data directory (SQLite and the blob store) is a tmpfs mounted for the test; where
mounting is not allowed (not root, no tmpfs) the test is skipped and says why. Faults
at each write step are injected on every machine by ``tests/api/test_disk_full.py``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServerProcess, make_cli, new_server, ok

SIZE = "64m"
FLOOR = 4 * 1024 * 1024


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted afterwards; the test is skipped where none can be mounted."""
    mountpoint = Path(tempfile.mkdtemp(prefix="modeldepot-small-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        reason = mounted.stderr.strip() or f"mount exited {mounted.returncode}"
        pytest.skip(f"cannot mount a {SIZE} tmpfs for a full-disk test here: {reason}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem is full, as another program would."""
    # Large writes first, then page-sized ones for the last partly filled megabyte.
    with open(path, "wb", buffering=0) as out:
        for chunk in (b"\0" * (1024 * 1024), b"\0" * 4096):
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


def free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def staged(server: ServerProcess) -> list[int]:
    """Sizes of the staged (not yet verified) upload files."""
    area = server.data_dir / "blobs" / "uploads"
    return [p.stat().st_size for p in area.iterdir()] if area.exists() else []


def model(root: Path, size: int) -> Path:
    root.mkdir()
    (root / "weights.bin").write_bytes(os.urandom(size))
    return root


def test_a_full_disk_is_an_error_not_an_outage(small_disk: Path, tmp_path: Path) -> None:
    server = new_server(tmp_path / "server", None)  # SQLite, in the data directory
    server.data_dir = small_disk / "data"
    server.args = ["--port", str(server.port), "--data-dir", str(server.data_dir)]
    server.env["MODELDEPOT_MIN_FREE_BYTES"] = str(FLOOR)
    server.start()
    api = httpx.Client(base_url=f"{server.url}/api/v1", timeout=30, headers=server.auth)
    try:
        cli = make_cli(tmp_path, server)
        ok(cli("push", model(tmp_path / "small", 20_000_000), "disk/small"))

        # A push that does not fit: 507 naming the blob store, and no partial bytes left.
        failed = cli("push", model(tmp_path / "big", 66_000_000), "disk/big")
        assert failed.returncode == 1
        assert "INSUFFICIENT_STORAGE" in failed.stderr and "full" in failed.stderr
        assert sum(staged(server)) == 0
        assert free(small_disk) > 30_000_000
        assert httpx.get(f"{server.url}/readyz").status_code == 200

        # Bytes staged by an upload in progress, and a blob no version uses.
        spare = os.urandom(1_000_000)
        digest = "sha256:" + hashlib.sha256(spare).hexdigest()
        api.put(f"/blobs/{digest}", content=spare).raise_for_status()
        session = api.post("/uploads", json={"digest": None, "size": 10_000_000}).json()
        api.patch(
            f"/uploads/{session['id']}",
            content=os.urandom(5_000_000),
            headers={"Upload-Offset": "0"},
        ).raise_for_status()

        # Someone else fills the disk: not ready, and /metrics says how much is left.
        fill(small_disk / "stranger")
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and not ready.json()["checks"]["blobstore"]["ok"]
        metrics = httpx.get(f"{server.url}/metrics").text
        line = next(x for x in metrics.splitlines() if x.startswith("modeldepot_free_bytes{"))
        assert float(line.split()[-1]) < FLOOR
        more = os.urandom(100_000)
        refused = api.put(f"/blobs/sha256:{hashlib.sha256(more).hexdigest()}", content=more)
        assert refused.status_code == 507 and refused.json()["code"] == "INSUFFICIENT_STORAGE"

        # What frees space works on the full disk: cancelling frees the bytes first.
        assert api.delete(f"/uploads/{session['id']}").status_code == 204
        assert staged(server) == []
        deleted = api.delete("/models/disk/small/-/versions/1")
        assert deleted.status_code == 200, deleted.text

        fill(small_disk / "stranger2")
        collected = cli("gc", "--grace", "0", "--data-dir", server.data_dir)
        assert collected.returncode == 0, collected.stderr
        assert "removed 1 blobs" in collected.stdout
        assert api.post("/blobs/missing", json={"digests": [digest]}).json()["missing"] == [digest]

        # Space is back: the next push succeeds, nobody touched the data directory.
        (small_disk / "stranger").unlink()
        (small_disk / "stranger2").unlink()
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        (tmp_path / "big" / "weights.bin").write_bytes(os.urandom(30_000_000))
        ok(cli("push", tmp_path / "big", "disk/big"))
    finally:
        api.close()
        server.close()
