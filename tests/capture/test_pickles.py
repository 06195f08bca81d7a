"""Reading what a pickle imports from its opcodes (``modeldepot.client.capture.pickles``)."""

from __future__ import annotations

import bz2
import collections
import gzip
import lzma
import pickle
import zlib
from collections.abc import Callable

import pytest

from modeldepot.client.capture.pickles import pickled_modules, unwrap


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_modules_of_every_protocol(protocol: int) -> None:
    data = pickle.dumps([collections.OrderedDict(), collections.Counter()], protocol=protocol)
    assert list(pickled_modules(data)).count("collections") == 2


def test_a_module_named_again_through_the_memo_is_found() -> None:
    data = pickle.dumps([collections.OrderedDict(), collections.Counter()], protocol=4)
    assert b"collections" in data and data.count(b"collections") == 1
    assert list(pickled_modules(data)) == ["collections", "collections"]


def test_strings_that_look_like_modules_are_not_imports() -> None:
    data = pickle.dumps(["sklearn.linear_model", "LogisticRegression"], protocol=4)
    assert list(pickled_modules(data)) == []


def test_truncated_pickles_keep_what_was_read() -> None:
    data = pickle.dumps([collections.OrderedDict(), b"x" * 100_000], protocol=4)
    assert list(pickled_modules(data[:1000])) == ["collections"]


@pytest.mark.parametrize("data", [b"", b"not a pickle at all", bytes(range(256))])
def test_other_bytes_give_nothing(data: bytes) -> None:
    assert list(pickled_modules(data)) == []


@pytest.mark.parametrize(
    "compress",
    [zlib.compress, gzip.compress, bz2.compress, lzma.compress],
    ids=["zlib", "gzip", "bz2", "lzma"],
)
def test_unwrap_decompresses_up_to_the_limit(compress: Callable[[bytes], bytes]) -> None:
    payload = pickle.dumps(list(range(10_000)))
    assert unwrap(compress(payload), 1 << 20) == payload
    assert unwrap(compress(payload), 100) == payload[:100]


def test_unwrap_leaves_other_data_alone() -> None:
    payload = pickle.dumps({"a": 1})
    assert unwrap(payload, 10) == payload
    assert unwrap(b"\x1f\x8bbroken", 10) == b""
