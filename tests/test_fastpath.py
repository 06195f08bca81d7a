"""The server runs its upload fast path only on a uvicorn it knows, else uvicorn's own.

The end-to-end half (a real server on a pretended unknown uvicorn, a real upload
through the stock protocol) is in ``tests/e2e/test_fastpath.py``.
"""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest
import uvicorn

from modeldepot.server import fastpath
from modeldepot.server.protocol import BulkBodyProtocol

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def test_the_installed_uvicorn_gets_the_fast_path(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="modeldepot.server"):
        assert fastpath.http_protocol() is BulkBodyProtocol
    assert [r.getMessage() for r in caplog.records] == [
        f"HTTP protocol: upload fast path (uvicorn {uvicorn.__version__})"
    ]


@pytest.mark.parametrize("version", ["0.56.0", "1.0.0", "0.29.9", "0.56.0rc1", "unknown"])
def test_an_untested_uvicorn_gets_the_stock_protocol(
    version: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(uvicorn, "__version__", version)
    with caplog.at_level(logging.INFO, logger="modeldepot.server"):
        assert fastpath.http_protocol() == fastpath.STOCK
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "stock protocol" in record.getMessage() and version in record.getMessage()


def test_a_uvicorn_without_a_hook_the_subclass_needs_gets_the_stock_protocol(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = {**fastpath.HOOKS, "HttpToolsProtocol": ("on_body", "on_body_received")}
    monkeypatch.setattr(fastpath, "HOOKS", hooks)
    with caplog.at_level(logging.INFO, logger="modeldepot.server"):
        assert fastpath.http_protocol() == fastpath.STOCK
    assert "HttpToolsProtocol.on_body_received" in caplog.records[0].getMessage()


def test_the_fast_path_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="modeldepot.server"):
        assert fastpath.http_protocol(enabled=False) == fastpath.STOCK
    assert "MODELDEPOT_HTTP_FAST_PATH" in caplog.records[0].getMessage()


def test_every_hook_is_there_on_the_installed_uvicorn() -> None:
    assert fastpath.unsupported() is None


def test_the_tested_range_is_the_one_pyproject_accepts() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [spec] = [d for d in dependencies if d.startswith("uvicorn")]
    low, high = re.fullmatch(r"uvicorn\[standard\]>=(\d+\.\d+),<(\d+\.\d+)", spec).groups()
    as_tuple = [tuple(int(part) for part in v.split(".")) for v in (low, high)]
    assert tuple(as_tuple) == fastpath.TESTED_UVICORN
