"""The SDK against a real server over HTTP: push, pull, cache, resume, safety."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from modeldepot.client import push as push_mod
from modeldepot.errors import (
    AliasNotFound,
    ModelNotFound,
    ReferenceInvalid,
    ServerUnreachable,
    VersionDeleted,
    VersionInUse,
)
from tests.conftest import make_model_dir


class CountingProgress:
    """Bytes per phase: its total, those moved (``done``) and those ``skipped``."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.phase = ""

    def begin(self, phase: str, total: int) -> None:
        self.phase = phase
        self.totals[phase] = total
        self.done.setdefault(phase, 0)
        self.skipped.setdefault(phase, 0)

    def advance(self, n: int) -> None:
        self.done[self.phase] += n

    def skip(self, n: int) -> None:
        self.skipped[self.phase] += n

    def end(self) -> None:
        pass


def test_push_then_pull_round_trips_every_byte(client, tmp_path: Path) -> None:
    files = {
        "weights.bin": os.urandom(300_000),
        "config.json": b'{"lr": 0.1}',
        "sub/dir/x.txt": b"x",
    }
    source = make_model_dir(tmp_path / "model", files)
    version = client.push(
        source,
        "ads/recommender",
        description="first",
        tags={"team": "ads"},
        params={"lr": 0.01, "layers": 3, "opt": "adam", "bn": True},
        metrics={"auc": 0.91},
    )
    assert (version.model, version.number, version.file_count) == ("ads/recommender", 1, 3)
    assert version.params == {"lr": 0.01, "layers": 3, "opt": "adam", "bn": True}
    assert version.created_by == "admin"
    out = tmp_path / "out"
    pulled = client.pull("ads/recommender:1", out)
    assert pulled.digest == version.digest
    for relative, data in files.items():
        assert (out / relative).read_bytes() == data


def test_version_digest_depends_only_on_content(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"a.bin": b"a", "b/c.bin": b"c"})
    first = client.push(source, "x/one")
    second = client.push(source, "y/two", description="other metadata", tags={"k": "v"})
    assert first.digest == second.digest
    assert client.get_version(f"y/two@{first.digest}").number == 1


def test_repush_of_unchanged_content_sends_no_blob_bytes(
    client, uploaded: list[str], tmp_path: Path
) -> None:
    source = make_model_dir(tmp_path / "m", {"w.bin": os.urandom(200_000), "c.json": b"{}"})
    first = CountingProgress()
    client.push(source, "a/m", progress=first)
    assert sorted(uploaded) == ["c.json", "w.bin"]
    assert first.totals == first.done == {"push": 200_002}
    assert first.skipped == {"push": 0}
    uploaded.clear()
    again = CountingProgress()
    version = client.push(source, "a/m", progress=again)
    assert uploaded == []
    # Bytes the server already holds are reported as skipped, not as sent.
    assert again.totals == again.skipped == {"push": 200_002}
    assert again.done == {"push": 0}
    assert version.number == 2


def test_second_pull_reads_nothing_from_server(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"w.bin": os.urandom(100_000)})
    client.push(source, "a/m")
    first = CountingProgress()
    client.pull("a/m", tmp_path / "one", progress=first)
    assert first.done["download"] == 100_000
    second = CountingProgress()
    client.pull("a/m", tmp_path / "two", progress=second)
    # The whole version, all of it found in the cache.
    assert second.totals["download"] == second.skipped["download"] == 100_000
    assert second.done["download"] == 0
    assert (tmp_path / "two" / "w.bin").stat().st_size == 100_000


def test_overlapping_version_downloads_only_new_blobs(client, tmp_path: Path) -> None:
    shared = os.urandom(50_000)
    client.push(make_model_dir(tmp_path / "v1", {"shared.bin": shared}), "a/m")
    client.pull("a/m:1", tmp_path / "p1")
    client.push(
        make_model_dir(tmp_path / "v2", {"shared.bin": shared, "new.bin": b"n" * 10}), "a/m"
    )
    progress = CountingProgress()
    client.pull("a/m:2", tmp_path / "p2", progress=progress)
    assert progress.done["download"] == 10
    assert progress.skipped["download"] == 50_000 and progress.totals["download"] == 50_010


def test_pull_without_cache_writes_only_target(client, tmp_path: Path) -> None:
    client.push(make_model_dir(tmp_path / "m", {"a.bin": b"abc", "b.bin": b"abc"}), "a/m")
    client.pull("a/m", tmp_path / "out", use_cache=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.bin", "b.bin"]
    assert not (tmp_path / "cache" / "blobs").exists()


def test_large_blob_uses_resumable_session(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push_mod, "SESSION_THRESHOLD", 1024)
    data = os.urandom(3 * 1024 * 1024 + 17)
    client.push(make_model_dir(tmp_path / "m", {"big.bin": data}), "a/big")
    client.pull("a/big", tmp_path / "out")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data


@pytest.mark.parametrize("direct_io", ["default", "false"])
def test_pull_writes_exact_bytes_with_and_without_direct_io(
    client, live, admin_token, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct_io: str
) -> None:
    """``MODELDEPOT_PULL_DIRECT_IO`` changes how files are written, never what: a file of
    unaligned size comes out exact, downloaded (cold cache) or copied (warm cache). It
    applies to the pulled files; the cache's copies always go through the page cache."""
    from modeldepot import directio
    from modeldepot.client.client import Client

    data = os.urandom(5 * 1024 * 1024 + 4097 + 3)
    files = {"big.bin": data, "small.txt": b"x"}
    client.push(make_model_dir(tmp_path / "m", files), "a/m")
    if direct_io == "false":
        monkeypatch.setenv("MODELDEPOT_PULL_DIRECT_IO", "false")
    else:
        monkeypatch.delenv("MODELDEPOT_PULL_DIRECT_IO", raising=False)
    opened: list[tuple[bool, bool]] = []  # (in the cache, direct)
    real_create = directio.create
    cache = tmp_path / "own-cache"

    def recording_create(path, *, direct=True):
        opened.append((Path(path).is_relative_to(cache), direct))
        return real_create(path, direct=direct)

    monkeypatch.setattr(directio, "create", recording_create)

    with Client(live.url, cache_dir=cache, token=admin_token) as md:
        assert md.settings.pull_direct_io is (direct_io == "default")
        for pull, source in [("cold", "download"), ("warm", "cache")]:
            progress = CountingProgress()
            md.pull("a/m", tmp_path / pull, progress=progress)
            downloaded = progress.done["download"]
            assert downloaded == (len(data) + 1 if source == "download" else 0)
            for name, content in files.items():
                assert (tmp_path / pull / name).read_bytes() == content
    assert sorted(opened) == [(False, direct_io == "default")] * 2 + [(True, False)] * 2
    cached = [p for p in (tmp_path / "own-cache" / "blobs").rglob("*") if p.is_file()]
    assert sorted(p.read_bytes() for p in cached) == sorted(files.values())


def test_references_resolve_in_every_form(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"a": b"1"})
    v1 = client.push(source, "team/sub/model")
    make_model_dir(source, {"a": b"2"})
    v2 = client.push(source, "team/sub/model")
    client.set_alias("team/sub/model", "champion", 1)
    assert client.get_version("team/sub/model").number == 2
    assert client.get_version("team/sub/model:1").digest == v1.digest
    assert client.get_version("team/sub/model@champion").number == 1
    assert client.get_version(f"team/sub/model@{v2.digest}").number == 2
    assert client.get_version("models:/team/sub/model/1").number == 1
    assert client.get_version("models:/team/sub/model@champion").number == 1
    with pytest.raises(ReferenceInvalid):
        client.get_version("Team/Model")
    with pytest.raises(AliasNotFound):
        client.get_version("team/sub/model@nope")
    with pytest.raises(ModelNotFound):
        client.get_version("team/none")


def test_alias_lifecycle_and_history(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"a": b"1"})
    client.push(source, "a/m")
    client.push(source, "a/m")
    client.set_alias("a/m", "champion", 1)
    client.set_alias("a/m", "champion", 2)
    with pytest.raises(VersionInUse):
        client.delete_version("a/m:2")
    client.delete_alias("a/m", "champion")
    history = client.alias_history("a/m", "champion")
    assert [(e.from_version, e.to_version) for e in history] == [(2, None), (1, 2), (None, 1)]
    # Who moved it: the owner of the token the client sent, never a declared name.
    assert all(e.actor == "admin" for e in history)


def test_deleted_version_stops_resolving_until_restored(client, tmp_path: Path) -> None:
    source = make_model_dir(tmp_path / "m", {"a": b"1"})
    client.push(source, "a/m")
    client.push(source, "a/m")
    client.delete_version("a/m:2")
    assert client.get_version("a/m").number == 1
    with pytest.raises(VersionDeleted):
        client.get_version("a/m:2")
    assert client.get_version("a/m:2", include_deleted=True).deleted_by == "admin"
    assert [v.number for v in client.list_versions("a/m")] == [1]
    assert [v.number for v in client.list_versions("a/m", include_deleted=True)] == [2, 1]
    client.restore_version("a/m:2")
    assert client.get_version("a/m").number == 2


def test_listing_paginates_through_every_model(client) -> None:
    for i in range(7):
        client.create_model(f"ns/m{i}")
    client.create_model("other/z")
    names = [
        m.name
        for m in client._pages(type(client.get_model("ns/m0")), "/models", {"prefix": "ns/"}, None)
    ]
    assert names == [f"ns/m{i}" for i in range(7)]
    assert [m.name for m in client.list_models(limit=3)] == ["ns/m0", "ns/m1", "ns/m2"]


def test_pull_resumes_a_broken_download_with_a_range_request(client, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    client.push(make_model_dir(tmp_path / "m", {"big.bin": data}), "a/m")
    real_download = client.http.download
    requests: list[dict[str, str]] = []

    @contextlib.contextmanager
    def breaking_once(target, headers=None, **kwargs):
        requests.append(dict(headers or {}))
        with real_download(target, headers=headers, **kwargs) as response:
            if len(requests) == 1:
                whole = response.chunks

                def cut_after_first_chunk():
                    for chunk in whole():
                        yield chunk
                        raise ServerUnreachable("connection reset by peer")

                response.chunks = cut_after_first_chunk
            yield response

    client.http.download = breaking_once
    client.pull("a/m", tmp_path / "out", use_cache=False)
    assert len(requests) == 2
    assert "Range" not in requests[0]
    assert requests[1]["Range"].startswith("bytes=") and requests[1]["Range"] != "bytes=0-"
    assert (tmp_path / "out" / "big.bin").read_bytes() == data


def test_pull_leaves_only_the_versions_files_and_fills_the_cache(client, tmp_path: Path) -> None:
    files = {"a.bin": b"same", "sub/b.bin": b"same", "c.bin": os.urandom(10_000)}
    client.push(make_model_dir(tmp_path / "m", files), "a/m")
    out = tmp_path / "out"
    client.pull("a/m", out)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(files)
    assert all((out / name).read_bytes() == data for name, data in files.items())
    cached = [p for p in (tmp_path / "cache" / "blobs").rglob("*") if p.is_file()]
    assert len(cached) == 2  # one blob per distinct content
    assert not list((tmp_path / "cache" / "tmp").iterdir())


def test_identities_through_the_sdk(client, live, tmp_path: Path) -> None:
    """Accounts, groups, grants and tokens from Python, errors as domain exceptions."""
    from modeldepot.client.client import Client
    from modeldepot.errors import Forbidden, GrantNotFound, TokenRevoked, Unauthenticated

    assert (client.whoami().name, client.whoami().grants) == ("admin", ["admin on /"])
    client.create_user("alice", password="alice's password", display_name="Alice")
    client.create_service_account("ci")
    assert [u.name for u in client.list_users()] == ["admin", "alice", "ci"]
    client.create_group("team")
    assert client.add_group_member("team", "alice").members == ["alice"]
    assert client.grant("team", "contributor", "ads/").role == "contributor"
    client.grant("ci", "contributor", "ads/")

    issued = client.login("alice", "alice's password", token_name="sdk")
    with Client(live.url, cache_dir=tmp_path / "alice", token=issued.token) as alice:
        me = alice.whoami()
        assert (me.name, me.groups, me.token.name) == ("alice", ["team"], "sdk")
        with pytest.raises(Forbidden):
            alice.grant("alice", "admin", "/")
        scoped = alice.create_token("narrow", prefix="ads/", role="reader")
        assert {t.name for t in alice.list_tokens()} == {"sdk", "narrow"}
        alice.revoke_token(scoped.id)
    with (
        Client(live.url, cache_dir=tmp_path / "s", token=scoped.token) as revoked,
        pytest.raises(TokenRevoked),
    ):
        revoked.whoami()

    robot = client.create_token("deploy", owner="ci", prefix="ads/", role="contributor")
    assert {t.owner for t in client.list_tokens(everyone=True)} >= {"admin", "alice", "ci"}
    client.disable_user("ci")
    with (
        Client(live.url, cache_dir=tmp_path / "ci", token=robot.token) as ci,
        pytest.raises(Unauthenticated),
    ):
        ci.whoami()
    assert client.revoke_grant("team", "ads/").role == "contributor"
    with pytest.raises(GrantNotFound):
        client.revoke_grant("team", "ads/")
    client.remove_group_member("team", "alice")
    client.delete_group("team")
    client.delete_user("ci")
    assert [g.name for g in client.list_groups()] == []
    assert client.get_user("alice").groups == []
