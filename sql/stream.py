"""SQL over every batch: ``stream.sql(query)`` and ``ssc.sql(query, name=stream, ...)``.

Each batch's Arrow table is registered in the SparkSession's DuckDB connection under its name
(``batch`` by default), the query runs, and its Arrow result is the output batch. The query is
parsed when the stream is defined (a syntax error raises there) and prepared once, as a DuckDB
relation, on the first batch; every later batch re-binds it to the new table. Nothing is copied
on the way in: DuckDB scans the batch's Arrow buffers (``string_view`` included).

The query runs on the SparkSession's connection, so it can also read temporary views and the
tables registered with ``ssc.register_table`` (the stream names shadow views of the same name
while the query runs).

Column names follow the stream's layout: a stream of scalars has one column ``value``, a pair
stream ``key`` and ``value``, a columnar stream its own columns. The result's columns decide the
output layout the same way (``SELECT word AS key, n AS value`` gives pairs).

>>> words.sql("SELECT value AS word, count(*) AS n FROM batch GROUP BY value ORDER BY n DESC")
>>> ssc.sql("SELECT * FROM clicks JOIN views USING (id)", clicks=clicks, views=views)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from dstreams import codec
from dstreams.batch import Batch
from dstreams.codec import PARTITION
from dstreams.dstream import DStream
from dstreams.errors import BatchError, ConfigurationError, SchemaError
from dstreams.outputs import batch_label

from .errors import ParseException
from .session import SparkSession

if TYPE_CHECKING:
    from dstreams.context import StreamingContext


def stream_sql(stream: DStream, query: str, name: str = "batch") -> DStream:
    """``stream.sql(query)``: the query over each batch, registered as ``name``."""
    return SqlDStream(stream._ssc, query, {name: stream})


def context_sql(ssc: StreamingContext, query: str, streams: Mapping[str, DStream]) -> DStream:
    """``ssc.sql(query, clicks=s1, views=s2)``: one query per batch over several streams."""
    if not streams:
        raise ConfigurationError(
            "ssc.sql needs the streams the query reads, by name: ssc.sql(query, clicks=clicks_stream)"
        )
    return SqlDStream(ssc, query, dict(streams))


def check_query(query: str, where: str) -> None:
    """Parse ``query`` now: one SELECT statement, or a ParseException naming ``where``."""
    with SparkSession.active()._connection() as con:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as error:
            raise ParseException(f"{where}: {error}\n  query: {query}", query) from error
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ParseException(f"{where}: the query must be one SELECT statement\n  query: {query}", query)


class SqlDStream(DStream):
    """The result of a SQL query over the batches of one or more named streams."""

    def __init__(self, ssc: StreamingContext, query: str, inputs: dict[str, DStream]):
        for name, stream in inputs.items():
            if not isinstance(stream, DStream):
                raise ConfigurationError(f"sql: {name}= must be a DStream, got {type(stream).__name__}")
            if not name.isidentifier():
                raise ConfigurationError(f"sql: stream name {name!r} must be a plain identifier")
        streams = list(inputs.values())
        if len({s._slide_ms for s in streams}) > 1:
            slides = {n: s._slide_ms for n, s in inputs.items()}
            raise ConfigurationError(f"sql: the streams must have the same slide duration, got {slides} ms")
        from .tables import registered_names

        clash = registered_names(ssc) & set(inputs)
        if clash:
            raise ConfigurationError(
                f"sql: {sorted(clash)} already name tables registered with ssc.register_table; "
                "name the stream differently, e.g. stream.sql(query, name='events')"
            )
        self._query = query
        self._label = f"sql({_short(query)!r})"
        check_query(query, self._label)
        super().__init__(ssc, streams)
        self._names = list(inputs)
        self._schemas: dict[str, pa.Schema] = {}  # last non-empty schema of each input
        self._prepared = PreparedQuery(query, self._names)

    def _compute(self, t: int) -> Batch | None:
        batches = [p._get(t) for p in self._parents]
        if all(b is None for b in batches):
            return None
        tables = [self._input(name, batch) for name, batch in zip(self._names, batches)]
        try:
            result = self._prepared.run(tables)
        except duckdb.Error as error:
            if all(tb.num_rows == 0 for tb in tables) and not self._schemas:
                # Nothing has arrived yet, so the inputs have no columns to bind the query to.
                return Batch.empty(1)
            raise self._error(error, t, tables) from error
        return Batch(result, codec.layout_of(result), 1)

    def _input(self, name: str, batch: Batch | None) -> pa.Table:
        if batch is None:
            known = self._schemas.get(name)
            return known.empty_table() if known is not None else pa.table({"value": pa.nulls(0)})
        table = batch.table
        if PARTITION in table.column_names:
            table = table.drop_columns([PARTITION])
        pickled = [f.name for f in table.schema if codec.is_pickled(f) and not codec.is_tuples(f)]
        if pickled:
            raise SchemaError(
                f"{self._label}: column(s) {pickled} of {name!r} hold Python objects with no single SQL "
                "type (mixed types, tuples...); make each column one type first, e.g. .map(str)"
            )
        if table.num_rows:
            self._schemas[name] = table.schema
        elif name in self._schemas and not table.schema.equals(self._schemas[name]):
            # An empty batch (e.g. a drained queue) has a placeholder column: keep the real ones.
            table = self._schemas[name].empty_table()
        return table

    def _error(self, error: duckdb.Error, t: int, tables: list[pa.Table]) -> BatchError:
        inputs = "; ".join(
            f"{name}({', '.join(f'{f.name}: {f.type}' for f in table.schema)})"
            for name, table in zip(self._names, tables)
        )
        message = (
            f"{self._label} failed on {batch_label(t)}: {error}\n  query: {self._query}\n  tables: {inputs}"
        )
        return BatchError(message, operator=self._label, batch_time=t)


class PreparedQuery:
    """A query prepared once and re-bound to new Arrow tables on each run."""

    def __init__(self, query: str, names: list[str]):
        self._query, self._names = query, names
        self._session: SparkSession | None = None
        self._rel: duckdb.DuckDBPyRelation | None = None

    def run(self, tables: list[pa.Table]) -> pa.Table:
        """The query's result with ``tables`` registered under the names (DuckDB errors propagate)."""
        session = SparkSession.active()
        with session._connection() as con:  # the session's lock also guards _session and _rel
            if session is not self._session:  # first run, or the session was stopped and replaced
                self._session, self._rel = session, None
            try:
                for name, table in zip(self._names, tables):
                    con.register(name, table)
                if self._rel is None:
                    self._rel = con.sql(self._query)
                return self._rel.to_arrow_table()  # type: ignore[union-attr]
            finally:
                for name in self._names:
                    con.unregister(name)


def _short(query: str, limit: int = 60) -> str:
    text = " ".join(query.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
