"""Paths through the SDK against a real server: push refuses what the server would,
before sending a byte; pull checks where every file goes before creating anything;
versions stored before the commit rules stay pullable where the filesystem allows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modeldepot import manifest as manifest_mod
from modeldepot.client import pull as pull_mod
from modeldepot.client import push as push_mod
from modeldepot.client.progress import NoProgress
from modeldepot.errors import (
    IsADirectory,
    NotADirectory,
    PathConflict,
    PathInvalid,
    SymlinkOutside,
)
from modeldepot.schemas import VersionCreate
from tests.conftest import make_model_dir


def store_unchecked(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, files: dict[str, bytes]
) -> None:
    """Commit ``files`` as a server from before the commit rules did: only the safety
    rule (``normalize_path``) applies. The rules are back in force on return."""
    with monkeypatch.context() as old_rules:
        old_rules.setattr(manifest_mod, "portable_path", manifest_mod.normalize_path)
        old_rules.setattr(manifest_mod, "check_layout", lambda paths, fold=True: None)
        local = []
        for n, (path, data) in enumerate(files.items()):
            source = tmp_path / f"blob-{n}"
            source.write_bytes(data)
            local.append(push_mod.hash_file(path, source))
        push_mod.upload_missing(client.http, local, 1, NoProgress())
        manifest = push_mod.build_manifest(local)
        push_mod.commit(client.http, name, manifest, VersionCreate(files=[]))


def everything_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_pull_checks_a_link_out_of_the_target_before_creating_any_directory(
    client, tmp_path: Path
) -> None:
    client.push(
        make_model_dir(tmp_path / "m", {"a/b/ok.bin": b"ok", "sub/deeper/file.txt": b"x"}),
        "a/m",
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "sub").symlink_to(outside)
    with pytest.raises(PathInvalid):
        client.pull("a/m", target)
    assert list(outside.iterdir()) == []  # no "deeper" made through the link
    assert everything_under(target) == ["sub"]  # nor "a/b" for the file that was fine


def test_pull_of_a_stored_file_and_directory_is_path_conflict_before_writing(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store_unchecked(client, monkeypatch, tmp_path, "a/m", {"x": b"file", "x/y.bin": b"below"})
    target = tmp_path / "target"
    with pytest.raises(PathConflict) as excinfo:
        client.pull("a/m", target)
    assert excinfo.value.code == "PATH_CONFLICT"
    assert sorted(excinfo.value.extra["paths"]) == ["x", "x/y.bin"]
    assert not target.exists() or everything_under(target) == []


STORED_BEFORE_THE_RULES = {
    "Model.bin": b"upper",
    "model.bin": b"lower",
    "C:evil.bin": b"colon",
    "invoice\u202egnp.exe": b"bidi",
    "nul.txt": b"device name",
}


def test_versions_stored_before_the_rules_stay_pullable_where_the_filesystem_allows(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if pull_mod._ignores_case(tmp_path):
        pytest.skip("this filesystem ignores case")
    store_unchecked(client, monkeypatch, tmp_path, "a/m", STORED_BEFORE_THE_RULES)
    target = tmp_path / "target"
    client.pull("a/m", target)
    assert {p: (target / p).read_bytes() for p in STORED_BEFORE_THE_RULES} == (
        STORED_BEFORE_THE_RULES
    )
    assert everything_under(target) == sorted(STORED_BEFORE_THE_RULES)


def test_pull_of_a_case_collision_onto_a_case_insensitive_filesystem_is_path_conflict(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store_unchecked(client, monkeypatch, tmp_path, "a/m", {"Model.bin": b"1", "model.bin": b"2"})
    # No case-insensitive filesystem can be mounted here: answer the probe as macOS would.
    monkeypatch.setattr(pull_mod, "_ignores_case", lambda root: True)
    target = tmp_path / "target"
    with pytest.raises(PathConflict):
        client.pull("a/m", target)
    assert everything_under(target) == []


def test_the_case_probe_sees_this_filesystem_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "probe").write_bytes(b"")
    expected = (tmp_path / "PROBE").exists()
    assert pull_mod._ignores_case(tmp_path) is expected
    assert everything_under(tmp_path) == ["probe"]


def test_pull_on_windows_refuses_a_stored_name_windows_cannot_hold_before_writing(
    client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store_unchecked(client, monkeypatch, tmp_path, "a/m", {"ok.bin": b"ok", "C:evil.bin": b"x"})
    monkeypatch.setattr(pull_mod, "WINDOWS", True)
    target = tmp_path / "target"
    with pytest.raises(PathInvalid):
        client.pull("a/m", target)
    assert not target.exists()


def test_pull_onto_a_file_where_a_directory_is_needed_is_not_a_directory(
    client, tmp_path: Path
) -> None:
    client.push(make_model_dir(tmp_path / "m", {"a.bin": b"a", "sub/x.bin": b"x"}), "a/m")
    target = tmp_path / "target"
    target.mkdir()
    (target / "sub").write_bytes(b"in the way")
    with pytest.raises(NotADirectory) as excinfo:
        client.pull("a/m", target)
    assert excinfo.value.code == "NOT_A_DIRECTORY"
    assert everything_under(target) == ["sub"]


def test_pull_onto_a_directory_where_a_file_is_needed_is_is_a_directory(
    client, tmp_path: Path
) -> None:
    client.push(make_model_dir(tmp_path / "m", {"a/b.bin": b"a", "x.bin": b"x"}), "a/m")
    target = tmp_path / "target"
    (target / "x.bin").mkdir(parents=True)
    with pytest.raises(IsADirectory) as excinfo:
        client.pull("a/m", target)
    assert excinfo.value.code == "IS_A_DIRECTORY"
    assert everything_under(target) == ["x.bin"]


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"Model.bin": b"1", "model.bin": b"2"}, PathConflict),
        ({"nul.txt": b"x", "ok.bin": b"y"}, PathInvalid),
        ({"invoice\u202egnp.exe": b"x"}, PathInvalid),
        ({"weights.bin:hidden": b"x"}, PathInvalid),
    ],
)
def test_push_refuses_paths_the_server_would_before_reading_or_sending_a_byte(
    client, uploaded: list[str], tmp_path: Path, files: dict[str, bytes], error: type
) -> None:
    source = make_model_dir(tmp_path / "m", files)
    with pytest.raises(error):
        client.push(source, "a/m")
    assert uploaded == []


def test_push_refuses_a_file_link_leading_outside_and_names_it(
    client, uploaded: list[str], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the registry")
    source = make_model_dir(tmp_path / "m", {"model.bin": b"weights"})
    (source / "sub").mkdir()
    (source / "sub" / "hostname").symlink_to(secret)
    with pytest.raises(SymlinkOutside) as excinfo:
        client.push(source, "a/m")
    assert excinfo.value.code == "SYMLINK_OUTSIDE"
    assert excinfo.value.extra["path"] == "sub/hostname"
    assert "sub/hostname" in excinfo.value.detail
    assert uploaded == []


def test_push_with_follow_symlinks_sends_what_links_point_at(client, tmp_path: Path) -> None:
    secret = tmp_path / "shared.txt"
    secret.write_bytes(b"shared tokenizer")
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "words.txt").write_bytes(b"a b c")
    source = make_model_dir(tmp_path / "m", {"model.bin": b"weights"})
    (source / "tokenizer.txt").symlink_to(secret)
    (source / "vocab").symlink_to(tmp_path / "vocab")
    (source / "loop").symlink_to(source)  # walked once, not forever
    version = client.push(source, "a/m", follow_symlinks=True)
    assert version.file_count == 3
    out = tmp_path / "out"
    client.pull("a/m", out)
    assert everything_under(out) == ["model.bin", "tokenizer.txt", "vocab", "vocab/words.txt"]
    assert (out / "tokenizer.txt").read_bytes() == b"shared tokenizer"


def test_push_sends_a_file_link_that_stays_inside_without_the_flag(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"weights/v2.bin": b"weights"})
    os.symlink("weights/v2.bin", source / "latest.bin")
    version = client.push(source, "a/m")
    assert version.file_count == 2
    out = tmp_path / "out"
    client.pull("a/m", out)
    assert (out / "latest.bin").read_bytes() == b"weights"


def test_cli_pull_of_a_stored_file_and_directory_is_one_line_path_conflict(
    client, live, admin_token, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The version from the issue: stored, then "never pullable" with a raw
    # "[Errno 21] Is a directory" and no code.
    from click.testing import CliRunner

    from modeldepot.cli.main import cli

    store_unchecked(client, monkeypatch, tmp_path, "a/m", {"x": b"file", "x/y.bin": b"below"})
    monkeypatch.setenv("MODELDEPOT_CACHE_DIR", str(tmp_path / "cli-cache"))
    monkeypatch.setenv("MODELDEPOT_TOKEN", admin_token)
    target = tmp_path / "target"
    result = CliRunner().invoke(cli, ["--url", live.url, "pull", "a/m", "-o", str(target), "-q"])
    assert result.exit_code == 1
    assert result.stderr.startswith("modeldepot: error: PATH_CONFLICT: ")
    assert len(result.stderr.splitlines()) == 1
    assert everything_under(target) == []
