"""Policy rules: CEL expressions over a version's record, compiled once and bounded.

A rule is a Common Expression Language expression that must evaluate to ``true`` on
the record ``governance/record.py`` builds (``version.metrics["auc"] >= 0.8``).
Expressions are checked before they are compiled, so that no policy can ask the
evaluator for unbounded work:

* at most ``MAX_LENGTH`` characters;
* brackets, braces and parentheses nested at most ``MAX_NESTING`` deep;
* at most ``MAX_MACROS`` comprehension macros (``all``, ``exists``, ``exists_one``,
  ``map``, ``filter``), none inside more than ``MAX_MACRO_DEPTH`` of them (a macro in
  a macro is depth 2; a third level is refused).

Evaluation never raises: a missing field, a type mismatch, a non-boolean result or any
other failure is a failed rule with a message saying why.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cel

from modeldepot.errors import ExpressionTooComplex, PolicyInvalid

if TYPE_CHECKING:
    from modeldepot.governance.policies import RuleSpec

MAX_LENGTH = 2000
MAX_NESTING = 16
MAX_MACROS = 4
MAX_MACRO_DEPTH = 2
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
CACHE_SIZE = 1024

_POSITION = re.compile(r"<input>:(\d+):(\d+):")
_CALL = re.compile(r"\.\s*([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule made of one record: ``value`` is what the expression evaluated to
    (None when it failed to evaluate)."""

    passed: bool
    message: str
    value: Any


def check_bounds(expression: str, field: str = "") -> None:
    """Raise ExpressionTooComplex if ``expression`` is over a bound. Strings and
    ``//`` comments are skipped: a bracket or ``.all(`` in them counts for nothing."""
    if len(expression) > MAX_LENGTH:
        raise ExpressionTooComplex(
            f"the expression has {len(expression)} characters; at most {MAX_LENGTH}",
            limit="length",
            field=field,
        )
    depth = 0
    macros = 0
    # The bracket depth at which each open macro's argument list started.
    open_macros: list[int] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in "\"'":
            i = _skip_string(expression, i)
            continue
        if expression.startswith("//", i):  # a comment, to the end of its line
            end = expression.find("\n", i)
            i = n if end < 0 else end
            continue
        if char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise ExpressionTooComplex(
                    f"brackets are nested more than {MAX_NESTING} deep",
                    limit="nesting",
                    field=field,
                )
        elif char in ")]}":
            if open_macros and open_macros[-1] == depth:
                open_macros.pop()
            depth = max(0, depth - 1)
        elif char == "." and (match := _CALL.match(expression, i)) and match[1] in MACROS:
            macros += 1
            if macros > MAX_MACROS:
                raise ExpressionTooComplex(
                    f"more than {MAX_MACROS} comprehensions (all, exists, exists_one, map, filter)",
                    limit="comprehensions",
                    field=field,
                )
            if len(open_macros) >= MAX_MACRO_DEPTH:
                raise ExpressionTooComplex(
                    f"comprehensions are nested more than {MAX_MACRO_DEPTH} deep",
                    limit="comprehension_nesting",
                    field=field,
                )
            open_macros.append(depth + 1)  # the depth inside its parenthesis
        i += 1


def _skip_string(text: str, start: int) -> int:
    """The index just past the string literal starting at ``start`` (single, double or
    triple quoted; an unterminated one runs to the end, and the parser says so)."""
    quote = text[start]
    triple = text.startswith(quote * 3, start)
    end_mark = quote * 3 if triple else quote
    i = start + len(end_mark)
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(end_mark, i):
            return i + len(end_mark)
        if text[i] == "\n" and not triple:
            return i
        i += 1
    return i


def compile_rule(expression: str, field: str = "") -> cel.Program:
    """The compiled program of ``expression``; PolicyInvalid (with ``line`` and
    ``column`` within the expression, 1-based) if it does not parse, and
    ExpressionTooComplex if it is over a bound. ``field`` names where it came from
    (``rules[2].expression``) in the error."""
    if not isinstance(expression, str) or not expression.strip():
        raise PolicyInvalid("the expression is empty", field=field, line=None, column=None)
    check_bounds(expression, field)
    try:
        return cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        message = str(exc)
        found = _POSITION.search(message)
        line = int(found.group(1)) if found else None
        column = int(found.group(2)) if found else None
        reason = message[found.end() :].split("\n", 1)[0].strip() if found else message
        where = f" at line {line}, column {column}" if found else ""
        raise PolicyInvalid(
            f"{field or 'expression'}: {reason}{where}", line=line, column=column, field=field
        ) from None


class _Programs:
    """Compiled programs by expression text, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._programs: dict[str, cel.Program] = {}
        self._lock = threading.Lock()

    def get(self, expression: str) -> cel.Program:
        with self._lock:
            program = self._programs.pop(expression, None)
            if program is not None:
                self._programs[expression] = program
                return program
        program = compile_rule(expression)
        with self._lock:
            self._programs[expression] = program
            while len(self._programs) > self.size:
                del self._programs[next(iter(self._programs))]
        return program


PROGRAMS = _Programs(CACHE_SIZE)


def prepare_record(record: Mapping[str, Any]) -> cel.Context:
    """``record`` converted once for the evaluator: converting a record costs about a
    millisecond, evaluating a rule on a converted one about ten microseconds (see
    ``bench/policy_eval.py``). Not thread-safe: one per evaluation."""
    return cel.Context(dict(record))


def evaluate_rules(rules: Iterable[RuleSpec], record: Mapping[str, Any]) -> list[RuleOutcome]:
    """Each rule's outcome on ``record``, converted once for all of them."""
    rules = list(rules)
    try:
        prepared: Mapping[str, Any] | cel.Context = prepare_record(record)
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException:  # the evaluator's panics are BaseException
        prepared = record  # each rule then says what it could not read
    return [evaluate_rule(rule, prepared) for rule in rules]


def evaluate_rule(rule: RuleSpec, record: Mapping[str, Any] | cel.Context) -> RuleOutcome:
    """Evaluate ``rule`` on ``record`` (a mapping, or one ``prepare_record`` made).
    Never raises: whatever goes wrong is a failed outcome whose message says what."""
    try:
        program = PROGRAMS.get(rule.expression)
    except PolicyInvalid as exc:
        return RuleOutcome(False, f"rule {rule.name!r} does not compile: {exc.detail}", None)
    try:
        value = program.execute(record if isinstance(record, cel.Context) else dict(record))
    except KeyError as exc:
        key = exc.args[0] if exc.args else "?"
        return RuleOutcome(
            False,
            f"rule {rule.name!r}: the record has no field {key!r} "
            "(guard optional fields with has() or `in`)",
            None,
        )
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # the evaluator's panics are BaseException
        detail = str(exc).split(". ", 1)[0].strip() or type(exc).__name__
        return RuleOutcome(False, f"rule {rule.name!r} could not be evaluated: {detail}", None)
    if not isinstance(value, bool):
        return RuleOutcome(
            False,
            f"rule {rule.name!r} evaluated to {_show(value)}, not true or false",
            _plain(value),
        )
    if value:
        return RuleOutcome(True, f"rule {rule.name!r} holds", True)
    text = f": {rule.description}" if rule.description else ""
    return RuleOutcome(False, f"rule {rule.name!r} does not hold{text}", False)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it (a result is kept with the evaluation)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
