"""Fixtures of the ``client.rawhttp`` tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modeldepot.client import rawhttp
from tests.rawhttp.support import PROXY_VARIABLES, TinyServer


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def raw_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(method, url) of every request that went over a plain socket."""
    calls: list[tuple[str, str]] = []
    real = rawhttp.request

    def recording(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        calls.append((method, url))
        return real(method, url, headers, **kwargs)

    monkeypatch.setattr(rawhttp, "request", recording)
    return calls


@pytest.fixture
def tiny() -> Iterator[Callable[..., TinyServer]]:
    servers: list[TinyServer] = []

    def start(reply: Callable[[socket.socket], None], connections: int = 1) -> TinyServer:
        server = TinyServer(reply, connections)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.join()


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """The addresses ``rawhttp`` opened new connections to."""
    opened: list[tuple[str, int]] = []
    real = rawhttp._connect

    def recording(address: tuple[str, int], timeout: float) -> socket.socket:
        opened.append(address)
        return real(address, timeout)

    monkeypatch.setattr(rawhttp, "_connect", recording)
    return opened
