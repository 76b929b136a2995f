"""``(key, value)`` Arrow tables, the form in which windows and state keep their data.

Spark-style keyed streams carry pairs as two columns, ``key`` and ``value`` (see
:mod:`dstreams.codec`); the stateful operators keep their panes and states as such tables with
unique keys, in Spark's order, and spread them over partitions only when emitting a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl
import pyarrow as pa

from . import codec, ops
from .batch import Batch
from .codec import PARTITION
from .errors import SchemaError

EMPTY = pa.table({"key": pa.nulls(0), "value": pa.nulls(0)})
"""No pairs (the null-typed columns unify with any type)."""


def from_items(items: Iterable[tuple[Any, Any]]) -> pa.Table:
    """A pairs table from Python ``(key, value)`` tuples (pickled columns where needed)."""
    elements = list(items)
    if not elements:
        return EMPTY
    table, _ = codec.from_elements(elements)
    return table


def of_batch(batch: Batch, operator: str) -> pa.Table:
    """The batch's pairs without the partition column; a clear error for anything but pairs."""
    table = batch.table
    if table.num_rows == 0:
        return EMPTY
    if batch.layout != "pair":
        raise SchemaError(
            f"{operator} needs (key, value) pairs, got {batch.layout} elements; build pairs "
            "first, e.g. .map(lambda x: (x, 1))"
        )
    return table.drop_columns([PARTITION]) if PARTITION in table.column_names else table


def unhashable(key: Any, operator: str) -> SchemaError:
    """The error for a key that cannot be a dict key (a list, a dict...)."""
    return SchemaError(
        f"{operator}: key {key!r} of type {type(key).__name__} is not hashable; use a hashable "
        "key such as a tuple or a string"
    )


def spread(table: pa.Table, n: int) -> pa.Table:
    """Keys to ``n`` partitions as ``reduceByKey`` does; first-appearance order within each.

    Columnar throughout: partition ids and the stable reordering come from Polars, and the rows
    move with :func:`codec.take_rows` (pyarrow has no ``take`` for ``string_view`` keys).
    """
    if n <= 1 or table.num_rows == 0:
        return table
    if codec.is_pickled(table.schema.field("key")):
        ids = pl.Series(ops.partition_ids(codec.column_values(table, "key"), n), dtype=pl.Int32)
    else:
        ids = ops.key_partitions(table.column("key"), n)
    order = ids.to_frame("p").select(pl.arg_sort_by("p", maintain_order=True)).to_series()
    table = table.append_column(pa.field(PARTITION, pa.int32()), ids.to_arrow())
    return codec.take_rows(table, order)


def to_batch(table: pa.Table, n: int) -> Batch:
    """A pairs batch over ``n`` partitions."""
    return Batch(spread(table, n), "pair", n)
