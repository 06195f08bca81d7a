"""Search latency over a large registry, and how it grows with the number of versions.

    python -m bench.search [--models 1000] [--scales 10000,100000] [--database-url URL]

For each scale, fills a fresh database with that many versions spread over
``--models`` models (rows inserted in bulk, shaped like real pushes: tags, nested
params with their typed leaves, metrics, datasets, free-text documents), starts a real
server on it and measures three queries over HTTP, each 200 times after a warm-up:

- a metric filter with a sort on that metric (first page of 50),
- a tag filter with OR,
- a free-text query.

Prints JSON: p50/p99 in ms per query and scale, the ratio of p50s between scales, and
the rows the query matched. PostgreSQL runs use the given database, emptied first.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from bench.server import BenchServer, percentile
from modeldepot.db.engine import Database
from modeldepot.db.migrate import upgrade
from modeldepot.db.tables import (
    datasets,
    metadata,
    model_tags,
    models,
    search_documents,
    version_datasets,
    version_metrics,
    version_param_leaves,
    version_params,
    version_tags,
    versions,
)

QUERIES = {
    "metric_filter_sorted": ("metrics.auc > 0.95", "-metrics.auc"),
    "tag_filter_or": ("tags.team = team-3 OR tags.stage = canary", None),
    "free_text": ('"gradient boosting"', None),
}
WORDS = [
    "churn",
    "fraud",
    "ranking",
    "recommender",
    "embedding",
    "classifier",
    "regression",
    "forecast",
    "anomaly",
    "detection",
    "gradient",
    "boosting",
    "transformer",
    "baseline",
    "retrained",
    "calibrated",
    "quantized",
    "distilled",
    "pruned",
    "multilingual",
    "vision",
    "speech",
    "tabular",
    "ensemble",
    "linear",
    "logistic",
    "forest",
    "tree",
    "neural",
    "sparse",
    "dense",
    "weekly",
    "nightly",
    "holdout",
    "shadow",
    "canary",
    "experiment",
]
TEAMS = [f"team-{i}" for i in range(20)]
STAGES = ["dev", "staging", "canary", "prod"]
FORMATS = ["sklearn", "onnx", "safetensors", "xgboost", "pytorch"]
RUNS = 200
BATCH = 5000


def seed(db: Database, model_count: int, version_count: int, rng: random.Random) -> None:
    """Insert ``version_count`` versions over ``model_count`` models, in bulk."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    per_model = version_count // model_count
    with db.write() as conn:
        dataset_ids = [
            conn.execute(
                insert(datasets)
                .values(
                    uri=f"s3://data/set-{i}",
                    digest=f"sha256:{i:064x}",
                    name=f"set {i}",
                    personal_data=i % 7 == 0,
                    created_at=start,
                    created_by="bench",
                )
                .returning(datasets.c.id)
            ).scalar_one()
            for i in range(200)
        ]
        model_rows = []
        for m in range(model_count):
            model_rows.append(
                {
                    "id": m + 1,
                    "name": f"{rng.choice(TEAMS)}/model-{m}",
                    "description": " ".join(rng.choices(WORDS, k=8)),
                    "last_version_number": per_model,
                    "owner": rng.choice(TEAMS),
                    "contacts": [],
                    "risk_level": rng.choice(["minimal", "limited", "high"]),
                    "risk_reason": "",
                    "created_at": start,
                    "created_by": "bench",
                    "updated_at": start,
                    "updated_by": "bench",
                }
            )
        conn.execute(insert(models), model_rows)
        conn.execute(
            insert(model_tags),
            [{"model_id": r["id"], "key": "team", "value": r["owner"]} for r in model_rows],
        )
        conn.execute(
            insert(search_documents),
            [
                {"model_id": r["id"], "version_id": None, "body": f"{r['name']} {r['description']}"}
                for r in model_rows
            ],
        )
    version_id = 0
    rows: dict[str, list[dict]] = {name: [] for name in ("v", "t", "p", "l", "m", "d", "s")}
    for m in range(model_count):
        for number in range(1, per_model + 1):
            version_id += 1
            at = start + timedelta(seconds=version_id)
            lr = round(rng.uniform(0.0001, 0.1), 5)
            words = " ".join(rng.choices(WORDS, k=10))
            rows["v"].append(
                {
                    "id": version_id,
                    "model_id": m + 1,
                    "number": number,
                    "digest": f"sha256:{version_id:064x}",
                    "description": words,
                    "total_size": 1000,
                    "file_count": 1,
                    "created_at": at,
                    "created_by": "bench",
                    "updated_at": at,
                    "updated_by": "bench",
                    "format": rng.choice(FORMATS),
                    "lineage": {},
                }
            )
            rows["t"] += [
                {"version_id": version_id, "key": "team", "value": rng.choice(TEAMS)},
                {"version_id": version_id, "key": "stage", "value": rng.choice(STAGES)},
            ]
            rows["p"].append(
                {"version_id": version_id, "key": "optimizer", "value": {"name": "adam", "lr": lr}}
            )
            rows["l"] += [
                {
                    "version_id": version_id,
                    "path": "optimizer.name",
                    "kind": "string",
                    "num": None,
                    "text": "adam",
                },
                {
                    "version_id": version_id,
                    "path": "optimizer.lr",
                    "kind": "number",
                    "num": lr,
                    "text": None,
                },
            ]
            rows["m"] += [
                {"version_id": version_id, "key": "auc", "slice": "", "value": rng.random()},
                {"version_id": version_id, "key": "loss", "slice": "", "value": rng.random()},
            ]
            rows["d"].append(
                {"version_id": version_id, "dataset_id": rng.choice(dataset_ids), "role": "train"}
            )
            rows["s"].append({"model_id": m + 1, "version_id": version_id, "body": words})
            if len(rows["v"]) >= BATCH:
                _flush(db, rows)
    _flush(db, rows)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))  # as a database that has been in use would have


def _flush(db: Database, rows: dict[str, list[dict]]) -> None:
    tables = {
        "v": versions,
        "t": version_tags,
        "p": version_params,
        "l": version_param_leaves,
        "m": version_metrics,
        "d": version_datasets,
        "s": search_documents,
    }
    with db.write() as conn:
        for key, table in tables.items():
            if rows[key]:
                conn.execute(insert(table), rows[key])
                rows[key].clear()


def measure(url: str) -> dict:
    figures = {}
    with httpx.Client(base_url=url + "/api/v1", timeout=60) as http:
        for name, (query, sort) in QUERIES.items():
            params = {"q": query, "limit": 50, **({"sort": sort} if sort else {})}
            for _ in range(10):
                http.get("/search/versions", params=params).raise_for_status()
            latencies = []
            for _ in range(RUNS):
                start = time.perf_counter()
                response = http.get("/search/versions", params=params)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()
            figures[name] = {
                "p50_ms": round(percentile(latencies, 50) * 1000, 2),
                "p99_ms": round(percentile(latencies, 99) * 1000, 2),
                "page_items": len(response.json()["items"]),
            }
    return figures


def run_scale(versions_total: int, model_count: int, database_url: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="md-search-"))
    url = database_url or f"sqlite:///{work / 'data' / 'modeldepot.db'}"
    db = Database(url)
    upgrade(db.engine)
    with db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    started = time.perf_counter()
    seed(db, model_count, versions_total, random.Random(7))
    seeded = time.perf_counter() - started
    db.dispose()
    server = BenchServer(work / "data", database_url)
    try:
        figures = measure(server.url)
    finally:
        server.stop()
    return {
        "versions": versions_total,
        "models": model_count,
        "seed_s": round(seeded, 1),
        "queries": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--scales", default="10000,100000")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    results = [run_scale(n, args.models, args.database_url) for n in scales]
    growth = {}
    if len(results) > 1:
        small, large = results[0]["queries"], results[-1]["queries"]
        growth = {
            name: round(large[name]["p50_ms"] / max(small[name]["p50_ms"], 0.001), 2)
            for name in QUERIES
        }
    print(
        json.dumps(
            {
                "database": "postgresql" if args.database_url else "sqlite",
                "scales": results,
                f"p50_growth_{scales[0]}_to_{scales[-1]}": growth,
                "versions_ratio": scales[-1] / scales[0] if len(scales) > 1 else 1,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
