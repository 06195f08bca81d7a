"""Every setting, declared once.

``ServerSettings`` configures ``modeldepot serve`` and the operator commands (``gc``,
``db upgrade``); ``ClientSettings`` configures the SDK and CLI. Each field reads the
environment variable ``MODELDEPOT_<FIELD>``; command-line flags override them. The
README's settings table is checked against these classes by ``tests/test_docs.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "modeldepot"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "modeldepot"


def _env(name: str) -> str | None:
    value = os.environ.get(f"MODELDEPOT_{name.upper()}")
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class ServerSettings:
    """Settings of the server and of the operator commands that share its storage."""

    host: str = field(default=DEFAULT_HOST, metadata={"doc": "Address the server listens on."})
    port: int = field(default=DEFAULT_PORT, metadata={"doc": "TCP port the server listens on."})
    data_dir: Path = field(
        default_factory=_default_data_dir,
        metadata={
            "doc": "Directory for the SQLite database and the local blob store "
            "(default `$XDG_DATA_HOME/modeldepot`, else `~/.local/share/modeldepot`)."
        },
    )
    database_url: str | None = field(
        default=None,
        metadata={
            "doc": "SQLAlchemy URL of the metadata database, e.g. "
            "`postgresql+psycopg://user@host/db` (default: SQLite in the data directory)."
        },
    )
    blobstore: str = field(
        default="local",
        metadata={
            "doc": "Blob store backend: `local` (files under the data directory) or `s3` "
            "(an S3-compatible bucket, shared by any number of server replicas)."
        },
    )
    s3_bucket: str | None = field(
        default=None,
        metadata={"doc": "Bucket of the `s3` blob store (required with `s3`)."},
    )
    s3_prefix: str | None = field(
        default=None,
        metadata={
            "doc": "Key prefix under which the `s3` blob store keeps everything, e.g. "
            "`modeldepot/` (default: the bucket's root)."
        },
    )
    s3_endpoint_url: str | None = field(
        default=None,
        metadata={
            "doc": "Endpoint of an S3-compatible service (MinIO, Ceph, R2), e.g. "
            "`http://minio:9000` (default: AWS). Credentials come from the standard AWS "
            "chain (`AWS_ACCESS_KEY_ID`, profiles, instance roles)."
        },
    )
    s3_region: str | None = field(
        default=None,
        metadata={"doc": "Region of the bucket (default: from the AWS configuration)."},
    )
    s3_public_endpoint_url: str | None = field(
        default=None,
        metadata={
            "doc": "Endpoint written into presigned URLs, when clients reach the store "
            "at another address than the servers do (default: the S3 endpoint)."
        },
    )
    blob_direct_io: bool = field(
        default=True,
        metadata={
            "doc": "The `local` blob store writes uploads, and reads blobs the page cache "
            "does not hold, with direct I/O (`O_DIRECT`): gigabytes of models then neither "
            "churn nor evict the page cache. Filesystems without it are detected and "
            "written through the page cache."
        },
    )
    http_fast_path: bool = field(
        default=True,
        metadata={
            "doc": "The server receives upload bodies on its own fast path (a subclass of "
            "uvicorn's HTTP protocol, bodies read straight from the socket into aligned "
            "buffers). It runs only on the uvicorn releases it is tested with, else uvicorn's "
            "stock protocol does (slower, correct); turn it off to force the stock one."
        },
    )
    prepared_statements: bool = field(
        default=True,
        metadata={
            "doc": "The statements every version create runs are compiled once and run "
            "on the database driver's cursor, skipping SQLAlchemy's per-statement "
            "machinery; turn off to run them through SQLAlchemy's ordinary execution "
            "(its events and echo then see them)."
        },
    )
    sqlite_checkpointer: bool = field(
        default=True,
        metadata={
            "doc": "On a SQLite file database, a thread takes the WAL checkpoints beside "
            "the writers, instead of the writer whose commit fills the log stalling every "
            "other; turn off to leave them to SQLite's automatic checkpoint."
        },
    )
    gc_freeze: bool = field(
        default=True,
        metadata={
            "doc": "`modeldepot serve` freezes the objects it built while starting "
            "(`gc.freeze`), so Python's full collections skip them and stop stalling "
            "requests; turn off to collect them like any other."
        },
    )
    upload_expiry_seconds: int = field(
        default=86_400,
        metadata={"doc": "An upload session untouched this long is abandoned and cleaned up."},
    )
    gc_grace_seconds: int = field(
        default=86_400,
        metadata={
            "doc": "Blobs uploaded or referenced more recently than this are never "
            "collected, so in-flight pushes are safe."
        },
    )
    min_free_bytes: int = field(
        default=100 * 1024 * 1024,
        metadata={
            "doc": "Free-space floor: while the blob store's filesystem (`local`) or the "
            "SQLite database's has less free space than this, `/readyz` answers not "
            "ready, so a load balancer sends pushes elsewhere before the disk is full."
        },
    )
    cleanup_interval_seconds: int = field(
        default=600,
        metadata={
            "doc": "How often the server sweeps expired upload sessions and settles open "
            "promotion requests: soak periods ending, requests expiring, auto-apply (0 disables)."
        },
    )
    max_blob_bytes: int = field(
        default=256 * 1024**3,
        metadata={
            "doc": "Largest blob (one file of a version) the server accepts, in bytes "
            "(default 256 GiB); a larger declared size is refused with `BLOB_TOO_LARGE`."
        },
    )
    max_staged_bytes: int = field(
        default=1024**4,
        metadata={
            "doc": "Most bytes that open upload sessions and single-request uploads may "
            "declare at once, in bytes (default 1 TiB); past it new uploads are refused "
            "with `STAGING_FULL` until sessions complete or expire."
        },
    )
    max_uploads_per_client: int = field(
        default=64,
        metadata={
            "doc": "Most upload sessions (and single-request uploads in flight) one "
            "principal holds open at once, all its tokens together (an anonymous caller, "
            "when allowed, counts by its address); one more gets `TOO_MANY_UPLOADS`."
        },
    )
    header_timeout_seconds: float = field(
        default=5.0,
        metadata={
            "doc": "A connection must send a request's headers within this long of their "
            "first byte (or of connecting), else it is answered 408 and closed."
        },
    )
    body_timeout_seconds: float = field(
        default=15.0,
        metadata={
            "doc": "A request body that stalls this long (no byte arriving while the server "
            "waits for one) is cut and its connection closed; an upload keeps the bytes "
            "that arrived and resumes from the session's offset."
        },
    )
    max_json_body_bytes: int = field(
        default=8 * 1024**2,
        metadata={
            "doc": "Largest JSON request body, in bytes (default 8 MiB, a manifest of about "
            "40,000 files); a larger one is refused with `REQUEST_TOO_LARGE`."
        },
    )
    json_parse_slots: int = field(
        default=2,
        metadata={
            "doc": "JSON bodies over 1 MiB handled at once; more wait their turn, which "
            "bounds the memory that parsing them takes."
        },
    )
    presigned_transfers: bool = field(
        default=True,
        metadata={
            "doc": "Let clients send and fetch blob bytes straight to and from the blob "
            "store through presigned URLs, when the store supports it (`s3`); the server "
            "then never relays them."
        },
    )
    presign_expiry_seconds: int = field(
        default=3600, metadata={"doc": "How long a presigned URL stays valid."}
    )
    auto_migrate: bool = field(
        default=True,
        metadata={"doc": "Apply pending database migrations when the server starts."},
    )
    workers: int = field(
        default=1,
        metadata={
            "doc": "Server processes sharing the listening socket (`serve --workers`); one "
            "per core lets a machine's every core serve requests. Best with PostgreSQL: on "
            "SQLite the processes still write one at a time."
        },
    )
    anonymous: str = field(
        default="none",
        metadata={
            "doc": "What a request without a token may do: `none` (refused with "
            "`UNAUTHENTICATED`), `read` (find and pull every model), or `write` (also "
            "push, edit and move aliases: for a throwaway server on your own machine; "
            "on a non-loopback address `serve` refuses it without "
            "`MODELDEPOT_ALLOW_PUBLIC_ANONYMOUS_WRITE`)."
        },
    )
    admin_token: str | None = field(
        default=None,
        metadata={
            "doc": "Token of the first admin, used when the server creates it on first start, "
            "so that automation knows it in advance (make one with `modeldepot token "
            "generate`; keep it in a secret store); ignored once the registry has users."
        },
    )
    allow_public_anonymous_write: bool = field(
        default=False,
        metadata={
            "doc": "Confirm that `MODELDEPOT_ANONYMOUS=write` on a non-loopback address "
            "is intended (anyone who reaches the server can then change it)."
        },
    )
    auth_cache_seconds: float = field(
        default=5.0,
        metadata={
            "doc": "How long a server remembers a verified token. A token revoked or a "
            "grant changed through one replica takes effect there at once, and on the "
            "others within this time (0: ask the database on every request)."
        },
    )
    auth_max_failures: int = field(
        default=10,
        metadata={
            "doc": "Failed authentications allowed per client address, and per token, in "
            "any minute; past it the caller gets `AUTH_RATE_LIMITED` until the minute "
            "passes."
        },
    )
    audit_key_file: Path | None = field(
        default=None,
        metadata={
            "doc": "Ed25519 private key (PEM) that signs the audit chain's checkpoints; "
            "created on first start if missing. Keep it outside the database's backups "
            "(default `audit-signing.key` in the data directory)."
        },
    )
    audit_checkpoint_records: int = field(
        default=1000,
        metadata={"doc": "Sign a checkpoint of the audit chain at least every this many records."},
    )
    audit_checkpoint_seconds: int = field(
        default=60,
        metadata={
            "doc": "Sign a checkpoint of the audit chain at least this often while it grows "
            "(0: only every `AUDIT_CHECKPOINT_RECORDS`)."
        },
    )
    log_level: str = field(default="info", metadata={"doc": "Server log level."})
    log_format: str = field(
        default="text",
        metadata={
            "doc": "Server log format: `text` for people, or `json` (one object a line, with "
            "request ids and an access log) for log collectors in production."
        },
    )

    @classmethod
    def from_env(cls, **overrides: object) -> ServerSettings:
        """Defaults, then ``MODELDEPOT_*`` variables, then non-None ``overrides``."""
        return cls(**_values(cls, overrides))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'modeldepot.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit-signing.key"


@dataclass(frozen=True)
class ClientSettings:
    """Settings of the SDK and CLI."""

    url: str = field(
        default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
        metadata={"doc": "Base URL of the modeldepot server the SDK and CLI talk to."},
    )
    cache_dir: Path = field(
        default_factory=_default_cache_dir,
        metadata={
            "doc": "Client's content-addressed blob cache (default "
            "`$XDG_CACHE_HOME/modeldepot`, else `~/.cache/modeldepot`)."
        },
    )
    token: str | None = field(
        default=None,
        metadata={
            "doc": "API token the SDK and CLI send (default: the one `modeldepot login` "
            "stored for the server's URL, else, for a server on this machine, the admin "
            "token it wrote to its data directory on first start)."
        },
    )
    transfer_workers: int = field(
        default=4, metadata={"doc": "Files transferred in parallel by push and pull."}
    )
    timeout_seconds: float = field(
        default=60.0, metadata={"doc": "Network timeout of one HTTP read or write."}
    )
    use_presigned_urls: bool = field(
        default=True,
        metadata={
            "doc": "Move blob bytes straight to and from the blob store when the server "
            "offers presigned URLs; turn off where the store is not reachable from here."
        },
    )
    pull_direct_io: bool = field(
        default=True,
        metadata={
            "doc": "Pull writes the files it downloads with direct I/O (`O_DIRECT`), "
            "sparing the page cache (the cache's own copies still use it, to be read "
            "again); turn off on slow disks, where buffered writes finish sooner."
        },
    )
    container_image: str | None = field(
        default=None,
        metadata={
            "doc": "Container image reference recorded in the environment of each push "
            "(set it in the image you train in)."
        },
    )

    @classmethod
    def from_env(cls, **overrides: object) -> ClientSettings:
        """Defaults, then ``MODELDEPOT_*`` variables, then non-None ``overrides``."""
        return cls(**_values(cls, overrides))


def _values(cls: type, overrides: dict[str, object]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = _env(f.name)
        if raw is not None:
            values[f.name] = _coerce(f.type, raw, f.name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    for f in fields(cls):
        if str(f.type) in ("Path", "Path | None") and values.get(f.name) is not None:
            values[f.name] = Path(str(values[f.name])).expanduser()
    return values


def _coerce(annotation: object, raw: str, name: str) -> object:
    text = str(annotation)
    try:
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
        if text.startswith("bool"):
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
    except ValueError:
        raise ValueError(f"MODELDEPOT_{name.upper()}={raw!r} is not a valid {text}") from None
    return raw


def setting_docs() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for the docs."""
    rows = []
    for cls in (ServerSettings, ClientSettings):
        for f in fields(cls):
            rows.append((f"MODELDEPOT_{f.name.upper()}", f.name, f.metadata["doc"]))
    return rows
