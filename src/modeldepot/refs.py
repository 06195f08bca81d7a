"""Model names, alias names and the one reference grammar used everywhere.

Grammar (``ref``)::

    ref      := name [ ":" number | "@" alias | "@" digest ]
              | "models:/" name "/" number
              | "models:/" name "@" alias
    name     := segment ( "/" segment )*            at most 200 characters
    segment  := [a-z0-9] [a-z0-9._-]*               no ".." anywhere
    number   := [1-9] [0-9]*
    alias    := [a-z] [a-z0-9_-]*                   at most 63 characters
    digest   := "sha256:" 64 lowercase hex digits

A bare ``name`` means ``name@latest``: the newest live version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from modeldepot.digest import is_digest
from modeldepot.errors import AliasInvalid, NameInvalid, ReferenceInvalid

MAX_NAME_LENGTH = 200
MAX_ALIAS_LENGTH = 63
LATEST = "latest"
_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]*$")
_NUMBER = re.compile(r"^[1-9][0-9]{0,17}$")
MLFLOW_PREFIX = "models:/"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise NameInvalid saying why."""
    if not isinstance(name, str) or not name:
        raise NameInvalid("model name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise NameInvalid(f"model name is longer than {MAX_NAME_LENGTH} characters")
    if ".." in name:
        raise NameInvalid(f"model name {name!r} contains '..'")
    for segment in name.split("/"):
        if not segment:
            raise NameInvalid(f"model name {name!r} has an empty segment")
        if not _SEGMENT.fullmatch(segment):
            raise NameInvalid(
                f"model name {name!r}: segment {segment!r} must start with a lowercase letter "
                "or digit and contain only lowercase letters, digits, '-', '_' and '.'"
            )
    return name


def validate_alias(alias: str, *, allow_latest: bool = False) -> str:
    """Return ``alias`` if it is a valid alias name; ``latest`` is reserved unless allowed."""
    if not isinstance(alias, str) or not alias:
        raise AliasInvalid("alias is empty")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise AliasInvalid(f"alias is longer than {MAX_ALIAS_LENGTH} characters")
    if not _ALIAS.fullmatch(alias):
        raise AliasInvalid(
            f"alias {alias!r} must start with a lowercase letter and contain only "
            "lowercase letters, digits, '-' and '_'"
        )
    if alias == LATEST and not allow_latest:
        raise AliasInvalid("'latest' is implicit (the newest live version) and cannot be set")
    return alias


class RefKind(StrEnum):
    LATEST = "latest"
    NUMBER = "number"
    ALIAS = "alias"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference to one version of a model."""

    name: str
    kind: RefKind
    number: int | None = None
    alias: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.kind is RefKind.NUMBER:
            return f"{self.name}:{self.number}"
        if self.kind is RefKind.ALIAS:
            return f"{self.name}@{self.alias}"
        if self.kind is RefKind.DIGEST:
            return f"{self.name}@{self.digest}"
        return self.name

    @property
    def selector(self) -> str:
        """The part after the name, as the API's ``/resolve`` takes it (``latest`` for none)."""
        if self.kind is RefKind.NUMBER:
            return str(self.number)
        if self.kind is RefKind.ALIAS:
            return str(self.alias)
        if self.kind is RefKind.DIGEST:
            return str(self.digest)
        return LATEST


def parse_ref(text: str) -> Ref:
    """Parse any accepted reference form; raise ReferenceInvalid with the reason otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ReferenceInvalid("reference is empty")
    if text != text.strip():
        raise ReferenceInvalid(f"reference {text!r} has leading or trailing whitespace")
    if text.startswith(MLFLOW_PREFIX):
        return _parse_mlflow(text)
    if "@" in text:
        name, _, selector = text.partition("@")
        _check_name(name, text)
        if selector.startswith("sha256:"):
            if not is_digest(selector):
                raise ReferenceInvalid(
                    f"reference {text!r}: digest must be 'sha256:' and 64 lowercase hex digits"
                )
            return Ref(name, RefKind.DIGEST, digest=selector)
        return _alias_ref(name, selector, text)
    if ":" in text:
        name, _, number = text.partition(":")
        _check_name(name, text)
        return Ref(name, RefKind.NUMBER, number=_check_number(number, text))
    _check_name(text, text)
    return Ref(text, RefKind.LATEST)


def ref_for_version(name: str, number: int) -> Ref:
    return Ref(validate_name(name), RefKind.NUMBER, number=number)


def _parse_mlflow(text: str) -> Ref:
    body = text[len(MLFLOW_PREFIX) :]
    if "@" in body:
        name, _, alias = body.partition("@")
        _check_name(name, text)
        return _alias_ref(name, alias, text)
    name, sep, last = body.rpartition("/")
    if not sep:
        raise ReferenceInvalid(
            f"reference {text!r}: the MLflow form needs a version or alias "
            "('models:/NAME/7' or 'models:/NAME@alias')"
        )
    _check_name(name, text)
    if last == LATEST:
        return Ref(name, RefKind.LATEST)
    return Ref(name, RefKind.NUMBER, number=_check_number(last, text))


def _alias_ref(name: str, alias: str, text: str) -> Ref:
    if alias == LATEST:
        return Ref(name, RefKind.LATEST)
    try:
        validate_alias(alias)
    except AliasInvalid as exc:
        raise ReferenceInvalid(f"reference {text!r}: {exc.detail}") from None
    return Ref(name, RefKind.ALIAS, alias=alias)


def _check_name(name: str, text: str) -> None:
    try:
        validate_name(name)
    except NameInvalid as exc:
        raise ReferenceInvalid(f"reference {text!r}: {exc.detail}") from None


def _check_number(number: str, text: str) -> int:
    if not _NUMBER.fullmatch(number):
        raise ReferenceInvalid(
            f"reference {text!r}: version must be a positive whole number, got {number!r}"
        )
    return int(number)
