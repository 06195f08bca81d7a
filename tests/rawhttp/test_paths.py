"""Which transfers go over a plain socket, and those transfers against the real server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modeldepot.client import rawhttp
from modeldepot.client.http import Http
from modeldepot.errors import (
    BlobNotFound,
    DigestMismatch,
    UploadOffsetMismatch,
)
from tests.conftest import make_model_dir
from tests.rawhttp.support import (
    MiB,
    body_of,
    digest_of,
)

# Choosing the path ------------------------------------------------------------------------


def test_plain_http_without_a_proxy_goes_over_a_socket_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only http:// URLs whose host no proxy from the environment claims use the socket."""
    url = "http://127.0.0.1:1234/x"
    assert rawhttp.usable(url)
    assert not rawhttp.usable("https://127.0.0.1:1234/x")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert not rawhttp.usable(url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert rawhttp.usable(url)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example:3128")
    assert not rawhttp.usable(url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert rawhttp.usable(url)


def test_a_sessions_raw_transfers_follow_the_same_rule_for_its_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``Http.raw_transfers`` is on for a plain http base URL only while no proxy claims it."""

    def raw(base_url: str) -> bool:
        http = Http(base_url, token=None, timeout=1)
        http.close()
        return http.raw_transfers

    assert raw("http://127.0.0.1:1234")
    assert not raw("https://127.0.0.1:1234")
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    assert not raw("http://127.0.0.1:1234")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert raw("http://127.0.0.1:1234")


# Against the real server --------------------------------------------------------------------


def test_a_blob_downloads_whole_and_from_an_offset_over_the_socket(
    client, tmp_path: Path, raw_calls: list[tuple[str, str]]
) -> None:
    """A pushed multi-MiB blob of unaligned size comes back exact, whole or as a 206 tail."""
    data = os.urandom(3 * MiB + 12_345)
    digest = digest_of(data)
    client.push(make_model_dir(tmp_path / "m", {"w.bin": data}), "a/m")
    raw_calls.clear()
    with client.http.download(f"/blobs/{digest}") as response:
        assert response.status_code == 200
        assert b"".join(bytes(chunk) for chunk in response.chunks()) == data
    start = MiB + 7
    with client.http.download(f"/blobs/{digest}", headers={"Range": f"bytes={start}-"}) as tail:
        assert tail.status_code == 206
        assert b"".join(bytes(chunk) for chunk in tail.chunks()) == data[start:]
    assert [method for method, url in raw_calls] == ["GET", "GET"]
    assert all(url.endswith(f"/api/v1/blobs/{digest}") for _, url in raw_calls)


def test_downloading_an_unknown_blob_raises_blob_not_found(
    client, raw_calls: list[tuple[str, str]]
) -> None:
    """The server's 404 BLOB_UNKNOWN, read off the socket, becomes BlobNotFound."""
    with pytest.raises(BlobNotFound), client.http.download(f"/blobs/{digest_of(b'nope')}"):
        pass
    assert len(raw_calls) == 1


def test_send_file_stores_the_blob_and_reports_every_byte_sent(
    client, tmp_path: Path, raw_calls: list[tuple[str, str]]
) -> None:
    """A monolithic PUT with ``sendfile`` stores the blob; ``sent`` totals its size exactly."""
    # 17 MiB is more than one ``sendfile`` slice, so progress comes in several reports.
    data = os.urandom(rawhttp.SEND_SLICE + MiB + 5)
    digest = digest_of(data)
    path = tmp_path / "blob"
    path.write_bytes(data)
    reports: list[int] = []
    http = client.http
    assert http.request("POST", "/blobs/missing", json={"digests": [digest]}).json() == {
        "missing": [digest]
    }
    http.send_file("PUT", f"/blobs/{digest}", path, 0, len(data), sent=reports.append)
    assert sum(reports) == len(data) and len(reports) >= 2
    assert raw_calls == [
        ("POST", f"{http.base_url}/api/v1/blobs/missing"),
        ("PUT", f"{http.base_url}/api/v1/blobs/{digest}"),
    ]
    missing = http.request("POST", "/blobs/missing", json={"digests": [digest]}).json()
    assert missing == {"missing": []}
    assert body_of(http, f"/blobs/{digest}") == data


def test_send_file_sends_exactly_the_window_of_the_file_it_is_given(client, tmp_path: Path) -> None:
    """``offset`` and ``length`` pick the bytes sent: the stored blob is that slice."""
    data = os.urandom(4 * MiB)
    offset, length = MiB + 3, 2 * MiB + 1
    part = data[offset : offset + length]
    path = tmp_path / "blob"
    path.write_bytes(data)
    reports: list[int] = []
    client.http.send_file(
        "PUT", f"/blobs/{digest_of(part)}", path, offset, length, sent=reports.append
    )
    assert sum(reports) == length
    assert body_of(client.http, f"/blobs/{digest_of(part)}") == part


def test_send_file_with_bytes_that_do_not_match_the_digest_raises_digest_mismatch(
    client, tmp_path: Path
) -> None:
    """The server verifies a monolithic PUT at its end; its 400 becomes DigestMismatch."""
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(2 * MiB + 1))
    wrong = digest_of(b"something else")
    with pytest.raises(DigestMismatch):
        client.http.send_file("PUT", f"/blobs/{wrong}", path, 0, 2 * MiB + 1, sent=lambda n: None)
    missing = client.http.request("POST", "/blobs/missing", json={"digests": [wrong]}).json()
    assert missing == {"missing": [wrong]}


@pytest.mark.parametrize("expect", [True, False], ids=["expect-continue", "body-at-once"])
def test_a_refusal_sent_before_the_body_is_read_raises_the_domain_error(
    client,
    tmp_path: Path,
    raw_calls: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    expect: bool,
) -> None:
    """A 409 sent before the body is read raises UploadOffsetMismatch, not ServerUnreachable.

    With ``Expect: 100-continue`` (the default for large bodies) no byte of the body goes
    out. Without it, 24 MiB is more than loopback socket buffers hold: the server closes
    (a reset, as it leaves bytes unread) while the client is still sending, and the
    client must read the answer that arrived before the reset."""
    if not expect:
        monkeypatch.setattr(rawhttp, "CONTINUE_MIN", 2**62)
    size = 24 * MiB
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    http = client.http
    session = http.request(
        "POST", "/uploads", json={"digest": digest_of(data), "size": size}
    ).json()
    progress: list[int] = []
    with pytest.raises(UploadOffsetMismatch) as refused:
        http.send_file(
            "PATCH",
            f"/uploads/{session['id']}",
            path,
            0,
            size,
            headers={"Upload-Offset": "12345"},
            sent=progress.append,
        )
    assert refused.value.extra.get("offset") == 0
    if expect:
        assert progress == []
    # The session's POST went over the socket too, as every API request does here.
    assert [method for method, _ in raw_calls] == ["POST", "PATCH"]
    assert http.request("GET", f"/uploads/{session['id']}").json()["offset"] == 0
