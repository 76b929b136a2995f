"""``DataFrame``: a lazy DuckDB relation with PySpark's DataFrame methods.

Transformations (``select``, ``where``, ``groupBy().agg``, ``orderBy``, ``limit``, ``join``...) build
a DuckDB relation; actions (``show``, ``collect``, ``count``, ``toArrow``, ``write``) run it. A
DataFrame made from Arrow data (``createDataFrame``, ``rdd.toDF()``) scans that data in place.

String arguments are column names, as in Spark; conditions (``where``/``filter``) and
``selectExpr`` take DuckDB SQL text. Spark methods that need a cluster or Python UDFs raise
:class:`dstreams.NotSupportedError` naming what to use instead.

>>> df = spark.createDataFrame([("a", 1), ("b", 2), ("a", 3)], ["word", "n"])
>>> df.where("n > 1").groupBy("word").count().orderBy("word").show()
+----+-----+
|word|count|
+----+-----+
|   a|    1|
|   b|    1|
+----+-----+
<BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import duckdb
import polars as pl
import pyarrow as pa

from dstreams.errors import ConfigurationError, NotSupportedError, SchemaError
from dstreams.row import Row

from . import show as _show
from . import types as T
from .column import Column, quote, select_sql, to_column
from .errors import AnalysisException, translate

if TYPE_CHECKING:
    from dstreams.rdd import RDD

    from .io import DataFrameWriter
    from .session import SparkSession

# Spark DataFrame methods dstreams does not provide, and what to use instead.
_UNSUPPORTED = {
    "writeStream": "a StreamingContext stream with stream.sql(...) and an output such as to_duckdb",
    "withWatermark": "windows on a StreamingContext stream: stream.window(...).sql(...)",
    "mapInPandas": "toArrow()/toPolars() and work on the table, or a SQL expression",
    "mapInArrow": "toArrow() and work on the table",
    "foreach": "collect() or toArrow() and loop in Python",
    "foreachPartition": "collect() or toArrow() and loop in Python",
    "checkpoint": "cache(), which keeps the result as an Arrow table",
    "localCheckpoint": "cache(), which keeps the result as an Arrow table",
    "randomSplit": "where('random() < 0.8') style SQL",
    "sampleBy": "where() with a SQL condition",
    "hint": "nothing: DuckDB plans joins itself",
    "observe": "a separate aggregate query",
    "pandas_api": "toPandas()",
    "to_pandas_on_spark": "toPandas()",
    "createGlobalTempView": "createOrReplaceTempView()",
    "createOrReplaceGlobalTempView": "createOrReplaceTempView()",
}


_RowT = TypeVar("_RowT")


class DataFrame(Generic[_RowT]):
    """A table-shaped query result, computed when an action needs it.

    Subscriptable (``DataFrame[Row]``) so that annotated programs load; plain ``DataFrame`` is usual.
    """

    def __init__(
        self, session: SparkSession, rel: duckdb.DuckDBPyRelation | None, arrow: pa.Table | None = None
    ):
        self._session = session
        self._rel = rel
        self._arrow = arrow  # the data itself, when the frame is a (cached) Arrow table

    @classmethod
    def _from_arrow(cls, session: SparkSession, table: pa.Table) -> DataFrame:
        return cls(session, None, table)

    # -- plumbing ------------------------------------------------------------------------------------
    def _relation(self) -> duckdb.DuckDBPyRelation:
        if self._rel is None:
            assert self._arrow is not None
            if self._arrow.num_columns == 0:
                raise SchemaError("this DataFrame has no columns (it came from a statement with no result)")
            with self._session._connection() as con:
                self._rel = con.from_arrow(self._arrow)
        return self._rel

    def _derive(self, what: str, build) -> DataFrame:
        """A new DataFrame from ``build(relation)``; DuckDB errors name ``what``."""
        with self._session._connection():
            try:
                rel = build(self._relation())
            except duckdb.Error as error:
                raise translate(error, None, what) from error
        return DataFrame(self._session, rel)

    def _table(self, rel: duckdb.DuckDBPyRelation | None = None) -> pa.Table:
        if rel is None and self._arrow is not None:
            return self._arrow
        with self._session._connection():
            try:
                return (rel or self._relation()).to_arrow_table()
            except duckdb.Error as error:
                raise translate(error, None, "running the DataFrame's query") from error

    # -- schema ----------------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """Column names: ``["word", "total"]``."""
        if self._arrow is not None:
            return list(self._arrow.column_names)
        with self._session._connection():
            return list(self._relation().columns)

    @property
    def schema(self) -> T.StructType:
        """Spark types of the columns (``df.schema.fieldNames()``, ``df.schema["n"].dataType``)."""
        return T.from_arrow(self._arrow_schema())  # type: ignore[return-value]

    def _arrow_schema(self) -> pa.Schema:
        if self._arrow is not None:
            return self._arrow.schema
        return self._table(self._relation().limit(0)).schema

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        """``[("word", "string"), ("total", "bigint")]``."""
        return [(f.name, f.dataType.simpleString()) for f in self.schema]

    def printSchema(self, level: int | None = None) -> None:
        """Print the schema tree as Spark does (``root`` / `` |-- word: string (nullable = true)``)."""
        print(self.schema.treeString())

    # -- actions ---------------------------------------------------------------------------------------
    def show(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> None:
        """Print the first ``n`` rows as Spark's text table (cells cut at 20 characters by default).

        >>> df.show()
        +----+-----+
        |word|total|
        +----+-----+
        |   a|    2|
        +----+-----+
        <BLANKLINE>
        """
        print(self._show_string(n, truncate, vertical))

    def _show_string(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> str:
        if self._arrow is not None and self._arrow.num_columns == 0:
            return "++\n||\n++\n++\n"
        head = self._table(self._relation().limit(max(n, 0) + 1)) if self._arrow is None else self._arrow
        head = head.slice(0, max(n, 0) + 1)
        columns = [head.column(i).to_pylist() for i in range(head.num_columns)]
        rows = list(zip(*columns)) if columns else []
        types = [f.type for f in head.schema]
        return _show.format_table(head.column_names, types, rows, n, _show.truncate_width(truncate), vertical)

    def collect(self) -> list[Row]:
        """All rows as ``Row`` objects: ``[Row(word='a', total=2)]``."""
        return _rows(self._table())

    def take(self, num: int) -> list[Row]:
        return self.limit(num).collect()

    def head(self, n: int | None = None) -> Row | list[Row] | None:
        """``head()`` is the first Row (or None); ``head(n)`` a list."""
        if n is None:
            rows = self.take(1)
            return rows[0] if rows else None
        return self.take(n)

    def first(self) -> Row | None:
        return self.head()  # type: ignore[return-value]

    def tail(self, num: int) -> list[Row]:
        table = self._table()
        return _rows(table.slice(max(table.num_rows - num, 0)))

    def count(self) -> int:
        """Number of rows."""
        if self._arrow is not None:
            return self._arrow.num_rows
        return self._table(self._relation().aggregate("count(*) AS n")).column(0)[0].as_py()

    def isEmpty(self) -> bool:
        return self.limit(1).count() == 0

    def toArrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` (no copy when the frame is Arrow data)."""
        return self._table()

    def toPolars(self) -> pl.DataFrame:
        """The rows as a Polars DataFrame (numeric columns without a copy)."""
        return pl.from_arrow(self._table())  # type: ignore[return-value]

    def toPandas(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas installed)."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise NotSupportedError(
                "toPandas() needs pandas, which is not installed: pip install pandas, or use "
                "toArrow() / toPolars()"
            ) from None
        return self._table().to_pandas()

    def toLocalIterator(self, prefetchPartitions: bool = False):
        return iter(self.collect())

    @property
    def rdd(self) -> RDD:
        """The rows as an RDD of ``Row`` (``df.rdd.map(lambda r: r.word)``)."""
        from dstreams.batch import Batch
        from dstreams.rdd import RDD

        return RDD(Batch(self._table(), "row", 1), self._session.sparkContext)

    # -- transformations ---------------------------------------------------------------------------------
    def select(self, *cols: str | Column | Sequence[str | Column]) -> DataFrame:
        """Columns by name or Column expression: ``df.select("word", (col("n") * 2).alias("n2"))``."""
        items = _flatten(cols)
        return self._derive("select", lambda rel: rel.project(", ".join(select_sql(c) for c in items)))

    def selectExpr(self, *exprs: str) -> DataFrame:
        """SQL expressions: ``df.selectExpr("word", "n * 2 AS n2")``."""
        items = _flatten(exprs)
        return self._derive("selectExpr", lambda rel: rel.project(", ".join(items)))

    def where(self, condition: str | Column) -> DataFrame:
        """Rows where a SQL condition holds: ``df.where("n > 1")`` or ``df.where(col("n") > 1)``."""
        text = condition.sql_expr if isinstance(condition, Column) else condition
        return self._derive(f"where({text!r})", lambda rel: rel.filter(text))

    filter = where

    def groupBy(self, *cols: str | Column | Sequence[str | Column]) -> GroupedData:
        """``df.groupBy("word").count()``, ``.agg(F.sum("n"))`` or ``.agg({"n": "max"})``."""
        return GroupedData(self, [to_column(c) for c in _flatten(cols)])

    groupby = groupBy

    def agg(self, *exprs: Any) -> DataFrame:
        """Aggregate the whole frame: ``df.agg(F.max("n"))``."""
        return self.groupBy().agg(*exprs)

    def orderBy(
        self, *cols: str | Column | Sequence[str | Column], ascending: bool | list[bool] = True
    ) -> DataFrame:
        """Sort (nulls first ascending, last descending, as Spark): ``df.orderBy("n", ascending=False)``."""
        items = [to_column(c) for c in _flatten(cols)]
        flags = ascending if isinstance(ascending, list) else [ascending] * len(items)
        parts = []
        for c, asc in zip(items, flags):
            if c._order is None and not asc:
                c = c.desc()
            parts.append(c.order_sql)
        return self._derive("orderBy", lambda rel: rel.order(", ".join(parts)))

    sort = orderBy

    def limit(self, num: int) -> DataFrame:
        """The first ``num`` rows."""
        if self._arrow is not None:
            return DataFrame._from_arrow(self._session, self._arrow.slice(0, max(num, 0)))
        return self._derive("limit", lambda rel: rel.limit(max(int(num), 0)))

    def distinct(self) -> DataFrame:
        return self._derive("distinct", lambda rel: rel.distinct())

    def dropDuplicates(self, subset: Sequence[str] | None = None) -> DataFrame:
        """Keep one row per distinct ``subset`` (all columns by default)."""
        if not subset:
            return self.distinct()
        keys = ", ".join(quote(c) for c in subset)
        return self._derive(
            "dropDuplicates", lambda rel: rel.query("t", f"SELECT DISTINCT ON ({keys}) * FROM t")
        )

    drop_duplicates = dropDuplicates

    def withColumn(self, colName: str, col: Column) -> DataFrame:
        """Add or replace a column: ``df.withColumn("n2", col("n") * 2)``."""
        value = col.sql_expr if isinstance(col, Column) else str(col)
        if colName in self.columns:
            text = f"* REPLACE ({value} AS {quote(colName)})"
        else:
            text = f"*, {value} AS {quote(colName)}"
        return self._derive("withColumn", lambda rel: rel.project(text))

    def withColumnRenamed(self, existing: str, new: str) -> DataFrame:
        cols = self.columns
        if existing not in cols:
            return self  # as Spark: renaming a missing column is a no-op
        text = ", ".join(f"{quote(c)} AS {quote(new)}" if c == existing else quote(c) for c in cols)
        return self._derive("withColumnRenamed", lambda rel: rel.project(text))

    def drop(self, *cols: str | Column) -> DataFrame:
        names = {c.name if isinstance(c, Column) else c for c in cols}
        keep = [c for c in self.columns if c not in names]
        return self.select(*keep)

    def toDF(self, *cols: str) -> DataFrame:
        """Rename every column: ``df.toDF("a", "b")``."""
        current = self.columns
        if len(cols) != len(current):
            raise SchemaError(f"toDF: {len(cols)} names {list(cols)} for {len(current)} columns {current}")
        text = ", ".join(f"{quote(o)} AS {quote(n)}" for o, n in zip(current, cols))
        return self._derive("toDF", lambda rel: rel.project(text))

    def union(self, other: DataFrame) -> DataFrame:
        """Rows of both, matched by position (as Spark's ``union``/``unionAll``)."""
        return self._derive("union", lambda rel: rel.union(other._relation()))

    unionAll = union

    def unionByName(self, other: DataFrame, allowMissingColumns: bool = False) -> DataFrame:
        """Rows of both, matched by column name (missing ones NULL with ``allowMissingColumns``)."""
        if not allowMissingColumns and set(self.columns) != set(other.columns):
            raise AnalysisException(
                f"unionByName: columns {self.columns} and {other.columns} differ; "
                "pass allowMissingColumns=True to fill the missing ones with NULL"
            )
        return self._derive("unionByName", lambda rel: rel.union_by_name(other._relation()))

    def join(
        self, other: DataFrame, on: str | Sequence[str] | Column | None = None, how: str | None = None
    ) -> DataFrame:
        """Join on column names (``on="id"``, kept once) or a condition (``df.id == other.id``).

        ``how``: inner (default), left, right, outer/full, semi, anti, cross.
        """
        kind = _JOIN_TYPES.get((how or "inner").lower().replace("_", ""))
        if kind is None:
            raise ConfigurationError(f"join type {how!r} is not one of {sorted(_JOIN_TYPES)}")
        if on is None and kind != "cross":
            kind, condition = ("cross", None) if how is None else (kind, "TRUE")
        elif isinstance(on, Column):
            condition = on.sql_expr
        else:
            condition = [on] if isinstance(on, str) else list(on)  # type: ignore[assignment]
        right = other._relation()
        return self._derive(f"join(how={how!r})", lambda rel: rel.join(right, condition, how=kind))

    def crossJoin(self, other: DataFrame) -> DataFrame:
        return self.join(other, how="cross")

    def cache(self) -> DataFrame:
        """Compute once and keep the result as an Arrow table (later actions reuse it)."""
        if self._arrow is None:
            self._arrow = self._table()
            self._rel = None
        return self

    def persist(self, storageLevel: Any = None) -> DataFrame:
        return self.cache()

    def unpersist(self, blocking: bool = False) -> DataFrame:
        return self

    def repartition(self, numPartitions: Any = None, *cols: Any) -> DataFrame:
        """Accepted for compatibility: DuckDB parallelises queries itself."""
        return self

    def coalesce(self, numPartitions: int) -> DataFrame:
        """Accepted for compatibility (``df.coalesce(1).write...`` writes one file anyway)."""
        return self

    def alias(self, alias: str) -> DataFrame:
        return self._derive("alias", lambda rel: rel.set_alias(alias))

    def explain(self, extended: bool | str | None = None) -> None:
        with self._session._connection():
            print(self._relation().explain())

    # -- views and writing ---------------------------------------------------------------------------------
    def createOrReplaceTempView(self, name: str) -> None:
        """Make the frame queryable as ``name`` in ``spark.sql`` (Arrow data is registered, not copied).

        Unlike Spark, a view over a query is bound when it is read, as DuckDB views are: a view
        over ``words`` sees the ``words`` of the moment (call ``cache()`` first to freeze it).
        """
        from .session import _drop_view

        with self._session._connection() as con:
            try:
                _drop_view(con, name)  # an Arrow registration and a view must not both answer to it
                if self._arrow is not None:
                    con.register(name, self._arrow)
                else:
                    self._relation().create_view(name, replace=True)
            except duckdb.Error as error:
                raise translate(error, None, f"createOrReplaceTempView({name!r})") from error

    registerTempTable = createOrReplaceTempView

    def createTempView(self, name: str) -> None:
        """As ``createOrReplaceTempView``, but fails if ``name`` exists."""
        if self._session.catalog.tableExists(name):
            raise AnalysisException(f"Temporary view '{name}' already exists; use createOrReplaceTempView")
        self.createOrReplaceTempView(name)

    @property
    def write(self) -> DataFrameWriter:
        """``df.write.parquet(path, mode="overwrite")``."""
        from .io import DataFrameWriter

        return DataFrameWriter(self)

    # -- columns as attributes ------------------------------------------------------------------------
    def __getitem__(self, item: str | int | Column) -> Column:
        if isinstance(item, Column):
            return item
        name = self.columns[item] if isinstance(item, int) else item
        if name not in self.columns:
            raise AnalysisException(f"no column {name!r}; the columns are {self.columns}")
        with self._session._connection():
            alias = self._relation().alias
        # Qualified by the relation's alias, so that df1.id == df2.id works in a join.
        return Column(f"{quote(alias)}.{quote(name)}", name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        alternative = _UNSUPPORTED.get(name)
        if alternative is not None:
            raise NotSupportedError(f"DataFrame.{name} is not supported by dstreams.sql; use {alternative}")
        if name in self.columns:
            return self[name]
        raise AttributeError(f"'DataFrame' object has no attribute {name!r} (columns: {self.columns})")

    def __repr__(self) -> str:
        try:
            return f"DataFrame[{', '.join(f'{n}: {t}' for n, t in self.dtypes)}]"
        except Exception:  # repr must not fail on a broken query
            return "DataFrame[?]"


_JOIN_TYPES = {
    "inner": "inner",
    "cross": "cross",
    "outer": "outer",
    "full": "outer",
    "fullouter": "outer",
    "left": "left",
    "leftouter": "left",
    "right": "right",
    "rightouter": "right",
    "semi": "semi",
    "leftsemi": "semi",
    "anti": "anti",
    "leftanti": "anti",
}


def _flatten(items: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(item)
        else:
            out.append(item)
    return out


def _rows(table: pa.Table) -> list[Row]:
    names = table.column_names
    columns = [_py_column(table.column(i)) for i in range(table.num_columns)]
    return [Row.from_fields(names, values) for values in zip(*columns)] if columns else []


def _py_column(column: pa.ChunkedArray) -> list[Any]:
    values = column.to_pylist()
    if _needs_conversion(column.type):
        return [_py(v, column.type) for v in values]
    return values


def _needs_conversion(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) or pa.types.is_map(t) or pa.types.is_nested(t)


def _py(value: Any, t: pa.DataType) -> Any:
    """Arrow's Python value as PySpark's: structs are Rows, maps dicts."""
    if value is None:
        return None
    if pa.types.is_map(t):
        return {_py(k, t.key_type): _py(v, t.item_type) for k, v in value}
    if pa.types.is_struct(t):
        return Row.from_fields([f.name for f in t], [_py(value.get(f.name), f.type) for f in t])
    if pa.types.is_nested(t) and hasattr(t, "value_type"):
        return [_py(v, t.value_type) for v in value]
    return value


class GroupedData:
    """``df.groupBy(...)``: finish with ``count()``, ``agg(...)``, ``sum(...)``, ``avg(...)``..."""

    def __init__(self, df: DataFrame, keys: list[Column]):
        self._df, self._keys = df, keys

    def _aggregate(self, aggs: list[Column], what: str) -> DataFrame:
        keys_sql = ", ".join(k.sql_expr for k in self._keys)
        items = ", ".join([*(k.sql for k in self._keys), *(a.sql for a in aggs)])
        if self._keys:
            return self._df._derive(what, lambda rel: rel.aggregate(items, keys_sql))
        return self._df._derive(what, lambda rel: rel.aggregate(items))

    def count(self) -> DataFrame:
        """Rows per group, in a column named ``count``."""
        return self._aggregate([Column("count(*)", "count")], "groupBy().count()")

    def agg(self, *exprs: Any) -> DataFrame:
        """``agg(F.sum("n").alias("total"))`` or ``agg({"n": "sum"})`` (Spark's names: ``sum(n)``)."""
        from . import functions as F

        if len(exprs) == 1 and isinstance(exprs[0], dict):
            aggs = [_by_name(F, fn, c) for c, fn in exprs[0].items()]
        else:
            aggs = _flatten(exprs)
            if not all(isinstance(a, Column) for a in aggs):
                raise ConfigurationError(
                    "agg() takes Columns (from dstreams.sql.functions) or one dict {column: function}"
                )
        return self._aggregate(aggs, "agg")

    def _numeric(self, fn: str, cols: Sequence[str]) -> DataFrame:
        from . import functions as F

        names = list(cols)
        if not names:
            key_names = {k.name for k in self._keys}
            schema = self._df._arrow_schema()
            names = [
                f.name
                for f in schema
                if f.name not in key_names
                and (
                    pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
                )
            ]
        return self._aggregate([_by_name(F, fn, c) for c in names], f"{fn}()")

    def sum(self, *cols: str) -> DataFrame:
        return self._numeric("sum", cols)

    def avg(self, *cols: str) -> DataFrame:
        return self._numeric("avg", cols)

    mean = avg

    def min(self, *cols: str) -> DataFrame:
        return self._numeric("min", cols)

    def max(self, *cols: str) -> DataFrame:
        return self._numeric("max", cols)

    def pivot(self, pivot_col: str, values: list | None = None):
        raise NotSupportedError(
            "groupBy().pivot() is not supported; write the PIVOT in spark.sql (DuckDB PIVOT)"
        )

    def applyInPandas(self, func: Any, schema: Any):
        raise NotSupportedError(
            "applyInPandas needs Python UDFs; collect per group with toArrow() or use SQL"
        )


def _by_name(F: Any, fn: str, column: str) -> Column:
    name = {"mean": "avg", "average": "avg"}.get(fn.lower(), fn.lower())
    if name == "count":
        return F.count(column)
    f = getattr(F, name, None)
    if f is None or not callable(f):
        raise ConfigurationError(f"unknown aggregate {fn!r}: use count, sum, avg, min, max, first or last")
    return f(column)
