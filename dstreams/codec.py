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
dates and the like when Arrow gives back equal values *of the same Python type*. Tuples of one
length whose positions are such columns (a join's ``(v, w)``) are stored as an Arrow struct with
fields ``_0``, ``_1``... marked ``dstreams.tuple`` in the field metadata, so they read back as
tuples. Everything else (ints beyond 64 bits, sets, custom objects, a column mixing types such as
``1`` and ``"a"``) is stored pickled in a binary column marked ``dstreams.pickled``. Either way
what goes in comes out equal, type included. Columnar operations (Polars expressions, SQL) need
native columns and say so clearly when they meet a marked one (:func:`is_pickled`).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import polars as pl
import pyarrow as pa

from .row import Row

Layout = Literal["value", "pair", "row"]

PARTITION = "__partition"
"""Hidden int32 column giving each row's partition when a batch has more than one."""

_PICKLED = b"dstreams.pickled"
_TUPLE = b"dstreams.tuple"
_NATIVE = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
}


def is_pickled(field: pa.Field) -> bool:
    """True when the column holds Python objects that Polars and SQL cannot use as they are.

    That is a pickled column, or a column of tuples stored as an Arrow struct (Polars would
    read those as structs, not tuples, and would drop the mark that makes them tuples again).
    """
    return bool(field.metadata) and (_PICKLED in field.metadata or _TUPLE in field.metadata)


def is_tuples(field: pa.Field) -> bool:
    """True for a column of tuples stored as a struct (see :func:`mark_tuples`)."""
    return bool(field.metadata) and _TUPLE in field.metadata


def to_array(values: Sequence[Any]) -> tuple[pa.Array, bytes | None]:
    """Convert Python values to one Arrow array; returns ``(array, mark)``.

    ``mark`` is None for a native column, else the field metadata key that says how to read the
    values back (pickled objects, or tuples stored as a struct); pass it on to :func:`field`.
    """
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values)), None
    if len(kinds) == 1:
        kind = next(iter(kinds))
        arrow_type = _NATIVE.get(kind)
        if arrow_type is not None:
            try:
                return pa.array(values, arrow_type), None
            except (OverflowError, ValueError, TypeError, pa.ArrowException):
                # ints beyond 64 bits; strings with lone surrogates, which UTF-8 cannot hold
                return _pickle_array(values), _PICKLED
        if kind is tuple:
            struct = _tuple_array(values)
            if struct is not None:
                return struct, _TUPLE
            return _pickle_array(values), _PICKLED
        try:
            array = pa.array(values)
            # Arrow's inference can accept what it cannot give back (bytes in a string list)
            exact = _same(array.to_pylist(), values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return _pickle_array(values), _PICKLED
        if exact and not _nul_in_field_names(array.type):
            return array, None
    return _pickle_array(values), _PICKLED


def _nul_in_field_names(arrow_type: pa.DataType) -> bool:
    """Polars drops a NUL from struct field names (dict keys such as ``"\\x00"``): keep those pickled."""
    if pa.types.is_struct(arrow_type):
        return any("\x00" in f.name or _nul_in_field_names(f.type) for f in arrow_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _nul_in_field_names(arrow_type.value_type)
    return False


def _tuple_array(values: Sequence[Any]) -> pa.StructArray | None:
    """Tuples of one length whose positions are native columns (or such tuples) as a struct."""
    lengths = {len(v) for v in values if v is not None}
    if len(lengths) != 1:
        return None
    (width,) = lengths
    if width == 0:
        return None
    arrays, fields = [], []
    for i in range(width):
        child, mark = to_array([None if v is None else v[i] for v in values])
        if mark == _PICKLED:
            return None
        arrays.append(child)
        fields.append(field(f"_{i}", child, mark))
    mask = pa.array([v is None for v in values], pa.bool_()) if None in values else None
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=mask)


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


def field(name: str, array: pa.Array, mark: bytes | bool | None) -> pa.Field:
    """The schema field of a column made by :func:`to_array` (``mark=True`` means pickled)."""
    if mark is True:
        mark = _PICKLED
    return pa.field(name, array.type, metadata={mark: b"1"} if mark else None)


def mark_tuples(table: pa.Table, name: str) -> pa.Table:
    """Mark struct column ``name`` (fields ``_0``, ``_1``...) as holding tuples."""
    i = table.schema.get_field_index(name)
    marked = table.schema.field(i).with_metadata({_TUPLE: b"1"})
    return pa.Table.from_arrays(table.columns, schema=table.schema.set(i, marked))


def column_values(table: pa.Table, name: str) -> list[Any]:
    """The Python values of one column, unpickling and rebuilding tuples where needed."""
    column = table.column(name)
    f = table.schema.field(name)
    metadata = f.metadata or {}
    if _PICKLED in metadata:
        loads = pickle.loads
        return [None if b is None else loads(b) for b in column.to_pylist()]
    if _TUPLE in metadata:
        return list(map(_tuple_reader(f), column.to_pylist()))
    return column.to_pylist()


def _tuple_reader(f: pa.Field) -> Callable[[Any], Any]:
    """Turns the dicts that ``to_pylist()`` gives for a tuple struct back into (nested) tuples."""
    readers = [
        _tuple_reader(child) if child.metadata and _TUPLE in child.metadata else None for child in f.type
    ]
    if not any(readers):
        return lambda d: None if d is None else tuple(d.values())

    def read(d: Any) -> Any:
        if d is None:
            return None
        return tuple(v if r is None else r(v) for v, r in zip(d.values(), readers))

    return read


def from_elements(
    elements: Sequence[Any], partition_sizes: Sequence[int] | None = None
) -> tuple[pa.Table, Layout]:
    """Build a table from Python elements; 2-tuples throughout make a pair layout and
    ``Row``s with the same fields throughout make one column per field (row layout)."""
    names = _common_row_fields(elements)
    if names is not None:
        arrays, fields = [], []
        for i, name in enumerate(names):
            array, mark = to_array([e[i] for e in elements])
            arrays.append(array)
            fields.append(field(name, array, mark))
        layout: Layout = "row"
    elif elements and all(type(e) is tuple and len(e) == 2 for e in elements):
        keys, key_mark = to_array([e[0] for e in elements])
        values, value_mark = to_array([e[1] for e in elements])
        fields = [field("key", keys, key_mark), field("value", values, value_mark)]
        arrays = [keys, values]
        layout = "pair"
    else:
        values, mark = to_array(list(elements))
        fields, arrays, layout = [field("value", values, mark)], [values], "value"
    if partition_sizes is not None and len(partition_sizes) > 1:
        ids = [i for i, n in enumerate(partition_sizes) for _ in range(n)]
        arrays.append(pa.array(ids, pa.int32()))
        fields.append(pa.field(PARTITION, pa.int32()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), layout


def _common_row_fields(elements: Sequence[Any]) -> tuple[str, ...] | None:
    if not elements or type(elements[0]) is not Row:
        return None
    names = elements[0].__fields__
    if not names or PARTITION in names or len(set(names)) != len(names):
        return None
    if all(type(e) is Row and e.__fields__ == names for e in elements):
        return names
    return None


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


def without_views(dtype: pa.DataType) -> pa.DataType:
    """``dtype`` with ``string_view``/``binary_view`` replaced by ``large_string``/``large_binary``,
    inside lists, structs and maps too.

    The engine keeps Polars' view types (no copy out of Polars), but pyarrow 26 has no ``take``,
    ``filter``, ``sort_indices``, ``is_in`` or comparison kernels for them, so whatever leaves
    the engine for user code gets the large types (Polars' own default for ``to_arrow()``; 64-bit
    offsets never overflow).

    >>> import pyarrow as pa
    >>> from dstreams.codec import without_views
    >>> without_views(pa.list_(pa.string_view()))
    ListType(list<item: large_string>)
    """
    if pa.types.is_string_view(dtype):
        return pa.large_string()
    if pa.types.is_binary_view(dtype):
        return pa.large_binary()
    if pa.types.is_map(dtype):
        key, item = without_views(dtype.key_type), without_views(dtype.item_type)
        if key == dtype.key_type and item == dtype.item_type:
            return dtype
        return pa.map_(dtype.key_field.with_type(key), dtype.item_field.with_type(item), dtype.keys_sorted)
    if pa.types.is_struct(dtype):
        fields = [f.with_type(without_views(f.type)) for f in dtype]
        return dtype if all(f.type == g.type for f, g in zip(fields, dtype)) else pa.struct(fields)
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype):
        item = without_views(dtype.value_type)
        if item == dtype.value_type:
            return dtype
        field = dtype.value_field.with_type(item)
        if pa.types.is_fixed_size_list(dtype):
            return pa.list_(field, dtype.list_size)
        return pa.large_list(field) if pa.types.is_large_list(dtype) else pa.list_(field)
    return dtype


def user_table(table: pa.Table) -> pa.Table:
    """``table`` as handed to user code: view columns cast to large types (see :func:`without_views`).

    Costs one copy of the string data of view columns (about 4 ms per million short strings); a
    table without view columns is returned as it is.

    >>> import pyarrow as pa
    >>> from dstreams.codec import user_table
    >>> t = pa.table({"w": pa.array(["b", "a"], pa.string_view())})
    >>> user_table(t).sort_by("w").column("w").to_pylist()
    ['a', 'b']
    """
    schema = table.schema
    fields = [f.with_type(without_views(f.type)) for f in schema]
    if all(f.type == g.type for f, g in zip(fields, schema)):
        return table
    return table.cast(pa.schema(fields, metadata=schema.metadata))


def take_rows(table: pa.Table, indices: pa.Array | pl.Series) -> pa.Table:
    """The rows of ``table`` at ``indices``, for any column type (``Table.take`` for view types).

    pyarrow 26 cannot take from ``string_view``/``binary_view`` columns (nor from lists or structs
    holding them): those go through Polars and come back with their exact Arrow type, so field
    metadata (pickled and tuple marks) survives; every other column uses Arrow's ``take``.

    >>> import pyarrow as pa
    >>> from dstreams.codec import take_rows
    >>> t = pa.table({"w": pa.array(["a", "b", "c"], pa.string_view()), "n": [1, 2, 3]})
    >>> take_rows(t, pa.array([2, 0])).to_pydict()
    {'w': ['c', 'a'], 'n': [3, 1]}
    """
    if isinstance(indices, pl.Series):
        series, indices = indices, indices.to_arrow()
    else:
        series = None
    columns = []
    for f, column in zip(table.schema, table.columns):
        if without_views(f.type) == f.type:
            columns.append(column.take(indices))
            continue
        if series is None:
            series = pl.Series(indices)
        taken = pl.Series(column).gather(series).to_arrow(compat_level=pl.CompatLevel.newest())
        columns.append(taken.cast(f.type))
    return pa.Table.from_arrays(columns, schema=table.schema)


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate batches, unifying schemas (e.g. a null column with a typed one)."""
    tables = [t for t in tables]
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowTypeError:
        # Arrow does not unify string_view with string (a Polars result with a Python one):
        # the large types unify with both flavours
        return pa.concat_tables([user_table(t) for t in tables], promote_options="permissive")
