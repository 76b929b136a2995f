"""What ``createDataFrame`` and ``toDF`` accept, as one Arrow table.

Columnar inputs (Arrow, Polars, an RDD whose batch already has columns) are used as they are.
Python rows follow PySpark's schema inference: ``Row`` and namedtuple fields in order, dict keys
sorted, plain tuples as ``_1, _2, ...``. A stream of scalars becomes one column ``value`` (Spark
would refuse to infer a schema there; naming it is friendlier and costs nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from dstreams import codec
from dstreams.errors import SchemaError
from dstreams.rdd import RDD
from dstreams.row import Row

from . import types as T


def to_table(data: Any, schema: Any = None) -> pa.Table:
    """``data`` as an Arrow table with ``schema`` applied (names, DDL, StructType or Arrow schema).

    View columns (``string_view`` from Polars) become ``large_string``, as everywhere dstreams hands
    tables to users: the DataFrame's ``toArrow()``/``toPandas()`` return this table.

    >>> import polars as pl
    >>> from dstreams.sql.convert import to_table
    >>> to_table(pl.DataFrame({"w": ["a"]}), ["word"]).schema.field("word").type
    DataType(large_string)
    """
    table = _columnar(data, schema)
    if table is None:
        names = _names_only(schema)
        table = from_rows(list(data), names, schema)
    return codec.user_table(apply_schema(table, schema))


def _columnar(data: Any, schema: Any) -> pa.Table | None:
    from .dataframe import DataFrame

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pl.DataFrame):
        return data.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(data, pl.LazyFrame):
        return data.collect().to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(data, DataFrame):
        return data.toArrow()
    if isinstance(data, RDD):
        return _from_rdd(data, schema)
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, (list, tuple)):
        return pa.table(data)  # pandas, DuckDB relations and other Arrow producers
    return None


def _from_rdd(rdd: RDD, schema: Any) -> pa.Table:
    table = rdd.toArrow()
    if any(codec.is_pickled(f) for f in table.schema):
        return from_rows(rdd.collect(), _names_only(schema), schema)  # Row objects and other Python values
    layout = rdd._batch.layout
    if table.num_rows == 0 and layout != "row":
        return from_rows([], None, schema)
    if layout == "pair":
        return table.rename_columns(["_1", "_2"])
    if layout == "value" and pa.types.is_struct(table.schema.field("value").type):
        value = table.column("value")
        struct_type = value.type
        names = sorted(f.name for f in struct_type)  # dicts: keys sorted, as Spark infers them
        return pa.table({n: value.combine_chunks().field(n) for n in names})
    return table


def _names_only(schema: Any) -> list[str] | None:
    if isinstance(schema, (list, tuple)) and all(isinstance(n, str) for n in schema):
        return list(schema)
    return None


def from_rows(rows: Sequence[Any], names: list[str] | None, schema: Any) -> pa.Table:
    """Python rows as columns, inferring names as PySpark does."""
    if not rows:
        target = _target_schema(schema)
        if target is None:
            raise SchemaError(
                "can not infer schema from empty dataset: give a schema with types, e.g. "
                "createDataFrame(rows, 'word string, n bigint')"
            )
        return target.empty_table()
    first = rows[0]
    if isinstance(first, dict):
        keys = sorted(first)
        columns = [[r.get(k) for r in rows] for k in keys]
        inferred = keys
    elif isinstance(first, Row) and first.__fields__:
        inferred = list(first.__fields__)
        columns = [list(c) for c in zip(*rows)]
    elif isinstance(first, tuple) and hasattr(first, "_fields"):
        inferred = list(first._fields)
        columns = [list(c) for c in zip(*rows)]
    elif isinstance(first, (tuple, list)):
        inferred = [f"_{i}" for i in range(1, len(first) + 1)]
        columns = [list(c) for c in zip(*rows)]
    else:
        inferred = ["value"]
        columns = [list(rows)]
    if names and len(names) < len(inferred):  # PySpark names the rest _k
        inferred = names + inferred[len(names) :]
    elif names and len(names) > len(inferred):
        raise SchemaError(f"{len(names)} column names {names} for {len(inferred)} columns {inferred}")
    elif names:
        inferred = list(names)
    arrays = []
    for name, values in zip(inferred, columns):
        array, mark = codec.to_array([_plain(v) for v in values])
        f = codec.field(name, array, mark)
        if codec.is_pickled(f) and not codec.is_tuples(f):  # tuples are fine: they are structs
            kinds = sorted({type(v).__name__ for v in values if v is not None})
            raise SchemaError(
                f"column {name!r} holds values of types {kinds} that have no single SQL type; "
                "make them one type first (e.g. str(x) or float(x))"
            )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=inferred)


def _plain(value: Any) -> Any:
    """Nested Rows as dicts, so that they become Arrow structs."""
    if isinstance(value, Row) and value.__fields__:
        return {k: _plain(v) for k, v in zip(value.__fields__, value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _target_schema(schema: Any) -> pa.Schema | None:
    if schema is None or _names_only(schema) is not None:
        return None
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, str):
        parsed = T.parse_ddl(schema) if ("," in schema or ":" in schema or " " in schema.strip()) else None
        if parsed is None:
            return pa.schema([pa.field("value", T.parse_type(schema).to_arrow())])
        return parsed.to_arrow()
    if isinstance(schema, T.StructType):
        return schema.to_arrow()
    if isinstance(schema, T.DataType):
        return pa.schema([pa.field("value", schema.to_arrow())])
    raise SchemaError(
        "schema must be column names, a DDL string, a StructType or an Arrow schema; "
        f"got {type(schema).__name__}"
    )


def apply_schema(table: pa.Table, schema: Any) -> pa.Table:
    """Rename (names) or rename and cast (typed schema) ``table``'s columns."""
    if schema is None:
        return table
    names = _names_only(schema)
    if names is not None:
        if not names:
            return table
        if len(names) != table.num_columns:
            raise SchemaError(
                f"{len(names)} column names {names} for {table.num_columns} columns {table.column_names}"
            )
        return table.rename_columns(names)
    target = _target_schema(schema)
    assert target is not None
    if len(target) != table.num_columns:
        raise SchemaError(
            f"the schema has {len(target)} fields {target.names}, the data {table.num_columns} columns"
        )
    if table.num_rows == 0 and table.schema.equals(target):
        return table
    try:
        return table.rename_columns(target.names).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise SchemaError(f"the data does not fit the schema {target}: {error}") from error
