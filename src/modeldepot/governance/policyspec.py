"""A policy's YAML source, checked and normalised into its spec (docs/policies.md).

``parse_policy`` refuses what is not a policy (unknown keys, wrong types, counts below
one, expressions that do not compile) with PolicyInvalid naming the ``field``, and
returns the normalised spec: every key present with its default, prefixes without
slashes, rollback requirements resolved (a key the ``rollback`` block leaves out is
the promotion's). Two sources with the same spec are the same policy.
"""

from __future__ import annotations

import re
from typing import Any

from modeldepot.errors import ModeldepotError, PolicyInvalid
from modeldepot.governance.expressions import compile_rule
from modeldepot.refs import validate_alias
from modeldepot.schemas.models import RISK_LEVELS
from modeldepot.security.roles import Role, normalize_prefix

MAX_SOURCE_BYTES = 64 * 1024
MAX_APPROVALS = 20
MAX_RULES = 50
MAX_CHECKS = 50
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_POLICY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,127}$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_CHECK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")

REQUIREMENT_KEYS = (
    "approvals",
    "approval_expiry_days",
    "rules",
    "checks",
    "prior_stage",
    "soak_hours",
    "windows",
)
TOP_KEYS = (
    "name",
    "description",
    "alias",
    "prefix",
    "risk",
    *REQUIREMENT_KEYS,
    "auto_apply",
    "waiver_role",
    "request_expiry_days",
    "rollback",
)


def valid_policy_name(name: str) -> bool:
    """Whether ``name`` could be a policy's."""
    return _POLICY_NAME.fullmatch(name) is not None


def load_source(source: str) -> dict[str, Any]:
    """The YAML mapping of ``source`` (at most MAX_SOURCE_BYTES, safe loader only)."""
    if not isinstance(source, str):
        raise PolicyInvalid("the policy source must be text", field="source")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise PolicyInvalid(
            f"the policy source is over {MAX_SOURCE_BYTES // 1024} KiB", field="source"
        )
    if "\x00" in source:
        raise PolicyInvalid("the policy source contains a NUL character", field="source")
    import yaml

    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        raise PolicyInvalid(
            f"the policy is not valid YAML: {problem}"
            + (f" at line {line}, column {column}" if line else ""),
            field="source",
            line=line,
            column=column,
        ) from None
    except RecursionError:
        raise PolicyInvalid("the policy YAML is nested too deep", field="source") from None
    if not isinstance(document, dict):
        raise PolicyInvalid("a policy is a YAML mapping of keys", field="source")
    return document


def parse_policy(source: str) -> dict[str, Any]:
    """The normalised spec of the policy in ``source``; PolicyInvalid if it is none."""
    doc = load_source(source)
    _known(doc, TOP_KEYS, "")
    for key in ("name", "alias"):
        if key not in doc:
            raise PolicyInvalid(f"the policy has no {key!r}", field=key)
    name = _text(doc["name"], "name")
    if not _POLICY_NAME.fullmatch(name):
        raise PolicyInvalid(
            f"policy name {name!r}: lowercase letters, digits, '.', '_' and '-', at most 128",
            field="name",
        )
    alias = _text(doc["alias"], "alias")
    _domain(lambda: validate_alias(alias), "alias")
    prefix_text = _text(doc.get("prefix", ""), "prefix")
    prefix = _domain(lambda: normalize_prefix(prefix_text), "prefix")
    risk = doc.get("risk", [])
    if isinstance(risk, str):
        risk = [risk]
    risk_levels = _list(risk, "risk")
    for i, level in enumerate(risk_levels):
        if level not in RISK_LEVELS:
            raise PolicyInvalid(
                f"risk {level!r} is not one of: {', '.join(RISK_LEVELS)}", field=f"risk[{i}]"
            )
    requirements = _requirements(doc, "")
    rollback_doc = doc.get("rollback")
    rollback = requirements
    if rollback_doc is not None:
        if not isinstance(rollback_doc, dict):
            raise PolicyInvalid("rollback is a mapping of requirements", field="rollback")
        _known(rollback_doc, REQUIREMENT_KEYS, "rollback.")
        rollback = _requirements(rollback_doc, "rollback.")
    role_text = _text(doc.get("waiver_role", "admin"), "waiver_role")
    waiver_role = _domain(lambda: Role.parse(role_text), "waiver_role")
    return {
        "name": name,
        "description": _text(doc.get("description", ""), "description"),
        "alias": alias,
        "prefix": prefix,
        "risk": sorted(set(risk_levels), key=RISK_LEVELS.index),
        **requirements,
        "auto_apply": _bool(doc.get("auto_apply", False), "auto_apply"),
        "waiver_role": waiver_role.label,
        "request_expiry_days": _number(
            doc.get("request_expiry_days"), "request_expiry_days", positive=True
        ),
        "rollback": rollback,
    }


def _requirements(doc: dict[str, Any], at: str) -> dict[str, Any]:
    windows = doc.get("windows") or {}
    if not isinstance(windows, dict):
        raise PolicyInvalid("windows is a mapping", field=f"{at}windows")
    _known(windows, ("deny_days", "deny_hours"), f"{at}windows.")
    prior = doc.get("prior_stage")
    if prior is not None:
        prior = _text(prior, f"{at}prior_stage")
        _domain(lambda: validate_alias(prior), f"{at}prior_stage")
    soak = _number(doc.get("soak_hours", 0), f"{at}soak_hours")
    return {
        "approvals": _approvals(doc.get("approvals", []), f"{at}approvals"),
        "approval_expiry_days": _number(
            doc.get("approval_expiry_days"), f"{at}approval_expiry_days", positive=True
        ),
        "rules": _rules(doc.get("rules", []), f"{at}rules"),
        "checks": _checks(doc.get("checks", []), f"{at}checks"),
        "prior_stage": prior,
        "soak_hours": soak or 0,
        "windows": {
            "deny_days": _days(windows.get("deny_days", []), f"{at}windows.deny_days"),
            "deny_hours": _hours(windows.get("deny_hours"), f"{at}windows.deny_hours"),
        },
    }


def _approvals(value: Any, at: str) -> list[dict[str, Any]]:
    items = _list(value, at, MAX_APPROVALS)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"{at}[{i}]"
        if isinstance(item, str):
            item = {"group": item}
        if not isinstance(item, dict):
            raise PolicyInvalid("an approval is {group: NAME, count: N}", field=where)
        _known(item, ("group", "count"), f"{where}.")
        if "group" not in item:
            raise PolicyInvalid("an approval names a group", field=f"{where}.group")
        group = _text(item["group"], f"{where}.group")
        if not _GROUP.fullmatch(group):
            raise PolicyInvalid(f"{group!r} is not a valid group name", field=f"{where}.group")
        if group in seen:
            raise PolicyInvalid(f"group {group!r} is listed twice", field=f"{where}.group")
        seen.add(group)
        count = item.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            raise PolicyInvalid("count is a whole number from 1 to 100", field=f"{where}.count")
        out.append({"group": group, "count": count})
    return out


def _rules(value: Any, at: str) -> list[dict[str, str]]:
    items = _list(value, at, MAX_RULES)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"{at}[{i}]"
        if not isinstance(item, dict):
            raise PolicyInvalid("a rule is {name, expression, description}", field=where)
        _known(item, ("name", "expression", "description"), f"{where}.")
        for key in ("name", "expression"):
            if key not in item:
                raise PolicyInvalid(f"a rule needs {key!r}", field=f"{where}.{key}")
        name = _text(item["name"], f"{where}.name")
        if not _RULE_NAME.fullmatch(name):
            raise PolicyInvalid(f"rule name {name!r} is not valid", field=f"{where}.name")
        if name in seen:
            raise PolicyInvalid(f"rule {name!r} is listed twice", field=f"{where}.name")
        seen.add(name)
        expression = _text(item["expression"], f"{where}.expression")
        compile_rule(expression, f"{where}.expression")
        description = _text(item.get("description", ""), f"{where}.description")
        out.append({"name": name, "expression": expression, "description": description})
    return out


def _checks(value: Any, at: str) -> list[str]:
    items = _list(value, at, MAX_CHECKS)
    for i, item in enumerate(items):
        if not isinstance(item, str) or not _CHECK_NAME.fullmatch(item):
            raise PolicyInvalid(f"{item!r} is not a valid check name", field=f"{at}[{i}]")
    if len(set(items)) != len(items):
        raise PolicyInvalid("a check is listed twice", field=at)
    return list(items)


def _days(value: Any, at: str) -> list[str]:
    items = _list(value, at, 7)
    days = []
    for i, item in enumerate(items):
        day = item.lower()[:3] if isinstance(item, str) else None
        if day not in DAYS:
            raise PolicyInvalid(f"{item!r} is not one of: {', '.join(DAYS)}", field=f"{at}[{i}]")
        days.append(day)
    return sorted(set(days), key=DAYS.index)


def _hours(value: Any, at: str) -> list[int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise PolicyInvalid("deny_hours is [START, END], whole UTC hours", field=at)
    start, end = value
    if not 0 <= start <= 23 or not 0 <= end <= 24 or start == end:
        raise PolicyInvalid(
            "deny_hours: START from 0 to 23, END from 0 to 24, not equal "
            "(END below START wraps past midnight)",
            field=at,
        )
    return [start, end]


def _known(doc: dict[str, Any], keys: tuple[str, ...], at: str) -> None:
    for key in doc:
        if key not in keys:
            raise PolicyInvalid(
                f"unknown key {key!r} (known: {', '.join(keys)})", field=f"{at}{key}"
            )


def _text(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise PolicyInvalid(f"{at} must be text", field=at)
    if len(value) > 4000:
        raise PolicyInvalid(f"{at} is longer than 4000 characters", field=at)
    return value


def _bool(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyInvalid(f"{at} must be true or false", field=at)
    return value


def _number(value: Any, at: str, *, positive: bool = False) -> float | None:
    """A number of hours or days from 0 (above 0 if ``positive``) to ten years' hours."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyInvalid(f"{at} must be a number", field=at)
    if not 0 <= value <= 3650 * 24 or (positive and value == 0):
        least = "above zero" if positive else "zero or more"
        raise PolicyInvalid(f"{at} must be {least}, at most {3650 * 24}", field=at)
    return value


def _list(value: Any, at: str, most: int = 20) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyInvalid(f"{at} must be a list", field=at)
    if len(value) > most:
        raise PolicyInvalid(f"{at} lists more than {most}", field=at)
    return value


def _domain(check: Any, at: str) -> Any:
    """Run ``check``; a domain error it raises becomes PolicyInvalid naming ``at``."""
    try:
        return check()
    except PolicyInvalid:
        raise
    except ModeldepotError as exc:
        raise PolicyInvalid(exc.detail, field=at) from None
