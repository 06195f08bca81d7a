"""Concurrent pushes to one model get unique, contiguous version numbers (both databases)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from modeldepot.client.client import Client
from tests.conftest import make_model_dir

PUSHERS = 16


def test_concurrent_pushes_get_contiguous_version_numbers(
    live, admin_token: str, tmp_path: Path
) -> None:
    sources = [
        make_model_dir(tmp_path / f"m{i}", {"w.bin": f"model {i}".encode()}) for i in range(PUSHERS)
    ]

    def push(i: int) -> tuple[int, str]:
        with Client(live.url, cache_dir=tmp_path / f"cache{i}", token=admin_token) as md:
            version = md.push(sources[i], "ads/contended")
            return version.number, version.digest

    with ThreadPoolExecutor(PUSHERS) as pool:
        results = list(pool.map(push, range(PUSHERS)))
    assert sorted(n for n, _ in results) == list(range(1, PUSHERS + 1))
    assert len({d for _, d in results}) == PUSHERS
    with Client(live.url, cache_dir=tmp_path / "c", token=admin_token) as md:
        listed = md.list_versions("ads/contended")
    assert sorted(v.number for v in listed) == list(range(1, PUSHERS + 1))


def test_concurrent_first_pushes_to_new_models_do_not_collide(
    live, admin_token: str, tmp_path: Path
) -> None:
    source = make_model_dir(tmp_path / "m", {"w.bin": b"same bytes"})

    def push(i: int) -> int:
        with Client(live.url, cache_dir=tmp_path / f"cache{i}", token=admin_token) as md:
            return md.push(source, f"ns/model-{i % 4}").number

    with ThreadPoolExecutor(PUSHERS) as pool:
        numbers = list(pool.map(push, range(PUSHERS)))
    assert sorted(numbers) == sorted([1, 2, 3, 4] * 4)
