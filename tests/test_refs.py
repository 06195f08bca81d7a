"""Model names, aliases and the reference grammar of ``modeldepot.refs``."""

from __future__ import annotations

import dataclasses

import pytest

from modeldepot.errors import AliasInvalid, NameInvalid, ReferenceInvalid
from modeldepot.refs import (
    MAX_ALIAS_LENGTH,
    MAX_NAME_LENGTH,
    Ref,
    RefKind,
    parse_ref,
    ref_for_version,
    validate_alias,
    validate_name,
)

HEX = "0123456789abcdef" * 4
DIGEST = f"sha256:{HEX}"
LONGEST_NAME = "a" * MAX_NAME_LENGTH

# Regexes anchored with ``$`` also match just before a final newline; ``\Z`` or
# ``re.fullmatch`` would not. See the report for every place this affects.
ACCEPTED = [
    ("resnet", Ref("resnet", RefKind.LATEST)),
    ("3d-unet", Ref("3d-unet", RefKind.LATEST)),
    ("team/vision/resnet_50.v2", Ref("team/vision/resnet_50.v2", RefKind.LATEST)),
    (LONGEST_NAME, Ref(LONGEST_NAME, RefKind.LATEST)),
    ("resnet@latest", Ref("resnet", RefKind.LATEST)),
    ("resnet:7", Ref("resnet", RefKind.NUMBER, number=7)),
    ("resnet:10", Ref("resnet", RefKind.NUMBER, number=10)),
    ("resnet:" + "9" * 18, Ref("resnet", RefKind.NUMBER, number=int("9" * 18))),
    ("team/resnet:7", Ref("team/resnet", RefKind.NUMBER, number=7)),
    (f"{LONGEST_NAME}:7", Ref(LONGEST_NAME, RefKind.NUMBER, number=7)),
    ("resnet@prod", Ref("resnet", RefKind.ALIAS, alias="prod")),
    ("resnet@canary-2_b", Ref("resnet", RefKind.ALIAS, alias="canary-2_b")),
    ("resnet@" + "a" * MAX_ALIAS_LENGTH, Ref("resnet", RefKind.ALIAS, alias="a" * 63)),
    (f"resnet@{DIGEST}", Ref("resnet", RefKind.DIGEST, digest=DIGEST)),
    ("models:/resnet/7", Ref("resnet", RefKind.NUMBER, number=7)),
    ("models:/team/resnet/7", Ref("team/resnet", RefKind.NUMBER, number=7)),
    ("models:/resnet@prod", Ref("resnet", RefKind.ALIAS, alias="prod")),
    ("models:/team/resnet@prod", Ref("team/resnet", RefKind.ALIAS, alias="prod")),
    ("models:/resnet/latest", Ref("resnet", RefKind.LATEST)),
    ("models:/resnet@latest", Ref("resnet", RefKind.LATEST)),
    # A model may be called "models": only the "models:/" prefix is the MLflow form.
    ("models", Ref("models", RefKind.LATEST)),
    ("models@prod", Ref("models", RefKind.ALIAS, alias="prod")),
    ("models:7", Ref("models", RefKind.NUMBER, number=7)),
]

MALFORMED = [
    # empty and whitespace
    "",
    " ",
    "\t",
    "\n",
    " resnet",
    "resnet ",
    "resnet\n",
    "res net",
    "resnet:7 ",
    # names
    "Resnet",
    "team/ResNet",
    "a..b",
    "a/../b",
    "..",
    "a//b",
    "/a",
    "a/",
    "/",
    "a" * (MAX_NAME_LENGTH + 1),
    "a" * (MAX_NAME_LENGTH + 1) + ":7",
    "-a",
    ".a",
    "_a",
    "a/-b",
    "a/.b",
    "a\x00b",
    "a\\b",
    "café",
    # version numbers
    "a:",
    "a:0",
    "a:-1",
    "a:+1",
    "a:seven",
    "a:1.5",
    "a:07",
    "a:00",
    "a:1e3",
    "a:" + "9" * 19,
    ":7",
    "a:7:8",
    "a:7@prod",
    # aliases
    "a@",
    "@prod",
    "a@7prod",
    "a@Prod",
    "a@-prod",
    "a@_prod",
    "a@pr.od",
    "a@prod:7",
    "a@prod@x",
    "a@" + "a" * (MAX_ALIAS_LENGTH + 1),
    # digests
    "a@sha256:",
    "a@sha256:" + HEX[:63],
    "a@sha256:" + HEX + "0",
    "a@sha256:" + HEX.upper(),
    "a@sha256:" + "g" * 64,
    "a@SHA256:" + HEX,
    "a@sha512:" + HEX + HEX,
    "a@md5:" + HEX[:32],
    "a@" + HEX,
    "a:" + DIGEST,
    # MLflow form
    "models:",
    "models:resnet",
    "models:resnet/7",
    "models:/",
    "models:/resnet",
    "models:/team/resnet",
    "models:/resnet/",
    "models:/resnet/0",
    "models:/resnet/07",
    "models:/resnet/-1",
    "models:/resnet/7/",
    "models:/resnet:7",
    "models:/resnet@",
    "models:/resnet@7prod",
    "models:/Resnet/7",
    "models:/a//b/7",
    "models://resnet/7",
    "models:/resnet@" + DIGEST,
    "MODELS:/resnet/7",
    # inner newlines, which the '$' anchors let through
    "a\n@prod",
    "a\n:7",
    "a\n/b",
    "models:/a\n/7",
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_parse_ref_accepts_every_documented_form(text, expected):
    assert parse_ref(text) == expected


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_str_of_parsed_ref_parses_back_to_the_same_ref(text, expected):
    ref = parse_ref(text)
    assert parse_ref(str(ref)) == ref


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("resnet", "resnet"),
        ("resnet@latest", "resnet"),
        ("resnet:7", "resnet:7"),
        ("resnet@prod", "resnet@prod"),
        (f"resnet@{DIGEST}", f"resnet@{DIGEST}"),
        ("models:/team/resnet/7", "team/resnet:7"),
        ("models:/resnet@prod", "resnet@prod"),
        ("models:/resnet/latest", "resnet"),
        ("models:/resnet@latest", "resnet"),
    ],
)
def test_str_of_ref_is_the_short_native_form(text, canonical):
    assert str(parse_ref(text)) == canonical


@pytest.mark.parametrize(
    ("text", "selector"),
    [
        ("resnet", "latest"),
        ("resnet@latest", "latest"),
        ("models:/resnet/latest", "latest"),
        ("resnet:7", "7"),
        ("models:/resnet/12", "12"),
        ("resnet@prod", "prod"),
        ("models:/resnet@prod", "prod"),
        (f"resnet@{DIGEST}", DIGEST),
    ],
)
def test_selector_is_what_follows_the_name(text, selector):
    assert parse_ref(text).selector == selector


@pytest.mark.parametrize("text", MALFORMED)
def test_parse_ref_rejects_malformed_reference(text):
    with pytest.raises(ReferenceInvalid) as excinfo:
        parse_ref(text)
    assert excinfo.value.code == "REFERENCE_INVALID"
    assert type(excinfo.value) is ReferenceInvalid


@pytest.mark.parametrize("value", [None, 7, b"resnet", ["resnet"]])
def test_parse_ref_rejects_non_strings(value):
    with pytest.raises(ReferenceInvalid):
        parse_ref(value)


@pytest.mark.parametrize("text", ["a//b", "a:07", "a@7prod", "models:/resnet"])
def test_reference_error_names_the_reference(text):
    with pytest.raises(ReferenceInvalid) as excinfo:
        parse_ref(text)
    assert repr(text) in excinfo.value.detail


def test_ref_is_an_immutable_hashable_value():
    ref = parse_ref("resnet:7")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.number = 8  # type: ignore[misc]
    assert {ref: 1}[parse_ref("models:/resnet/7")] == 1


def test_ref_kind_values_are_stable_strings():
    assert [k.value for k in RefKind] == ["latest", "number", "alias", "digest"]


@pytest.mark.parametrize(
    "name",
    ["a", "0", "resnet", "3d-unet", "a_b", "a.b", "a-", "team/vision/resnet", LONGEST_NAME],
)
def test_validate_name_returns_valid_name(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "A",
        "Resnet",
        "a..b",
        "a/../b",
        "a//b",
        "/a",
        "a/",
        "-a",
        ".a",
        "_a",
        "a/-b",
        "a/.b",
        "a b",
        "a:b",
        "a@b",
        "a\x00",
        "a" * (MAX_NAME_LENGTH + 1),
        None,
        7,
        "abc\n",
        "abc\n/d",
    ],
)
def test_validate_name_rejects_invalid_name(name):
    with pytest.raises(NameInvalid) as excinfo:
        validate_name(name)
    assert excinfo.value.code == "NAME_INVALID"


@pytest.mark.parametrize("alias", ["p", "prod", "canary-2", "a_b", "a" * MAX_ALIAS_LENGTH])
def test_validate_alias_returns_valid_alias(alias):
    assert validate_alias(alias) == alias


@pytest.mark.parametrize(
    "alias",
    [
        "",
        "7prod",
        "Prod",
        "-prod",
        "_prod",
        "pr od",
        "pr.od",
        "pr/od",
        "pr:od",
        "a" * (MAX_ALIAS_LENGTH + 1),
        None,
        "prod\n",
    ],
)
def test_validate_alias_rejects_invalid_alias(alias):
    with pytest.raises(AliasInvalid) as excinfo:
        validate_alias(alias)
    assert excinfo.value.code == "ALIAS_INVALID"


def test_latest_is_reserved_as_an_alias_name():
    with pytest.raises(AliasInvalid) as excinfo:
        validate_alias("latest")
    assert excinfo.value.code == "ALIAS_INVALID"


def test_latest_is_accepted_as_an_alias_name_when_allowed():
    assert validate_alias("latest", allow_latest=True) == "latest"


def test_latest_is_accepted_in_references_as_the_newest_version():
    assert parse_ref("resnet@latest").kind is RefKind.LATEST
    assert parse_ref("resnet@latest").alias is None


def test_ref_for_version_builds_a_numbered_ref():
    assert ref_for_version("team/resnet", 3) == parse_ref("team/resnet:3")


def test_ref_for_version_rejects_invalid_name():
    with pytest.raises(NameInvalid):
        ref_for_version("Team", 3)
