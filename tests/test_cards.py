"""Model cards (``modeldepot.cards``): front matter, known sections and completeness."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from modeldepot.cards import (
    KNOWN_SECTIONS,
    MAX_CARD_CHARS,
    SECTION_HEADINGS,
    Card,
    card_template,
    parse_card,
)
from modeldepot.errors import CardInvalid

# The layout of the Hugging Face Hub's card template, partly filled in.
HUB_CARD = """---
language:
- en
license: apache-2.0
library_name: transformers
tags:
- text-classification
datasets:
- imdb
metrics:
- accuracy
model-index:
- name: sentiment-small
  results:
  - task:
      type: text-classification
    dataset:
      name: imdb
      type: imdb
    metrics:
    - type: accuracy
      value: 0.93
---

# Model Card for sentiment-small

<!-- Provide a quick summary of what the model is/does. -->

Classifies movie reviews as positive or negative.

## Model Details

### Model Description

- **Developed by:** Acme ML
- **Model type:** DistilBERT

## Uses

<!-- Address questions around how the model is intended to be used. -->

### Direct Use

<!-- This section is for the model use without fine-tuning. -->

Sorting English movie reviews by sentiment.

### Downstream Use [optional]

[More Information Needed]

### Out-of-Scope Use

<!-- This section addresses misuse, malicious use, and uses it will not work well for. -->

[More Information Needed]

## Bias, Risks, and Limitations

Reviews with sarcasm are often misread.

## Training Details

### Training Data

<!-- Link to the dataset card. -->

The IMDB train split, 25,000 reviews.

### Training Procedure

[More Information Needed]

## Evaluation

### Testing Data, Factors & Metrics

#### Testing Data

[More Information Needed]

### Results

Accuracy 0.93 on the IMDB test split.

## Environmental Impact

[More Information Needed]
"""

# What transformers' Trainer writes for a fine-tuned model.
TRAINER_CARD = """---
license: apache-2.0
tags:
- generated_from_trainer
model-index:
- name: tiny-finetuned
  results: []
---

<!-- This model card has been generated automatically. -->

# tiny-finetuned

## Model description

More information needed

## Intended uses & limitations

More information needed

## Training and evaluation data

More information needed

## Training procedure

### Training hyperparameters

- learning_rate: 2e-05
"""


def card(sections: dict[str, str]) -> str:
    return "# Model\n\n" + "".join(f"## {h}\n\n{t}\n\n" for h, t in sections.items())


def test_card_without_front_matter() -> None:
    text = "# Model\n\n## Intended use\n\nRanking ads.\n"
    parsed = parse_card(text)
    assert parsed == Card(
        front_matter={},
        body=text,
        sections={"intended_use": "Ranking ads."},
        completeness=0.17,
        missing=[k for k in KNOWN_SECTIONS if k != "intended_use"],
    )


def test_hub_card_front_matter_and_sections() -> None:
    parsed = parse_card(HUB_CARD)
    assert parsed.front_matter["license"] == "apache-2.0"
    assert parsed.front_matter["datasets"] == ["imdb"]
    results = parsed.front_matter["model-index"][0]["results"]
    assert results[0]["metrics"][0]["value"] == 0.93
    assert parsed.body.startswith("\n# Model Card for sentiment-small")
    assert parsed.sections == {
        "intended_use": "Sorting English movie reviews by sentiment.",
        "training_data": "The IMDB train split, 25,000 reviews.",
        "evaluation": "Accuracy 0.93 on the IMDB test split.",
        "limitations": "Reviews with sarcasm are often misread.",
    }
    assert parsed.missing == ["out_of_scope_use", "ethical_considerations"]
    assert parsed.completeness == 0.67


def test_trainer_card_placeholders_count_as_missing() -> None:
    parsed = parse_card(TRAINER_CARD)
    assert parsed.front_matter["tags"] == ["generated_from_trainer"]
    assert parsed.sections == {}
    assert parsed.completeness == 0.0


def test_intended_uses_and_limitations_fill_both_sections() -> None:
    text = TRAINER_CARD.replace(
        "## Intended uses & limitations\n\nMore information needed",
        "## Intended uses & limitations\n\nFor short English texts; fails on code.",
    )
    parsed = parse_card(text)
    assert parsed.sections["intended_use"] == parsed.sections["limitations"]
    assert parsed.missing == [
        "out_of_scope_use",
        "training_data",
        "evaluation",
        "ethical_considerations",
    ]


@pytest.mark.parametrize(
    ("key", "heading"),
    [(key, heading) for key, headings in SECTION_HEADINGS.items() for heading in headings],
)
def test_every_accepted_heading(key: str, heading: str) -> None:
    for level in ("#", "##", "###"):
        for variant in (heading, heading.upper(), heading.lower()):
            parsed = parse_card(f"{level} {variant}\n\nSomething real.\n")
            assert key in parsed.sections, f"{level} {variant}"


@pytest.mark.parametrize(
    "heading",
    [
        "Intended Uses:",
        "1. Intended use",
        "**Limitations**",
        "Out-of-Scope Uses",
        "Evaluation (on GLUE)",
        "Limitations ##",
        "  Ethics  ",
    ],
)
def test_headings_are_matched_loosely(heading: str) -> None:
    assert parse_card(f"## {heading}\n\nReal text.\n").sections


@pytest.mark.parametrize(
    "text",
    [
        "#### Limitations\n\nReal text.\n",  # too deep
        "##Limitations\n\nReal text.\n",  # not a heading without a space
        "    ## Limitations\n\nReal text.\n",  # indented code
        "## Known limitations\n\nReal text.\n",  # not an accepted title
        "```\n## Limitations\nReal text.\n```\n",  # inside a code fence
        "~~~~md\n## Limitations\n~~~\nReal text.\n~~~~\n",
    ],
)
def test_what_is_not_a_known_heading(text: str) -> None:
    assert parse_card(text).sections == {}


@pytest.mark.parametrize(
    "content",
    [
        "",
        "   \n\n  ",
        "[More Information Needed]",
        "More information needed.",
        "<!-- Say who should use it. -->",
        "<!-- An unclosed comment\n\nruns to the end",
        "TODO",
        "[TBD]",
        "### Sub heading\n\n[More Information Needed]",
    ],
)
def test_placeholders_comments_and_blank_text_are_missing(content: str) -> None:
    parsed = parse_card(f"## Limitations\n\n{content}\n\n## Ethics\n\nReal text.\n")
    assert "limitations" not in parsed.sections
    assert parsed.sections == {"ethical_considerations": "Real text."}


def test_a_section_includes_its_subsections_up_to_the_next_known_heading() -> None:
    text = card(
        {
            "Evaluation": "### Testing data\n\nHeld-out week.\n\n#### Metrics\n\nAUC.",
            "Uses": "### Direct use\n\nScoring.\n\n### Out-of-scope use\n\nCredit decisions.",
        }
    )
    parsed = parse_card(text)
    assert (
        parsed.sections["evaluation"]
        == "### Testing data\n\nHeld-out week.\n\n#### Metrics\n\nAUC."
    )
    assert parsed.sections["intended_use"] == "Scoring."
    assert parsed.sections["out_of_scope_use"] == "Credit decisions."


def test_a_section_ends_at_a_heading_of_the_same_level() -> None:
    parsed = parse_card("## Limitations\n\nSlow.\n\n## Appendix\n\nTables.\n")
    assert parsed.sections == {"limitations": "Slow."}


def test_repeated_sections_are_joined() -> None:
    parsed = parse_card("## Evaluation\n\nAUC 0.8.\n\n## Results\n\nAUC 0.81 on week 2.\n")
    assert parsed.sections == {"evaluation": "AUC 0.8.\n\nAUC 0.81 on week 2."}


@pytest.mark.parametrize(("present", "completeness"), [(0, 0.0), (1, 0.17), (4, 0.67), (6, 1.0)])
def test_completeness_is_the_share_of_known_sections(present: int, completeness: float) -> None:
    headings = {SECTION_HEADINGS[key][0]: "Real text." for key in KNOWN_SECTIONS[:present]}
    parsed = parse_card(card(headings))
    assert parsed.completeness == completeness
    assert parsed.missing == list(KNOWN_SECTIONS[present:])


def test_crlf_line_endings() -> None:
    parsed = parse_card("---\r\nlicense: mit\r\n---\r\n## Limitations\r\n\r\nSlow.\r\n")
    assert parsed.front_matter == {"license": "mit"}
    assert parsed.sections == {"limitations": "Slow."}
    assert "\r" not in parsed.body


def test_empty_front_matter_and_byte_order_mark() -> None:
    assert parse_card("---\n---\n# Model\n").front_matter == {}
    assert parse_card("\ufeff---\nlicense: mit\n---\n").front_matter == {"license": "mit"}
    assert parse_card("").completeness == 0.0


INVALID = {
    "bad YAML": ("---\nlicense: [mit\n---\n", "not valid YAML"),
    "bad indent": ("---\nlicense: mit\n  tags: x\n---\n", "line 3"),
    "list": ("---\n- a\n- b\n---\n", "must be a YAML mapping, not list"),
    "scalar": ("---\njust a string\n---\n", "must be a YAML mapping, not str"),
    "int key": ("---\n1: one\n---\n", "keys must be strings"),
    "unclosed": ("---\nlicense: mit\n# never closed\n", "never closed"),
    "python tag": ("---\nx: !!python/object/apply:os.system ['true']\n---\n", "not valid YAML"),
    "deep": ("---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\n", "nested more than 32"),
    "deep-ish": ("---\nx: " + "[" * 32 + "]" * 32 + "\n---\n", "nested more than 32"),
    # Past libyaml's own limit (1,000 levels in recent releases): still our limit's refusal.
    "deep flow mappings": ("---\nx: " + "{a: " * 3000 + "}" * 3000 + "\n---\n", "more than 32"),
    "deep blocks": (
        "---\n" + "".join(" " * i + "-\n" for i in range(600)) + "---\n",
        "nested more than 32",
    ),
    "deep compact": ("---\nx:\n" + "- " * 2000 + "x\n---\n", "nested more than 32"),
    "deep indentless": (
        "---\n"
        + "".join(" " * (2 * i) + "k:\n" + " " * (2 * i) + "- \n" for i in range(40))
        + "---\n",
        "nested more than 32",
    ),
    "NUL": ("# Model\x00\n", "NUL"),
    "too long": ("x" * (MAX_CARD_CHARS + 1), "at most"),
}


@pytest.fixture(params=["libyaml", "python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards parse alike with and without libyaml."""
    if request.param == "python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize(("text", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_cards(text: str, message: str) -> None:
    with pytest.raises(CardInvalid, match=message) as raised:
        parse_card(text)
    assert raised.value.code == "CARD_INVALID"
    assert "\n" not in raised.value.detail


@pytest.mark.usefixtures("yaml_loader")
@pytest.mark.parametrize("depth", [33, 999, 1001, 5000])
def test_too_deep_front_matter_is_refused_before_any_yaml_parser_sees_it(
    depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("the YAML parser was handed front matter past our limit")

    monkeypatch.setattr(yaml, "load", no_parsing)
    with pytest.raises(CardInvalid, match="nested more than 32"):
        parse_card("---\nx: " + "[" * depth + "]" * depth + "\n---\n")


def test_ordinary_front_matter_is_not_scanned_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The depth pre-check scans tokens only when its cheap bound says it must."""

    def no_scanning(*args: object, **kwargs: object) -> None:
        raise AssertionError("front matter of ordinary depth was scanned for its depth")

    monkeypatch.setattr(yaml, "scan", no_scanning)
    card = parse_card(
        "---\nlicense: mit\ntags: [a, b]\ndatasets:\n- s3://data/x\nmodel-index:\n"
        "- name: m\n  results:\n  - task: {type: classification}\n    metrics:\n"
        "    - {type: auc, value: 0.9}\n---\n# M\n"
    )
    assert card.front_matter["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.9


@pytest.mark.usefixtures("yaml_loader")
def test_front_matter_nested_to_the_limit_is_accepted() -> None:
    parsed = parse_card("---\nx: " + "[" * 31 + "]" * 31 + "\n---\n")  # the mapping is 1
    expected: list[object] = []
    for _ in range(30):
        expected = [expected]
    assert parsed.front_matter["x"] == expected


def test_a_card_of_the_maximum_size_is_accepted() -> None:
    assert parse_card("x" * MAX_CARD_CHARS).body == "x" * MAX_CARD_CHARS


def test_yaml_is_imported_only_for_front_matter() -> None:
    code = (
        "import sys\n"
        "from modeldepot.cards import parse_card\n"
        "parse_card('# Model\\n## Limitations\\nSlow.\\n')\n"
        "assert 'yaml' not in sys.modules\n"
        "parse_card('---\\nlicense: mit\\n---\\n')\n"
        "assert 'yaml' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_template_parses_with_every_section_missing() -> None:
    text = card_template("ads/ctr")
    parsed = parse_card(text)
    assert parsed.front_matter == {"tags": [], "datasets": [], "metrics": []}
    assert parsed.body.lstrip().startswith("# ads/ctr\n")
    assert parsed.completeness == 0.0
    assert parsed.missing == list(KNOWN_SECTIONS)


def test_template_filled_in_is_complete() -> None:
    text = card_template("ads/ctr").replace("[More Information Needed]", "Written.")
    assert parse_card(text).completeness == 1.0


def test_template_keeps_the_name_on_one_line() -> None:
    assert "# ads ctr\n" in card_template("ads\nctr")
