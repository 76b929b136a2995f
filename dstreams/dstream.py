"""``DStream``: a stream of micro-batches, with PySpark's operators and a native columnar API.

Two faces on the same objects:

* **Spark style** (``map``, ``flatMap``, ``reduceByKey``, ``foreachRDD``, ``pprint`` ...): elements are
  Python values; simple lambdas are compiled to Polars expressions, others run row-wise.
* **Native** (``select``, ``with_columns``, ``filter(expr)``, ``group_by().agg()``, ``join(on=...)``,
  ``pipe``, ``foreach_batch``): Polars expressions over the batch's columns, always vectorised.

Switch faces at any point: a Spark-style stream of scalars has one column ``value``, a pair stream
has ``key`` and ``value``; ``to_pairs(key, value)`` turns columns into pairs and ``to_rows()`` turns
pairs into columns.

>>> from dstreams import StreamingContext, ManualClock
>>> ssc = StreamingContext(batchDuration=1, clock=ManualClock())
>>> lines = ssc.queueStream([["a b a"]])
>>> counts = lines.flatMap(lambda l: l.split(" ")).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
>>> counts.foreachRDD(lambda rdd: print(rdd.collect()))
>>> ssc.start(); ssc.clock.advance(1); ssc.stop()
[('a', 2), ('b', 1)]
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic

import polars as pl
import pyarrow as pa

from . import codec, ops, outputs
from .batch import Batch, Op, Shape, Step
from .codec import PARTITION
from .errors import BatchError, ConfigurationError, DStreamsError, SchemaError
from .rdd import RDD, T_co

if TYPE_CHECKING:
    from .context import StreamingContext


class DStream(Generic[T_co]):
    """A discretized stream: one batch per slide interval, computed on demand for each batch time.

    ``DStream[Tuple[str, int]]`` annotates a stream of pairs (the parameter is for type checkers).
    """

    def __init__(self, ssc: StreamingContext, parents: Sequence[DStream], slide_ms: int | None = None):
        if parents and any(p._ssc is not parents[0]._ssc for p in parents):
            raise ConfigurationError("streams from different StreamingContexts cannot be combined")
        self._ssc = ssc
        self._parents = list(parents)
        self._slide_ms = slide_ms if slide_ms is not None else parents[0]._slide_ms
        self._generated: dict[int, Batch | None] = {}
        self._remember_ms = 0
        self.is_cached = False
        self.is_checkpointed = False
        self._checkpoint_ms: int | None = None
        self._id = ssc._graph.add_stream(self)

    # -- graph machinery -----------------------------------------------------------------------
    @property
    def _slideDuration(self) -> float:
        return self._slide_ms / 1000.0

    def _compute(self, t: int) -> Batch | None:
        raise NotImplementedError

    def _get(self, t: int) -> Batch | None:
        """This stream's batch at time ``t`` (None: no batch, e.g. off the slide grid)."""
        if t in self._generated:
            return self._generated[t]
        if (t - self._ssc._graph.zero_ms) % self._slide_ms != 0:
            return None
        batch = self._compute(t)
        if batch is not None and (self.is_cached or self._remember_ms):
            batch.table  # noqa: B018 - materialize once; remembered batches are reused as is
        self._generated[t] = batch
        return batch

    def _remember(self, ms: int) -> None:
        """Keep generated batches at least ``ms`` (windows and ``slice`` read old batches)."""
        if ms > self._remember_ms:
            self._remember_ms = ms
            for parent in self._parents:
                parent._remember(ms)

    def _forget_before(self, t: int) -> None:
        horizon = t - self._remember_ms
        for old in [k for k in self._generated if k <= horizon]:
            del self._generated[old]

    def _then(self, op: Op) -> DStream:
        return _OpDStream(self, op)

    def context(self) -> StreamingContext:
        """The StreamingContext this stream belongs to."""
        return self._ssc

    def __repr__(self) -> str:
        return f"<{type(self).__name__} #{self._id}>"

    # -- introspection (explain) -----------------------------------------------------------------
    @property
    def parents(self) -> list[DStream]:
        """The streams this one is computed from (none for a source)."""
        return list(self._parents)

    @property
    def operator(self) -> Op | None:
        """The per-batch operator this stream applies to its parent's batch; None for a source, a
        window, a join, a transform or a stateful stream."""
        return getattr(self, "_op", None)

    @property
    def label(self) -> str:
        """How ``explain()`` names this stream when it is not a per-batch operator."""
        return getattr(self, "_name", None) or getattr(self, "name", None) or repr(self)

    def explain(self) -> str:
        """Print (and return) how this stream's batches run: each operator from the source on, whether
        it compiles into a Polars plan or runs row-wise in Python (with the reason and the faster form
        when there is one), and the Polars plan of each compiled stretch. Column types come from the
        source's next queued batch when it has one (``queueStream``; the operators run once on it);
        otherwise they are only known once batches run, and explain says so.

        >>> from dstreams import StreamingContext
        >>> ssc = StreamingContext(batchDuration=1)
        >>> words = ssc.queueStream([["a b"]]).flatMap(lambda line: line.split(" "))
        >>> text = words.map(lambda w: [c for c in w]).explain()  # doctest: +ELLIPSIS
        source queueStream <QueueInputDStream #0>...
        >>> "Python: the tracer could not compile" in text and "it has a loop" in text
        True
        """
        from .explain import explain_streams

        return explain_streams([self])

    # -- element-wise (Spark style) --------------------------------------------------------------
    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False) -> DStream:
        """Apply ``f`` to every element.

        >>> words.map(lambda w: (w, 1))            # compiled: (value, 1) pairs
        """
        return self._then(ops.ElementOp("map", f))

    def flatMap(self, f: Callable[[Any], Iterable[Any]], preservesPartitioning: bool = False) -> DStream:
        """Apply ``f`` and flatten: ``lines.flatMap(lambda l: l.split(" "))``."""
        return self._then(ops.ElementOp("flatMap", f))

    def filter(self, f: Callable[[Any], bool] | pl.Expr) -> DStream:
        """Keep elements where ``f`` is true; or, natively, rows where a Polars expression is true.

        >>> nums.filter(lambda x: x > 2)
        >>> events.filter(pl.col("amount") > 2)
        """
        if isinstance(f, pl.Expr):
            return self._native("filter", lambda lf: lf.filter(f))
        return self._then(ops.ElementOp("filter", f))

    def mapValues(self, f: Callable[[Any], Any]) -> DStream:
        """Apply ``f`` to the value of each ``(key, value)`` pair: ``counts.mapValues(lambda n: n * 2)``."""
        return self._then(ops.ElementOp("mapValues", f))

    def flatMapValues(self, f: Callable[[Any], Iterable[Any]]) -> DStream:
        """``(k, v) -> (k, x) for x in f(v)``: ``pairs.flatMapValues(lambda v: v.split(","))``."""
        return self._then(ops.ElementOp("flatMapValues", f))

    def mapPartitions(
        self, f: Callable[[Iterable[Any]], Iterable[Any]], preservesPartitioning=False
    ) -> DStream:
        """Apply ``f`` to each partition's iterator: ``s.mapPartitions(lambda it: [sum(it)])``."""
        return self._then(ops.map_partitions(f))

    def mapPartitionsWithIndex(
        self, f: Callable[[int, Iterable[Any]], Iterable[Any]], preservesPartitioning=False
    ) -> DStream:
        """``f(partition_index, iterator)``: ``s.mapPartitionsWithIndex(lambda i, it: [(i, sum(it))])``."""
        return self._then(ops.map_partitions(f, with_index=True))

    def glom(self) -> DStream:
        """One list per partition: ``s.glom()`` gives ``[[1, 2], [3, 4]]`` for 2 partitions."""
        return self._then(ops.glom())

    # -- aggregations ----------------------------------------------------------------------------
    def count(self) -> DStream:
        """One element per batch: the number of elements. ``s.count().pprint()``."""
        return self._then(ops.CountOp())

    def reduce(self, func: Callable[[Any, Any], Any]) -> DStream:
        """One element per non-empty batch: ``nums.reduce(operator.add)``."""
        return self._then(ops.ReduceByKeyOp(func, 1, keyed=False))

    def reduceByKey(self, func: Callable[[Any, Any], Any], numPartitions: int | None = None) -> DStream:
        """Merge the values of each key: ``pairs.reduceByKey(lambda a, b: a + b)`` (compiled to a sum)."""
        return self._then(ops.ReduceByKeyOp(func, self._partitions(numPartitions)))

    def combineByKey(self, createCombiner, mergeValue, mergeCombiners, numPartitions=None) -> DStream:
        """Generic per-key aggregation, as ``RDD.combineByKey``.

        >>> pairs.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda a, b: a + b)
        """
        return self._then(
            ops.CombineByKeyOp(createCombiner, mergeValue, mergeCombiners, self._partitions(numPartitions))
        )

    def groupByKey(self, numPartitions: int | None = None) -> DStream:
        """``(key, [values...])`` per key, values in arrival order: ``pairs.groupByKey().mapValues(len)``."""
        return self._then(ops.GroupByKeyOp(self._partitions(numPartitions)))

    def countByValue(self) -> DStream:
        """``(element, count)`` per distinct element: ``words.countByValue()``."""
        return self._then(ops.CountByValueOp(self._partitions(None)))

    def _partitions(self, n: int | None) -> int:
        return n if n is not None else self._ssc.sparkContext.defaultParallelism

    # -- partitioning --------------------------------------------------------------------------------
    def partitionBy(self, numPartitions: int, partitionFunc: Callable[[Any], int] | None = None) -> DStream:
        """Spread pairs over ``numPartitions`` by key: ``pairs.partitionBy(2)``."""
        return self._then(ops.PartitionByOp(numPartitions, partitionFunc))

    def repartition(self, numPartitions: int) -> DStream:
        """The same elements in ``numPartitions`` even slices: ``s.repartition(4)``."""
        return self._then(ops.RepartitionOp(numPartitions))

    # -- persistence -------------------------------------------------------------------------------
    def cache(self) -> DStream:
        """Compute each batch once and reuse it for every consumer: ``s.cache()``."""
        self.is_cached = True
        return self

    def persist(self, storageLevel: Any = None) -> DStream:
        """As ``cache()``; the storage level is accepted and has no effect."""
        return self.cache()

    def checkpoint(self, interval: float) -> DStream:
        """Checkpoint this stream's state every ``interval`` seconds (stateful streams)."""
        ms = round(interval * 1000)
        if ms <= 0 or ms % self._slide_ms:
            raise ConfigurationError(
                f"checkpoint interval {interval}s must be a positive multiple of the slide "
                f"({self._slide_ms} ms)"
            )
        self.is_checkpointed = True
        self._checkpoint_ms = ms
        return self

    def setName(self, name: str) -> DStream:
        """Name this stream's state (or position) in checkpoints, so that it survives code changes.

        >>> totals = pairs.updateStateByKey(add).setName("totals")
        """
        self._checkpoint_name = name  # read by dstreams.checkpoint.names
        return self

    # -- combining streams -----------------------------------------------------------------------
    def transform(self, func: Callable[..., RDD | None]) -> DStream:
        """``func(rdd)`` or ``func(time, rdd)`` returns a new RDD per batch (None: no batch).

        >>> s.transform(lambda rdd: rdd.sortByKey())
        """
        n = ops.arity(func)
        if n not in (1, 2):
            raise ConfigurationError(f"transform: func should take one or two arguments, {func!r} takes {n}")
        return _TransformedDStream(
            self._ssc,
            [self],
            func if n == 2 else (lambda t, rdd: func(rdd)),
            "transform",
            label=ops.describe(func),
        )

    def transformWith(
        self, func: Callable[..., RDD | None], other: DStream, keepSerializer: bool = False
    ) -> DStream:
        """``func(rdd_a, rdd_b)`` or ``func(time, a, b)``; a missing batch is passed as an empty RDD.

        >>> a.transformWith(lambda x, y: x.union(y), b)
        """
        n = ops.arity(func)
        if n not in (2, 3):
            raise ConfigurationError(f"transformWith: func should take two or three arguments, got {n}")
        if self._slide_ms != other._slide_ms:
            raise ValueError("the two DStream should have same slide duration")
        f = func if n == 3 else (lambda t, a, b: func(a, b))
        return _TransformedDStream(
            self._ssc, [self, other], f, "transformWith", empty_for_missing=True, label=ops.describe(func)
        )

    def union(self, other: DStream) -> DStream:
        """Elements of this stream, then of ``other``, per batch: ``a.union(b)``."""
        if self._slide_ms != other._slide_ms:
            raise ValueError("the two DStream should have same slide duration")
        return _UnionDStream(self._ssc, [self, other])

    def _join(self, how: str, other: DStream, numPartitions: int | None) -> DStream:
        if self._slide_ms != other._slide_ms:
            raise ValueError("the two DStream should have same slide duration")
        n = self._partitions(numPartitions)

        def joined(t: Any, a: RDD, b: RDD) -> RDD:
            return a._cogroup(how, b, n)

        return _TransformedDStream(self._ssc, [self, other], joined, how, empty_for_missing=True)

    def cogroup(self, other: DStream, numPartitions: int | None = None) -> DStream:
        """``(k, ([values of self], [values of other]))`` per key and batch."""
        return self._join("cogroup", other, numPartitions)

    def join(
        self,
        other: DStream | pa.Table | pl.DataFrame,
        numPartitions: int | None = None,
        *,
        on: str | Sequence[str] | None = None,
        how: str = "inner",
    ) -> DStream:
        """Spark style: inner join of two pair streams per batch, ``(k, (v, w))``.

        Native (with ``on=``): join this stream's columns with another stream's or a static
        Arrow/Polars table, ``events.join(users_table, on="user_id", how="left")``.
        """
        if on is not None or not isinstance(other, DStream):
            return self._native_join(other, on, how)
        return self._join("join", other, numPartitions)

    def leftOuterJoin(self, other: DStream, numPartitions: int | None = None) -> DStream:
        """``(k, (v, w or None))`` for every pair of this stream."""
        return self._join("leftOuterJoin", other, numPartitions)

    def rightOuterJoin(self, other: DStream, numPartitions: int | None = None) -> DStream:
        """``(k, (v or None, w))`` for every pair of ``other``."""
        return self._join("rightOuterJoin", other, numPartitions)

    def fullOuterJoin(self, other: DStream, numPartitions: int | None = None) -> DStream:
        """``(k, (v or None, w or None))`` for every key of either stream."""
        return self._join("fullOuterJoin", other, numPartitions)

    # -- time ------------------------------------------------------------------------------------
    def window(self, windowDuration: float, slideDuration: float | None = None) -> DStream:
        """Each batch holds the elements of the last ``windowDuration`` seconds, every ``slideDuration``.

        >>> s.window(30, 10)        # the last 3 batches of 10 s, every 10 s
        """
        window_ms, slide_ms = self._validate_window(windowDuration, slideDuration)
        return _WindowedDStream(self, window_ms, slide_ms)

    def _validate_window(self, windowDuration: float, slideDuration: float | None) -> tuple[int, int]:
        window_ms = round(windowDuration * 1000)
        slide_ms = self._slide_ms if slideDuration is None else round(slideDuration * 1000)
        if window_ms <= 0 or window_ms % self._slide_ms:
            raise ValueError(
                "windowDuration must be multiple of the parent dstream's slide (batch) duration "
                f"({self._slide_ms} ms)"
            )
        if slide_ms <= 0 or slide_ms % self._slide_ms:
            raise ValueError(
                "slideDuration must be multiple of the parent dstream's slide (batch) duration "
                f"({self._slide_ms} ms)"
            )
        return window_ms, slide_ms

    def slice(self, begin: Any, end: Any) -> list[RDD]:
        """The remembered batches with times in ``[begin, end]`` (datetimes or unix seconds)."""
        graph = self._ssc._graph
        if graph.zero_ms is None:
            raise ConfigurationError("slice() needs a started StreamingContext")
        lo, hi = outputs.to_ms(begin), outputs.to_ms(end)
        # floor both ends onto the slide grid, as Spark does
        lo -= (lo - graph.zero_ms) % self._slide_ms
        hi -= (hi - graph.zero_ms) % self._slide_ms
        found = []
        for t in range(max(lo, graph.zero_ms + self._slide_ms), hi + 1, self._slide_ms):
            batch = self._generated.get(t)
            if batch is not None:
                found.append(RDD(batch, self._ssc.sparkContext))
        return found

    # -- windows and state (implemented in dstreams/window.py and dstreams/state.py) -----------
    def reduceByKeyAndWindow(
        self,
        func: Callable[[Any, Any], Any],
        invFunc: Callable[[Any, Any], Any] | None,
        windowDuration: float,
        slideDuration: float | None = None,
        numPartitions: int | None = None,
        filterFunc: Callable[[Any], bool] | None = None,
    ) -> DStream:
        """Reduce the values of each key over a sliding window, as Spark.

        With ``invFunc`` and a window of at least 5 slides the window is kept incrementally
        (previous window + new batch - batch that left); keys that fall back to the neutral value
        stay unless ``filterFunc`` drops them. ``+``/``-`` pairs run in Polars.

        >>> pairs.reduceByKeyAndWindow(operator.add, operator.sub, 30, 10)
        >>> pairs.reduceByKeyAndWindow(add, sub, 30, 10, filterFunc=lambda kv: kv[1] > 0)
        """
        from . import window

        return window.reduce_by_key_and_window(
            self, func, invFunc, windowDuration, slideDuration, numPartitions, filterFunc
        )

    def reduceByWindow(
        self,
        reduceFunc: Callable[[Any, Any], Any],
        invReduceFunc: Callable[[Any, Any], Any] | None,
        windowDuration: float,
        slideDuration: float | None,
    ) -> DStream:
        """One element per window: all elements reduced: ``nums.reduceByWindow(add, sub, 30, 10)``."""
        from . import window

        return window.reduce_by_window(self, reduceFunc, invReduceFunc, windowDuration, slideDuration)

    def countByWindow(self, windowDuration: float, slideDuration: float | None) -> DStream:
        """The number of elements in each window: ``events.countByWindow(60, 10)``."""
        from . import window

        return window.count_by_window(self, windowDuration, slideDuration)

    def countByValueAndWindow(
        self, windowDuration: float, slideDuration: float | None, numPartitions: int | None = None
    ) -> DStream:
        """``(element, count)`` over each window, counts above 0: ``words.countByValueAndWindow(30, 10)``."""
        from . import window

        return window.count_by_value_and_window(self, windowDuration, slideDuration, numPartitions)

    def groupByKeyAndWindow(
        self, windowDuration: float, slideDuration: float | None, numPartitions: int | None = None
    ) -> DStream:
        """``(key, [values...])`` over each window, in arrival order: ``pairs.groupByKeyAndWindow(30, 10)``.

        As PySpark, with a window of at least 5 slides a key whose values all left stays, with ``[]``.
        """
        from . import window

        return window.group_by_key_and_window(self, windowDuration, slideDuration, numPartitions)

    def updateStateByKey(
        self,
        updateFunc: Callable[[list[Any], Any], Any],
        numPartitions: int | None = None,
        initialRDD: Any = None,
    ) -> DStream:
        """Running state per key: ``updateFunc(new_values, old_state_or_None)`` for every key, every batch.

        A ``None`` result removes the key; the whole state is emitted each batch. Running sums and
        counts written as below run as one Polars group-by (no Python per key).

        >>> counts = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        """
        from . import state

        return state.update_state_by_key(self, updateFunc, numPartitions, initialRDD)

    def mapWithState(self, spec: Any) -> DStream:
        """Per-key state touched only by the keys of each batch (Spark's Scala ``mapWithState``).

        ``StateSpec.function(fn)``: ``fn(key, value, state)`` per record, its results form the
        stream; ``.timeout(seconds)`` gives idle keys a last call; ``.stateSnapshots()`` on the
        result streams the whole state. ``StateSpec.native(...)`` takes Polars expressions.

        >>> totals = pairs.mapWithState(StateSpec.function(track).timeout(60))
        """
        from . import mapstate

        return mapstate.map_with_state(self, spec)

    def event_time(self, column: str, watermark: float = 0) -> DStream:
        """Event-time processing on ``column``, tolerating ``watermark`` seconds of disorder.

        The result has ``window(length, slide=None)``, ``session(gap)`` (then ``group_by(...).agg(...)``)
        and ``late_rows()``; each window is emitted once, when the watermark passes its end.

        >>> events.event_time("ts", watermark=10).window(60).group_by("user").agg(pl.len())
        """
        from . import eventtime

        return eventtime.EventTimeDStream(self, column, watermark)

    # -- SQL (implemented in dstreams.sql) ------------------------------------------------------
    def sql(self, query: str, name: str = "batch") -> DStream:
        """A DuckDB SQL query over each batch, registered as ``name`` (``batch``); returns a DStream.

        Columns are ``value`` (scalars), ``key``/``value`` (pairs) or the stream's own columns.

        >>> words.sql("SELECT value AS word, count(*) AS n FROM batch GROUP BY value")
        """
        from dstreams.sql.stream import stream_sql

        return stream_sql(self, query, name)

    def to_duckdb(
        self, database: str, table: str, mode: str = "append", key: str | Sequence[str] | None = None
    ) -> None:
        """Output: write each batch into a DuckDB table exactly once (one transaction per batch).

        >>> counts.to_duckdb("warehouse.duckdb", "word_counts", mode="upsert", key="word")
        """
        from dstreams.sql.sink import to_duckdb

        to_duckdb(self, database, table, mode=mode, key=key)

    # -- outputs ---------------------------------------------------------------------------------
    def foreachRDD(self, func: Callable[..., Any]) -> None:
        """Run ``func(rdd)`` or ``func(time, rdd)`` for every batch (on the scheduler thread)."""
        n = ops.arity(func)
        if n not in (1, 2):
            raise ConfigurationError(f"foreachRDD: func should take one or two arguments, got {n}")
        call = func if n == 2 else (lambda t, rdd: func(rdd))
        _ForEachDStream(
            self,
            lambda t, batch: call(outputs.to_datetime(t), RDD(batch, self._ssc.sparkContext)),
            f"foreachRDD({ops.describe(func)})",
        )

    def pprint(self, num: int = 10) -> None:
        """Print the first ``num`` elements of every batch, in PySpark's format (header included)."""

        def show(t: int, batch: Batch) -> None:
            taken = RDD(batch).take(num + 1)
            sys.stdout.write(outputs.format_pprint(t, taken, num))
            sys.stdout.flush()

        _ForEachDStream(self, show, "pprint")

    def saveAsTextFiles(self, prefix: str, suffix: str | None = None) -> None:
        """Write each batch to ``prefix-<ms>[.suffix]/part-NNNNN`` + ``_SUCCESS``, once per batch time."""

        def save(t: int, batch: Batch) -> None:
            outputs.write_batch_dir(
                outputs.batch_path(prefix, suffix, t), outputs.text_parts(batch.partitions())
            )

        _ForEachDStream(self, save, f"saveAsTextFiles({prefix!r})")

    def saveAsParquetFiles(self, prefix: str, suffix: str | None = None) -> None:
        """Write each batch's columns to ``prefix-<ms>[.suffix]/part-00000.parquet`` + ``_SUCCESS``."""

        def save(t: int, batch: Batch) -> None:
            table = RDD(batch).toArrow()
            outputs.write_batch_dir(outputs.batch_path(prefix, suffix, t), outputs.parquet_parts(table))

        _ForEachDStream(self, save, f"saveAsParquetFiles({prefix!r})")

    # -- native columnar API ---------------------------------------------------------------------
    def _native(self, name: str, fn: Callable[[pl.LazyFrame], pl.LazyFrame]) -> DStream:
        return self._then(NativeOp(name, fn))

    def select(self, *exprs: Any, **named: Any) -> DStream:
        """Polars ``select`` per batch: ``s.select(pl.col("value").str.len_chars().alias("n"))``."""
        return self._native("select", lambda lf: lf.select(*exprs, **named))

    def with_columns(self, *exprs: Any, **named: Any) -> DStream:
        """Polars ``with_columns`` per batch: ``s.with_columns(total=pl.col("a") + pl.col("b"))``."""
        return self._native("with_columns", lambda lf: lf.with_columns(*exprs, **named))

    def explode(self, columns: str | Sequence[str]) -> DStream:
        """One row per list item: ``s.select(pl.col("value").str.split(" ")).explode("value")``."""
        return self._native("explode", lambda lf: lf.explode(columns))

    def rename(self, mapping: dict[str, str]) -> DStream:
        """Rename columns: ``pairs.rename({"key": "word", "value": "n"})``."""
        return self._native("rename", lambda lf: lf.rename(mapping))

    def group_by(self, *by: Any, maintain_order: bool = False) -> GroupedDStream:
        """Group each batch: ``words.group_by("value").agg(pl.len())``.

        As in Polars, groups come out in no particular order unless ``maintain_order=True``.
        """
        return GroupedDStream(self, by, maintain_order)

    def pipe(self, fn: Callable[[pl.LazyFrame], pl.LazyFrame]) -> DStream:
        """Any LazyFrame -> LazyFrame function per batch: ``s.pipe(lambda lf: lf.unique())``."""
        return self._native(f"pipe({ops.describe(fn)})", fn)

    def to_pairs(self, key: str | pl.Expr, value: str | pl.Expr) -> DStream:
        """Columns -> Spark-style ``(key, value)`` pairs: ``rows.to_pairs("word", "n").reduceByKey(add)``."""
        k = pl.col(key) if isinstance(key, str) else key
        v = pl.col(value) if isinstance(value, str) else value
        return self._native("to_pairs", lambda lf: lf.select(k.alias("key"), v.alias("value")))

    def to_rows(self) -> DStream:
        """Spark-style pairs or scalars -> column rows (``Row(key=..., value=...)`` elements)."""
        return self._then(NativeOp("to_rows", lambda lf: lf, layout="row"))

    def foreach_batch(self, fn: Callable[[Any, pa.Table], Any]) -> None:
        """Output: ``fn(time, table)`` for every batch with the batch as a ``pyarrow.Table``."""

        def call(t: int, batch: Batch) -> None:
            fn(outputs.to_datetime(t), RDD(batch).toArrow())

        _ForEachDStream(self, call, f"foreach_batch({ops.describe(fn)})")

    def _native_join(self, other: Any, on: Any, how: str) -> DStream:
        if on is None:
            raise ConfigurationError("a native join needs on=: events.join(table, on='id')")
        if isinstance(other, DStream):

            def joined(t: Any, a: RDD, b: RDD) -> RDD:
                lf = a._batch.lazy().join(b._batch.lazy(), on=on, how=how, maintain_order="left")
                return RDD(Batch(lf.collect().to_arrow(compat_level=pl.CompatLevel.newest()), "row", 1))

            return _TransformedDStream(self._ssc, [self, other], joined, "join", empty_for_missing=True)
        static = other if isinstance(other, pl.DataFrame) else pl.from_arrow(other)
        static_lf = static.lazy()  # type: ignore[union-attr]
        return self._native("join", lambda lf: lf.join(static_lf, on=on, how=how, maintain_order="left"))


class GroupedDStream:
    """``stream.group_by(...)``; finish with ``agg(...)`` or ``len()``."""

    def __init__(self, parent: DStream, by: Sequence[Any], maintain_order: bool):
        self._parent, self._by, self._maintain_order = parent, by, maintain_order

    def agg(self, *aggs: Any, **named: Any) -> DStream:
        """``words.group_by("value").agg(pl.len().alias("n"))``."""
        by, keep = self._by, self._maintain_order
        return self._parent._native(
            "group_by.agg", lambda lf: lf.group_by(*by, maintain_order=keep).agg(*aggs, **named)
        )

    def len(self, name: str = "len") -> DStream:
        return self.agg(pl.len().alias(name))


class NativeOp(Op):
    """A user's Polars LazyFrame function: always compiled, never row-wise."""

    has_python_form = False

    def __init__(self, name: str, fn: Callable[[pl.LazyFrame], pl.LazyFrame], layout: str | None = None):
        self.name, self.fn, self._layout = name, fn, layout
        self._steps: dict[tuple, Step] = {}

    def plan(self, shape: Shape) -> Step:
        # Resolving the output schema costs more than the rest of the batch's Python work on
        # small batches: do it once per input schema.
        key = (tuple(shape.schema.items()), shape.layout, shape.pickled)
        step = self._steps.get(key)
        if step is None:
            if len(self._steps) > 64:
                self._steps.clear()
            step = self._steps[key] = self._plan(shape)
        return step

    def _plan(self, shape: Shape) -> Step:
        if shape.pickled:
            raise SchemaError(
                f"{self.name}: column(s) {sorted(shape.pickled)} hold Python objects of mixed or "
                "non-columnar types; make each column one type first (e.g. .map(str))"
            )
        drop = [PARTITION] if PARTITION in shape.schema else []

        def apply(lf: pl.LazyFrame) -> pl.LazyFrame:
            return self.fn(lf.drop(drop) if drop else lf)

        layout = self._layout
        step = Step(apply, layout or "row", 1)
        if layout is None:
            # The layout follows the resulting columns: value -> scalars, key+value -> pairs.
            step.schema = dict(apply(pl.LazyFrame(schema=shape.schema)).collect_schema())
            step.layout = codec.layout_of_columns(list(step.schema))
        return step


# ---------------------------------------------------------------------------------------------
# Concrete streams


class _OpDStream(DStream):
    def __init__(self, parent: DStream, op: Op):
        super().__init__(parent._ssc, [parent])
        self._op = op

    def _compute(self, t: int) -> Batch | None:
        batch = self._parents[0]._get(t)
        return None if batch is None else batch.then(self._op)


class _TransformedDStream(DStream):
    def __init__(self, ssc, parents, func, name: str, empty_for_missing: bool = False, label: str = ""):
        super().__init__(ssc, parents)
        self._func, self._empty_for_missing = func, empty_for_missing
        self._name = f"{name}({label})" if label else name

    def _compute(self, t: int) -> Batch | None:
        batches = [p._get(t) for p in self._parents]
        if any(b is None for b in batches):
            if not self._empty_for_missing:
                return None
            batches = [Batch.empty(1) if b is None else b for b in batches]
        sc = self._ssc.sparkContext
        try:
            result = self._func(outputs.to_datetime(t), *(RDD(b, sc) for b in batches))
        except DStreamsError:
            raise
        except Exception as error:
            message = f"{self._name} failed: {type(error).__name__}: {error}"
            raise BatchError(message, operator=self._name) from error
        if result is None:
            return None
        if not isinstance(result, RDD):
            raise TypeError(
                f"{self._name}: the function must return an RDD (or None), got {type(result).__name__}"
            )
        return result._batch


class _UnionDStream(DStream):
    def __init__(self, ssc, parents):
        super().__init__(ssc, parents)

    def _compute(self, t: int) -> Batch | None:
        batches = [b for b in (p._get(t) for p in self._parents) if b is not None]
        if not batches:
            return None
        return Batch(*ops.union([(b.table, b.layout, b.num_partitions) for b in batches]))


class _WindowedDStream(DStream):
    """The union of the parent's batches in ``(t - window, t]``."""

    def __init__(self, parent: DStream, window_ms: int, slide_ms: int):
        super().__init__(parent._ssc, [parent], slide_ms)
        self._window_ms = window_ms
        self._restored: dict[int, Batch] = {}  # checkpoint hook: parent batches from before a restart
        parent._remember(window_ms)

    def _compute(self, t: int) -> Batch | None:
        parent = self._parents[0]
        zero = self._ssc._graph.zero_ms
        start = max(t - self._window_ms + parent._slide_ms, zero + parent._slide_ms)
        batches = [b for u, b in sorted(self._restored.items()) if t - self._window_ms < u < start]
        batches += [parent._get(u) for u in range(start, t + 1, parent._slide_ms)]
        if self._restored:  # the next windows start later: drop what they no longer read
            oldest = t + self._slide_ms - self._window_ms
            self._restored = {u: b for u, b in self._restored.items() if u > oldest}
        present = [(b.table, b.layout, b.num_partitions) for b in batches if b is not None]
        if not present:
            return Batch.empty(1)
        return Batch(*ops.union(present))

    def group_by(self, *by: Any, maintain_order: bool = True) -> Any:
        """Windowed aggregation kept incrementally where the aggregates allow (sum, len, mean).

        >>> events.window(60, 10).group_by("user").agg(pl.len(), pl.col("amount").sum())
        """
        from .window import WindowedGroupBy

        return WindowedGroupBy(self, by)

    # -- checkpoint hook (dstreams.checkpoint): the parent batches the next windows still read ----
    def _state_snapshot(self) -> Any:
        from .state import StateSnapshot

        parent = self._parents[0]
        last = max(parent._generated, default=None)
        if last is None:
            return None
        oldest = last - self._window_ms
        kept = {u: b for u, b in self._restored.items() if u > oldest}
        kept.update({u: b for u, b in parent._generated.items() if u > oldest and b is not None})
        tables = {f"batch-{u}": b.table for u, b in sorted(kept.items())}
        shapes = {str(u): [b.layout, b.num_partitions] for u, b in kept.items()}
        return StateSnapshot(last, tables, {"kind": "window", "batches": shapes})

    def _state_restore(self, snapshot: Any) -> None:
        shapes = snapshot.metadata["batches"]
        self._restored = {int(u): Batch(snapshot.tables[f"batch-{u}"], *shapes[u]) for u in shapes}


class _ForEachDStream(DStream):
    """An output operation: runs ``func(time_ms, batch)`` when the parent has a batch."""

    def __init__(self, parent: DStream, func: Callable[[int, Batch], Any], name: str):
        super().__init__(parent._ssc, [parent])
        self._func, self.name = func, name
        self._ssc._graph.add_output(self)

    def _compute(self, t: int) -> Batch | None:
        return None

    def _run(self, t: int) -> bool:
        """Run the output for batch ``t``; False when the parent had no batch."""
        batch = self._parents[0]._get(t)
        if batch is None:
            return False
        self._func(t, batch)
        return True


class InputDStream(DStream):
    """A source. Subclasses implement ``_allocate(t)``: the batch of data for interval ``(t - slide, t]``.

    ``_allocate`` runs on the timer thread when batch ``t`` is generated; the job that processes the
    batch later reads the allocated data, so slow processing never changes what a batch contains.
    """

    def __init__(self, ssc: StreamingContext, slide_ms: int | None = None):
        super().__init__(ssc, [], slide_ms or ssc._batch_ms)
        self._allocated: dict[int, Batch | None] = {}
        ssc._graph.add_input(self)

    def _allocate(self, t: int) -> Batch | None:
        raise NotImplementedError

    def _start(self) -> None:
        """Called by ``ssc.start()`` before the first batch."""

    def _stop(self) -> None:
        """Called by ``ssc.stop()``."""

    def _compute(self, t: int) -> Batch | None:
        # Kept until the graph forgets batch t: a window with a slide longer than the batch
        # reads several allocated batches when it runs, not only the current one.
        return self._allocated.get(t)

    def _forget_before(self, t: int) -> None:
        super()._forget_before(t)
        horizon = t - self._remember_ms
        for old in [k for k in self._allocated if k <= horizon]:
            del self._allocated[old]
