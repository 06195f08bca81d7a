"""The fast canonical form writes exactly RFC 8785's bytes, for every document."""

from __future__ import annotations

from datetime import UTC, datetime

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from modeldepot.audit.canonical import canonical, plain

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), documents, max_size=6))
def test_matches_rfc8785_on_any_document(document: dict) -> None:
    try:
        expected = rfc8785.dumps(document)
    except (rfc8785.IntegerDomainError, rfc8785.FloatDomainError, UnicodeEncodeError):
        return  # outside what RFC 8785 can represent; never in a record of ours
    assert canonical(document) == expected


def test_datetimes_become_iso_8601_with_microseconds() -> None:
    at = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
    assert canonical({"at": at}) == b'{"at":"2026-12-06T07:00:00.000000+00:00"}'
    assert plain({"at": at}) == {"at": "2026-12-06T07:00:00.000000+00:00"}


def test_non_ascii_keys_sort_by_utf16_code_units() -> None:
    # U+1F600 sorts after U+FF61 by code point but before it in UTF-16, where it is the
    # surrogate pair D83D DE00.
    document = {"\uff61": 2, "\U0001f600": 1}
    body = canonical(document)
    assert body == rfc8785.dumps(document)
    assert body.index("\U0001f600".encode()) < body.index("\uff61".encode())
