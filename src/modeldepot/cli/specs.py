"""Parsing of the structured CLI arguments: dataset specs and JSON/YAML documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

DATASET_KEYS = ("uri", "role", "digest", "name", "size", "personal")


def parse_dataset(spec: str) -> dict[str, Any]:
    """``uri=s3://b/x,role=train,digest=sha256:…,name=clicks,size=123,personal``."""
    out: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if key == "personal" and not sep:
            out["personal_data"] = True
            continue
        if not sep or key not in DATASET_KEYS:
            raise click.BadParameter(
                f"{part!r}: expected KEY=VALUE with KEY one of {', '.join(DATASET_KEYS)}",
                param_hint="--dataset",
            )
        if key == "size":
            if not value.isdigit():
                raise click.BadParameter(f"size {value!r} is not a number", param_hint="--dataset")
            out["size"] = int(value)
        elif key == "personal":
            out["personal_data"] = value.lower() in ("1", "true", "yes")
        else:
            out[key] = value
    if "uri" not in out:
        raise click.BadParameter(f"{spec!r} has no uri=", param_hint="--dataset")
    return out


def load_document(path: Path) -> dict[str, Any]:
    """A JSON or YAML file holding one mapping."""
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise click.BadParameter(f"{path}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # yaml.YAMLError has no common base with ValueError
        raise click.BadParameter(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold a mapping at the top")
    return data
