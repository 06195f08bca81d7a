"""Model cards: Markdown with optional YAML front matter, as on the Hugging Face Hub.

A card is judged by six known sections, each found under a heading (``#`` to
``###``) with one of several accepted titles::

    ---                        ← front matter: a YAML mapping (optional)
    license: mit
    ---
    # My model
    ## Intended uses           ← any accepted title, any case, 1 to 3 ``#``
    Ranking ads for …          ← counts only with real text: comments, headings and
    ### Out-of-scope use          placeholders like [More Information Needed] do not
    …

A known section runs to the next heading of the same or a higher level, or to the
next known heading, whichever comes first. Shared by server and client; PyYAML is
imported only when a card has front matter.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any

from modeldepot.errors import CardInvalid

MAX_CARD_CHARS = 200_000
# Deeper front matter is no card's metadata, and would trouble JSON encoders later.
MAX_FRONT_MATTER_DEPTH = 32

KNOWN_SECTIONS = (
    "intended_use",
    "out_of_scope_use",
    "training_data",
    "evaluation",
    "limitations",
    "ethical_considerations",
)
# Accepted headings per section, the first being the title card_template writes.
# Beyond the usual synonyms: the headings of cards written by transformers' Trainer
# ("Intended uses & limitations", "Training and evaluation data") and of the older
# Hub template ("Limitations and bias").
SECTION_HEADINGS: dict[str, tuple[str, ...]] = {
    "intended_use": (
        "Intended use",
        "Intended uses",
        "Uses",
        "Direct use",
        "Intended uses & limitations",
    ),
    "out_of_scope_use": ("Out-of-scope use", "Out of scope uses", "Misuse"),
    "training_data": ("Training data", "Data", "Training and evaluation data"),
    "evaluation": ("Evaluation", "Evaluation results", "Results"),
    "limitations": (
        "Limitations",
        "Bias, risks, and limitations",
        "Risks and limitations",
        "Limitations and bias",
        "Intended uses & limitations",
    ),
    "ethical_considerations": ("Ethical considerations", "Ethics"),
}
_GUIDANCE = {
    "intended_use": "Who should use the model, for what, and how.",
    "out_of_scope_use": "Uses the model is not suited or allowed for.",
    "training_data": "The data the model was trained on: source, period, preparation.",
    "evaluation": "How the model was evaluated, on which data, and the results.",
    "limitations": "Known failure modes, biases and risks.",
    "ethical_considerations": "Ethical questions the model raises and how they are handled.",
}

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")
_PLACEHOLDER = re.compile(
    r"\[?\s*\b(?:more information needed|todo|tbd|to be (?:added|completed|determined))\b"
    r"\s*\.?\s*\]?",
    re.I,
)
_ASIDES = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # "[optional]", "(on GLUE)"
_NUMBERING = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s+")


@dataclass(frozen=True, slots=True)
class Card:
    """A parsed card. ``sections`` holds the known sections with real content, their
    text without HTML comments; ``missing`` the others, in KNOWN_SECTIONS order."""

    front_matter: dict[str, Any]
    body: str
    sections: dict[str, str]
    completeness: float
    missing: list[str]


def parse_card(text: str) -> Card:
    """Parse ``text``; raise CardInvalid for bad front matter, NUL or more than
    ``MAX_CARD_CHARS`` characters. Line endings in ``body`` become ``\\n``."""
    if len(text) > MAX_CARD_CHARS:
        raise CardInvalid(f"the card has {len(text)} characters; at most {MAX_CARD_CHARS}")
    if "\x00" in text:
        raise CardInvalid("the card contains a NUL character")
    front, body = _split(text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n"))
    sections = _sections(body)
    return Card(
        front_matter=_front_matter(front) if front is not None else {},
        body=body,
        sections=sections,
        completeness=round(len(sections) / len(KNOWN_SECTIONS), 2),
        missing=[key for key in KNOWN_SECTIONS if key not in sections],
    )


def card_template(name: str) -> str:
    """A starter card for model ``name``: front matter and every known section, each
    holding only guidance and a placeholder (so its completeness is 0)."""
    parts = [
        "---\n"
        "# Hugging Face model card metadata: https://huggingface.co/docs/hub/model-cards\n"
        "# license: apache-2.0\n"
        "tags: []\n"
        "datasets: []\n"
        "metrics: []\n"
        "---\n",
        f"# {' '.join(name.split())}\n",
        "<!-- What the model does, in a paragraph. -->\n",
    ]
    for key in KNOWN_SECTIONS:
        title = SECTION_HEADINGS[key][0]
        parts.append(f"## {title}\n\n<!-- {_GUIDANCE[key]} -->\n\n[More Information Needed]\n")
    return "\n".join(parts)


def _split(text: str) -> tuple[str | None, str]:
    """Front matter (None if absent) and body."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return None, text
    for end in range(1, len(lines)):
        if lines[end].rstrip() == "---":
            return "\n".join(lines[1:end]), "\n".join(lines[end + 1 :])
    raise CardInvalid("the front matter opened by '---' on line 1 is never closed")


def _front_matter(source: str) -> dict[str, Any]:
    import yaml

    # Our nesting limit is ours to enforce, before a parser meets input past its own.
    _refuse_deep_nesting(source)
    # safe_load's constructor, on libyaml's parser when present: five times faster,
    # which matters to a server parsing cards of up to MAX_CARD_CHARS.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(source, Loader=loader)
    except yaml.YAMLError as exc:
        raise CardInvalid(f"the front matter is not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardInvalid(f"the front matter must be a YAML mapping, not {type(data).__name__}")
    if not all(isinstance(key, str) for key in data):
        raise CardInvalid("the front matter's keys must be strings")
    if _depth(data) > MAX_FRONT_MATTER_DEPTH:
        raise _too_deep()
    return _as_json(data)


def _yaml_problem(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 2})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem}{where}"


def _too_deep() -> CardInvalid:
    return CardInvalid(f"the front matter is nested more than {MAX_FRONT_MATTER_DEPTH} deep")


def _refuse_deep_nesting(source: str) -> None:
    """Refuse YAML whose collections nest past MAX_FRONT_MATTER_DEPTH, before parsing.

    A cheap bound on the depth comes first: every ``[`` and ``{`` may open a flow
    collection; block collections nest only rightwards, each column holding at most a
    mapping and the sequence written level with it, and each ``-`` or ``?`` on a line
    opens at most a sequence and a mapping in it. Only text whose bound is over the
    limit is scanned into tokens, by PyYAML's pure-Python scanner, which keeps no
    limit of its own (libyaml's stops at its own depth, with its own message). What
    the tokens miss (a sequence level with its key) the parsed value is checked for.
    """
    if _nesting_bound(source) <= MAX_FRONT_MATTER_DEPTH:
        return
    import yaml

    opening = (
        yaml.BlockSequenceStartToken,
        yaml.BlockMappingStartToken,
        yaml.FlowSequenceStartToken,
        yaml.FlowMappingStartToken,
    )
    closing = (yaml.BlockEndToken, yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)
    depth = 0
    try:
        for token in yaml.scan(source, Loader=yaml.SafeLoader):
            if isinstance(token, opening):
                depth += 1
                if depth > MAX_FRONT_MATTER_DEPTH:
                    raise _too_deep()
            elif isinstance(token, closing):
                depth -= 1
    except yaml.YAMLError as exc:
        raise CardInvalid(f"the front matter is not valid YAML: {_yaml_problem(exc)}") from None


def _nesting_bound(source: str) -> int:
    """At least as deep as the collections of YAML ``source`` nest (see above)."""
    block = 0
    for line in source.split("\n"):
        content = line.lstrip(" ")
        indent = len(line) - len(content)
        block = max(block, 2 * (indent + 1 + content.count("-") + content.count("?")))
    return source.count("[") + source.count("{") + block


def _as_json(value: Any) -> Any:
    """The front matter as JSON holds it: dates become ISO 8601 text; binary data,
    sets and non-string keys are refused (no model card needs them)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CardInvalid("the front matter's keys must be strings")
            out[key] = _as_json(item)
        return out
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, datetime.date):  # datetime.datetime too
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise CardInvalid(
        f"the front matter holds a {type(value).__name__}, which a model card cannot keep"
    )


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in ``value``, found without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_FRONT_MATTER_DEPTH:  # no need to look further down
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth + 1) for child in children)
    return deepest


def _sections(body: str) -> dict[str, str]:
    """Known section → its text, for sections with real content, in KNOWN_SECTIONS order."""
    lines = body.split("\n")
    headings = _headings(lines)
    heading_lines = {number for number, _, _ in headings}
    found: dict[str, list[str]] = {}
    for i, (start, level, keys) in enumerate(headings):
        if not keys:
            continue
        # Each scan stops at the next known heading, so all of them together are linear.
        end = next(
            (
                headings[j][0]
                for j in range(i + 1, len(headings))
                if headings[j][1] <= level or headings[j][2]
            ),
            len(lines),
        )
        content = [lines[n] for n in range(start + 1, end) if n not in heading_lines]
        if _has_content("\n".join(content)):
            text = _COMMENT.sub("", "\n".join(lines[start + 1 : end]))
            text = _BLANK_LINES.sub("\n\n", text).strip()
            for key in keys:
                found.setdefault(key, []).append(text)
    return {key: "\n\n".join(found[key]) for key in KNOWN_SECTIONS if key in found}


def _headings(lines: list[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """Each ATX heading outside code fences as (line number, level, known sections)."""
    headings: list[tuple[int, int, tuple[str, ...]]] = []
    fence = ""
    for number, line in enumerate(lines):
        marker = _FENCE.match(line)
        if fence:
            if marker and marker[1][0] == fence[0] and len(marker[1]) >= len(fence):
                fence = ""
            continue
        if marker:
            fence = marker[1]
            continue
        match = _HEADING.match(line)
        if match:
            level = len(match[1])
            keys = _TITLES.get(_title_key(match[2] or ""), ()) if level <= 3 else ()
            headings.append((number, level, keys))
    return headings


def _title_key(title: str) -> str:
    """A heading reduced to lower-case words: no numbering, asides or punctuation."""
    title = _NUMBERING.sub("", _ASIDES.sub(" ", title))
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


def _has_content(text: str) -> bool:
    text = _PLACEHOLDER.sub(" ", _COMMENT.sub(" ", text))
    return any(ch.isalnum() for ch in text)


def _titles() -> dict[str, tuple[str, ...]]:
    titles: dict[str, tuple[str, ...]] = {}
    for key, accepted in SECTION_HEADINGS.items():
        for title in accepted:
            titles[_title_key(title)] = (*titles.get(_title_key(title), ()), key)
    return titles


_TITLES = _titles()
