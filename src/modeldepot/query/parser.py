"""A recursive-descent parser for the search query language (docs/query-language.md).

Grammar (keywords are case-insensitive; NOT binds tighter than AND, AND than OR)::

    query      := [or_expr] END
    or_expr    := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | primary
    primary    := '(' or_expr ')' | STRING | field predicate
    predicate  := OPERATOR value
                | [NOT] (LIKE | GLOB) value
                | [NOT] IN '(' value (',' value)* ')'
                | [NOT] EXISTS
    field      := WORD | KEYED_PREFIX '.' (WORD | STRING)
    value      := STRING | NUMBER | true | false | WORD

``parse`` either returns the whole tree or raises: ``QueryInvalid`` with the position
of the first token it could not use, or ``QueryTooLarge`` when the text, the number of
terms or the nesting exceeds the limits below. It never recurses deeper than
``MAX_DEPTH`` levels, whatever the input.
"""

from __future__ import annotations

from modeldepot.errors import QueryInvalid, QueryTooLarge
from modeldepot.query.lexer import Kind, Token, tokenize
from modeldepot.query.nodes import (
    And,
    CompareOp,
    Comparison,
    Exists,
    Field,
    Literal,
    Node,
    Not,
    Or,
    Text,
    Value,
)

MAX_LENGTH = 4096
MAX_TERMS = 200
MAX_DEPTH = 32
KEYED_PREFIXES = ("params", "metrics", "tags")
"""Field names followed by ``.KEY``, where the key may hold any of ``_ . : / -``."""
KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "GLOB", "IN", "EXISTS", "TRUE", "FALSE"})
_OPERATORS: dict[str, CompareOp] = {op: op for op in ("=", "!=", "<", "<=", ">", ">=")}
_KEYWORD_OPS: dict[tuple[str, bool], CompareOp] = {
    ("LIKE", False): "like",
    ("LIKE", True): "not like",
    ("GLOB", False): "glob",
    ("GLOB", True): "not glob",
    ("IN", False): "in",
    ("IN", True): "not in",
}


def parse(text: str) -> Node | None:
    """The tree of ``text``; None when it holds no term (which matches everything)."""
    if len(text) > MAX_LENGTH:
        raise QueryTooLarge(
            f"query is {len(text)} characters long, more than {MAX_LENGTH} "
            f"at position {MAX_LENGTH}",
            position=MAX_LENGTH,
        )
    return _Parser(tokenize(text)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.terms = 0
        self.depth = 0

    # -- tokens ---------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def at(self, kind: Kind) -> bool:
        return self.token.kind is kind

    def at_keyword(self, *words: str) -> bool:
        return self.at(Kind.WORD) and self.token.text.upper() in words

    def fail(self, expected: str, token: Token | None = None, hint: str = "") -> QueryInvalid:
        """``expected`` at the position of ``token`` (default: the current one)."""
        token = token or self.token
        return QueryInvalid(f"{expected} at position {token.start}{hint}", position=token.start)

    def count_term(self, position: int) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryTooLarge(
                f"query has more than {MAX_TERMS} terms at position {position}",
                position=position,
            )

    def enter(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryTooLarge(
                f"query is nested more than {MAX_DEPTH} levels deep at position {position}",
                position=position,
            )

    # -- grammar --------------------------------------------------------------------

    def query(self) -> Node | None:
        if self.at(Kind.END):
            return None
        node = self.or_expr()
        if self.at(Kind.RPAREN):
            raise self.fail("unexpected ')'")
        if not self.at(Kind.END):
            raise self.fail("expected AND, OR or the end of the query")
        return node

    def or_expr(self) -> Node:
        terms = [self.and_expr()]
        while self.at_keyword("OR"):
            self.advance()
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_expr(self) -> Node:
        terms = [self.not_expr()]
        while self.at_keyword("AND"):
            self.advance()
            terms.append(self.not_expr())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def not_expr(self) -> Node:
        if not self.at_keyword("NOT"):
            return self.primary()
        start = self.advance()
        self.enter(start.start)
        node = Not(self.not_expr())
        self.depth -= 1
        return node

    def primary(self) -> Node:
        token = self.token
        if token.kind is Kind.LPAREN:
            self.advance()
            self.enter(token.start)
            node = self.or_expr()
            self.depth -= 1
            if not self.at(Kind.RPAREN):
                raise self.fail("expected ')'", hint=f" to close the '(' at position {token.start}")
            self.advance()
            return node
        if token.kind is Kind.STRING:
            self.advance()
            self.count_term(token.start)
            return Text(str(token.value), token.start)
        if token.kind is Kind.WORD and token.text.upper() not in KEYWORDS:
            return self.predicate(self.field())
        raise self.fail("expected a field, a quoted text or '('")

    def field(self) -> Field:
        token = self.advance()
        prefix, dot, key = token.text.partition(".")
        if prefix.lower() not in KEYED_PREFIXES or not dot:
            return Field(token.text.lower(), None, token.start)
        following = self.token
        if (
            token.text.endswith(".")
            and following.kind is Kind.STRING
            and following.start == token.end
        ):
            key += str(following.value)  # a quoted key: params."my key", params.a."b c"
            self.advance()
        if not key:
            raise self.fail(f"expected a key after '{token.text}'", following)
        return Field(prefix.lower(), key, token.start)

    def predicate(self, field: Field) -> Node:
        self.count_term(field.position)
        token = self.token
        if token.kind is Kind.OPERATOR:
            self.advance()
            return Comparison(field, _OPERATORS[token.text], token.start, (self.value(token),))
        negated = self.at_keyword("NOT")
        if negated:
            self.advance()
        keyword = self.token.text.upper() if self.at(Kind.WORD) else ""
        if keyword == "EXISTS":
            self.advance()
            return Not(Exists(field)) if negated else Exists(field)
        if (keyword, negated) in _KEYWORD_OPS:
            op = _KEYWORD_OPS[keyword, negated]
            op_token = self.advance()
            if keyword == "IN":
                return Comparison(field, op, token.start, self.value_list(op_token))
            return Comparison(field, op, token.start, (self.value(op_token),))
        if negated:
            raise self.fail("expected LIKE, GLOB, IN or EXISTS after NOT")
        hint = f' (to search for text, quote it: "{field}")' if field.key is None else ""
        raise self.fail(f"expected an operator after '{field}'", hint=hint)

    def value_list(self, op_token: Token) -> tuple[Literal, ...]:
        if not self.at(Kind.LPAREN):
            raise self.fail(f"expected '(' after {op_token.text}")
        opening = self.advance()
        values = [self.value(opening)]
        while self.at(Kind.COMMA):
            values.append(self.value(self.advance()))
        if not self.at(Kind.RPAREN):
            raise self.fail("expected ',' or ')' in the IN list")
        self.advance()
        for extra in values[1:]:
            self.count_term(extra.position)
        return tuple(values)

    def value(self, after: Token) -> Literal:
        token = self.token
        value: Value
        if token.kind in (Kind.STRING, Kind.NUMBER):
            value = token.value
        elif token.kind is Kind.WORD and token.text.upper() in ("TRUE", "FALSE"):
            value = token.text.upper() == "TRUE"
        elif token.kind is Kind.WORD and token.text.lower() == "null":
            raise self.fail("null is not supported", hint=" (use FIELD EXISTS or NOT FIELD EXISTS)")
        elif token.kind is Kind.WORD and token.text.upper() not in KEYWORDS:
            value = token.text
        else:
            raise self.fail(f"expected a value after '{after.text}'")
        self.advance()
        return Literal(value, token.start)
