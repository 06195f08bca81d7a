"""Fixtures: every database-backed test runs on SQLite and on PostgreSQL.

* ``registry``: the core services on a clean database and a fresh blob store.
* ``api``: the app in-process (Starlette's TestClient: real ASGI, no sockets).
* ``live``: the same app served by uvicorn over real HTTP on a loopback port, and
  ``client``: a ``modeldepot.Client`` talking to it.

PostgreSQL is taken from ``MODELDEPOT_TEST_POSTGRES_URL`` (default: the local server,
database ``test``); each run creates its own database and drops it at the end. Set
``MODELDEPOT_TEST_SKIP_POSTGRES=1`` to run on SQLite only.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient

from modeldepot.audit.chain import GENESIS
from modeldepot.blobstore.local import LocalBlobStore
from modeldepot.config import ServerSettings
from modeldepot.db.engine import Database
from modeldepot.db.migrate import upgrade
from modeldepot.db.tables import audit_head, metadata
from modeldepot.governance.protection import DEFAULT_PROTECTED
from modeldepot.registry import Registry
from modeldepot.security.context import Context
from modeldepot.server.app import create_app
from tests.s3server import s3_bucket, s3_client, s3_endpoint  # noqa: F401 (fixtures)

warnings.filterwarnings("ignore", message=".*httpx2.*")

POSTGRES_URL = os.environ.get(
    "MODELDEPOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite"] + ([] if os.environ.get("MODELDEPOT_TEST_SKIP_POSTGRES") else ["postgresql"])


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each backend, shared by the session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "modeldepot.db"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"modeldepot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig}); start it or set "
            "MODELDEPOT_TEST_SKIP_POSTGRES=1",
            pytrace=False,
        )
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _migrate(url: str) -> None:
    db = Database(url)
    upgrade(db.engine)
    db.dispose()


@pytest.fixture(scope="session")
def shared_db(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture(params=BACKENDS)
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each backend, for a test that puts its schema in a state
    no other test may see."""
    from tests.scratch import scratch_database

    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(shared_db: Database) -> Database:
    """The session's database, emptied before the test.

    DELETE, not TRUNCATE: on these small tables it takes 1-3 ms where PostgreSQL's
    TRUNCATE takes 30-130 ms (it makes new relation files each time). On PostgreSQL
    every DELETE goes in one round trip: 3.5 ms a test instead of 8 for 25 tables.
    (Each test in a transaction rolled back at its end would cost less still, but the
    services open their own transactions on pooled connections, and the live-server
    and concurrency tests need what one thread commits to be seen by another.)
    """
    with shared_db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(_EMPTY_ALL)
        else:
            for table in reversed(metadata.sorted_tables):
                if table is not audit_head:
                    conn.execute(table.delete())
            conn.execute(audit_head.update().values(seq=0, hash=GENESIS, prev_hash=GENESIS))
            conn.exec_driver_sql(_DEFAULT_PROTECTIONS)
    return shared_db


# A new registry protects staging and production of every model (migration 0008).
_DEFAULT_PROTECTIONS = (
    "INSERT INTO protected_aliases (kind, scope, alias, created_at, created_by) VALUES "
    + ", ".join(
        f"('prefix', '', '{alias}', CURRENT_TIMESTAMP, 'modeldepot')" for alias in DEFAULT_PROTECTED
    )
)
_EMPTY_ALL = "; ".join(
    [f'DELETE FROM "{t.name}"' for t in reversed(metadata.sorted_tables) if t is not audit_head]
    + [f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}', prev_hash = '{GENESIS}'"]
    + [_DEFAULT_PROTECTIONS]
)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path / "data", database_url=database_url, cleanup_interval_seconds=0
    )


@pytest.fixture
def registry(db: Database, settings: ServerSettings) -> Registry:
    return Registry(db, LocalBlobStore(settings.blob_dir, fsync=False), settings)


@pytest.fixture
def admin_token(registry: Registry, tmp_path: Path) -> str:
    """A token of the registry's first admin (``admin``, admin on ``/``), made the way
    a server's first start makes it."""
    path = registry.identity.bootstrap(tmp_path / "bootstrap")
    assert path is not None
    return path.read_text().strip()


@pytest.fixture
def admin(registry: Registry) -> Context:
    """The context of the registry's admin, for calling services directly."""
    from modeldepot.security.access import EVERYTHING
    from modeldepot.security.context import Principal

    return Context(Principal(None, "admin", "user"), EVERYTHING)


@pytest.fixture(scope="session")
def shared_api(
    database_url: str, shared_db: Database, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """One app per backend: building an app costs ~0.15 s, and it keeps no state but
    ``state.registry``, which each test sets to its own."""
    settings = ServerSettings(
        data_dir=tmp_path_factory.mktemp("api"),
        database_url=database_url,
        cleanup_interval_seconds=0,
    )
    placeholder = Registry(shared_db, LocalBlobStore(settings.blob_dir, fsync=False), settings)
    with TestClient(create_app(settings, placeholder), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(shared_api: TestClient, registry: Registry, admin_token: str) -> TestClient:
    """The real app in-process (real ASGI, no sockets), serving this test's registry,
    sending the admin's token (``anon`` is the same app without it)."""
    shared_api.app.state.registry = registry  # type: ignore[attr-defined]
    shared_api.cookies.clear()
    shared_api.headers["Authorization"] = f"Bearer {admin_token}"
    return shared_api


@pytest.fixture
def anon(api: TestClient) -> TestClient:
    """The app of ``api``, sending no credential."""
    del api.headers["Authorization"]
    return api


@dataclass
class LiveServer:
    url: str
    app: object

    def use(self, registry: Registry) -> None:
        self.app.state.registry = registry  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A uvicorn server in a thread; each test points it at its own registry."""
    settings = ServerSettings(
        data_dir=tmp_path_factory.mktemp("live"),
        database_url=database_url,
        cleanup_interval_seconds=0,
    )
    placeholder = Registry(
        Database(database_url), LocalBlobStore(settings.blob_dir, fsync=False), settings
    )
    app = create_app(settings, placeholder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    yield LiveServer(f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(10)
    placeholder.close()


@pytest.fixture
def live(live_server: LiveServer, registry: Registry) -> LiveServer:
    live_server.use(registry)
    return live_server


@pytest.fixture
def client(live: LiveServer, tmp_path: Path, admin_token: str) -> Iterator[object]:
    from modeldepot.client.client import Client

    with Client(live.url, cache_dir=tmp_path / "cache", token=admin_token) as md:
        yield md


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the files this test's pushes streamed (sent while being hashed)."""
    from modeldepot.client import push as push_mod

    paths: list[str] = []
    stream_file = push_mod.stream_file

    def spied(http: Any, path: str, *args: Any) -> Any:
        paths.append(path)
        return stream_file(http, path, *args)

    monkeypatch.setattr(push_mod, "stream_file", spied)
    return paths


@pytest.fixture
def uploaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the files whose bytes this test's pushes sent, streamed or not."""
    from modeldepot.client import push as push_mod

    paths: list[str] = []
    upload_blob = push_mod.upload_blob

    def spied(http: Any, file: Any, *args: Any, **kwargs: Any) -> Any:
        paths.append(file.path)
        return upload_blob(http, file, *args, **kwargs)

    monkeypatch.setattr(push_mod, "upload_blob", spied)
    return paths


def make_model_dir(root: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (relative path -> bytes) under ``root`` and return it."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root
