"""The git checkout a version was produced from, as a ``CodeInfo``.

Git runs as a subprocess, each call bounded by ``GIT_TIMEOUT`` seconds, with prompts
disabled and no optional locks taken: capturing never waits on a user, never blocks
the user's own git commands and never raises.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from modeldepot.digest import from_hasher
from modeldepot.schemas.lineage import CodeInfo

log = logging.getLogger(__name__)

GIT_TIMEOUT = 5.0
_CHUNK = 1024 * 1024
# Pinned so that the user's diff configuration (colour, external diff drivers,
# textconv filters) cannot change the bytes, and so the digest, of the same change.
_DIFF = ("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--no-textconv")


def capture_code(path: Path | None = None, *, entry_point: str | None = None) -> CodeInfo | None:
    """The git checkout containing ``path`` (default: the working directory).

    None when git is missing, ``path`` is not inside a work tree, or git fails before
    the work tree is known; a later failure leaves only its own field empty. Never
    raises. ``dirty`` means tracked changes or untracked, non-ignored files, and is
    also True when git cannot tell (a clean claim must be earned). ``diff_digest``
    hashes ``git diff HEAD --binary``, so it covers tracked changes only.
    """
    try:
        return _capture(path, entry_point)
    except Exception:  # the last guard: capturing lineage must never fail a push
        log.debug("could not capture the git checkout", exc_info=True)
        return None


def _capture(path: Path | None, entry_point: str | None) -> CodeInfo | None:
    start = Path.cwd() if path is None else Path(path)
    folder = start if start.is_dir() else start.parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(os.fsdecode(top.rstrip(b"\r\n")))
    # Fails in a repository without commits: the checkout is still worth describing.
    commit = _text(_git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"))
    branch = _text(_git(root, "symbolic-ref", "--quiet", "--short", "HEAD"))
    status = _git(root, "status", "--porcelain", "-z", "--untracked-files=normal")
    dirty = status is None or bool(status)
    return CodeInfo(
        repository=_bounded(_repository(root), 1000),
        commit=_bounded(commit, 64),
        branch=_bounded(branch, 255),
        dirty=dirty,
        diff_digest=_diff_digest(root) if dirty and commit else None,
        entry_point=_bounded(entry_point if entry_point is not None else _script(root), 1000),
    )


def _repository(root: Path) -> str | None:
    """URL of remote ``origin``, else of the first remote, without credentials."""
    names = (_text(_git(root, "remote")) or "").split()
    if not names:
        return None
    name = "origin" if "origin" in names else names[0]
    url = _text(_git(root, "remote", "get-url", name))
    return public_url(url) if url else None


def public_url(url: str) -> str | None:
    """``url`` without credentials: no user info for http(s), no password for others.

    None if the URL cannot be parsed (better no URL than one that may leak a secret).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or "@" not in parts.netloc:
        return url  # a path, or scp-like ``git@host:org/repo.git``: nothing secret
    userinfo, _, host = parts.netloc.rpartition("@")
    if parts.scheme.lower() in ("http", "https"):
        netloc = host  # a lone user name here is usually a token
    elif ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    else:
        return url
    return urlunsplit(parts._replace(netloc=netloc))


def _script(root: Path) -> str | None:
    """``sys.argv[0]`` relative to ``root`` when it is a file inside it."""
    argv0 = sys.argv[0] if sys.argv else ""
    if argv0 in ("", "-c", "-m"):
        return None
    try:
        script = Path(argv0).resolve()
        if not script.is_file():
            return None
        return script.relative_to(root.resolve()).as_posix()
    except (OSError, ValueError):
        return None


def _diff_digest(root: Path) -> str | None:
    """sha256 of ``git diff HEAD --binary``, hashed as it streams; None on failure."""
    try:
        process = subprocess.Popen(
            ["git", *_DIFF],
            cwd=root,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        log.debug("git diff: %s", exc)
        return None
    timer = threading.Timer(GIT_TIMEOUT, process.kill)
    timer.daemon = True
    timer.start()
    hasher = hashlib.sha256()
    stdout = process.stdout
    assert stdout is not None
    try:
        while chunk := stdout.read(_CHUNK):
            hasher.update(chunk)
        code = process.wait()
    finally:
        timer.cancel()
        stdout.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    if code != 0:
        log.debug("git diff exited %d (killed after %ss?)", code, GIT_TIMEOUT)
        return None
    return from_hasher(hasher)


def _git(cwd: Path, *args: str) -> bytes | None:
    """Standard output of ``git args`` run in ``cwd``; None if git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("git %s: %s", " ".join(args), exc)
        return None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip()
        log.debug("git %s exited %d: %s", " ".join(args), done.returncode, error)
        return None
    return done.stdout


def _environment() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


def _text(output: bytes | None) -> str | None:
    if output is None:
        return None
    return output.decode("utf-8", "replace").strip() or None


def _bounded(value: str | None, limit: int) -> str | None:
    """``value`` if it fits the wire field; a cut value would be wrong, so None."""
    if value is not None and len(value) > limit:
        log.debug("dropping a captured value of %d characters (limit %d)", len(value), limit)
        return None
    return value
