"""``audit verify`` over a million records, on SQLite and on PostgreSQL.

    python -m bench.audit_verify [--records 1000000] [--database-url URL ...]

For each database (a fresh SQLite file, and every ``--database-url``, each emptied
first), fills the audit log with a valid chain of ``--records`` records shaped like
real ones (an alias move: principal, target, before/after, request id, address), with
a signed checkpoint every 1,000 records as the server makes them, then times
``modeldepot.audit.verify.verify`` (what ``modeldepot audit verify`` runs) over it.

The chain is produced here, not through ``Units.write`` (a million units of work take
an hour): each record is built exactly as ``audit/chain.py`` builds it (RFC 8785
canonical JSON holding ``seq`` and ``prev``) and inserted in batches.

Prints JSON: per database, the seconds to fill, to verify, and records per second.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update

from modeldepot.audit import chain
from modeldepot.audit.signing import load_or_create
from modeldepot.audit.verify import verify
from modeldepot.db.engine import Database
from modeldepot.db.migrate import upgrade
from modeldepot.db.tables import audit_checkpoints, audit_head, audit_log, metadata

BATCH = 10_000
EVERY = 1000


def fill(db: Database, records: int, key_file: Path) -> float:
    """Write a valid chain of ``records`` records (and its checkpoints); seconds taken."""
    signer = load_or_create(key_file)
    started = time.perf_counter()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    prev = chain.GENESIS
    rows: list[dict[str, object]] = []
    checkpoints: list[dict[str, object]] = []
    for seq in range(1, records + 1):
        at = start + timedelta(milliseconds=seq * 37)
        model = f"team-{seq % 40}/model-{seq % 400}"
        entry = {
            "at": at,
            "principal": f"user-{seq % 25}",
            "principal_kind": "user",
            "action": "alias.set",
            "target": f"{model}@production",
            "model": model,
            "before": {"version": seq % 90 + 1},
            "after": {"version": seq % 90 + 2, "digest": "sha256:" + "ab" * 32},
            "request_id": uuid.UUID(int=seq).hex,
            "client": "10.0.0.7",
            "seq": seq,
            "prev": prev,
        }
        body = chain.canonical(entry)
        prev = chain.digest(body)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "principal": entry["principal"],
                "action": entry["action"],
                "target": entry["target"],
                "model": model,
                "record": body.decode(),
                "hash": prev,
            }
        )
        if seq % EVERY == 0:
            checkpoints.append(
                {
                    "seq": seq,
                    "hash": prev,
                    "at": at,
                    "key_id": signer.key_id,
                    "signature": signer.sign(seq, prev),
                }
            )
        if len(rows) == BATCH or seq == records:
            with db.write() as conn:
                conn.execute(insert(audit_log), rows)
                if checkpoints:
                    conn.execute(insert(audit_checkpoints), checkpoints)
                conn.execute(update(audit_head).values(seq=seq, hash=prev))
            rows, checkpoints = [], []
    return time.perf_counter() - started


def empty(db: Database) -> None:
    with db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            if table is not audit_head:
                conn.execute(table.delete())
        conn.execute(update(audit_head).values(seq=0, hash=chain.GENESIS))


def run(url: str, records: int, key_file: Path) -> dict[str, object]:
    db = Database(url)
    try:
        upgrade(db.engine)
        empty(db)
        filled = fill(db, records, key_file)
        found = verify(db, [load_or_create(key_file).public], every=EVERY)
        assert found.ok, found.problem
        assert found.records == records
        return {
            "database": db.engine.dialect.name,
            "records": records,
            "checkpoints": found.checkpoints,
            "fill_seconds": round(filled, 1),
            "verify_seconds": found.seconds,
            "records_per_second": round(records / found.seconds),
        }
    finally:
        if not db.is_sqlite:
            empty(db)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", action="append", default=[], help="PostgreSQL database to use"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "audit-signing.key"
        urls = [f"sqlite:///{Path(tmp) / 'bench.db'}", *args.database_url]
        results = [run(url, args.records, key_file) for url in urls]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
