"""The search query language: text → tokens → tree → SQL (docs/query-language.md).

``parser.parse`` reads a query; ``compile.compile_query`` turns it into a condition
on the rows of a ``targets.Target`` (``MODELS`` or ``VERSIONS``); ``plan.plan_search``
adds sorting and keyset pagination.
"""
