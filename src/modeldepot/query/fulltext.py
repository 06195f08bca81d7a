"""Free-text matching of ``search_documents`` rows, on each database's own index.

The user's text is reduced to its words, and a document matches when it holds every
word (stemmed: "detecting" finds "detection"). Whatever the text, the query sent to
the full-text engine is well formed: user input cannot cause a syntax error there.

* SQLite: the rowids of the FTS5 table ``search_fts`` (external content, rowid =
  ``search_documents.id``) matching a query of double-quoted words.
* PostgreSQL: ``to_tsvector('english', body) @@ plainto_tsquery('english', :words)``;
  the configuration is written as a literal so that the expression is the one the
  GIN index ``ix_search_documents_tsv`` was built on, also under generic plans.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    column,
    false,
    func,
    literal_column,
    select,
    table,
)

from modeldepot.db.tables import FTS_CONFIG, search_documents

_WORD = re.compile(r"\w+")
_CONFIG: ColumnClause[str] = literal_column(f"'{FTS_CONFIG}'")
_FTS = table("search_fts", column("rowid"))


def words(text: str) -> list[str]:
    """The words of ``text``: runs of letters, digits and underscores."""
    return _WORD.findall(text)


def fts5_query(text: str) -> str:
    """An FTS5 query matching documents that hold every word of ``text``.

    Each word is a double-quoted string (``\\w`` never holds a quote), so operators
    such as AND, NEAR or ``*`` in the text are searched as words, not obeyed.
    """
    return " ".join(f'"{word}"' for word in words(text))


def text_match(text: str, *, sqlite: bool) -> ColumnElement[bool]:
    """Rows of ``search_documents`` whose body holds every word of ``text``; FALSE for
    a text without words."""
    found = words(text)
    if not found:
        return false()
    if sqlite:
        matching = select(_FTS.c.rowid).where(
            literal_column("search_fts").op("MATCH", is_comparison=True)(fts5_query(text))
        )
        return search_documents.c.id.in_(matching)
    vector = func.to_tsvector(_CONFIG, search_documents.c.body)
    query = func.plainto_tsquery(_CONFIG, " ".join(found))
    return vector.op("@@", is_comparison=True)(query)
