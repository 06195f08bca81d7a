"""Compile a query tree into one SQLAlchemy boolean expression over a target's rows.

Guarantees: the expression is TRUE or FALSE for every row (never NULL), so ``NOT``
is exact; every filter runs in the database (tags, params, metrics, aliases and
datasets as correlated EXISTS subqueries the indexes serve); unknown fields raise
``QueryFieldUnknown`` and ill-typed comparisons ``QueryTypeMismatch``, both before
anything is sent to the database.

Negative operators mean "has a value, and the positive form does not hold":
``tags.team != ml`` matches rows with a ``team`` tag other than ``ml``, whereas
``NOT tags.team = ml`` also matches rows with no ``team`` tag at all.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, not_, or_, true

from modeldepot.query.fulltext import text_match
from modeldepot.query.nodes import SPLIT, And, Comparison, Exists, Node, Not, Or, Text
from modeldepot.query.parser import parse
from modeldepot.query.targets import Target


def compile_query(text: str, target: Target, *, sqlite: bool) -> ColumnElement[bool]:
    """Parse and compile ``text``; an empty query is TRUE (it matches every row)."""
    node = parse(text)
    return true() if node is None else compile_node(node, target, sqlite=sqlite)


def compile_node(node: Node, target: Target, *, sqlite: bool) -> ColumnElement[bool]:
    match node:
        case And(terms):
            return and_(*(compile_node(term, target, sqlite=sqlite) for term in terms))
        case Or(terms):
            return or_(*(compile_node(term, target, sqlite=sqlite) for term in terms))
        case Not(term):
            return not_(compile_node(term, target, sqlite=sqlite))
        case Exists(field):
            return target.field(field).present()
        case Text(text):
            return target.documents(text_match(text, sqlite=sqlite))
        case Comparison(field, op, op_position, values):
            spec = target.field(field)
            positive, negated = SPLIT[op]
            condition = spec.match(field, positive, op_position, values, sqlite=sqlite)
            return and_(spec.present(), not_(condition)) if negated else condition
    raise AssertionError(f"unknown node {node!r}")
