"""The syntax tree of a search query, as the parser builds it and the compiler reads it.

Every node that came from the text keeps the 0-based ``position`` of its first
character, so that later stages (field lookup, type checks) can point at it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

Value = str | int | float | bool
"""A literal's value; ``bool`` is checked before ``int`` everywhere (it is a subclass)."""

CompareOp = TypingLiteral[
    "=", "!=", "<", "<=", ">", ">=", "like", "not like", "glob", "not glob", "in", "not in"
]
PositiveOp = TypingLiteral["=", "<", "<=", ">", ">=", "like", "glob", "in"]

SPLIT: dict[CompareOp, tuple[PositiveOp, bool]] = {
    "=": ("=", False),
    "<": ("<", False),
    "<=": ("<=", False),
    ">": (">", False),
    ">=": (">=", False),
    "like": ("like", False),
    "glob": ("glob", False),
    "in": ("in", False),
    "!=": ("=", True),
    "not like": ("like", True),
    "not glob": ("glob", True),
    "not in": ("in", True),
}
"""Each operator as (its positive form, whether it negates that form)."""


@dataclass(frozen=True)
class Field:
    """A field reference: ``name`` alone (``owner``) or a keyed one (``tags`` + ``team``)."""

    name: str
    key: str | None
    position: int

    def __str__(self) -> str:
        return self.name if self.key is None else f"{self.name}.{self.key}"


@dataclass(frozen=True)
class Literal:
    value: Value
    position: int


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``values`` holds one literal, or every item of an IN list."""

    field: Field
    op: CompareOp
    op_position: int
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Exists:
    field: Field


@dataclass(frozen=True)
class Text:
    """A quoted string standing alone: free-text search."""

    text: str
    position: int


@dataclass(frozen=True)
class And:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    term: Node


Node = Comparison | Exists | Text | And | Or | Not
