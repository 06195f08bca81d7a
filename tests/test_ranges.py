"""The HTTP ``Range`` header as blob downloads read it (``modeldepot.server.ranges``)."""

from __future__ import annotations

import pytest

from modeldepot.errors import RangeNotSatisfiable
from modeldepot.server.ranges import parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "window"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=0-0", (0, 0)),
        ("bytes=999-999", (999, 999)),
        ("bytes=500-", (500, 999)),
        ("bytes=0-", (0, 999)),
        ("bytes=999-", (999, 999)),
        ("bytes=990-2000", (990, 999)),
        ("bytes=0-999999999999999999999", (0, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-1", (999, 999)),
        ("bytes=-1000", (0, 999)),
        ("bytes=-2000", (0, 999)),
        ("  bytes=1-2  ", (1, 2)),
    ],
)
def test_single_byte_range_selects_inclusive_window(header, window):
    assert parse_range(header, SIZE) == window


@pytest.mark.parametrize("header", [None, ""])
def test_no_range_header_means_whole_blob(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",
        "bytes=0-1, 5-6",
        "bytes=-",
        "bytes=5-4",
        "bytes=a-b",
        "bytes=1.5-2",
        "bytes=--1",
        "bytes 0-1",
        "bytes=0-1-2",
        "items=0-1",
        "0-1",
        "bytes=",
    ],
)
def test_malformed_or_multi_range_header_is_ignored(header):
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-1001",
        "bytes=5000-6000",
        "bytes=-0",
        "bytes=1000-",
        "bytes=5000-",
    ],
)
def test_range_selecting_no_bytes_is_not_satisfiable(header):
    with pytest.raises(RangeNotSatisfiable) as excinfo:
        parse_range(header, SIZE)
    assert excinfo.value.code == "RANGE_NOT_SATISFIABLE"
    assert excinfo.value.extra["size"] == SIZE


@pytest.mark.parametrize("header", ["bytes=0-0", "bytes=0-10", "bytes=0-"])
def test_int_range_on_empty_blob_is_not_satisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 0)


def test_suffix_range_on_empty_blob_yields_no_window():
    try:
        window = parse_range("bytes=-5", 0)
    except RangeNotSatisfiable:
        return
    assert window is None


@pytest.mark.parametrize("size", [1, 2, 7, 1000])
@pytest.mark.parametrize(
    "header", ["bytes=0-0", "bytes=0-", "bytes=1-", "bytes=3-5", "bytes=-1", "bytes=-3", "bytes=-9"]
)
def test_returned_window_always_lies_inside_the_blob(header, size):
    try:
        window = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if window is None:
        return
    first, last = window
    assert 0 <= first <= last < size
