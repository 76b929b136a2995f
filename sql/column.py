"""``Column``: a SQL expression with the name Spark would give its result column.

A Column is text, not data: ``col("n") + 1`` is the DuckDB expression ``("n" + 1)`` named ``(n + 1)``,
as Spark names it, so ``show()`` headers match Spark's. Build them with ``dstreams.sql.functions``.

>>> from dstreams.sql.functions import col, sum
>>> (col("n") * 2).alias("double_n").sql
'("n" * 2) AS "double_n"'
>>> sum("n").name
'sum(n)'
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any

from dstreams.errors import NotSupportedError


def quote(name: str) -> str:
    """A SQL identifier: ``word`` -> ``"word"``."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A Python value as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(value) if not isinstance(value, decimal.Decimal) else str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, _dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, _dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bytes):
        return "'" + "".join(f"\\x{b:02X}" for b in value) + "'::BLOB"
    raise NotSupportedError(f"lit({value!r}): no SQL literal for {type(value).__name__}; use expr('...')")


# Spark type names -> DuckDB type names, for cast("int") and friends.
_CAST = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "long": "BIGINT",
    "bigint": "BIGINT",
    "short": "SMALLINT",
    "smallint": "SMALLINT",
    "byte": "TINYINT",
    "tinyint": "TINYINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "binary": "BLOB",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "timestamp_ntz": "TIMESTAMP",
}


class Column:
    """An expression over a DataFrame's columns (``df.word``, ``col("word")``, ``count("*")``)."""

    __slots__ = ("_alias", "_order", "name", "sql_expr")

    def __init__(self, sql_expr: str, name: str, alias: str | None = None, order: str | None = None):
        self.sql_expr, self.name, self._alias, self._order = sql_expr, name, alias, order

    @property
    def sql(self) -> str:
        """The expression with its Spark name: ``"n" + 1 AS "(n + 1)"``."""
        return f"{self.sql_expr} AS {quote(self._alias or self.name)}"

    @property
    def order_sql(self) -> str:
        """For ``orderBy``: Spark sorts nulls first ascending and last descending."""
        return f"{self.sql_expr} {self._order or 'ASC NULLS FIRST'}"

    # -- naming and ordering ---------------------------------------------------------------------
    def alias(self, *alias: str, **kwargs: Any) -> Column:
        """``count("*").alias("n")``."""
        if len(alias) != 1:
            raise NotSupportedError(
                "alias() with several names needs a multi-column expression; use one name"
            )
        return Column(self.sql_expr, alias[0], alias[0])

    name_as = alias

    def asc(self) -> Column:
        return Column(self.sql_expr, self.name, self._alias, "ASC NULLS FIRST")

    def desc(self) -> Column:
        return Column(self.sql_expr, self.name, self._alias, "DESC NULLS LAST")

    def asc_nulls_last(self) -> Column:
        return Column(self.sql_expr, self.name, self._alias, "ASC NULLS LAST")

    def desc_nulls_first(self) -> Column:
        return Column(self.sql_expr, self.name, self._alias, "DESC NULLS FIRST")

    def cast(self, dataType: Any) -> Column:
        """``col("n").cast("string")`` (Spark type names or ``dstreams.sql.types`` objects)."""
        name = dataType if isinstance(dataType, str) else dataType.simpleString()
        target = _CAST.get(name.lower(), name)
        return Column(f"CAST({self.sql_expr} AS {target})", f"CAST({self.name} AS {name.upper()})")

    astype = cast

    # -- predicates --------------------------------------------------------------------------------
    def isNull(self) -> Column:
        return Column(f"({self.sql_expr} IS NULL)", f"({self.name} IS NULL)")

    def isNotNull(self) -> Column:
        return Column(f"({self.sql_expr} IS NOT NULL)", f"({self.name} IS NOT NULL)")

    def isin(self, *values: Any) -> Column:
        if len(values) == 1 and isinstance(values[0], (list, tuple, set)):
            values = tuple(values[0])
        items = ", ".join(_sql(v) for v in values)
        return Column(
            f"({self.sql_expr} IN ({items}))", f"({self.name} IN ({', '.join(map(_name, values))}))"
        )

    def like(self, pattern: str) -> Column:
        return Column(f"({self.sql_expr} LIKE {literal(pattern)})", f"{self.name} LIKE {pattern}")

    def startswith(self, prefix: str) -> Column:
        return Column(
            f"starts_with({self.sql_expr}, {literal(prefix)})", f"startswith({self.name}, {prefix})"
        )

    def contains(self, other: Any) -> Column:
        return Column(f"contains({self.sql_expr}, {_sql(other)})", f"contains({self.name}, {_name(other)})")

    def between(self, lower: Any, upper: Any) -> Column:
        return (self >= lower) & (self <= upper)

    # -- operators ---------------------------------------------------------------------------------
    def _binary(self, op: str, other: Any, spark_op: str | None = None, reverse: bool = False) -> Column:
        left, right = (other, self) if reverse else (self, other)
        return Column(
            f"({_sql(left)} {op} {_sql(right)})", f"({_name(left)} {spark_op or op} {_name(right)})"
        )

    def __add__(self, o: Any) -> Column:
        return self._binary("+", o)

    def __radd__(self, o: Any) -> Column:
        return self._binary("+", o, reverse=True)

    def __sub__(self, o: Any) -> Column:
        return self._binary("-", o)

    def __rsub__(self, o: Any) -> Column:
        return self._binary("-", o, reverse=True)

    def __mul__(self, o: Any) -> Column:
        return self._binary("*", o)

    def __rmul__(self, o: Any) -> Column:
        return self._binary("*", o, reverse=True)

    def __truediv__(self, o: Any) -> Column:
        return self._binary("/", o)

    def __rtruediv__(self, o: Any) -> Column:
        return self._binary("/", o, reverse=True)

    def __mod__(self, o: Any) -> Column:
        return self._binary("%", o)

    def __eq__(self, o: Any) -> Column:  # type: ignore[override]
        return self._binary("=", o)

    def __ne__(self, o: Any) -> Column:  # type: ignore[override]
        return self._binary("<>", o, "!=")

    def __lt__(self, o: Any) -> Column:
        return self._binary("<", o)

    def __le__(self, o: Any) -> Column:
        return self._binary("<=", o)

    def __gt__(self, o: Any) -> Column:
        return self._binary(">", o)

    def __ge__(self, o: Any) -> Column:
        return self._binary(">=", o)

    def __and__(self, o: Any) -> Column:
        return self._binary("AND", o)

    def __or__(self, o: Any) -> Column:
        return self._binary("OR", o)

    def __invert__(self) -> Column:
        return Column(f"(NOT {self.sql_expr})", f"(NOT {self.name})")

    def __neg__(self) -> Column:
        return Column(f"(- {self.sql_expr})", f"negative({self.name})")

    def __bool__(self) -> bool:
        raise ValueError("Cannot convert column into bool: use '&' for 'and', '|' for 'or', '~' for 'not'")

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Column<'{self._alias or self.name}'>"


def _sql(value: Any) -> str:
    return value.sql_expr if isinstance(value, Column) else literal(value)


def _name(value: Any) -> str:
    return value.name if isinstance(value, Column) else str(value)


def col(name: str) -> Column:
    """The column ``name`` (``"*"`` for all columns)."""
    if name == "*":
        return Column("*", "*")
    return Column(quote(name), name)


def to_column(value: str | Column) -> Column:
    """A column name or a Column as a Column."""
    return value if isinstance(value, Column) else col(value)


def select_sql(value: str | Column) -> str:
    """How a select list item reads in SQL (``*`` stays bare)."""
    c = to_column(value)
    return "*" if c.sql_expr == "*" and c._alias is None else c.sql
