"""How Python elements become Arrow columns and back.

A micro-batch is a ``pyarrow.Table``. The Spark-style API deals in Python elements, so each batch
also has a *layout* that says how its rows read as elements:

======== ================================ =====================================
layout   columns                          element
======== ================================ =====================================
value    ``value``                        the value itself (a stream of scalars)
pair     ``key``, ``value``               the 2-tuple ``(key, value)``
row      any columns                      a :class:`dstreams.Row` (native API)
======== ================================ =====================================

A column is stored with a native Arrow type when that round-trips exactly: ``str`` -> string,
``int`` -> int64, ``float`` -> float64, ``bool``, ``bytes``, ``None`` -> null, and lists, dicts,
dates and the like when Arrow gives back equal values *of the same Python type*. Everything else
(tuples other than the top-level pair, ints beyond 64 bits, sets, custom objects, a column mixing
types such as ``1`` and ``"a"``) is stored pickled in a binary column marked in its field metadata,
so what goes in comes out equal, type included. Columnar operations (Polars expressions, SQL)
need native columns and say so clearly when they meet a pickled one.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import pyarrow as pa

from .row import Row

Layout = Literal["value", "pair", "row"]

PARTITION = "__partition"
"""Hidden int32 column giving each row's partition when a batch has more than one."""

_PICKLED = b"dstreams.pickled"
_NATIVE = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
}


def is_pickled(field: pa.Field) -> bool:
    """True when the column holds pickled Python objects (not usable by Polars or SQL)."""
    return bool(field.metadata) and _PICKLED in field.metadata


def to_array(values: Sequence[Any]) -> tuple[pa.Array, bool]:
    """Convert Python values to one Arrow array; returns ``(array, pickled)``."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values)), False
    if len(kinds) == 1:
        kind = next(iter(kinds))
        arrow_type = _NATIVE.get(kind)
        if arrow_type is not None:
            try:
                return pa.array(values, arrow_type), False
            except (OverflowError, pa.ArrowException):
                return _pickle_array(values), True
        if kind is not tuple:  # tuples would come back as lists: keep them pickled
            try:
                array = pa.array(values)
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                return _pickle_array(values), True
            if _same(array.to_pylist(), values):
                return array, False
    return _pickle_array(values), True


def _pickle_array(values: Sequence[Any]) -> pa.Array:
    dumps = pickle.dumps
    return pa.array([dumps(v, protocol=5) for v in values], pa.binary())


def _same(got: Any, want: Any) -> bool:
    """Equal and of the same Python type, all the way down (1 != 1.0 != True here)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, list):
        return len(got) == len(want) and all(map(_same, got, want))
    if isinstance(want, dict):
        return list(got) == list(want) and all(_same(got[k], want[k]) for k in want)
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    return got == want and repr(got) == repr(want)


def field(name: str, array: pa.Array, pickled: bool) -> pa.Field:
    return pa.field(name, array.type, metadata={_PICKLED: b"1"} if pickled else None)


def column_values(table: pa.Table, name: str) -> list[Any]:
    """The Python values of one column, unpickling where needed."""
    column = table.column(name)
    if is_pickled(table.schema.field(name)):
        loads = pickle.loads
        return [loads(b) for b in column.to_pylist()]
    return column.to_pylist()


def from_elements(
    elements: Sequence[Any], partition_sizes: Sequence[int] | None = None
) -> tuple[pa.Table, Layout]:
    """Build a table from Python elements; 2-tuples throughout make a pair layout."""
    if elements and all(type(e) is tuple and len(e) == 2 for e in elements):
        keys, key_pickled = to_array([e[0] for e in elements])
        values, value_pickled = to_array([e[1] for e in elements])
        fields = [field("key", keys, key_pickled), field("value", values, value_pickled)]
        arrays = [keys, values]
        layout: Layout = "pair"
    else:
        values, pickled = to_array(list(elements))
        fields, arrays, layout = [field("value", values, pickled)], [values], "value"
    if partition_sizes is not None and len(partition_sizes) > 1:
        ids = [i for i, n in enumerate(partition_sizes) for _ in range(n)]
        arrays.append(pa.array(ids, pa.int32()))
        fields.append(pa.field(PARTITION, pa.int32()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), layout


def to_elements(table: pa.Table, layout: Layout) -> list[Any]:
    """The rows of ``table`` as Python elements, following ``layout``."""
    if layout == "value":
        return column_values(table, "value")
    if layout == "pair":
        return list(zip(column_values(table, "key"), column_values(table, "value")))
    names = [n for n in table.column_names if n != PARTITION]
    columns = [column_values(table, n) for n in names]
    return [Row.from_fields(names, values) for values in zip(*columns)] if names else []


def layout_of(table: pa.Table) -> Layout:
    """Guess the layout of a table handed in by a user (queueStream, foreach_batch...)."""
    return layout_of_columns(table.column_names)


def layout_of_columns(column_names: Sequence[str]) -> Layout:
    """``value`` alone reads as scalars, ``key`` + ``value`` as pairs, anything else as rows."""
    names = [n for n in column_names if n != PARTITION]
    if names == ["value"]:
        return "value"
    if names == ["key", "value"]:
        return "pair"
    return "row"


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate batches, unifying schemas (e.g. a null column with a typed one)."""
    tables = [t for t in tables]
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")
