"""Recorded environments: requirements files and differences between package sets.

Shared by server and client; pure functions, no I/O and no heavy imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modeldepot.schemas.lineage import EnvironmentInfo

# PEP 508 names, and versions that can follow ``==`` in a requirements file (epochs
# and local labels allowed, wildcards not). Anything else could inject lines.
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True)
class PackageDifference:
    """One package whose version differs; None where it is not installed."""

    name: str
    recorded: str | None
    current: str | None


def normalize_name(name: str) -> str:
    """A distribution name normalised per PEP 503: lower case, runs of ``-_.`` → ``-``."""
    return _SEPARATORS.sub("-", name).lower()


def normalize_packages(packages: dict[str, str]) -> dict[str, str]:
    """``packages`` keyed by normalised name, sorted; on a clash the first name in
    sorted order wins, so the result does not depend on the input's order."""
    result: dict[str, str] = {}
    for name, version in sorted(packages.items()):
        result.setdefault(normalize_name(name), version)
    return dict(sorted(result.items()))


def package_differences(
    recorded: dict[str, str], current: dict[str, str]
) -> list[PackageDifference]:
    """Packages changed, missing from ``current`` or extra in it, sorted by name."""
    before = normalize_packages(recorded)
    after = normalize_packages(current)
    return [
        PackageDifference(name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def requirements_text(env: EnvironmentInfo) -> str:
    """A pip requirements file pinning ``env.packages`` (``name==version``, sorted).

    A comment header names the Python, platform and container image. Entries that
    are not a valid name and version are left out and counted in a comment, so the
    file always parses.
    """
    lines = ["# Requirements recorded by modeldepot."]
    python = " ".join(filter(None, [env.implementation, env.python]))
    if python:
        lines.append(f"# Python: {_one_line(python)}")
    if env.platform:
        lines.append(f"# Platform: {_one_line(env.platform)}")
    if env.container_image:
        lines.append(f"# Container image: {_one_line(env.container_image)}")
    pins = []
    skipped = 0
    for name, version in normalize_packages(env.packages).items():
        if _NAME.fullmatch(name) and _VERSION.fullmatch(version):
            pins.append(f"{name}=={version}")
        else:
            skipped += 1
    if skipped:
        lines.append(f"# Left out {skipped} entries that are not a valid name and version.")
    return "\n".join(lines + pins) + "\n"


def _one_line(value: str) -> str:
    return " ".join(value.split())
