"""API paths of models, versions and aliases, with names validated and quoted."""

from __future__ import annotations

from modeldepot.client.http import segment
from modeldepot.refs import validate_alias, validate_name


def model_path(name: str) -> str:
    return f"/models/{segment(validate_name(name))}"


def version_path(name: str, number: int) -> str:
    return f"{model_path(name)}/-/versions/{number}"


def alias_path(name: str, alias: str) -> str:
    return f"{model_path(name)}/-/aliases/{validate_alias(alias)}"
