"""What a pickle imports, read from its opcodes: nothing is ever unpickled.

Works on a truncated stream (the opcodes before the cut still count), so a caller
can hand over just the first megabyte of a large file.
"""

from __future__ import annotations

import pickletools
from collections.abc import Iterator

_STRINGS = frozenset(
    {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
    }
)
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_NO_PUSH = frozenset({"PROTO", "FRAME"})


def pickled_modules(data: bytes) -> Iterator[str]:
    """The modules named by the globals the pickle imports, in stream order.

    Reads ``GLOBAL``/``INST`` arguments and, for ``STACK_GLOBAL``, the module string
    pushed before it, following the memo. Stops quietly at the end of valid opcodes.
    """
    memo: dict[int, str | None] = {}
    recent: list[str | None] = []  # the last two values pushed, when they are strings
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                yield str(arg).split(" ", 1)[0]
                recent.append(None)
            elif name == "STACK_GLOBAL":
                if len(recent) == 2 and recent[0] is not None:
                    yield recent[0]
                recent.append(None)
            elif name in _STRINGS:
                recent.append(str(arg))
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in _PUTS:
                memo[int(arg)] = recent[-1] if recent else None  # type: ignore[arg-type]
            elif name in _GETS:
                recent.append(memo.get(int(arg)))  # type: ignore[arg-type]
            elif name not in _NO_PUSH:
                recent.append(None)
            del recent[:-2]
    except Exception:  # truncated, or not a pickle at all: what was read stands
        return


def unwrap(data: bytes, limit: int) -> bytes:
    """``data`` decompressed to at most ``limit`` bytes if it starts like a zlib, gzip,
    bz2 or xz stream (joblib's compressors), else ``data`` unchanged."""
    import bz2
    import lzma
    import zlib

    try:
        if data.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(wbits=31).decompress(data, limit)
        if data[:1] == b"x" and len(data) > 1 and int.from_bytes(data[:2], "big") % 31 == 0:
            return zlib.decompressobj().decompress(data, limit)
        if data.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(data, limit)
        if data.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMADecompressor().decompress(data, limit)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return b""
    return data
