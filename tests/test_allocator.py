"""The server's allocator settings: applied on glibc, harmless to repeat."""

from __future__ import annotations

import ctypes
import platform

import pytest

from modeldepot.server.allocator import tune_allocator


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_settings_are_applied_on_glibc_and_can_be_repeated() -> None:
    assert tune_allocator() is True
    assert tune_allocator() is True
    # A block the size of an upload batch still allocates and frees normally.
    block = ctypes.create_string_buffer(8 * 1024 * 1024)
    block[-1] = b"x"
    assert block[-1] == b"x"
