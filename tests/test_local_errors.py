"""Operating-system errors on the client's machine get stable codes (``local_error``)."""

from __future__ import annotations

import errno

import pytest

from modeldepot.errors import local_error


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (errno.EACCES, "PERMISSION_DENIED"),
        (errno.EPERM, "PERMISSION_DENIED"),
        (errno.ENOSPC, "NO_SPACE"),
        (errno.EDQUOT, "NO_SPACE"),
        (errno.EROFS, "READ_ONLY_FILESYSTEM"),
        (errno.ENOENT, "NO_SUCH_FILE"),
        (errno.EEXIST, "FILE_EXISTS"),
        (errno.ENOTDIR, "NOT_A_DIRECTORY"),
        (errno.EISDIR, "IS_A_DIRECTORY"),
        (errno.ENAMETOOLONG, "NAME_TOO_LONG"),
        (errno.EMFILE, "TOO_MANY_OPEN_FILES"),
        (errno.ENFILE, "TOO_MANY_OPEN_FILES"),
        (errno.EIO, "OS_ERROR"),
    ],
)
def test_each_cause_has_its_code_and_the_message_names_the_file(number: int, code: str) -> None:
    error = local_error(OSError(number, "reason", "/some/file"))
    assert error.code == code
    assert "/some/file" in error.detail


def test_an_oserror_without_errno_is_os_error() -> None:
    assert local_error(OSError("odd")).code == "OS_ERROR"


def test_a_connection_failure_is_server_unreachable() -> None:
    assert local_error(ConnectionResetError(errno.ECONNRESET, "reset")).code == (
        "SERVER_UNREACHABLE"
    )


def test_a_real_failure_keeps_both_file_names(tmp_path) -> None:
    with pytest.raises(OSError) as excinfo:
        (tmp_path / "missing").rename(tmp_path / "elsewhere")
    error = local_error(excinfo.value)
    assert error.code == "NO_SUCH_FILE"
    assert "missing" in error.detail and "elsewhere" in error.detail


def test_a_broken_pipe_is_not_blamed_on_the_server() -> None:
    # Most often stdout closed early (``modeldepot models list --json | head -1``).
    assert local_error(BrokenPipeError(errno.EPIPE, "Broken pipe")).code == "OS_ERROR"
