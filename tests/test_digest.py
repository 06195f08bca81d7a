"""Content digests (``modeldepot.digest``): always ``sha256:<64 lowercase hex>``."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from modeldepot.digest import (
    CHUNK_SIZE,
    digest_bytes,
    digest_chunks,
    digest_file,
    digest_fileobj,
    from_hasher,
    hex_of,
    is_digest,
    parse_digest,
)
from modeldepot.errors import DigestInvalid

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
HEX = "0123456789abcdef" * 4

MALFORMED = [
    "",
    "sha256:",
    "sha256:" + HEX[:63],
    "sha256:" + HEX + "0",
    "sha256:" + HEX.upper(),
    "sha256:" + "g" * 64,
    "SHA256:" + HEX,
    "sha512:" + HEX + HEX,
    "md5:" + HEX[:32],
    "sha256-" + HEX,
    "sha256::" + HEX,
    HEX,
    " sha256:" + HEX,
    "sha256:" + HEX + " ",
    "sha256: " + HEX,
]
NOT_STRINGS = [None, 7, ("sha256:" + HEX).encode()]


def test_digest_of_known_inputs():
    assert digest_bytes(b"") == EMPTY
    assert digest_bytes(b"abc") == ABC


def test_parse_digest_returns_well_formed_digest():
    assert parse_digest(ABC) == ABC


@pytest.mark.parametrize(
    "value",
    [
        *MALFORMED,
        *NOT_STRINGS,
        "sha256:" + HEX + "\n",
    ],
)
def test_parse_digest_rejects_malformed_digest(value):
    with pytest.raises(DigestInvalid) as excinfo:
        parse_digest(value)
    assert excinfo.value.code == "DIGEST_INVALID"


@pytest.mark.parametrize(
    "value",
    [
        *MALFORMED,
        *NOT_STRINGS,
        "sha256:" + HEX + "\n",
    ],
)
def test_is_digest_is_false_for_malformed_digest(value):
    assert is_digest(value) is False


def test_is_digest_is_true_for_well_formed_digest():
    assert is_digest(ABC) is True


def test_hex_of_strips_the_algorithm():
    assert hex_of(ABC) == ABC.removeprefix("sha256:")


@pytest.mark.parametrize("value", ["sha256:abc", HEX, "md5:" + HEX[:32]])
def test_hex_of_rejects_malformed_digest(value):
    with pytest.raises(DigestInvalid):
        hex_of(value)


def test_from_hasher_formats_a_running_hash():
    hasher = hashlib.sha256(b"ab")
    hasher.update(b"c")
    assert from_hasher(hasher) == ABC


@pytest.mark.parametrize(
    "chunks",
    [[], [b""], [b"abc"], [b"a", b"", b"bc"], [b"x" * CHUNK_SIZE, b"y" * 3]],
)
def test_digest_chunks_equals_digest_of_joined_bytes(chunks):
    joined = b"".join(chunks)
    assert digest_chunks(iter(chunks)) == (digest_bytes(joined), len(joined))


def test_digest_fileobj_reads_from_the_current_position():
    fileobj = io.BytesIO(b"xyzabc")
    fileobj.seek(3)
    assert digest_fileobj(fileobj) == (ABC, 3)


def test_digest_fileobj_of_data_larger_than_one_chunk():
    data = bytes(range(256)) * (CHUNK_SIZE // 128 + 1)
    assert len(data) > 2 * CHUNK_SIZE
    assert digest_fileobj(io.BytesIO(data)) == (digest_bytes(data), len(data))


class _RecordingReader(io.RawIOBase):
    """A readable stream that records how much each read asked for."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.requests: list[int] = []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.requests.append(len(buffer))
        n = min(len(buffer), self.remaining)
        buffer[:n] = b"\0" * n
        self.remaining -= n
        return n


def test_digest_fileobj_streams_in_bounded_chunks():
    size = 3 * CHUNK_SIZE + 5
    reader = _RecordingReader(size)
    assert digest_fileobj(reader) == (digest_bytes(b"\0" * size), size)
    assert max(reader.requests) <= CHUNK_SIZE


def test_digest_file_accepts_str_and_path(tmp_path: Path):
    path = tmp_path / "blob"
    path.write_bytes(b"abc")
    assert digest_file(path) == (ABC, 3)
    assert digest_file(str(path)) == (ABC, 3)


def test_digest_of_empty_file(tmp_path: Path):
    path = tmp_path / "empty"
    path.touch()
    assert digest_file(path) == (EMPTY, 0)
