"""Start a real ``modeldepot serve`` for a benchmark and read its memory use."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchServer:
    """A server subprocess on a fresh data directory; ``peak_rss`` samples its memory."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MODELDEPOT_LOG_LEVEL="warning", **(env or {}))
        if database_url:
            env["MODELDEPOT_DATABASE_URL"] = database_url
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                shutil.which("modeldepot") or "modeldepot",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ready_seconds = self._wait_ready()
        self._peak = 0
        self._sampling = False

    @property
    def token(self) -> str | None:
        """The admin token the server wrote on first start (None: a server from before
        identities, or a replica that joined a registry that had its admin already)."""
        path = self.data_dir / "admin.token"
        return path.read_text().strip() if path.exists() else None

    @property
    def headers(self) -> dict[str, str]:
        token = self.token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _wait_ready(self) -> float:
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return time.perf_counter() - self.started_at
            except httpx.TransportError:
                time.sleep(0.01)
        raise RuntimeError("server did not start")

    def rss(self) -> int:
        """Resident set size in bytes, now."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def start_sampling(self) -> None:
        self._peak = self.rss()
        self._sampling = True

        def sample() -> None:
            while self._sampling:
                self._peak = max(self._peak, self.rss())
                time.sleep(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop_sampling(self) -> int:
        self._sampling = False
        self._thread.join()
        return self._peak

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
