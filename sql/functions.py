"""The common ``pyspark.sql.functions``, as DuckDB SQL with Spark's result column names.

>>> from dstreams.sql import functions as F
>>> df.groupBy("word").agg(F.count("*").alias("n"), F.max("len")).orderBy(F.desc("n"))

Anything not here is one ``expr("...")`` away: any DuckDB SQL expression.
"""

from __future__ import annotations

from typing import Any

from .column import Column, col, literal, to_column

__all__ = [
    "abs",
    "asc",
    "avg",
    "coalesce",
    "col",
    "column",
    "concat",
    "count",
    "countDistinct",
    "count_distinct",
    "desc",
    "expr",
    "first",
    "last",
    "length",
    "lit",
    "lower",
    "max",
    "mean",
    "min",
    "round",
    "sum",
    "trim",
    "upper",
    "when",
]

column = col


def lit(value: Any) -> Column:
    """A constant: ``lit(1)``, ``lit("a")``."""
    return (
        value
        if isinstance(value, Column)
        else Column(literal(value), str(value) if value is not None else "NULL")
    )


def expr(sql: str) -> Column:
    """Any DuckDB SQL expression, named by its text as Spark does: ``expr("length(word) > 3")``."""
    return Column(f"({sql})", sql)


def _call(fn: str, c: str | Column, spark_fn: str | None = None) -> Column:
    c = to_column(c)
    return Column(f"{fn}({c.sql_expr})", f"{spark_fn or fn}({c.name})")


def count(c: str | Column) -> Column:
    """``count("*")`` (named ``count(1)`` as in Spark) or non-null values of a column."""
    if isinstance(c, str) and c == "*":
        return Column("count(*)", "count(1)")
    return _call("count", c)


def countDistinct(c: str | Column, *cols: str | Column) -> Column:
    parts = [to_column(x) for x in (c, *cols)]
    inner = ", ".join(p.sql_expr for p in parts)
    sql = f"count(DISTINCT {inner})" if len(parts) == 1 else f"count(DISTINCT ({inner}))"
    return Column(sql, f"count(DISTINCT {', '.join(p.name for p in parts)})")


count_distinct = countDistinct


def sum(c: str | Column) -> Column:
    return _call("sum", c)


def avg(c: str | Column) -> Column:
    return _call("avg", c)


mean = avg


def min(c: str | Column) -> Column:
    return _call("min", c)


def max(c: str | Column) -> Column:
    return _call("max", c)


def first(c: str | Column, ignorenulls: bool = False) -> Column:
    c = to_column(c)
    fn = "first" if not ignorenulls else "any_value"
    return Column(f"{fn}({c.sql_expr})", f"first({c.name})")


def last(c: str | Column, ignorenulls: bool = False) -> Column:
    c = to_column(c)
    sql = f"last({c.sql_expr})" if not ignorenulls else f"last({c.sql_expr} IGNORE NULLS)"
    return Column(sql, f"last({c.name})")


def abs(c: str | Column) -> Column:
    return _call("abs", c)


def upper(c: str | Column) -> Column:
    return _call("upper", c)


def lower(c: str | Column) -> Column:
    return _call("lower", c)


def trim(c: str | Column) -> Column:
    return _call("trim", c)


def length(c: str | Column) -> Column:
    return _call("length", c)


def round(c: str | Column, scale: int = 0) -> Column:
    c = to_column(c)
    return Column(f"round({c.sql_expr}, {scale})", f"round({c.name}, {scale})")


def concat(*cols: str | Column) -> Column:
    parts = [to_column(c) for c in cols]
    return Column(
        f"concat({', '.join(p.sql_expr for p in parts)})", f"concat({', '.join(p.name for p in parts)})"
    )


def coalesce(*cols: str | Column) -> Column:
    parts = [to_column(c) for c in cols]
    return Column(
        f"coalesce({', '.join(p.sql_expr for p in parts)})", f"coalesce({', '.join(p.name for p in parts)})"
    )


def asc(c: str | Column) -> Column:
    return to_column(c).asc()


def desc(c: str | Column) -> Column:
    return to_column(c).desc()


class _When(Column):
    """``when(cond, value).when(...).otherwise(value)``."""

    __slots__ = ("_cases",)

    def __init__(self, cases: list[tuple[Column, Any]], default: Any = None, has_default: bool = False):
        self._cases = cases
        whens = " ".join(f"WHEN {c.sql_expr} THEN {_sql(v)}" for c, v in cases)
        names = " ".join(f"WHEN {c.name} THEN {_name(v)}" for c, v in cases)
        tail_sql = f" ELSE {_sql(default)}" if has_default else ""
        tail_name = f" ELSE {_name(default)}" if has_default else " ELSE NULL"
        super().__init__(f"(CASE {whens}{tail_sql} END)", f"CASE {names}{tail_name} END")

    def when(self, condition: Column, value: Any) -> _When:
        return _When([*self._cases, (condition, value)])

    def otherwise(self, value: Any) -> Column:
        return _When(self._cases, value, True)


def when(condition: Column, value: Any) -> _When:
    """``when(col("n") > 1, "many").otherwise("one")``."""
    return _When([(condition, value)])


def _sql(v: Any) -> str:
    return v.sql_expr if isinstance(v, Column) else literal(v)


def _name(v: Any) -> str:
    return v.name if isinstance(v, Column) else str(v)
