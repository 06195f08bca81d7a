"""A local S3 server for the tests: moto's, started as a subprocess (fixtures imported by
conftest.py, so every test can use them).

``s3_endpoint`` starts it once per test session on a free loopback port, offline, with
fake credentials in the environment; ``s3_client`` and ``s3_bucket`` share one client
and one bucket, and each test keeps to its own key prefix.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BUCKET = "modeldepot-test"
REGION = "us-east-1"
START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not listen within {START_TIMEOUT}s:\n{log.read_text()}")


class MotoServer:
    """``python -m moto.server`` on a free loopback port, as a context manager giving
    its URL. Credentials must be in the environment (any non-empty value works)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_listening(self.port, self.process, self.log)
        except BaseException:
            self.__exit__()
            raise
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fake_credentials(env: pytest.MonkeyPatch, home: Path) -> None:
    """Fake credentials, and no profile, config file or instance metadata to find."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        env.delenv(name, raising=False)
    env.setenv("AWS_ACCESS_KEY_ID", "test")
    env.setenv("AWS_SECRET_ACCESS_KEY", "test")
    env.setenv("AWS_DEFAULT_REGION", REGION)
    env.setenv("AWS_CONFIG_FILE", str(home / "config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server running in its own process for this test session."""
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        fake_credentials(env, home)
        with MotoServer(home / "moto.log") as url:
            yield url


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        # As the server's own client (``blobstore.s3._default_client``) is configured.
        config=Config(
            s3={"addressing_style": "path"}, max_pool_connections=32, signature_version="s3v4"
        ),
    )


@pytest.fixture(scope="session")
def s3_bucket(s3_client: Any) -> str:
    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET
