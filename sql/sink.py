"""Writing batches into DuckDB tables exactly once: ``stream.to_duckdb(database, table, ...)``.

Each batch is written in one transaction together with a row ``(sink, batch_time)`` in the
bookkeeping table ``dstreams_batches``. A batch whose time is already there (it ran before a
restart, or is re-run after a failure) is skipped, so the table holds every batch once. A batch
that fails half-way rolls back and leaves nothing behind.

Modes: ``append`` inserts the rows (matching columns by name); ``upsert`` replaces rows whose
``key`` already exists (the last row of a key within a batch wins). The table is created from the
first non-empty batch if it does not exist (with ``PRIMARY KEY (key)`` for upserts).

The same pattern for ``foreachRDD`` users (any DuckDB connection you own)::

    import duckdb
    from dstreams.outputs import to_ms
    from dstreams.sql.sink import write_batch

    con = duckdb.connect("warehouse.duckdb")

    def save(time, rdd):
        write_batch(con, "word_counts", rdd.toArrow(), to_ms(time), mode="upsert", key="word")

    counts.foreachRDD(save)

``write_batch`` returns False when the batch was already written. Written by hand it is:
``BEGIN``; ``SELECT 1 FROM dstreams_batches WHERE sink = ? AND batch_time = ?`` (if found:
``ROLLBACK``, done); ``INSERT INTO table BY NAME SELECT * FROM batch``; ``INSERT INTO
dstreams_batches VALUES (...)``; ``COMMIT``.
"""

from __future__ import annotations

import datetime as _dt
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from dstreams import codec
from dstreams.batch import Batch
from dstreams.errors import ConfigurationError, SchemaError
from dstreams.rdd import RDD

from .column import quote

if TYPE_CHECKING:
    from dstreams.dstream import DStream

BOOKKEEPING = "dstreams_batches"
_POSITION = "__dstreams_position"
_BATCH_VIEW = "__dstreams_sink_batch"
MODES = ("append", "upsert")


def to_duckdb(
    stream: DStream,
    database: str,
    table: str,
    mode: str = "append",
    key: str | Sequence[str] | None = None,
    sink: str | None = None,
) -> None:
    """Add the output (see the module docstring); ``sink`` names it in the bookkeeping table."""
    from dstreams.dstream import _ForEachDStream

    keys = _check(table, mode, key)
    writer = _Writer(stream._ssc, database, table, mode, keys, sink or table)
    _ForEachDStream(stream, writer.write, f"to_duckdb({database!r}, {table!r})")


def write_batch(
    con: duckdb.DuckDBPyConnection,
    table: str,
    data: pa.Table,
    batch_time: int,
    mode: str = "append",
    key: str | Sequence[str] | None = None,
    sink: str | None = None,
) -> bool:
    """Write ``data`` as batch ``batch_time`` (ms) once; False when that batch was already written."""
    keys = _check(table, mode, key)
    _ensure_bookkeeping(con)
    return _write(con, table, data, int(batch_time), mode, keys, sink or table)


def _check(table: str, mode: str, key: str | Sequence[str] | None) -> list[str]:
    if mode not in MODES:
        raise ConfigurationError(f"to_duckdb: mode must be one of {MODES}, got {mode!r}")
    keys = [key] if isinstance(key, str) else list(key or [])
    if mode == "upsert" and not keys:
        raise ConfigurationError("to_duckdb(mode='upsert') needs key= (the column(s) that identify a row)")
    if not table:
        raise ConfigurationError("to_duckdb needs a table name")
    return keys


class _Writer:
    """One output's connection to its database file, opened at the first batch."""

    def __init__(self, ssc: Any, database: str, table: str, mode: str, keys: list[str], sink: str):
        self._ssc = weakref.ref(ssc)
        self.database, self.table, self.mode, self.keys, self.sink = database, table, mode, keys, sink
        self._con: duckdb.DuckDBPyConnection | None = None
        self._registered = False  # close() is a stop callback of the context
        self._lock = threading.Lock()

    def write(self, t: int, batch: Batch) -> None:
        data = RDD(batch).toArrow()
        ssc = self._ssc()
        with self._lock:
            if self._con is None:
                self._con = duckdb.connect(self.database)
                _ensure_bookkeeping(self._con)
                if ssc is not None and not self._registered:
                    # DuckDB locks the file while a connection is open: release it when the context
                    # stops, so that the application (or its next run) can open it at once.
                    ssc._stop_callbacks.append(self.close)
                    self._registered = True
            _write(self._con, self.table, data, t, self.mode, self.keys, self.sink)
        if ssc is not None and ssc.getState() == "STOPPED":
            self.close()  # a batch that ends after stop() returned (stop called from inside a batch)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {BOOKKEEPING} (sink VARCHAR, batch_time BIGINT, num_rows BIGINT, "
        "written_at TIMESTAMP, PRIMARY KEY (sink, batch_time))"
    )


def _write(
    con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, t: int, mode: str, keys: list[str], sink: str
) -> bool:
    odd = [f.name for f in data.schema if codec.is_pickled(f) and not codec.is_tuples(f)]
    if odd:
        raise SchemaError(
            f"to_duckdb({table!r}): column(s) {odd} hold Python objects with no SQL type; "
            "make each column one type first, e.g. .map(str)"
        )
    missing = [k for k in keys if data.num_rows and k not in data.column_names]
    if missing:
        raise SchemaError(
            f"to_duckdb({table!r}): key column(s) {missing} not in the batch {data.column_names}"
        )
    positioned = data.append_column(_POSITION, pa.array(range(data.num_rows), pa.int64()))
    con.register(_BATCH_VIEW, positioned)  # outside the transaction: an aborted one cannot drop it
    try:
        con.begin()
        try:
            done = con.execute(
                f"SELECT 1 FROM {BOOKKEEPING} WHERE sink = ? AND batch_time = ?", [sink, t]
            ).fetchall()
            if done:
                con.rollback()
                return False
            if data.num_rows:
                _insert(con, table, mode, keys)
            con.execute(
                f"INSERT INTO {BOOKKEEPING} VALUES (?, ?, ?, ?)",
                [sink, t, data.num_rows, _dt.datetime.now()],
            )
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        con.unregister(_BATCH_VIEW)
    return True


def _insert(con: duckdb.DuckDBPyConnection, table: str, mode: str, keys: list[str]) -> None:
    target = _table_name(table)
    rows = f"SELECT * EXCLUDE ({_POSITION}) FROM {_BATCH_VIEW}"
    if not _exists(con, table):
        _create(con, target, con.sql(rows), keys if mode == "upsert" else [])
    if mode == "append":
        con.execute(f"INSERT INTO {target} BY NAME {rows}")
        return
    by_key = ", ".join(quote(k) for k in keys)
    latest = f"{rows} QUALIFY row_number() OVER (PARTITION BY {by_key} ORDER BY {_POSITION} DESC) = 1"
    try:
        con.execute(f"INSERT OR REPLACE INTO {target} BY NAME {latest}")
    except duckdb.BinderException as error:
        raise ConfigurationError(
            f"to_duckdb({table!r}, mode='upsert'): the table needs a PRIMARY KEY or UNIQUE "
            f"constraint on ({', '.join(keys)}): {error}"
        ) from error


def _table_name(table: str) -> str:
    return ".".join(quote(part) for part in table.split("."))


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    parts = table.split(".")
    name = parts[-1]
    query = "SELECT 1 FROM information_schema.tables WHERE table_name = ?"
    params: list[Any] = [name]
    if len(parts) > 1:
        query += " AND table_schema = ?"
        params.append(parts[-2])
    return bool(con.execute(query, params).fetchall())


def _create(
    con: duckdb.DuckDBPyConnection, target: str, rel: duckdb.DuckDBPyRelation, keys: list[str]
) -> None:
    columns = []
    for name, dtype in zip(rel.columns, rel.types):
        text = str(dtype)
        if text.strip('"') == "NULL":  # an all-null column: any type takes it; later batches cast
            text = "VARCHAR"
        columns.append(f"{quote(name)} {text}")
    if keys:
        columns.append(f"PRIMARY KEY ({', '.join(quote(k) for k in keys)})")
    con.execute(f"CREATE TABLE {target} ({', '.join(columns)})")
