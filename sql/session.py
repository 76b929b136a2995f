"""``SparkSession``: one DuckDB connection per process, with PySpark's entry points.

``SparkSession.builder...getOrCreate()`` returns the same session until ``stop()``. Its in-memory
DuckDB connection holds the temporary views (``createOrReplaceTempView``), the tables a streaming
context registers (``ssc.register_table``) and runs every query: ``spark.sql``, DataFrame methods
and ``stream.sql``. Arrow data is registered, never copied. A lock makes the connection safe to use
from the scheduler thread and the main thread.

Config keys starting with ``duckdb.`` are DuckDB settings for the connection, e.g.
``.config("duckdb.threads", 1)``; other keys are kept (``spark.conf.get``) and have no effect.

>>> spark = SparkSession.builder.appName("demo").getOrCreate()
>>> spark.createDataFrame([("a", 1), ("b", 2)], ["word", "n"]).createOrReplaceTempView("t")
>>> spark.sql("SELECT sum(n) AS total FROM t").collect()
[Row(total=3)]
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from dstreams.errors import ConfigurationError, NotSupportedError
from dstreams.spark import SparkConf, SparkContext

from .errors import translate

_ids = itertools.count()


class RuntimeConfig:
    """``spark.conf``: string settings."""

    def __init__(self, pairs: dict[str, str]):
        self._pairs = pairs

    def get(self, key: str, default: Any = None) -> Any:
        return self._pairs.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._pairs[key] = str(value)

    def unset(self, key: str) -> None:
        self._pairs.pop(key, None)

    def getAll(self) -> dict[str, str]:
        return dict(self._pairs)


class Builder:
    """``SparkSession.builder``: collects settings, then ``getOrCreate()``."""

    def __init__(self) -> None:
        self._options: dict[str, str] = {}

    def config(
        self,
        key: str | None = None,
        value: Any = None,
        conf: SparkConf | None = None,
        map: dict | None = None,
    ) -> Builder:
        """``config("k", "v")``, ``config(conf=sparkConf)`` or ``config(map={...})``."""
        if conf is not None:
            self._options.update(dict(conf.getAll()))
        if map is not None:
            self._options.update({k: str(v) for k, v in map.items()})
        if key is not None:
            self._options[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def appName(self, name: str) -> Builder:
        return self.config("spark.app.name", name)

    def master(self, master: str) -> Builder:
        return self.config("spark.master", master)

    def enableHiveSupport(self) -> Builder:
        """Accepted for compatibility: DuckDB's catalog takes the place of Hive's."""
        return self

    def remote(self, url: str) -> Builder:
        raise NotSupportedError("Spark Connect is not available: SparkSession runs in-process on DuckDB")

    def getOrCreate(self) -> SparkSession:
        """The running session (settings applied to its ``conf``), or a new one."""
        with SparkSession._class_lock:
            session = SparkSession._active
            if session is None or session._con is None:
                session = SparkSession(self._options)
                SparkSession._active = session
            else:
                for key, value in self._options.items():
                    if key.startswith("duckdb."):
                        session._apply_duckdb_setting(key, value)
                    session.conf.set(key, value)
            return session


class _BuilderProperty:
    def __get__(self, obj: Any, owner: type) -> Builder:
        return Builder()


class SparkSession:
    """Entry point of ``dstreams.sql``: ``createDataFrame``, ``sql``, ``read``, ``table``."""

    builder = _BuilderProperty()
    _active: SparkSession | None = None
    _class_lock = threading.Lock()

    def __init__(self, options: dict[str, str] | None = None):
        options = dict(options or {})
        self.conf = RuntimeConfig(options)
        settings = {k[len("duckdb.") :]: v for k, v in options.items() if k.startswith("duckdb.")}
        try:
            self._con: duckdb.DuckDBPyConnection | None = duckdb.connect(config=settings)
        except duckdb.Error as error:
            raise ConfigurationError(
                f"bad DuckDB setting in SparkSession config {settings}: {error}"
            ) from error
        self._lock = threading.RLock()

    # -- the connection ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The DuckDB connection, held for the duration of the ``with`` block."""
        with self._lock:
            if self._con is None:
                raise ConfigurationError(
                    "this SparkSession was stopped; get a new one with SparkSession.builder.getOrCreate()"
                )
            yield self._con

    def _apply_duckdb_setting(self, key: str, value: str) -> None:
        with self._connection() as con:
            try:
                con.execute(f"SET {key[len('duckdb.') :]} = ?", [value])
            except duckdb.Error as error:
                raise ConfigurationError(f"bad DuckDB setting {key}={value!r}: {error}") from error

    def _fresh_name(self, kind: str) -> str:
        return f"__dstreams_{kind}_{next(_ids)}"

    # -- properties ----------------------------------------------------------------------------------
    @classmethod
    def getActiveSession(cls) -> SparkSession | None:
        with cls._class_lock:
            session = cls._active
        return session if session is not None and session._con is not None else None

    @classmethod
    def active(cls) -> SparkSession:
        return cls.getActiveSession() or cls.builder.getOrCreate()

    @property
    def sparkContext(self) -> SparkContext:
        return SparkContext.getOrCreate()

    @property
    def version(self) -> str:
        from dstreams import __version__

        return __version__

    @property
    def read(self):
        """``spark.read.parquet(path)``, ``.csv(path, header=True)``, ``.json(path)``."""
        from .io import DataFrameReader

        return DataFrameReader(self)

    @property
    def catalog(self) -> Catalog:
        return Catalog(self)

    # -- data frames -----------------------------------------------------------------------------------
    def createDataFrame(
        self, data: Any, schema: Any = None, samplingRatio: Any = None, verifySchema: bool = True
    ):
        """A DataFrame over Python rows, an ``RDD``, an Arrow table or a Polars frame.

        ``schema`` is a list of column names, a DDL string (``"word string, n bigint"``), a
        ``StructType`` or an Arrow schema. Rows may be ``Row``s, tuples or dicts (dict keys are
        sorted into columns, as in Spark). Arrow and Polars data are used without a copy, except
        ``string_view`` columns (Polars' strings), which become ``large_string`` so that the
        DataFrame's ``toArrow()`` works with ``pyarrow.compute`` and pandas (see ``RDD.toArrow``).

        >>> spark.createDataFrame([Row(word="a", n=1)]).show()
        """
        from .convert import to_table
        from .dataframe import DataFrame

        return DataFrame._from_arrow(self, to_table(data, schema))

    def sql(self, sqlQuery: str, args: dict | list | None = None, **kwargs: Any):
        """Run a DuckDB SQL query; SELECTs give a lazy DataFrame, other statements run at once.

        ``args`` fill ``$name`` / ``?`` parameters. Keyword arguments fill ``{name}`` placeholders
        as PySpark does: a DataFrame becomes a view name, anything else its text.

        >>> spark.sql("SELECT word, count(*) AS total FROM words GROUP BY word").show()
        """
        from .dataframe import DataFrame

        views: list[str] = []
        query = self._format(sqlQuery, kwargs, views) if kwargs else sqlQuery
        with self._connection() as con:
            try:
                rel = con.sql(query, params=args) if args is not None else con.sql(query)
            except duckdb.Error as error:
                self._drop_views(views)
                raise translate(error, query, "spark.sql") from error
            if rel is None:  # a statement with no result (SET, CREATE ...)
                self._drop_views(views)
                return DataFrame._from_arrow(self, pa.table({}))
        df = DataFrame(self, rel)
        if views:  # the lazy result reads them by name: drop them when it is gone
            weakref.finalize(df, self._drop_views, views)
        return df

    def _format(self, query: str, kwargs: dict[str, Any], views: list[str]) -> str:
        from .dataframe import DataFrame

        values = {}
        for key, value in kwargs.items():
            if isinstance(value, DataFrame):
                name = self._fresh_name("view")
                value.createOrReplaceTempView(name)
                views.append(name)
                values[key] = name
            else:
                values[key] = str(value)
        return query.format(**values)

    def _drop_views(self, names: list[str]) -> None:
        with self._lock:
            if self._con is not None:
                for name in names:
                    _drop_view(self._con, name)

    def table(self, tableName: str):
        """A DataFrame over a view or table: ``spark.table("words")``."""
        from .dataframe import DataFrame

        with self._connection() as con:
            try:
                rel = con.table(tableName)
            except duckdb.Error as error:
                raise translate(error, None, f"spark.table({tableName!r})") from error
        return DataFrame(self, rel)

    def range(self, start: int, end: int | None = None, step: int = 1, numPartitions: int | None = None):
        """Column ``id`` from ``start`` to ``end`` (exclusive): ``spark.range(3)``."""
        if end is None:
            start, end = 0, start
        return self.sql(f"SELECT range AS id FROM range({int(start)}, {int(end)}, {int(step)})")

    def newSession(self) -> SparkSession:
        raise NotSupportedError("newSession(): dstreams has one SparkSession per process; use getOrCreate()")

    @property
    def udf(self):
        raise NotSupportedError(
            "Python UDFs are not supported in dstreams.sql; use a DuckDB SQL expression, or do the "
            "Python work on the stream (map/transform) before the SQL"
        )

    @property
    def readStream(self):
        raise NotSupportedError(
            "Structured Streaming is not part of dstreams: use a StreamingContext source and "
            "stream.sql(...) / foreachRDD with spark.sql"
        )

    def stop(self) -> None:
        """Close the DuckDB connection; the next ``getOrCreate()`` makes a new session."""
        with SparkSession._class_lock:
            if SparkSession._active is self:
                SparkSession._active = None
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> SparkSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SparkSession {self.conf.get('spark.app.name', '')!r} on DuckDB {duckdb.__version__}>"


class Catalog:
    """``spark.catalog``: the temporary views and tables of the session."""

    def __init__(self, session: SparkSession):
        self._session = session

    def listTables(self) -> list[str]:
        """Names of the views and tables (registered Arrow tables included)."""
        with self._session._connection() as con:
            rows = con.sql("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()
        return [r[0] for r in rows]

    def tableExists(self, tableName: str) -> bool:
        return tableName in self.listTables()

    def dropTempView(self, viewName: str) -> bool:
        """Drop a temporary view; True if it existed."""
        with self._session._connection() as con:
            existed = viewName in [
                r[0] for r in con.sql("SELECT table_name FROM information_schema.tables").fetchall()
            ]
            if existed:
                _drop_view(con, viewName)
        return existed

    def clearCache(self) -> None:
        """Accepted: cached DataFrames are Arrow tables freed when no longer referenced."""


def _drop_view(con: duckdb.DuckDBPyConnection, name: str) -> None:
    from .column import quote

    try:
        con.unregister(name)
    except duckdb.Error:
        pass
    con.execute(f"DROP VIEW IF EXISTS {quote(name)}")
