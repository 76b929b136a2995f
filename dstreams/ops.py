"""Per-batch operators with Spark's semantics, each with a Python form and, where it can, a compiled one.

The Python form is the reference: it follows PySpark's RDD code element by element. The compiled
form must give the same elements in the same order; the tests run both on the same data.

Ordering, as PySpark with one partition: operators that group by key (``reduceByKey``,
``groupByKey``, ``countByValue``, joins...) emit keys in order of first appearance. With several
output partitions, keys go to partition ``hash(key) % n`` (Python's hash for ints, as PySpark's
``portable_hash``; a stable Polars hash for other keys, which differs from PySpark's) and keep
first-appearance order inside each partition.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from . import batch as _batch
from . import codec, executor
from .batch import Batch, Op, Shape, Step, from_partitions, split_partitions
from .codec import PARTITION, Layout
from .errors import BatchError, DStreamsError
from .fallback import FallbackWarning, Site, current_mode
from .fallback import report as report_fallback
from .fallback import why_python as _why_python

try:  # the tracer is optional: without it everything runs in Python
    from . import tracing
except ImportError:  # pragma: no cover
    tracing = None  # type: ignore[assignment]


__all__ = ["FallbackWarning"]  # re-exported: it moved to dstreams.fallback


def describe(fn: Callable) -> str:
    """``<lambda> at wordcount.py:12`` - how errors and warnings name a user function."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    name = name.rsplit("<locals>.", 1)[-1]  # the file and line say where it was defined
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{name} at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
    return name


# ---------------------------------------------------------------------------------------------
# Python-form helpers


def _per_partition(
    table: pa.Table, layout: Layout, nparts: int, fn: Callable[[int, list[Any]], Iterable[Any]]
) -> tuple[pa.Table, Layout, int]:
    parts = split_partitions(table, layout, nparts)
    out = [list(fn(i, part)) for i, part in enumerate(parts)]
    if not out:
        return from_partitions([])[0], layout, 0
    return from_partitions(out)


def partition_ids(keys: Sequence[Any], num_partitions: int) -> list[int]:
    """Which output partition each key goes to (shared by the Python and compiled forms)."""
    array, _ = codec.to_array(list(keys))
    return key_partitions(array, num_partitions).to_list()


def key_partitions(keys: pa.Array | pa.ChunkedArray, num_partitions: int) -> pl.Series:
    """Which output partition each key of a native Arrow column goes to, as an Int32 Series.

    The same assignment as :func:`partition_ids` and the compiled shuffles, without leaving columns.

    >>> import pyarrow as pa
    >>> from dstreams.ops import key_partitions
    >>> key_partitions(pa.array([4, -1, 7]), 3).to_list()
    [1, 1, 1]
    """
    series = pl.Series(keys)
    return pl.select(_partition_expr(pl.lit(series), series.dtype, num_partitions)).to_series()


def _partition_expr(key: pl.Expr, dtype: pl.DataType, n: int) -> pl.Expr:
    if dtype.is_integer():
        # PySpark's portable_hash(int) is hash(int): the value itself, except -1 -> -2.
        k = key.cast(pl.Int64)
        return pl.when(k == -1).then(-2).otherwise(k).mod(n).fill_null(0).cast(pl.Int32)
    return (key.hash(0) % n).cast(pl.Int32)


def _shuffle(pairs_by_partition: list[list[Any]], num_partitions: int, combine) -> list[list[Any]]:
    """Group (key, value) pairs by key in first-appearance order, then spread keys over partitions.

    ``combine(groups: dict[key, list[value]]) -> list[element]`` builds the output of each key.
    """
    groups: dict[Any, list[Any]] = {}
    for part in pairs_by_partition:
        for element in part:
            k, v = _as_pair(element)
            try:
                bucket = groups.get(k)
            except TypeError as error:
                raise _unhashable(k, error) from None
            if bucket is None:
                groups[k] = [v]
            else:
                bucket.append(v)
    return _spread(combine(groups), num_partitions)


def _unhashable(key: Any, error: TypeError) -> TypeError:
    fix = "tuple(sorted(k.items()))" if isinstance(key, dict) else "tuple(k)"
    return TypeError(
        f"key {key!r:.80} is a {type(key).__name__}, which is unhashable ({error}), so it cannot be a "
        f"key; make keys hashable first, e.g. turn each key k into {fix} with .map(...) before this step"
    )


def _groupable(dtype: pl.DataType) -> bool:
    """Whether Polars groups keys of this type exactly as a Python dict does.

    Lists and dicts are unhashable in Python (the Python form raises a clear error); floats are
    not exact (Python keeps each NaN apart and merges 0.0 with -0.0 as it finds them);
    categoricals from user tables compare by their dictionaries.
    """
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return False
    return not (dtype.is_nested() or dtype.is_float() or dtype == pl.Object)


def _spread(elements: list[Any], num_partitions: int) -> list[list[Any]]:
    if num_partitions <= 1:
        return [elements]
    out: list[list[Any]] = [[] for _ in range(num_partitions)]
    for element, p in zip(elements, partition_ids([e[0] for e in elements], num_partitions)):
        out[p].append(element)
    return out


def _as_pair(element: Any) -> tuple[Any, Any]:
    try:
        k, v = element
    except (TypeError, ValueError):
        raise TypeError(
            f"expected (key, value) pairs, got {element!r}; build pairs first, e.g. .map(lambda x: (x, 1))"
        ) from None
    return k, v


def _default_parallelism(n: int | None, nparts: int) -> int:
    return n if n is not None else max(1, nparts)


# ---------------------------------------------------------------------------------------------
# Element-wise operators (traced when possible)

_TRACE_KINDS = {
    "map": "trace_map",
    "flatMap": "trace_flat_map",
    "filter": "trace_predicate",
    "mapValues": "trace_map",
    "flatMapValues": "trace_flat_map",
}


_MAX_COMPILED_FAILURES = 3


class ElementOp(Op):
    """``map``, ``flatMap``, ``filter``, ``mapValues``, ``flatMapValues`` with a user function."""

    has_python_form = True

    def __init__(
        self,
        kind: str,
        fn: Callable,
        *,
        compile: bool = True,
        warn: bool = True,
        origin: Callable | None = None,
        label: str | None = None,
    ):
        """``origin``/``label``: the user's function and operator name when ``fn`` wraps it (``keyBy``)."""
        if not callable(fn):
            raise TypeError(f"{kind} needs a function, got {fn!r}")
        self.kind, self.fn = kind, fn
        self.origin = origin if origin is not None else fn  # what reports name: the user's function
        self.name = f"{label or kind}({describe(self.origin)})"
        self.compile, self._warn = compile, warn
        self.site = Site(self.origin)  # where a fallback report points: the user's line
        self._plans: dict[tuple, Step | None] = {}

    # compiled form
    def plan(self, shape: Shape) -> Step | None:
        if not self.compile or tracing is None:
            return None
        if self.kind in ("mapValues", "flatMapValues") and shape.layout != "pair":
            return None
        inputs = ["key", "value"] if shape.layout == "pair" else ["value"]
        if shape.layout == "row" or not shape.null_free(*inputs):
            return None  # None/pickled values: Python semantics (and errors) need the Python form
        if any(shape.schema.get(c) == pl.Null for c in inputs):
            return None  # an empty batch of unknown type: nothing to compile, nothing to warn about
        key = (shape.layout, tuple(shape.schema.get(c) for c in inputs), shape.num_partitions > 1)
        if key not in self._plans:
            self._plans[key] = self._compile(shape)
        step = self._plans[key]
        if step is None:
            self._warn_fallback(shape)  # once; raises on every batch with spark.dstreams.fallback=error
        if step is None or step.num_partitions == shape.num_partitions:
            return step
        # The plan is shared by batches with any number (>1) of partitions (a receiver's batch
        # has one per block): element-wise operators keep this batch's count.
        return dataclasses.replace(step, num_partitions=shape.num_partitions)

    def _compile(self, shape: Shape) -> Step | None:
        columns = {c: tracing.Column(c, shape.schema[c]) for c in ("key", "value") if c in shape.schema}
        keep = [pl.col(PARTITION)] if PARTITION in shape.schema else []
        if self.kind in ("mapValues", "flatMapValues"):
            element = columns["value"]
        elif shape.layout == "pair":
            element = (columns["key"], columns["value"])
        else:
            element = columns["value"]
        traced = getattr(tracing, _TRACE_KINDS[self.kind])(self.fn, element)
        if traced is None:
            return None
        nparts = shape.num_partitions
        # The exprs without their tripwires; the Step's check looks for bad rows in this
        # operator's input, whatever later operators read or filter (see batch._run).
        check = traced.bad
        if self.kind == "filter":
            predicate = traced.unchecked[0]
            return Step(
                lambda lf: lf.filter(predicate), shape.layout, nparts, shape.schema, frozenset(), check
            )
        exprs, dtypes = traced.unchecked, traced.dtypes
        if self.kind in ("mapValues", "flatMapValues"):
            if len(exprs) != 1:
                return None
            exprs = (pl.col("key"), exprs[0])
            dtypes = (shape.schema["key"], dtypes[0])
        names = ("value",) if len(exprs) == 1 else ("key", "value")
        layout: Layout = "value" if len(exprs) == 1 else "pair"
        selected = [e.alias(n) for e, n in zip(exprs, names)] + keep
        explode = self.kind in ("flatMap", "flatMapValues")
        if explode:
            schema = {n: (d.inner if isinstance(d, pl.List) else d) for n, d in zip(names, dtypes)}
            explode_cols = ["value"] if self.kind == "flatMapValues" else list(names)
            if self.kind == "flatMapValues":
                schema["key"] = shape.schema["key"]

            def apply(lf: pl.LazyFrame) -> pl.LazyFrame:
                return lf.select(selected).explode(explode_cols)
        else:
            schema = dict(zip(names, dtypes))

            def apply(lf: pl.LazyFrame) -> pl.LazyFrame:
                return lf.select(selected)

        if keep:
            schema[PARTITION] = pl.Int32
        return Step(apply, layout, nparts, schema, frozenset(), check)

    def note_compiled_failure(self) -> None:
        """The compiled plan raised and the batch was redone in Python (e.g. non-ASCII text for
        ``lower()``, an int64 overflow). After a few such batches, stop paying for both."""
        self._failures = getattr(self, "_failures", 0) + 1
        if self._failures == _MAX_COMPILED_FAILURES and self.compile:
            self.compile = False
            report_fallback(
                self.name,
                self.site,
                f"its compiled form could not give Python's exact result on {_MAX_COMPILED_FAILURES} "
                "batches (e.g. non-ASCII text for lower(), ints beyond 64 bits)",
            )

    def _warn_fallback(self, shape: Shape) -> None:
        if not self._warn or current_mode() == "ignore":
            return
        reason, faster = self.why_python(shape)
        report_fallback(self.name, self.site, reason, faster)  # raises in "error" mode: every batch
        self._warn = False

    def why_python(self, shape: Shape) -> tuple[str, str]:
        """Why this operator runs in Python on ``shape``, and the faster form when there is one."""
        inputs = ["key", "value"] if shape.layout == "pair" else ["value"]
        if shape.layout == "row":
            return "its input is rows (columns), which Python functions see as Row objects", ""
        if not shape.null_free(*inputs):
            return "its input holds None or Python objects: only the row-wise form has their semantics", ""
        types = {c: shape.schema.get(c) for c in inputs}
        return _why_python(self.origin, self.kind, types)

    # Python form
    def run(self, table, layout, nparts):
        fn, kind = self.fn, self.kind
        if kind == "map":
            return _per_partition(table, layout, nparts, lambda _, part: map(fn, part))
        if kind == "flatMap":
            return _per_partition(
                table, layout, nparts, lambda _, part: itertools.chain.from_iterable(map(fn, part))
            )
        if kind == "filter":
            return _per_partition(table, layout, nparts, lambda _, part: filter(fn, part))
        if kind == "mapValues":
            return _per_partition(
                table, layout, nparts, lambda _, part: ((k, fn(v)) for k, v in map(_as_pair, part))
            )
        return _per_partition(
            table, layout, nparts, lambda _, part: ((k, x) for k, v in map(_as_pair, part) for x in fn(v))
        )


class PartitionOp(Op):
    """``mapPartitions`` / ``mapPartitionsWithIndex`` / ``glom``: Python only, partition by partition."""

    python_only = True
    has_python_form = True

    def __init__(self, name: str, fn: Callable[[int, Iterable[Any]], Iterable[Any]]):
        self.name, self.fn = name, fn

    def run(self, table, layout, nparts):
        fn = self.fn
        result = _per_partition(table, layout, nparts, lambda i, part: fn(i, iter(part)) or ())
        return result


def map_partitions(fn: Callable, with_index: bool = False) -> PartitionOp:
    if with_index:
        return PartitionOp(f"mapPartitionsWithIndex({describe(fn)})", fn)
    return PartitionOp(f"mapPartitions({describe(fn)})", lambda _, it: fn(it))


def glom() -> PartitionOp:
    return PartitionOp("glom", lambda _, it: [list(it)])


class SelectOp(Op):
    """``keys()`` / ``values()``: pick one side of each pair."""

    has_python_form = True

    def __init__(self, side: str):
        self.side = side
        self.name = f"{side}s()"

    def plan(self, shape):
        if shape.layout != "pair" or self.side in shape.pickled:
            return None  # a pickled column would lose its mark going through Polars
        keep = [PARTITION] if PARTITION in shape.schema else []
        schema = {"value": shape.schema[self.side], **{c: shape.schema[c] for c in keep}}
        maybe_null = frozenset({"value"} if self.side in shape.maybe_null else ())
        return Step(
            lambda lf: lf.select(pl.col(self.side).alias("value"), *keep),
            "value",
            shape.num_partitions,
            schema,
            maybe_null,
        )

    def run(self, table, layout, nparts):
        index = 0 if self.side == "key" else 1
        return _per_partition(table, layout, nparts, lambda _, part: (_as_pair(e)[index] for e in part))


# ---------------------------------------------------------------------------------------------
# Aggregations


class CountOp(Op):
    """``count()``: one element, the number of elements (none for a batch with 0 partitions)."""

    name = "count()"
    has_python_form = True

    def plan(self, shape):
        if shape.num_partitions == 0:
            return None
        return Step(
            lambda lf: lf.select(pl.len().cast(pl.Int64).alias("value")),
            "value",
            1,
            {"value": pl.Int64},
            frozenset(),
        )

    def run(self, table, layout, nparts):
        if nparts == 0:
            return from_partitions([[]])
        return from_partitions([[table.num_rows]])


class ReduceByKeyOp(Op):
    """``reduceByKey(func, numPartitions)`` and ``reduce(func)`` (``keyed=False``)."""

    has_python_form = True

    def __init__(self, fn: Callable, num_partitions: int | None = None, *, keyed: bool = True):
        self.fn, self.n, self.keyed = fn, num_partitions, keyed
        self.name = f"{'reduceByKey' if keyed else 'reduce'}({describe(fn)})"
        self._warned = False
        self.site = Site(fn)  # where a fallback report points: the user's line
        self._reducers: dict[Any, Any] = {}
        self._steps: dict[tuple, Step | None] = {}

    def _reducer(self, dtype):
        if tracing is None or dtype == pl.Null:
            return None
        if dtype not in self._reducers:
            self._reducers[dtype] = tracing.trace_reduce(self.fn, dtype)
        if self._reducers[dtype] is None and not self._warned and current_mode() != "ignore":
            reason, faster = self.why_python(dtype)
            report_fallback(self.name, self.site, reason, faster)  # raises in "error" mode
            self._warned = True
        return self._reducers[dtype]

    def why_python(self, dtype: Any) -> tuple[str, str]:
        """Why this reduction runs in Python per key for values of ``dtype``, and the faster form."""
        return _why_python(self.fn, "reduceByKey" if self.keyed else "reduce", {"value": dtype})

    def plan(self, shape):
        # Building the aggregation is ~0.1 ms: once per input shape, not once per batch.
        key = (
            tuple(shape.schema.items()),
            shape.layout,
            shape.num_partitions,
            shape.pickled,
            shape.maybe_null,
        )
        if key not in self._steps:
            if len(self._steps) > 64:
                self._steps.clear()
            self._steps[key] = self._plan(shape)
        return self._steps[key]

    def _plan(self, shape):
        need = ["key", "value"] if self.keyed else ["value"]
        if (shape.layout != "pair" and self.keyed) or not shape.null_free(*need):
            return None
        if self.keyed and not _groupable(shape.schema["key"]):
            return None
        if not self.keyed and shape.layout != "value":
            return None
        reducer = self._reducer(shape.schema["value"])
        if reducer is None:
            return None
        dtype = getattr(reducer, "dtype", None) or shape.schema["value"]
        if not self.keyed:
            agg = reducer.agg(pl.col("value")).alias("value")
            return Step(
                lambda lf: lf.select(agg, pl.len().alias("__n")).filter(pl.col("__n") > 0).select("value"),
                "value",
                1,
                {"value": dtype},
                frozenset(),
            )
        n = _default_parallelism(self.n, shape.num_partitions)
        return _grouped_step(
            shape,
            n,
            [reducer.agg(pl.col("value")).alias("value")],
            {"value": dtype},
            order_sensitive=reducer.name not in _ORDER_FREE_REDUCERS,
        )

    def run(self, table, layout, nparts):
        fn = self.fn
        if not self.keyed:
            values = [e for part in split_partitions(table, layout, nparts) for e in part]
            if not values:
                return from_partitions([[]])
            return from_partitions([[functools.reduce(fn, values)]])
        n = _default_parallelism(self.n, nparts)
        parts = split_partitions(table, layout, nparts)
        return from_partitions(
            _shuffle(parts, n, lambda groups: [(k, functools.reduce(fn, vs)) for k, vs in groups.items()])
        )


_ORDER = "__order"
"""Hidden row-index column: restores first-appearance order after an unordered group_by."""


_ORDER_FREE_REDUCERS = frozenset({"sum", "min", "max", "product"})


def _grouped_step(
    shape: Shape,
    n: int,
    aggs: list[pl.Expr],
    schema: dict[str, pl.DataType],
    *,
    order_sensitive: bool = False,
) -> Step:
    """group_by(key) in first-appearance order, spread over ``n`` partitions.

    Aggregations that read values in arrival order (lists, string concatenation) need Polars'
    ``maintain_order``; for the others (sum, min, max, len) grouping without it and sorting the
    groups by their first row index gives the same order faster (about 10% on word count).
    """
    key_dtype = shape.schema["key"]

    def apply(lf: pl.LazyFrame) -> pl.LazyFrame:
        if order_sensitive:
            out = lf.group_by("key", maintain_order=True).agg(aggs)
        else:
            out = lf.with_row_index(_ORDER).group_by("key").agg(*aggs, pl.col(_ORDER).min())
        if n > 1:
            out = out.with_columns(_partition_expr(pl.col("key"), key_dtype, n).alias(PARTITION))
            out = out.sort([PARTITION] if order_sensitive else [PARTITION, _ORDER], maintain_order=True)
        elif not order_sensitive:
            out = out.sort(_ORDER)
        return out if order_sensitive else out.drop(_ORDER)

    full = {"key": key_dtype, **schema}
    if n > 1:
        full[PARTITION] = pl.Int32
    return Step(apply, "pair", n, full, frozenset())


class GroupByKeyOp(Op):
    """``groupByKey(numPartitions)``: values of each key as a list, in arrival order."""

    has_python_form = True

    def __init__(self, num_partitions: int | None = None):
        self.n = num_partitions
        self.name = "groupByKey()"

    def plan(self, shape):
        if shape.layout != "pair" or not shape.null_free("key") or "value" in shape.pickled:
            return None
        if not _groupable(shape.schema["key"]):
            return None
        n = _default_parallelism(self.n, shape.num_partitions)
        return _grouped_step(
            shape, n, [pl.col("value")], {"value": pl.List(shape.schema["value"])}, order_sensitive=True
        )

    def run(self, table, layout, nparts):
        n = _default_parallelism(self.n, nparts)
        parts = split_partitions(table, layout, nparts)
        return from_partitions(_shuffle(parts, n, lambda groups: list(groups.items())))


class CombineByKeyOp(Op):
    """``combineByKey(createCombiner, mergeValue, mergeCombiners)``, partition-wise as in Spark."""

    python_only = True
    has_python_form = True

    def __init__(self, create, merge_value, merge_combiners, num_partitions=None):
        self.create, self.merge_value, self.merge_combiners = create, merge_value, merge_combiners
        self.n = num_partitions
        self.name = f"combineByKey({describe(create)})"

    def run(self, table, layout, nparts):
        n = _default_parallelism(self.n, nparts)
        # Map side: combine within each input partition; reduce side: merge the combiners.
        combined: list[list[Any]] = []
        for part in split_partitions(table, layout, nparts):
            acc: dict[Any, Any] = {}
            for element in part:
                k, v = _as_pair(element)
                try:
                    seen = k in acc
                except TypeError as error:
                    raise _unhashable(k, error) from None
                acc[k] = self.merge_value(acc[k], v) if seen else self.create(v)
            combined.append(list(acc.items()))

        def merge(groups):
            return [(k, functools.reduce(self.merge_combiners, cs)) for k, cs in groups.items()]

        return from_partitions(_shuffle(combined, n, merge))


class CountByValueOp(Op):
    """``countByValue()``: ``(value, count)`` per distinct element, first-appearance order.

    ``num_partitions``: output partitions (PySpark's DStream uses ``sc.defaultParallelism``);
    None keeps the input's count.
    """

    name = "countByValue()"
    has_python_form = True

    def __init__(self, num_partitions: int | None = None):
        self.n = num_partitions

    def plan(self, shape):
        if shape.layout != "value" or not shape.null_free("value") or not _groupable(shape.schema["value"]):
            return None
        key_shape = Shape({"key": shape.schema["value"]}, "pair", 1, frozenset(), frozenset())
        n = _default_parallelism(self.n, shape.num_partitions)
        inner = _grouped_step(key_shape, n, [pl.len().cast(pl.Int64).alias("value")], {"value": pl.Int64})
        return Step(
            lambda lf: inner.apply(lf.select(pl.col("value").alias("key"))),
            "pair",
            n,
            inner.schema,
            frozenset(),
        )

    def run(self, table, layout, nparts):
        parts = [[(e, 1) for e in part] for part in split_partitions(table, layout, nparts)]
        n = _default_parallelism(self.n, nparts)
        return from_partitions(_shuffle(parts, n, lambda g: [(k, len(vs)) for k, vs in g.items()]))


class DistinctOp(Op):
    """``distinct()``: each element once, in order of first appearance (per output partition)."""

    name = "distinct()"
    has_python_form = True

    def __init__(self, num_partitions=None):
        self.n = num_partitions

    def plan(self, shape):
        columns = {"value": ["value"], "pair": ["key", "value"]}.get(shape.layout)
        if columns is None or any(c in shape.pickled or not _groupable(shape.schema[c]) for c in columns):
            return None
        n = _default_parallelism(self.n, shape.num_partitions)
        if n > 1 and shape.layout == "pair":
            return None  # pairs are spread by the hash of the whole tuple, which Polars does not give
        schema = {c: shape.schema[c] for c in columns}

        def apply(lf: pl.LazyFrame) -> pl.LazyFrame:
            out = lf.select(columns).unique(maintain_order=True)
            if n > 1:
                out = out.with_columns(_partition_expr(pl.col("value"), schema["value"], n).alias(PARTITION))
                out = out.sort(PARTITION, maintain_order=True)
            return out

        if n > 1:
            schema[PARTITION] = pl.Int32
        maybe_null = frozenset(c for c in columns if c in shape.maybe_null)
        return Step(apply, shape.layout, n, schema, maybe_null)

    def run(self, table, layout, nparts):
        parts = [[(e, None) for e in part] for part in split_partitions(table, layout, nparts)]
        n = _default_parallelism(self.n, nparts)
        shuffled = _shuffle(parts, n, lambda g: [(k, None) for k in g])
        return from_partitions([[k for k, _ in part] for part in shuffled])


# ---------------------------------------------------------------------------------------------
# Partitioning and sorting


class PartitionByOp(Op):
    """``partitionBy(n, partitionFunc)``: move each pair to partition ``partitionFunc(key) % n``."""

    python_only = True
    has_python_form = True

    def __init__(self, num_partitions: int, partition_func: Callable | None = None):
        self.n, self.func = num_partitions, partition_func
        self.name = f"partitionBy({num_partitions})"

    def run(self, table, layout, nparts):
        elements = [e for part in split_partitions(table, layout, nparts) for e in part]
        keys = [_as_pair(e)[0] for e in elements]
        if self.func is None:
            ids = partition_ids(keys, self.n) if self.n > 1 else [0] * len(keys)
        else:
            ids = [self.func(k) % self.n for k in keys]
        out: list[list[Any]] = [[] for _ in range(self.n)]
        for e, p in zip(elements, ids):
            out[p].append(e)
        return from_partitions(out)


class RepartitionOp(Op):
    """``repartition(n)``: the same elements in ``n`` contiguous, even slices (deterministic)."""

    python_only = True
    has_python_form = True

    def __init__(self, num_partitions: int):
        self.n = num_partitions
        self.name = f"repartition({num_partitions})"

    def run(self, table, layout, nparts):
        elements = [e for part in split_partitions(table, layout, nparts) for e in part]
        size = len(elements)
        return from_partitions(
            [elements[i * size // self.n : (i + 1) * size // self.n] for i in range(self.n)]
        )


class SortOp(Op):
    """``sortByKey`` / ``sortBy``: a stable sort, cut into ``n`` contiguous ranges."""

    python_only = True
    has_python_form = True

    def __init__(self, ascending=True, num_partitions=None, keyfunc=lambda x: x, by_key=True):
        self.ascending, self.n, self.keyfunc, self.by_key = ascending, num_partitions, keyfunc, by_key
        self.name = "sortByKey()" if by_key else f"sortBy({describe(keyfunc)})"

    def run(self, table, layout, nparts):
        elements = [e for part in split_partitions(table, layout, nparts) for e in part]
        key = (lambda e: self.keyfunc(_as_pair(e)[0])) if self.by_key else self.keyfunc
        ordered = sorted(elements, key=key, reverse=not self.ascending)
        n = _default_parallelism(self.n, nparts)
        size = len(ordered)
        return from_partitions([ordered[i * size // n : (i + 1) * size // n] for i in range(n)])


# ---------------------------------------------------------------------------------------------
# Operators over several batches


def union(tables: Sequence[tuple[pa.Table, Layout, int]]) -> tuple[pa.Table, Layout, int]:
    """Elements of the first batch, then the second... Partitions are concatenated too."""
    layouts = {layout for _, layout, _ in tables}
    total = sum(n for _, _, n in tables)
    if len(tables) == 1:
        return tables[0]
    if len(layouts) == 1 and all(not any(codec.is_pickled(f) for f in t.schema) for t, _, _ in tables):
        pieces, offset = [], 0
        for table, _, n in tables:
            body = table.drop_columns([PARTITION]) if PARTITION in table.column_names else table
            if total > 1:
                ids = table.column(PARTITION) if PARTITION in table.column_names else None
                column = (
                    _constant_int32(offset, table.num_rows)
                    if ids is None
                    else pc.add(ids, pa.scalar(offset, pa.int32()))
                )
                body = body.append_column(pa.field(PARTITION, pa.int32()), column)
            pieces.append(body)
            offset += n
        try:
            return codec.concat(pieces), layouts.pop(), total
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # different column types: fall back to elements (pickled where mixed)
    parts = [p for table, layout, n in tables for p in split_partitions(table, layout, n)]
    return from_partitions(parts) if parts else from_partitions([])


def _constant_int32(value: int, n: int) -> pa.Array:
    # Built from one repeated buffer: ~200x faster than pa.array([value] * n) on large batches.
    return pa.Array.from_buffers(
        pa.int32(), n, [None, pa.py_buffer(value.to_bytes(4, "little", signed=True) * n)]
    )


def cogroup_elements(
    left: list[Any], right: list[Any], num_partitions: int, emit: Callable[[Any, list, list], Iterable]
) -> list[list[Any]]:
    """Group both sides by key (first appearance across left then right) and ``emit`` per key."""
    groups: dict[Any, tuple[list, list]] = {}
    for side, elements in ((0, left), (1, right)):
        for element in elements:
            k, v = _as_pair(element)
            try:
                entry = groups.get(k)
            except TypeError as error:
                raise _unhashable(k, error) from None
            if entry is None:
                entry = groups[k] = ([], [])
            entry[side].append(v)
    out = [e for k, (vs, ws) in groups.items() for e in emit(k, vs, ws)]
    return _spread(out, num_partitions)


def cogroup(how: str, left: Batch, right: Batch, num_partitions: int) -> Batch:
    """``join``/``leftOuterJoin``/``rightOuterJoin``/``fullOuterJoin``/``cogroup`` of two batches.

    As PySpark: keys in order of first appearance over left then right (then spread over
    ``num_partitions`` by key), and within a key every left value with every right value, both in
    arrival order. ``a.join(b)`` gives ``(k, (v, w))``; ``cogroup`` gives ``(k, ([v...], [w...]))``.
    Pair batches with native columns are joined by Polars; anything else runs in Python.
    """
    if how not in JOINS:
        raise ValueError(f"unknown join {how!r}; expected one of {sorted(JOINS)}")
    if _batch.compilation_enabled():
        try:
            compiled = _compiled_cogroup(how, left, right, num_partitions)
        except pl.exceptions.PolarsError:
            compiled = None  # exactness first: the Python form decides
        if compiled is not None:
            return compiled
    try:
        parts = cogroup_elements(left.elements(), right.elements(), num_partitions, JOINS[how])
    except DStreamsError:
        raise
    except Exception as error:
        raise BatchError(f"{how} failed: {type(error).__name__}: {error}", operator=how) from error
    return Batch.from_partitions(parts)


def _join_side(batch: Batch) -> pa.Table | None:
    """The batch's ``key``/``value`` columns if Polars can join them exactly, else None."""
    table = batch.table
    if table.num_rows == 0:
        return table.slice(0, 0)
    if batch.layout != "pair" or table.column("key").null_count:
        return None  # Polars joins never match null keys; Python's dicts do
    if any(codec.is_pickled(table.schema.field(c)) for c in ("key", "value")):
        return None
    return table.select(["key", "value"])


def _compiled_cogroup(how: str, left: Batch, right: Batch, n: int) -> Batch | None:
    sides = [_join_side(left), _join_side(right)]
    if sides[0] is None or sides[1] is None or not (sides[0].num_rows or sides[1].num_rows):
        return None
    frames = [pl.from_arrow(t) for t in sides]
    key_types = {f.schema["key"] for f, t in zip(frames, sides) if t.num_rows}
    if len(key_types) != 1:
        return None  # Python would match 1 with 1.0 or True; keep that to the Python form
    key_type = key_types.pop()
    if not _groupable(key_type):
        return None
    lfs, value_types = [], []
    for frame, name, index in zip(frames, ("v", "w"), ("_i", "_j")):
        if frame.height == 0:  # an empty side (no batch, or an empty one) of any layout
            frame = pl.DataFrame(schema={"key": key_type, "value": pl.Null})
        value_types.append(frame.schema["value"])
        lfs.append(frame.lazy().select("key", pl.col("value").alias(name)).with_row_index(index))
    lv, lw = lfs
    order = pl.concat([lv.select("key"), lw.select("key")]).unique(maintain_order=True).with_row_index("_o")
    if how == "cogroup":
        out = order
        for lf, name, index, dtype in zip(lfs, ("v", "w"), ("_i", "_j"), value_types):
            grouped = lf.group_by("key").agg(pl.col(name).sort_by(index))
            empty = pl.lit([], dtype=pl.List(dtype))
            out = out.join(grouped, on="key", how="left").with_columns(pl.col(name).fill_null(empty))
    else:
        keep = {
            "join": pl.col("_i").is_not_null() & pl.col("_j").is_not_null(),
            "leftOuterJoin": pl.col("_i").is_not_null(),
            "rightOuterJoin": pl.col("_j").is_not_null(),
            "fullOuterJoin": pl.lit(True),
        }[how]
        out = lv.join(lw, on="key", how="full", coalesce=True).filter(keep).join(order, on="key", how="left")
    out = out.sort(["_o", "_i", "_j"] if how != "cogroup" else "_o", maintain_order=True)
    columns = [pl.col("key"), pl.struct(pl.col("v").alias("_0"), pl.col("w").alias("_1")).alias("value")]
    if n > 1:
        columns.append(_partition_expr(pl.col("key"), key_type, n).alias(PARTITION))
    out = out.select(columns)
    if n > 1:
        out = out.sort(PARTITION, maintain_order=True)
    (table,) = executor.current().collect([out])
    return Batch(codec.mark_tuples(table, "value"), "pair", n)


JOINS: dict[str, Callable[[Any, list, list], Iterable]] = {
    "join": lambda k, vs, ws: ((k, (v, w)) for v in vs for w in ws),
    "leftOuterJoin": lambda k, vs, ws: ((k, (v, w)) for v in vs for w in (ws or [None])),
    "rightOuterJoin": lambda k, vs, ws: ((k, (v, w)) for v in (vs or [None]) for w in ws),
    "fullOuterJoin": lambda k, vs, ws: ((k, (v, w)) for v in (vs or [None]) for w in (ws or [None])),
    "cogroup": lambda k, vs, ws: [(k, (vs, ws))],
}


def arity(fn: Callable) -> int:
    """Number of positional parameters, as PySpark's dispatch on ``co_argcount`` (methods minus self)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
