"""Capture of the git checkout (``capture_code``) on real repositories made with git."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modeldepot.client.capture import code as code_module
from modeldepot.client.capture.code import capture_code, public_url

GIT = "/usr/bin/git" if Path("/usr/bin/git").exists() else "git"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration; a fixed author."""
    config = tmp_path / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on branch main with one commit: train.py, data.bin and .gitignore."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('training')\n")
    (root / "data.bin").write_bytes(bytes(range(256)))
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def diff_digest(repo: Path) -> str:
    done = subprocess.run([GIT, "diff", "HEAD", "--binary"], cwd=repo, capture_output=True)
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def test_clean_checkout_records_commit_and_branch(repo: Path) -> None:
    info = capture_code(repo)
    assert info is not None
    assert info.commit == git(repo, "rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.dirty is False
    assert info.diff_digest is None
    assert info.repository is None  # no remote


def test_default_path_is_the_working_directory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")
    info = capture_code()
    assert info is not None and info.commit == git(repo, "rev-parse", "HEAD")


def test_a_file_or_subdirectory_finds_its_checkout(repo: Path) -> None:
    (repo / "models" / "v1").mkdir(parents=True)
    (repo / "models" / "v1" / "model.pkl").write_bytes(b"x")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "model")
    for path in (repo / "models" / "v1", repo / "models" / "v1" / "model.pkl"):
        info = capture_code(path)
        assert info is not None and info.commit == git(repo, "rev-parse", "HEAD")


def test_tracked_change_is_dirty_with_the_digest_of_git_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('training harder')\n")
    (repo / "data.bin").write_bytes(bytes(range(255, -1, -1)))
    info = capture_code(repo)
    assert info is not None
    assert info.dirty is True
    assert info.diff_digest == diff_digest(repo)
    assert "GIT binary patch" in git(repo, "diff", "HEAD", "--binary")


def test_staged_change_counts_too(repo: Path) -> None:
    (repo / "train.py").write_text("print('staged')\n")
    git(repo, "add", "train.py")
    info = capture_code(repo)
    assert info is not None and info.dirty is True and info.diff_digest == diff_digest(repo)


def test_digest_follows_the_change(repo: Path) -> None:
    (repo / "train.py").write_text("print('one')\n")
    first = capture_code(repo)
    (repo / "train.py").write_text("print('two')\n")
    second = capture_code(repo)
    assert first is not None and second is not None
    assert first.diff_digest != second.diff_digest


def test_user_diff_configuration_does_not_change_the_digest(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    plain = capture_code(repo)
    git(repo, "config", "color.ui", "always")
    git(repo, "config", "color.diff", "always")
    coloured = capture_code(repo)
    assert plain is not None and coloured is not None
    assert coloured.diff_digest == plain.diff_digest


def test_untracked_file_makes_the_checkout_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("new\n")
    info = capture_code(repo)
    assert info is not None and info.dirty is True
    # Untracked files are not part of `git diff HEAD`: the digest is of the empty diff.
    assert info.diff_digest == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_ignored_file_keeps_the_checkout_clean(repo: Path) -> None:
    (repo / "training.log").write_text("epoch 1\n")
    info = capture_code(repo)
    assert info is not None and info.dirty is False and info.diff_digest is None


def test_untracked_files_count_even_when_git_is_told_to_hide_them(repo: Path) -> None:
    git(repo, "config", "status.showUntrackedFiles", "no")
    (repo / "notes.txt").write_text("new\n")
    info = capture_code(repo)
    assert info is not None and info.dirty is True


def test_detached_head_has_no_branch(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach", head)
    info = capture_code(repo)
    assert info is not None and info.commit == head and info.branch is None


def test_repository_without_commits_is_described_without_a_commit(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "trunk")
    info = capture_code(root)
    assert info is not None
    assert (info.commit, info.branch, info.dirty, info.diff_digest) == (None, "trunk", False, None)
    (root / "train.py").write_text("x = 1\n")
    info = capture_code(root)
    assert info is not None and info.dirty is True and info.diff_digest is None


def test_origin_is_preferred_to_other_remotes(repo: Path) -> None:
    git(repo, "remote", "add", "backup", "https://backup.example.com/repo.git")
    git(repo, "remote", "add", "origin", "git@github.com:acme/repo.git")
    info = capture_code(repo)
    assert info is not None and info.repository == "git@github.com:acme/repo.git"


def test_first_remote_is_used_without_origin(repo: Path) -> None:
    git(repo, "remote", "add", "upstream", "https://git.example.com/acme/repo.git")
    info = capture_code(repo)
    assert info is not None and info.repository == "https://git.example.com/acme/repo.git"


def test_credentials_in_the_remote_url_are_never_recorded(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://alice:s3cret@git.example.com/acme/repo.git")
    info = capture_code(repo)
    assert info is not None and info.repository == "https://git.example.com/acme/repo.git"
    assert "s3cret" not in info.model_dump_json()


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://alice:s3cret@git.example.com/r.git", "https://git.example.com/r.git"),
        ("https://ghp_token@github.com/acme/r.git", "https://github.com/acme/r.git"),
        ("http://u:p@host:8080/r.git", "http://host:8080/r.git"),
        ("HTTPS://u:p@host/r", "https://host/r"),
        ("ssh://git:pw@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git@host:2222/r.git", "ssh://git@host:2222/r.git"),
        ("git@github.com:acme/r.git", "git@github.com:acme/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("https://github.com/acme/r.git", "https://github.com/acme/r.git"),
        ("https://u:p@[::1/r.git", None),  # unparseable: better no URL than a leaked one
    ],
)
def test_public_url_drops_credentials(url: str, public: str | None) -> None:
    assert public_url(url) == public


def test_outside_a_repository_gives_none(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert capture_code(tmp_path / "plain") is None


def test_a_missing_path_gives_none(tmp_path: Path) -> None:
    assert capture_code(tmp_path / "nowhere" / "model.pkl") is None


def test_without_a_git_binary_gives_none(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = repo.parent / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert capture_code(repo) is None


def fake_git(folder: Path, script: str) -> Path:
    """A ``git`` on PATH running ``script`` (sh), with the real git as $REAL."""
    folder.mkdir()
    program = folder / "git"
    program.write_text(f"#!/bin/sh\nREAL={GIT}\n{script}\n")
    program.chmod(0o755)
    return folder


def test_a_hanging_git_is_abandoned(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = fake_git(repo.parent / "bin", "exec sleep 30")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(code_module, "GIT_TIMEOUT", 0.3)
    started = time.monotonic()
    assert capture_code(repo) is None
    assert time.monotonic() - started < 5


def test_a_hanging_diff_leaves_the_rest(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'if [ "$1" = diff ]; then exec sleep 30; fi\nexec "$REAL" "$@"'
    folder = fake_git(repo.parent / "bin", script)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(code_module, "GIT_TIMEOUT", 0.5)
    (repo / "train.py").write_text("print('changed')\n")
    started = time.monotonic()
    info = capture_code(repo)
    assert time.monotonic() - started < 5
    assert info is not None
    assert info.commit == git(repo, "rev-parse", "HEAD") and info.dirty is True
    assert info.diff_digest is None


def test_a_failing_status_is_reported_as_dirty(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = 'if [ "$1" = status ]; then exit 128; fi\nexec "$REAL" "$@"'
    folder = fake_git(repo.parent / "bin", script)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    info = capture_code(repo)
    assert info is not None and info.dirty is True  # clean must be established, not assumed


def test_git_never_prompts(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = repo.parent / "env.txt"
    script = f'echo "$GIT_TERMINAL_PROMPT $GIT_OPTIONAL_LOCKS" > {record}\nexec "$REAL" "$@"'
    folder = fake_git(repo.parent / "bin", script)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    assert capture_code(repo) is not None
    assert record.read_text().split() == ["0", "0"]


def test_entry_point_given_is_kept(repo: Path) -> None:
    info = capture_code(repo, entry_point="pipelines/train.py:main")
    assert info is not None and info.entry_point == "pipelines/train.py:main"


def test_entry_point_defaults_to_the_script_inside_the_repository(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "jobs").mkdir()
    (repo / "jobs" / "fit.py").write_text("")
    monkeypatch.chdir(repo / "jobs")
    monkeypatch.setattr(sys, "argv", ["fit.py", "--epochs", "3"])
    info = capture_code(repo)
    assert info is not None and info.entry_point == "jobs/fit.py"


@pytest.mark.parametrize("argv0", ["-c", "", "/usr/bin/python3"])
def test_entry_point_is_none_outside_the_repository(
    repo: Path, monkeypatch: pytest.MonkeyPatch, argv0: str
) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys, "argv", [argv0])
    info = capture_code(repo)
    assert info is not None and info.entry_point is None
