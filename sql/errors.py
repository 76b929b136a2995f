"""Errors of ``dstreams.sql``, with PySpark's names so that ``except AnalysisException`` ports as is.

DuckDB's own exceptions are translated and chained (``__cause__``), so the message says what was
wrong and the DuckDB error keeps its line/caret diagnostics.
"""

from __future__ import annotations

import duckdb

from dstreams.errors import DStreamsError


class QueryError(DStreamsError):
    """A SQL query failed; ``query`` holds its text."""

    def __init__(self, message: str, query: str | None = None):
        super().__init__(message)
        self.query = query


class AnalysisException(QueryError):
    """The query cannot run on these tables: unknown table or column, wrong types (as PySpark's)."""


class ParseException(AnalysisException):
    """The query is not valid SQL (as PySpark's ``ParseException``)."""


def translate(error: duckdb.Error, query: str | None, where: str = "") -> QueryError:
    """A DuckDB error as the matching dstreams error; ``where`` says what ran the query."""
    if isinstance(error, duckdb.ParserException):
        kind: type[QueryError] = ParseException
    elif isinstance(error, (duckdb.BinderException, duckdb.CatalogException)):
        kind = AnalysisException
    else:
        kind = QueryError
    prefix = f"{where}: " if where else ""
    shown = f"\n  query: {query}" if query else ""
    return kind(f"{prefix}{error}{shown}", query)
