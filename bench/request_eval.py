"""What evaluating a promotion request costs: ten rules and three approval groups.

    python -m bench.request_eval [--rounds 500] [--postgres URL]

On a fresh SQLite registry (and on a new PostgreSQL database when ``--postgres`` is
given) it pushes a version with realistic metadata (40 metrics, per-slice fairness
metrics, params, tags, two datasets, a card), applies a policy with ten rules, three
approval groups and a required check, opens a request, gives it three approvals and a
passing check, then times, ``--rounds`` times each:

- ``evaluate``: one evaluation in a read transaction, as every review, posted check or
  sweep runs it (loading the request, its policy version, the version's record, the
  reviews, the checks and the alias history; evaluating the ten rules);
- ``show``: ``requests show`` as the service answers it (the evaluation plus reviews,
  comments, waivers, checks and the diff against the alias's version).

Prints JSON: p50 and p99 in milliseconds per database. Target: under 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from modeldepot.config import ServerSettings
from modeldepot.digest import digest_bytes
from modeldepot.registry import Registry
from modeldepot.schemas import FileEntry, VersionCreate
from modeldepot.security.context import Context

NAME = "credit/scorer"
RULES = [
    ("auc", 'version.metrics["auc"] >= 0.8'),
    ("f1", 'version.metrics["f1"] > 0.5'),
    ("logloss", 'version.metrics["logloss"] < 0.5'),
    ("card", "version.card.present && size(version.card.sections) >= 2"),
    ("tags", 'version.tags["owner"] == "credit-team"'),
    ("lr", 'double(version.params["lr"]) < 0.1'),
    ("clean", "!version.code.dirty"),
    ("risk", 'model.risk == "high"'),
    ("datasets", "size(version.datasets) > 0"),
    ("dpia", 'version.datasets.all(d, !d.personal_data || version.tags["dpia"] == "approved")'),
]
GROUPS = ("ml-leads", "risk", "legal")


def policy_yaml() -> str:
    rules = "\n".join(f"  - {{name: {n}, expression: '{e}'}}" for n, e in RULES)
    approvals = ", ".join(f"{{group: {g}}}" for g in GROUPS)
    return (
        f"name: bench\nalias: production\nprefix: credit\napprovals: [{approvals}]\n"
        f"checks: [bias-audit]\nrules:\n{rules}\n"
    )


def prepare(registry: Registry) -> int:
    ctx = Context.system("bench")
    data = b"weights" * 1000
    session = registry.uploads.create_upload(ctx, digest_bytes(data), len(data), model=NAME)
    writer = registry.uploads.open_writer(ctx, session.id, 0)
    writer.write(data)
    writer.close()
    registry.uploads.complete_upload(ctx, session.id)
    lineage = {
        "code": {
            "repository": "https://git.example.com/credit",
            "commit": "ab" * 20,
            "dirty": False,
        },
        "datasets": [
            {"uri": "s3://credit/train.parquet", "role": "train", "personal_data": True},
            {"uri": "s3://credit/test.parquet", "role": "test"},
        ],
        "metric_slices": [
            {"name": "fpr", "value": 0.05 + i / 100, "slice": f"age={i}"} for i in range(10)
        ],
    }
    create = VersionCreate(
        files=[FileEntry(path="model.bin", size=len(data), digest=digest_bytes(data))],
        metrics={"auc": 0.9, "f1": 0.7, "logloss": 0.3, **{f"m{i}": i / 40 for i in range(37)}},
        params={"lr": 0.01, "depth": 6, "optimizer": {"name": "adam", "beta1": 0.9}},
        tags={"owner": "credit-team", "dpia": "approved"},
        lineage=lineage,
        card="---\nlicense: mit\n---\n# Scorer\n## Intended use\nCredit.\n## Limitations\nSome.\n",
    )
    version, _ = registry.versions.create_version(ctx, NAME, create)
    from modeldepot.schemas import ModelUpdate

    registry.models.update_model(ctx, NAME, ModelUpdate(risk_level="high"))
    registry.policies.apply(ctx, policy_yaml())
    request_id = registry.requests.open(ctx, NAME, version.number, "production")
    for group in GROUPS:
        reviewer = f"{group}-reviewer"
        registry.identity.create_principal(ctx, reviewer)
        registry.identity.create_group(ctx, group)
        registry.identity.add_member(ctx, group, reviewer)
        registry.identity.grant(ctx, reviewer, "credit", _role("reader"))
    from modeldepot.schemas.governance import CheckCreate

    registry.checks.post(
        ctx,
        NAME,
        version.number,
        CheckCreate(name="bias-audit", state="pass", digest=version.digest),
    )
    for group in GROUPS:
        registry.requests.review(_as(registry, f"{group}-reviewer"), request_id, "approve")
    shown = registry.request_reads.get(ctx, request_id)
    assert shown.passed, shown.missing
    assert sum(r.kind == "rule" for r in shown.requirements) == len(RULES)
    return request_id


def _role(name: str) -> Any:
    from modeldepot.security.roles import Role

    return Role.parse(name)


def _as(registry: Registry, name: str) -> Context:
    token = registry.identity.create_token(Context.system("bench"), "bench", owner=name).text
    auth = registry.authenticator.authenticate(token, "127.0.0.1")
    return Context(auth.principal, auth.access)


def timed(fn: Callable[[], Any], rounds: int) -> dict[str, float]:
    for _ in range(10):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


def measure(url: str, data_dir: Path, rounds: int) -> dict[str, Any]:
    settings = ServerSettings(data_dir=data_dir, database_url=url)
    registry = Registry.from_settings(settings, migrate=True)
    try:
        request_id = prepare(registry)
        ctx = Context.system("bench")
        from modeldepot.governance.evaluation import evaluate
        from modeldepot.governance.request_facts import (
            model_name_of,
            policy_of,
            request_row,
            subject_of,
        )

        def evaluate_once() -> None:
            with registry.units.read(ctx) as reading:
                conn = reading.conn
                row = request_row(conn, request_id)
                subject = subject_of(conn, row, model_name_of(conn, row.model_id))
                result = evaluate(conn, subject, policy_of(conn, row), registry.units.clock())
                assert result.passed

        return {
            "evaluate": timed(evaluate_once, rounds),
            "show": timed(lambda: registry.request_reads.get(ctx, request_id), rounds),
        }
    finally:
        registry.close()


@contextlib.contextmanager
def databases(postgres: str | None) -> Iterator[list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        found = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if postgres is None:
            yield found
            return
        from tests.scratch import new_postgres_database

        with new_postgres_database(postgres, "modeldepot_bench") as url:
            yield [*found, ("postgresql", url)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--postgres", help="A PostgreSQL server URL (a database is made).")
    args = parser.parse_args()
    results: dict[str, Any] = {"rules": len(RULES), "approval_groups": len(GROUPS)}
    with databases(args.postgres) as found, tempfile.TemporaryDirectory() as tmp:
        for label, url in found:
            results[label] = measure(url, Path(tmp) / label, args.rounds)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
