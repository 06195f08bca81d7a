"""Split query text into tokens, each with its 0-based position in the text.

Guarantees: every character of the text is either whitespace or part of exactly one
token; the last token is always ``END``; any text that cannot be tokenized raises
``QueryInvalid`` with the position of the offending character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from modeldepot.errors import QueryInvalid

MAX_INTEGER = 2**63 - 1  # SQLite integers are 64-bit


class Kind(Enum):
    WORD = "word"  # a field name, keyword or bare value: letters, digits and _ . : / -
    STRING = "string"  # quoted text, escapes resolved
    NUMBER = "number"
    OPERATOR = "operator"  # = != < <= > >=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # the characters as written
    value: str | int | float  # STRING: the unescaped text; NUMBER: the number; else text
    start: int
    end: int


ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_OPERATOR = re.compile(r"!=|<=|>=|=|<|>")
_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}
_WORD_TAIL = "_.:/-"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, lone surrogates


def is_word_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in _WORD_TAIL


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an END token at ``len(text)``."""
    if bad := _UNSTORABLE.search(text):
        # Neither database can hold these in a string: refuse them here, not with a 500.
        raise QueryInvalid(
            f"invalid character {bad[0]!r} at position {bad.start()}", position=bad.start()
        )
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch.isspace():
            pos += 1
        elif ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, ch, pos, pos + 1))
            pos += 1
        elif ch in "\"'":
            tokens.append(_string(text, pos))
            pos = tokens[-1].end
        elif match := _OPERATOR.match(text, pos):
            tokens.append(Token(Kind.OPERATOR, match[0], match[0], pos, match.end()))
            pos = match.end()
        elif match := _NUMBER.match(text, pos):
            tokens.append(_number(text, pos, match))
            pos = match.end()
        elif is_word_start(ch):
            end = pos + 1
            while end < len(text) and is_word_char(text[end]):
                end += 1
            tokens.append(Token(Kind.WORD, text[pos:end], text[pos:end], pos, end))
            pos = end
        else:
            raise QueryInvalid(f"unexpected character {ch!r} at position {pos}", position=pos)
    tokens.append(Token(Kind.END, "", "", len(text), len(text)))
    return tokens


def _string(text: str, start: int) -> Token:
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == quote:
            return Token(Kind.STRING, text[start : pos + 1], "".join(chars), start, pos + 1)
        if ch == "\\" and pos + 1 < len(text):
            following = text[pos + 1]
            # An unknown escape keeps its backslash, so LIKE and GLOB patterns can
            # write a literal wildcard as "100\%" as well as "100\\%".
            chars.append(ESCAPES.get(following, "\\" + following))
            pos += 2
            continue
        chars.append(ch)
        pos += 1
    raise QueryInvalid(f"unterminated string starting at position {start}", position=start)


def _number(text: str, start: int, match: re.Match[str]) -> Token:
    end = match.end()
    if end < len(text) and is_word_char(text[end]):
        while end < len(text) and is_word_char(text[end]):
            end += 1
        raise QueryInvalid(
            f"malformed number {text[start:end]!r} at position {start}; "
            f'quote text and timestamps: "{text[start:end]}"',
            position=start,
        )
    written = match[0]
    value: int | float
    if any(c in written for c in ".eE"):
        value = float(written)
        if value in (float("inf"), float("-inf")):
            raise QueryInvalid(f"number out of range at position {start}", position=start)
    else:
        value = int(written)
        if abs(value) > MAX_INTEGER:
            raise QueryInvalid(f"number out of range at position {start}", position=start)
    return Token(Kind.NUMBER, written, value, start, end)
