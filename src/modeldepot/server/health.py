"""Probes: ``/healthz`` (the process answers) and ``/readyz`` (it can serve requests).

Liveness touches nothing, so a slow database never gets a replica restarted. Readiness
checks what every request needs: the database answers, its schema is not older than
this code expects, the blob store answers, and the disks this server writes (the local
blob store's, SQLite's) have at least ``min_free_bytes`` free. Failures are named in
the answer; their full error goes to the log, under the probe's request id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, Response

from modeldepot.blobstore.base import BlobStore, LocalDisk
from modeldepot.db.engine import Database
from modeldepot.db.migrate import current_revision, schema_mismatch
from modeldepot.schemas.health import CheckRead, Liveness, Readiness
from modeldepot.server.deps import RegistryDep
from modeldepot.server.errors import problem, problems

router = APIRouter(tags=["health"])
log = logging.getLogger("modeldepot.server")

# A digest no blob has (its bytes would hash to all zeros): asking for its size costs
# the store one lookup and proves it answers.
PROBE_DIGEST = "sha256:" + "0" * 64

T = TypeVar("T")


@router.get("/healthz", response_model=Liveness)
async def healthz() -> Liveness:
    """200 while the process serves HTTP; checks nothing else (the liveness probe)."""
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=problems(503),
)
def readyz(registry: RegistryDep) -> Readiness | Response:
    """200 when the database, its schema and the blob store are usable; else 503."""
    checks = check_readiness(registry.db, registry.store, registry.settings.min_free_bytes)
    failed = [f"{name}: {check.detail}" for name, check in checks.items() if not check.ok]
    if not failed:
        return Readiness(checks=checks)
    return problem(
        503,
        "NOT_READY",
        "Not ready",
        "; ".join(failed),
        checks={name: check.model_dump() for name, check in checks.items()},
    )


def free_space(db: Database, store: BlobStore) -> dict[str, int]:
    """Free bytes of the disks this server fills, by what fills them: ``blobstore`` for
    a store on a local filesystem, ``database`` for a SQLite file. Raises OSError."""
    free = {"blobstore": _store_free(store), "database": _database_free(db)}
    return {volume: count for volume, count in free.items() if count is not None}


def _store_free(store: BlobStore) -> int | None:
    return store.free_bytes() if isinstance(store, LocalDisk) else None


def _database_free(db: Database) -> int | None:
    if db.directory is None:
        return None
    st = os.statvfs(db.directory)
    return st.f_bavail * st.f_frsize


def _space(answers: str, free: int | None, floor: int) -> CheckRead:
    if free is None:
        return CheckRead(ok=True, detail=answers)
    if free < floor:
        detail = f"{answers}, but its disk has {free} bytes free, below the floor of {floor}"
        return CheckRead(ok=False, detail=detail)
    return CheckRead(ok=True, detail=f"{answers}; {free} bytes free")


def check_readiness(db: Database, store: BlobStore, floor: int = 0) -> dict[str, CheckRead]:
    """Each check by name; none raises. A disk with less than ``floor`` bytes free fails
    the check of what it holds."""
    checks: dict[str, CheckRead] = {}
    # Each disk's free space is read within the check of what it holds, so a store that
    # cannot be reached fails (and is logged) once.
    answer = _attempt("database", lambda: (current_revision(db.engine), _database_free(db)))
    if isinstance(answer, CheckRead):
        checks["database"] = answer
        checks["schema"] = CheckRead(ok=False, detail="not checked: the database failed")
    else:
        revision, database_free = answer
        answers = f"{db.url.get_backend_name()} answers"
        checks["database"] = _space(answers, database_free, floor)
        mismatch = schema_mismatch(revision)
        # A newer schema means the next release migrated it while this replica runs:
        # migrations add, so it keeps serving until it is replaced (it would refuse to
        # start on that schema). An older one lacks what this code needs.
        checks["schema"] = CheckRead(
            ok=mismatch is None or mismatch.newer,
            detail=str(mismatch) if mismatch else f"at revision {revision}",
        )
    stored = _attempt("blobstore", lambda: (store.stat(PROBE_DIGEST), _store_free(store)))
    checks["blobstore"] = (
        stored if isinstance(stored, CheckRead) else _space("answers", stored[1], floor)
    )
    return checks


def _attempt(name: str, call: Callable[[], T]) -> T | CheckRead:
    """``call()``, or a failed check naming the error's type (the log has the rest)."""
    try:
        return call()
    except Exception as exc:
        log.warning("readiness check %s failed", name, exc_info=True)
        return CheckRead(ok=False, detail=f"unreachable ({type(exc).__name__})")
