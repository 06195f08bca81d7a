"""Lineage through the SDK over HTTP: capture of code, environment and format at push,
datasets and relations to other versions, and what is refused before anything is sent."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from safetensors.numpy import save_file

from modeldepot.client.client import Client
from modeldepot.errors import (
    LineageInvalid,
    ModelNotFound,
    ReferenceInvalid,
    RelationCycle,
    RelationNotFound,
    RelationTargetNotFound,
)
from modeldepot.schemas.lineage import RelationRead
from tests.conftest import make_model_dir

IMAGE = "ghcr.io/acme/train:1.2"
GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=t@example.com",
    "-c",
    "commit.gpgsign=false",
]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, check=True)
    return done.stdout.decode().strip()


@pytest.fixture
def dirty_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit on ``main``, a remote with credentials in its
    URL and an uncommitted change to a tracked file; the working directory."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('train')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "remote", "add", "origin", "https://user:secret@git.example.com/acme/ml.git")
    (repo / "train.py").write_text("print('train harder')\n")
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that git cannot take for part of any repository."""
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(folder)
    return folder


def safetensors_model(root: Path) -> Path:
    root.mkdir(parents=True)
    save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, str(root / "model.safetensors"))
    return root


def onnx_model(root: Path) -> Path:
    root.mkdir(parents=True)
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, root / "net.onnx")
    return root


def weights(root: Path, data: bytes = b"weights") -> Path:
    return make_model_dir(root, {"w.bin": data})


# --- capture ----------------------------------------------------------------------------


def test_push_in_a_dirty_checkout_records_commit_branch_dirty_and_diff_digest(
    client, dirty_checkout: Path, tmp_path: Path
) -> None:
    client.push(safetensors_model(tmp_path / "model"), "a/m", entry_point="train.py")
    code = client.get_lineage("a/m:1").code
    assert code is not None
    assert code.commit == git(dirty_checkout, "rev-parse", "HEAD")
    assert code.branch == "main"
    assert code.dirty is True
    diff = subprocess.run(
        ["git", "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--no-textconv"],
        cwd=dirty_checkout,
        capture_output=True,
        check=True,
    ).stdout
    assert diff and code.diff_digest == "sha256:" + hashlib.sha256(diff).hexdigest()
    assert code.repository == "https://git.example.com/acme/ml.git"
    assert code.entry_point == "train.py"


def test_push_in_a_clean_checkout_records_no_diff_digest(
    client, dirty_checkout: Path, tmp_path: Path
) -> None:
    git(dirty_checkout, "commit", "-q", "-am", "second")
    client.push(weights(tmp_path / "model"), "a/m")
    code = client.get_lineage("a/m:1").code
    assert code is not None
    assert code.commit == git(dirty_checkout, "rev-parse", "HEAD")
    assert (code.dirty, code.diff_digest) == (False, None)


def test_push_records_the_python_version_and_installed_packages(
    client, outside_git: Path, tmp_path: Path
) -> None:
    client.push(weights(tmp_path / "model"), "a/m")
    environment = client.get_lineage("a/m:1").environment
    assert environment is not None
    assert environment.python == platform.python_version()
    assert environment.implementation == platform.python_implementation()
    assert environment.packages["httpx"] == metadata.version("httpx")
    assert environment.container_image is None


@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (safetensors_model, ("safetensors", "safetensors", "model.safetensors")),
        (onnx_model, ("onnx", "onnx", "net.onnx")),
    ],
    ids=["safetensors", "onnx"],
)
def test_push_records_the_format_detected_from_the_pushed_files(
    client, outside_git: Path, tmp_path: Path, write, expected
) -> None:
    source = write(tmp_path / "model")
    make_model_dir(source, {"README.md": b"# notes"})
    version = client.push(source, "a/m")
    found = client.get_lineage("a/m:1").format
    assert found is not None
    name, framework, path = expected
    assert (found.name, found.framework, found.path) == (name, framework, path)
    assert found.framework_version == metadata.version(framework)
    assert version.format == name


def test_push_without_capture_records_no_code_environment_or_format(
    client, dirty_checkout: Path, tmp_path: Path
) -> None:
    version = client.push(safetensors_model(tmp_path / "model"), "a/m", capture=False)
    lineage = client.get_lineage("a/m:1")
    assert (lineage.code, lineage.environment, lineage.format) == (None, None, None)
    assert version.format is None


def test_push_outside_any_git_repository_succeeds_without_code(
    client, outside_git: Path, tmp_path: Path
) -> None:
    version = client.push(weights(tmp_path / "model"), "a/m")
    lineage = client.get_lineage(version.ref)
    assert lineage.code is None
    assert lineage.environment is not None


def test_container_image_setting_is_recorded_in_the_environment(
    live, admin_token, outside_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELDEPOT_CONTAINER_IMAGE", IMAGE)
    with Client(live.url, cache_dir=tmp_path / "cache", token=admin_token) as md:
        md.push(weights(tmp_path / "model"), "a/m")
        environment = md.get_lineage("a/m:1").environment
    assert environment is not None and environment.container_image == IMAGE


def test_container_image_argument_wins_over_the_setting(
    live, admin_token, outside_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELDEPOT_CONTAINER_IMAGE", IMAGE)
    with Client(live.url, cache_dir=tmp_path / "cache", token=admin_token) as md:
        md.push(weights(tmp_path / "model"), "a/m", container_image="registry/other:7")
        environment = md.get_lineage("a/m:1").environment
    assert environment is not None and environment.container_image == "registry/other:7"


def test_explicit_lineage_overrides_capture(client, dirty_checkout: Path, tmp_path: Path) -> None:
    given = {
        "code": {"repository": "https://example.com/r.git", "commit": "abc123", "dirty": False},
        "environment": {"python": "2.7.18", "packages": {"numpy": "1.0"}},
        "format": {"name": "other", "path": "model.safetensors"},
    }
    version = client.push(safetensors_model(tmp_path / "model"), "a/m", lineage=given)
    lineage = client.get_lineage("a/m:1")
    assert lineage.code is not None and lineage.code.model_dump(exclude_none=True) == {
        "repository": "https://example.com/r.git",
        "commit": "abc123",
        "dirty": False,
    }
    assert lineage.environment is not None
    assert (lineage.environment.python, lineage.environment.packages) == (
        "2.7.18",
        {"numpy": "1.0"},
    )
    assert lineage.format is not None and lineage.format.name == "other"
    assert version.format == "other"


def test_explicit_code_without_entry_point_takes_the_entry_point_argument(
    client, outside_git: Path, tmp_path: Path
) -> None:
    client.push(
        weights(tmp_path / "model"),
        "a/m",
        lineage={"code": {"commit": "abc123"}},
        entry_point="jobs/train.py",
    )
    code = client.get_lineage("a/m:1").code
    assert code is not None and (code.commit, code.entry_point) == ("abc123", "jobs/train.py")


@pytest.mark.parametrize("capture", [True, False], ids=["capture", "no-capture"])
def test_explicit_environment_keeps_its_own_container_image(
    live,
    admin_token,
    outside_git: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capture: bool,
) -> None:
    monkeypatch.setenv("MODELDEPOT_CONTAINER_IMAGE", IMAGE)
    given = {"environment": {"python": "3.11.7", "container_image": "given/image:1"}}
    with Client(live.url, cache_dir=tmp_path / "cache", token=admin_token) as md:
        md.push(weights(tmp_path / "model"), "a/m", lineage=given, capture=capture)
        environment = md.get_lineage("a/m:1").environment
    assert environment is not None and environment.container_image == "given/image:1"


@pytest.mark.parametrize("capture", [True, False], ids=["capture", "no-capture"])
def test_explicit_environment_without_container_image_gets_the_setting(
    live,
    admin_token,
    outside_git: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capture: bool,
) -> None:
    monkeypatch.setenv("MODELDEPOT_CONTAINER_IMAGE", IMAGE)
    given = {"environment": {"python": "3.11.7"}}
    with Client(live.url, cache_dir=tmp_path / "cache", token=admin_token) as md:
        md.push(weights(tmp_path / "model"), "a/m", lineage=given, capture=capture)
        environment = md.get_lineage("a/m:1").environment
    assert environment is not None
    assert (environment.python, environment.container_image) == ("3.11.7", IMAGE)


# --- datasets and relations -------------------------------------------------------------


def test_datasets_given_to_push_are_returned_by_get_lineage(client, tmp_path: Path) -> None:
    client.push(
        weights(tmp_path / "model"),
        "a/m",
        capture=False,
        datasets=[
            {"uri": "s3://data/train", "digest": "sha256:aa", "role": "train", "name": "clicks"},
            {"uri": "s3://data/test", "role": "test", "size": 10, "personal_data": True},
        ],
    )
    used = client.get_lineage("a/m:1").datasets
    assert [(d.uri, d.digest, d.role, d.name, d.size, d.personal_data) for d in used] == [
        ("s3://data/test", "", "test", "", 10, True),
        ("s3://data/train", "sha256:aa", "train", "clicks", None, False),
    ]


def test_relations_by_alias_record_the_version_the_alias_named_at_push(
    client, tmp_path: Path
) -> None:
    client.push(weights(tmp_path / "b1", b"1"), "a/base", capture=False)
    client.push(weights(tmp_path / "b2", b"2"), "a/base", capture=False)
    client.push(weights(tmp_path / "e1", b"e"), "a/emb", capture=False)
    client.set_alias("a/base", "champion", 1)
    client.set_alias("a/emb", "prod", 1)
    client.push(
        weights(tmp_path / "child"),
        "a/child",
        capture=False,
        derived_from=["a/base@champion"],
        depends_on=["models:/a/emb@prod"],
    )
    client.set_alias("a/base", "champion", 2)
    lineage = client.get_lineage("a/child:1")
    assert lineage.derived_from == [RelationRead(kind="derived_from", model="a/base", number=1)]
    assert lineage.depends_on == [RelationRead(kind="depends_on", model="a/emb", number=1)]
    assert client.get_lineage("a/base:1").used_by == [
        RelationRead(kind="derived_from", model="a/child", number=1)
    ]
    assert client.get_lineage("a/base:2").used_by == []


def test_relation_added_and_removed_later_shows_on_both_ends(client, tmp_path: Path) -> None:
    client.push(weights(tmp_path / "base"), "a/base", capture=False)
    client.push(weights(tmp_path / "child"), "a/child", capture=False)
    added = client.add_relation("a/child", "depends_on", "a/base:1")
    assert added.depends_on == [RelationRead(kind="depends_on", model="a/base", number=1)]
    assert [r.model for r in client.get_lineage("a/base:1").used_by] == ["a/child"]
    removed = client.remove_relation("a/child:1", "depends_on", "a/base")
    assert removed.depends_on == []
    assert client.get_lineage("a/base:1").used_by == []
    with pytest.raises(RelationNotFound):
        client.remove_relation("a/child:1", "depends_on", "a/base:1")


def test_relation_that_would_close_a_cycle_raises_relation_cycle(client, tmp_path: Path) -> None:
    client.push(weights(tmp_path / "base"), "a/base", capture=False)
    client.push(weights(tmp_path / "child"), "a/child", capture=False, derived_from=["a/base:1"])
    with pytest.raises(RelationCycle):
        client.add_relation("a/base:1", "depends_on", "a/child:1")
    with pytest.raises(RelationCycle):
        client.add_relation("a/base:1", "derived_from", "a/base:1")
    assert client.get_lineage("a/base:1").depends_on == []


def test_relation_to_a_missing_version_raises_relation_target_not_found(
    client, tmp_path: Path
) -> None:
    client.push(weights(tmp_path / "base"), "a/base", capture=False)
    with pytest.raises(RelationTargetNotFound):
        client.add_relation("a/base:1", "derived_from", "a/none:1")
    with pytest.raises(RelationTargetNotFound):
        client.add_relation("a/base:1", "derived_from", "a/base@missing")
    with pytest.raises(RelationTargetNotFound):
        client.push(weights(tmp_path / "child"), "a/base", capture=False, derived_from=["a/x:9"])
    assert [v.number for v in client.list_versions("a/base")] == [1]


class RequestLog:
    """Stands in for ``Http.request`` and records every call made through it."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, **kwargs):
        self.calls.append((method, path))
        return self.real(method, path, **kwargs)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"lineage": {"datasets": [{"uri": "s3://d", "role": "training"}]}}, "datasets.0.role"),
        ({"lineage": {"gitt": {"commit": "abc"}}}, "gitt"),
        ({"lineage": {"code": {"dirty": "maybe"}}}, "code.dirty"),
        ({"datasets": [{"uri": ""}]}, "uri"),
    ],
    ids=["bad-role", "unknown-field", "bad-type", "empty-uri"],
)
def test_malformed_lineage_raises_lineage_invalid_before_any_request(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments, names: str
) -> None:
    log = RequestLog(client.http.request)
    monkeypatch.setattr(client.http, "request", log)
    with pytest.raises(LineageInvalid) as raised:
        client.push(weights(tmp_path / "model"), "a/m", **arguments)
    assert names in str(raised.value)
    assert log.calls == []
    with pytest.raises(ModelNotFound):
        client.get_model("a/m")


def test_malformed_relation_ref_raises_reference_invalid_before_any_request(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = RequestLog(client.http.request)
    monkeypatch.setattr(client.http, "request", log)
    with pytest.raises(ReferenceInvalid):
        client.push(weights(tmp_path / "model"), "a/m", derived_from=["Not A Ref"])
    assert log.calls == []
