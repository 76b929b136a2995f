"""Sliding windows with Spark's semantics, computed from per-batch partial aggregates ("panes").

Every keyed window operator first reduces each batch on its own (``reduceByKey`` per batch: a
*pane*); a window is then a combination of the panes in ``(t - window, t]``, never of raw rows.

* **Pane merge** (no inverse function): the window's panes reduced together.
* **Incremental** (with an inverse function; as in Spark, only when the window spans at least 5
  slides and the previous window is known): the previous window, minus the panes that left
  (``invFunc``), plus the panes that came in (``func``). The cost follows the panes that moved and
  the keys in the window, not the window's length. As in Spark, keys whose value went back to the
  neutral value (0 for counts) stay in the output unless ``filterFunc`` drops them.

Recognised functions (``operator.add``/``operator.sub``, ``lambda a, b: a + b``/``a - b``, ``max``,
``min``... see :func:`dstreams.tracing.trace_reduce`) run as Polars group-bys and joins; any other
Python function runs per key, with Spark's semantics, and an error in it names the key.

>>> counts = words.map(lambda w: (w, 1)).reduceByKeyAndWindow(operator.add, operator.sub, 30, 10)
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from . import batch as _batch
from . import codec, ops, pairs, recognize
from .batch import Batch, failures_named
from .dstream import DStream
from .errors import BatchError
from .outputs import batch_label

if TYPE_CHECKING:
    from .state import StateSnapshot

try:
    from . import tracing
except ImportError:  # pragma: no cover - the tracer is optional
    tracing = None  # type: ignore[assignment]

INCREMENTAL_MIN_SLIDES = 5
"""Spark uses the inverse function only for windows of at least this many slides."""

_NEWEST = pl.CompatLevel.newest()
_SUBTRACTIONS = [lambda a, b: a - b]


# ---------------------------------------------------------------------------------------------
# Public entry points (DStream methods delegate here)


def reduce_by_key_and_window(
    stream: DStream,
    func: Callable[[Any, Any], Any],
    invFunc: Callable[[Any, Any], Any] | None,
    windowDuration: float,
    slideDuration: float | None = None,
    numPartitions: int | None = None,
    filterFunc: Callable[[Any], bool] | None = None,
) -> DStream:
    """Spark's ``reduceByKeyAndWindow``; see :meth:`DStream.reduceByKeyAndWindow`."""
    window_ms, slide_ms = stream._validate_window(windowDuration, slideDuration)
    n = stream._partitions(numPartitions)
    panes = stream.reduceByKey(func, n)
    if invFunc is None:
        if filterFunc is not None:
            warnings.warn(
                "reduceByKeyAndWindow: filterFunc is ignored when invFunc is None (as in PySpark); "
                "add .filter(...) after the window instead",
                stacklevel=3,
            )
        # PySpark: reduceByKey per batch, window, reduceByKey again: the panes are merged.
        return panes.window(windowDuration, slideDuration).reduceByKey(func, n)
    name = f"reduceByKeyAndWindow({ops.describe(func)}, {ops.describe(invFunc)})"
    return ReducedWindowedDStream(
        panes, _FunctionCombiner(name, func, invFunc), window_ms, slide_ms, n, filterFunc
    )


def reduce_by_window(
    stream: DStream,
    reduceFunc: Callable[[Any, Any], Any],
    invReduceFunc: Callable[[Any, Any], Any] | None,
    windowDuration: float,
    slideDuration: float | None,
) -> DStream:
    """Spark's ``reduceByWindow``: every element under one key, one partition."""
    stream._validate_window(windowDuration, slideDuration)
    keyed = stream.map(lambda x: (1, x))
    reduced = reduce_by_key_and_window(keyed, reduceFunc, invReduceFunc, windowDuration, slideDuration, 1)
    return reduced.map(lambda kv: kv[1])


def count_by_window(stream: DStream, windowDuration: float, slideDuration: float | None) -> DStream:
    """Spark's ``countByWindow``: ``reduceByWindow(add, sub)`` over ones."""
    stream._validate_window(windowDuration, slideDuration)
    return reduce_by_window(
        stream.map(lambda x: 1), operator.add, operator.sub, windowDuration, slideDuration
    )


def count_by_value_and_window(
    stream: DStream, windowDuration: float, slideDuration: float | None, numPartitions: int | None = None
) -> DStream:
    """Spark's ``countByValueAndWindow``: windowed counts, keeping counts above zero."""
    window_ms, slide_ms = stream._validate_window(windowDuration, slideDuration)
    n = stream._partitions(numPartitions)
    # countByValue per batch is reduceByKey(add) over (x, 1), computed in one group-by.
    panes = stream.countByValue()
    combiner = _FunctionCombiner("countByValueAndWindow", operator.add, operator.sub)
    counted = ReducedWindowedDStream(panes, combiner, window_ms, slide_ms, n, None)
    return counted.filter(lambda kv: kv[1] > 0)


def group_by_key_and_window(
    stream: DStream, windowDuration: float, slideDuration: float | None, numPartitions: int | None = None
) -> DStream:
    """Spark's ``groupByKeyAndWindow``: value lists over the window, in arrival order."""
    window_ms, slide_ms = stream._validate_window(windowDuration, slideDuration)
    n = stream._partitions(numPartitions)
    # PySpark reduces [x] lists with extend and removes with a[len(b):]; groupByKey per batch
    # gives the same panes in one columnar step.
    panes = stream.groupByKey(n)
    return ReducedWindowedDStream(panes, _ListCombiner(), window_ms, slide_ms, n, None)


# ---------------------------------------------------------------------------------------------
# Combining panes


class _Combiner:
    """How panes combine: ``reduce`` with the function, ``subtract`` with its inverse.

    Both take and return ``(key, value)`` Arrow tables with unique keys, in Spark's order (first
    appearance). Each runs as one Polars plan when the functions are recognised and the columns
    allow it, else per key in Python.
    """

    name = "window"

    def __init__(self, func: Callable[[Any, Any], Any], inv: Callable[[Any, Any], Any] | None):
        self.func, self.inv = func, inv

    # columnar forms: an aggregation over the value column, an expression of value and __old
    def reduce_expr(self, dtype: pl.DataType) -> pl.Expr | None:
        return None

    def subtract_expr(self, dtype: pl.DataType) -> pl.Expr | None:
        return None

    # -- reduce ----------------------------------------------------------------------------------
    def reduce(self, tables: Sequence[pa.Table], t: int) -> pa.Table:
        tables = [x for x in tables if x.num_rows]
        if not tables:
            return pairs.EMPTY
        if len(tables) == 1:  # a reduced table reduces to itself, no call needed
            return tables[0]
        frames = _columnar(tables)
        if frames is not None:
            expr = self.reduce_expr(frames[0].schema["value"])
            if expr is not None:
                plan = pl.concat(frames).lazy().group_by("key", maintain_order=True).agg(expr.alias("value"))
                out = _collect(plan)
                if out is not None:
                    return out
        return self._python_reduce(tables, t)

    def _python_reduce(self, tables: Sequence[pa.Table], t: int) -> pa.Table:
        acc: dict[Any, Any] = {}
        for table in tables:
            for k, v in codec.to_elements(table, "pair"):
                if _has(acc, k, self.name):
                    acc[k] = self._call(self.func, "func", acc[k], v, k, t)
                else:
                    acc[k] = v
        return pairs.from_items(acc.items())

    # -- subtract --------------------------------------------------------------------------------
    def subtract(self, prev: pa.Table, old: pa.Table, t: int) -> pa.Table:
        """``prev.leftOuterJoin(old)`` then ``invFunc(p, o)`` where ``o`` is not None (as PySpark)."""
        if prev.num_rows == 0 or old.num_rows == 0:
            return prev
        frames = _columnar([prev, old])
        if frames is not None:
            expr = self.subtract_expr(frames[0].schema["value"])
            if expr is not None:
                p, o = frames
                plan = (
                    p.lazy()
                    .join(o.lazy().rename({"value": "__old"}), on="key", how="left", maintain_order="left")
                    .select(
                        "key",
                        pl.when(pl.col("__old").is_null())
                        .then(pl.col("value"))
                        .otherwise(expr)
                        .alias("value"),
                    )
                )
                out = _collect(plan)
                if out is not None:
                    return out
        return self._python_subtract(prev, old, t)

    def _python_subtract(self, prev: pa.Table, old: pa.Table, t: int) -> pa.Table:
        old_values = dict(codec.to_elements(old, "pair"))
        out = []
        for k, v in codec.to_elements(prev, "pair"):
            w = old_values.get(k)
            out.append((k, v if w is None else self._call(self.inv, "invFunc", v, w, k, t)))
        return pairs.from_items(out)

    def _call(self, fn: Callable, role: str, a: Any, b: Any, key: Any, t: int) -> Any:
        try:
            return fn(a, b)
        except Exception as error:
            raise BatchError(
                f"{self.name}: {role} {ops.describe(fn)} raised {type(error).__name__}: {error} "
                f"for key {key!r} at {batch_label(t)}; the previous window is kept",
                operator=self.name,
                batch_time=t,
            ) from error


class _FunctionCombiner(_Combiner):
    """A user's ``func``/``invFunc`` pair; ``+``/``-`` (and max, min...) run in Polars."""

    def __init__(self, name: str, func: Callable, inv: Callable | None):
        super().__init__(func, inv)
        self.name = name
        self._is_sub = inv is not None and (inv is operator.sub or recognize.matches(inv, _SUBTRACTIONS))
        self._reducers: dict[pl.DataType, Any] = {}

    def reduce_expr(self, dtype):
        if tracing is None:
            return None
        if dtype not in self._reducers:
            self._reducers[dtype] = tracing.trace_reduce(self.func, dtype)
        reducer = self._reducers[dtype]
        return None if reducer is None else reducer.agg(pl.col("value"))

    def subtract_expr(self, dtype):
        if not self._is_sub:
            return None
        if dtype.is_integer():
            # Python ints never overflow: subtract in Int128, fail the strict cast if it does not fit
            wide = pl.col("value").cast(pl.Int128) - pl.col("__old").cast(pl.Int128)
            return wide.cast(pl.Int64, strict=True)
        if dtype.is_float():
            return pl.col("value") - pl.col("__old")
        return None


def _extend(a: list, b: list) -> list:
    return a.extend(b) or a


def _drop_front(a: list, b: list) -> list:
    return a[len(b) :]


class _ListCombiner(_Combiner):
    """``groupByKeyAndWindow``: lists concatenated in arrival order; leaving values cut from the front."""

    name = "groupByKeyAndWindow"

    def __init__(self):
        super().__init__(_extend, _drop_front)

    def reduce_expr(self, dtype):
        if not isinstance(dtype, pl.List):
            return None
        return pl.col("value").list.explode(keep_nulls=False, empty_as_null=False)

    def subtract_expr(self, dtype):
        if not isinstance(dtype, pl.List):
            return None
        return pl.col("value").list.slice(pl.col("__old").list.len())


def _columnar(tables: Sequence[pa.Table]) -> list[pl.DataFrame] | None:
    """The tables as Polars frames when a columnar plan can match Python exactly, else None."""
    if not _batch.compilation_enabled():
        return None
    frames = []
    for table in tables:
        if any(codec.is_pickled(f) for f in table.schema):
            return None  # Python objects without one Arrow type
        if table.column("key").null_count or table.column("value").null_count:
            return None  # Python would see None (and fail or treat it specially)
        frames.append(pl.from_arrow(table))
    schema = frames[0].schema
    if any(f.schema != schema for f in frames[1:]) or schema["key"].is_float():
        return None  # mixed types, or float keys (NaN and -0.0 group differently from dicts)
    return frames  # type: ignore[return-value]


def _collect(plan: pl.LazyFrame) -> pa.Table | None:
    try:
        return plan.collect().to_arrow(compat_level=_NEWEST)
    except pl.exceptions.PolarsError:
        return None  # e.g. an Int64 overflow where Python ints would grow: run in Python


def _has(acc: dict, key: Any, name: str) -> bool:
    try:
        return key in acc
    except TypeError:
        raise pairs.unhashable(key, name) from None


# ---------------------------------------------------------------------------------------------
# The windowed stream


class ReducedWindowedDStream(DStream):
    """Spark's ``(Python)ReducedWindowedDStream``: panes combined over ``(t - window, t]``."""

    _stateful = True  # the previous window is state (Spark: mustCheckpoint)

    def __init__(
        self,
        panes: DStream,
        combiner: _Combiner,
        window_ms: int,
        slide_ms: int,
        num_partitions: int,
        filter_func: Callable[[Any], bool] | None,
    ):
        super().__init__(panes._ssc, [panes], slide_ms)
        self._combiner = combiner
        self.name = combiner.name
        self._window_ms = window_ms
        self._num_partitions = num_partitions
        self._filter = ops.ElementOp("filter", filter_func) if filter_func is not None else None
        self._prev: tuple[int, pa.Table] | None = None  # (time, window) of the last window computed
        self._restored: dict[int, pa.Table] = {}  # panes from a snapshot, by batch time
        # the incremental step reads the panes that left: up to window + slide back
        panes._remember(window_ms + slide_ms)

    def _panes(self, after: int, upto: int) -> list[pa.Table]:
        """The panes with batch times in ``(after, upto]`` (existing batches only)."""
        parent = self._parents[0]
        step = parent._slide_ms
        # panes from a restored snapshot come from before this context started
        restored = [table for u, table in sorted(self._restored.items()) if after < u <= upto]
        first = max(after + step, self._ssc._graph.zero_ms + step)
        found = (parent._get(u) for u in range(first, upto + 1, step))
        return restored + [pairs.of_batch(b, self._combiner.name) for b in found if b is not None]

    def _compute(self, t: int) -> Batch | None:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch | None:
        combine, window, slide = self._combiner, self._window_ms, self._slide_ms
        prev = self._prev[1] if self._prev is not None and self._prev[0] == t - slide else None
        if prev is not None and window >= INCREMENTAL_MIN_SLIDES * slide:
            old = self._panes(t - slide - window, t - window)
            new = self._panes(t - slide, t)
            current = combine.subtract(prev, combine.reduce(old, t), t) if old else prev
            if new:
                current = self._filtered(combine.reduce([current, combine.reduce(new, t)], t))
        else:
            panes = self._panes(t - window, t)
            if not panes:
                return None
            current = self._filtered(combine.reduce(panes, t))
        self._prev = (t, current)
        for gone in [u for u in self._restored if u <= t - window]:
            del self._restored[gone]
        n = self._num_partitions
        return pairs.to_batch(current, n)

    def _filtered(self, table: pa.Table) -> pa.Table:
        if self._filter is None or table.num_rows == 0:
            return table
        kept = Batch(table, "pair", 1).then(self._filter).table
        return kept if kept.num_rows else pairs.EMPTY

    # -- state -----------------------------------------------------------------------------------
    def _state_snapshot(self) -> StateSnapshot | None:
        """The last window and the panes it still needs (tables ``window`` and ``pane-<ms>``)."""
        from .state import StateSnapshot

        if self._prev is None:
            return None
        t = self._prev[0]
        parent = self._parents[0]
        tables = {"window": self._prev[1]}
        times = []
        for u in range(t - self._window_ms + parent._slide_ms, t + 1, parent._slide_ms):
            batch = parent._generated.get(u)
            table = self._restored.get(u) if batch is None else pairs.of_batch(batch, self._combiner.name)
            if table is not None:
                tables[f"pane-{u}"] = table
                times.append(u)
        return StateSnapshot(t, tables, {"kind": "reduced_window", "pane_times_ms": times})

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._prev = (snapshot.batch_time, snapshot.tables["window"])
        times = snapshot.metadata.get("pane_times_ms", [])
        self._restored = {u: snapshot.tables[f"pane-{u}"] for u in times}


# ---------------------------------------------------------------------------------------------
# Native windowed aggregation: stream.window(length, slide).group_by(...).agg(...)


class _Part:
    """One output column of a windowed ``agg``: per-pane partials, how they merge, the final value."""

    def __init__(self, name: str, partials: dict[str, pl.Expr], merge: str, final: pl.Expr):
        self.name, self.partials, self.merge, self.final = name, partials, merge, final
        self.invertible = merge == "sum"  # a pane that leaves can be subtracted (exact for integers)

    def merge_exprs(self) -> list[pl.Expr]:
        if self.merge == "unique":
            return [pl.col(p).explode().unique().alias(p) for p in self.partials]
        return [getattr(pl.col(p), self.merge)().alias(p) for p in self.partials]


def _decompose(i: int, expr: pl.Expr) -> _Part | None:
    """Split an aggregation into pane partials (``len``, ``sum``, ``count``, ``mean``, ``min``,
    ``max``, ``first``, ``last``, ``n_unique`` of one column); None for anything else."""
    name = expr.meta.output_name()
    base = expr.meta.undo_aliases()
    p = f"__p{i}"
    if base.meta.eq(pl.len()):
        return _Part(name, {p: pl.len().cast(pl.Int64)}, "sum", pl.col(p))
    roots = base.meta.root_names()
    if len(roots) != 1:
        return None
    c = pl.col(roots[0])
    if base.meta.eq(c.sum()):
        return _Part(name, {p: c.sum()}, "sum", pl.col(p))
    if base.meta.eq(c.count()):
        return _Part(name, {p: c.count().cast(pl.Int64)}, "sum", pl.col(p))
    if base.meta.eq(c.mean()):
        s, n = f"{p}s", f"{p}n"
        final = pl.col(s).cast(pl.Float64) / pl.col(n)
        return _Part(name, {s: c.sum(), n: c.count().cast(pl.Int64)}, "sum", final)
    for kind in ("min", "max", "first", "last"):
        if base.meta.eq(getattr(c, kind)()):
            return _Part(name, {p: getattr(c, kind)()}, kind, pl.col(p))
    if base.meta.eq(c.n_unique()):
        return _Part(name, {p: c.unique()}, "unique", pl.col(p).list.len().cast(pl.UInt32))
    return None


class WindowedGroupBy:
    """``stream.window(length, slide).group_by(keys)``: finish with ``agg(...)``.

    Recognised aggregations are kept per batch (a pane) and combined: sums, counts and means of
    integer columns incrementally (previous window + new panes - panes that left), min, max, first,
    last and n_unique by merging the window's panes; any other expression aggregates the window's
    rows. Rows come out sorted by the group keys, whichever way they were computed.

    >>> words.window(30, 10).group_by("value").agg(pl.len(), pl.col("n").sum())
    """

    def __init__(self, windowed: DStream, by: Sequence[Any]):
        self._windowed, self._by = windowed, list(by)

    def agg(self, *aggs: pl.Expr, **named: pl.Expr) -> DStream:
        exprs = [*aggs, *(e.alias(n) for n, e in named.items())]
        parts = [_decompose(i, e) for i, e in enumerate(exprs)]
        by = self._by
        if not exprs or any(p is None for p in parts) or not all(isinstance(b, str) for b in by):
            # not decomposable: aggregate the window's rows (the union of its batches)
            return self._windowed._native(
                "window.group_by.agg", lambda lf: lf.group_by(by).agg(exprs).sort(by, nulls_last=True)
            )
        return WindowedAggDStream(self._windowed, by, parts)  # type: ignore[arg-type]

    def len(self, name: str = "len") -> DStream:
        return self.agg(pl.len().alias(name))


class WindowedAggDStream(DStream):
    """The aggregates of each window, from per-batch partial aggregates (see ``WindowedGroupBy``)."""

    _stateful = True  # the previous window's partials and the panes

    def __init__(self, windowed: DStream, by: list[str], parts: list[_Part]):
        parent = windowed._parents[0]
        super().__init__(parent._ssc, [parent], windowed._slide_ms)
        self._window_ms = windowed._window_ms
        self._by, self._parts = by, parts
        self._pane_aggs = [e.alias(n) for part in parts for n, e in part.partials.items()]
        self._pane_aggs.append(pl.len().cast(pl.Int64).alias("__rows"))
        self._merge = [e for part in parts for e in part.merge_exprs()]
        self._panes: dict[int, pl.DataFrame | None] = {}  # partials per batch time
        self._prev: tuple[int, pl.DataFrame] | None = None
        self._schema: pl.Schema | None = None
        self.name = f"window.group_by({by}).agg"
        parent._remember(self._window_ms + self._slide_ms)

    def _pane(self, u: int) -> pl.DataFrame | None:
        if u not in self._panes:
            if u <= self._ssc._graph.zero_ms:
                return None  # before this context: only restored panes exist
            batch = self._parents[0]._get(u)
            if batch is None or batch.table.num_rows == 0:
                self._panes[u] = None
            else:
                rows = batch.lazy()
                # maintain_order: first/last must see each batch's rows in order
                self._panes[u] = rows.group_by(self._by, maintain_order=True).agg(self._pane_aggs).collect()
        return self._panes[u]

    def _range(self, after: int, upto: int) -> list[pl.DataFrame]:
        step = self._parents[0]._slide_ms
        times = sorted(
            {*range(max(after + step, self._ssc._graph.zero_ms + step), upto + 1, step), *self._panes}
        )
        return [p for p in (self._pane(u) for u in times if after < u <= upto) if p is not None]

    def _compute(self, t: int) -> Batch:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch:
        window, slide = self._window_ms, self._slide_ms
        try:
            prev = self._prev[1] if self._prev is not None and self._prev[0] == t - slide else None
            if prev is not None and self._incremental(prev):
                new = self._range(t - slide, t)
                old = self._range(t - slide - window, t - window)
                gone = [o.with_columns(pl.exclude(self._by) * -1) for o in old]
                merged = pl.concat([prev, *new, *gone], how="vertical_relaxed") if new or gone else prev
                current = (
                    merged.group_by(self._by).agg(pl.exclude(self._by).sum()).filter(pl.col("__rows") > 0)
                )
            else:
                panes = self._range(t - window, t)
                current = self._merge_panes(panes)
            out = self._finish(current)
        except pl.exceptions.PolarsError as error:
            raise BatchError(
                f"{self.name}: failed at {batch_label(t)}: {type(error).__name__}: {error}",
                operator=self.name,
                batch_time=t,
            ) from error
        self._prev = (t, current) if current is not None else None
        for gone_time in [u for u in self._panes if u <= t - window]:  # the next window starts after
            del self._panes[gone_time]
        if out is None:  # an empty window: no rows, with the columns of the last result if known
            if self._schema is None:
                return Batch.empty(1)
            out = pl.DataFrame(schema=self._schema)
        self._schema = out.schema
        return Batch(out.to_arrow(compat_level=_NEWEST), "row", 1)

    def _incremental(self, prev: pl.DataFrame) -> bool:
        """Subtracting is exact for counts and signed integer sums only (float sums would drift)."""
        if not all(part.invertible for part in self._parts):
            return False
        return all(prev.schema[n].is_signed_integer() for part in self._parts for n in part.partials)

    def _merge_panes(self, panes: list[pl.DataFrame]) -> pl.DataFrame | None:
        if not panes:
            return None
        merged = pl.concat(panes, how="vertical_relaxed")
        return merged.group_by(self._by, maintain_order=True).agg(*self._merge, pl.col("__rows").sum())

    def _finish(self, current: pl.DataFrame | None) -> pl.DataFrame | None:
        if current is None:
            return None
        finals = [part.final.alias(part.name) for part in self._parts]
        return current.select(*self._by, *finals).sort(self._by, nulls_last=True)

    def _state_snapshot(self) -> StateSnapshot | None:
        """The last window's partials and the panes the next windows still need."""
        from .state import StateSnapshot

        if self._prev is None:
            return None
        t, prev = self._prev
        tables = {"window": prev.to_arrow(compat_level=_NEWEST)}
        times = [u for u, p in sorted(self._panes.items()) if p is not None and u > t - self._window_ms]
        tables.update({f"pane-{u}": self._panes[u].to_arrow(compat_level=_NEWEST) for u in times})  # type: ignore[union-attr]
        return StateSnapshot(t, tables, {"kind": "window.group_by.agg", "pane_times_ms": times})

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._prev = (snapshot.batch_time, pl.from_arrow(snapshot.tables["window"]))  # type: ignore[arg-type]
        times = snapshot.metadata.get("pane_times_ms", [])
        self._panes = {u: pl.from_arrow(snapshot.tables[f"pane-{u}"]) for u in times}  # type: ignore[misc]
