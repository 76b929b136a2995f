"""``RDD``: the batch object handed to ``transform`` and ``foreachRDD`` functions.

It has the RDD methods such functions use, with PySpark's semantics, plus ``toArrow()`` and
``toPolars()``. Transformations are lazy and compile to Polars the same way DStream operators do.

>>> from dstreams import SparkContext
>>> sc = SparkContext.getOrCreate()
>>> rdd = sc.parallelize(["a b", "b"]).flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
>>> rdd.reduceByKey(lambda a, b: a + b).collect()
[('a', 1), ('b', 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl
import pyarrow as pa

from . import codec, ops
from .batch import Batch, require_native
from .codec import PARTITION


class RDD:
    """One micro-batch with the RDD API."""

    def __init__(self, batch: Batch, ctx: Any = None):
        self._batch = batch
        self.ctx = ctx

    @property
    def context(self) -> Any:
        """The SparkContext (PySpark's ``rdd.context``)."""
        from .spark import SparkContext

        return self.ctx if self.ctx is not None else SparkContext.getOrCreate()

    def offsetRanges(self) -> list:
        """Kafka offset ranges of this batch (direct Kafka streams only), as PySpark's ``HasOffsetRanges``."""
        from dstreams.receivers.kafka import offset_ranges

        return offset_ranges(self)

    # -- conversions ---------------------------------------------------------------------------
    def toArrow(self) -> pa.Table:
        """The batch as a ``pyarrow.Table`` (``value`` or ``key``/``value`` columns for Spark-style data)."""
        table = self._batch.table
        return table.drop_columns([PARTITION]) if PARTITION in table.column_names else table

    def toPolars(self) -> pl.DataFrame:
        """The batch as a Polars DataFrame (zero-copy for numeric columns).

        Tuples (a join's ``(v, w)``) become structs with fields ``_0``, ``_1``...; a column of
        pickled Python objects (mixed types...) raises :class:`~dstreams.SchemaError`.
        """
        table = self.toArrow()
        require_native(table.select([f.name for f in table.schema if not codec.is_tuples(f)]), "toPolars()")
        return pl.from_arrow(table)  # type: ignore[return-value]

    def toDF(self, *names: str, schema: Any = None):
        """A ``dstreams.sql.DataFrame`` over this batch (needs ``dstreams.sql``)."""
        from dstreams.sql import SparkSession

        return SparkSession.builder.getOrCreate().createDataFrame(self, schema=names or schema)

    # -- actions -------------------------------------------------------------------------------
    def collect(self) -> list[Any]:
        return self._batch.elements()

    def take(self, num: int) -> list[Any]:
        if num <= 0:
            return []
        table = self._batch.table
        head = Batch(table.slice(0, num), self._batch.layout, 1)
        return head.elements()

    def first(self) -> Any:
        got = self.take(1)
        if not got:
            raise ValueError("RDD is empty")
        return got[0]

    def count(self) -> int:
        return self._batch.count()

    def isEmpty(self) -> bool:
        return self._batch.count() == 0

    def getNumPartitions(self) -> int:
        return self._batch.num_partitions

    def glom(self) -> RDD:
        return self._then(ops.glom())

    def reduce(self, f: Callable[[Any, Any], Any]) -> Any:
        got = self._then(
            ops.ReduceByKeyOp(
                f,
                keyed=False,
            )
        ).collect()
        if not got:
            raise ValueError("Can not reduce() empty RDD")
        return got[0]

    def foreach(self, f: Callable[[Any], None]) -> None:
        for element in self.collect():
            f(element)

    def countByValue(self) -> dict[Any, int]:
        return dict(self._then(ops.CountByValueOp()).collect())

    def sum(self) -> Any:
        return sum(self.collect())

    def max(self, key: Callable | None = None) -> Any:
        return max(self.collect(), key=key) if key else max(self.collect())

    def min(self, key: Callable | None = None) -> Any:
        return min(self.collect(), key=key) if key else min(self.collect())

    def collectAsMap(self) -> dict[Any, Any]:
        return dict(self.collect())

    # -- transformations -----------------------------------------------------------------------
    def _then(self, op: ops.Op) -> RDD:
        return RDD(self._batch.then(op), self.ctx)

    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False) -> RDD:
        return self._then(ops.ElementOp("map", f))

    def flatMap(self, f: Callable[[Any], Iterable[Any]], preservesPartitioning: bool = False) -> RDD:
        return self._then(ops.ElementOp("flatMap", f))

    def filter(self, f: Callable[[Any], bool]) -> RDD:
        return self._then(ops.ElementOp("filter", f))

    def mapValues(self, f: Callable[[Any], Any]) -> RDD:
        return self._then(ops.ElementOp("mapValues", f))

    def flatMapValues(self, f: Callable[[Any], Iterable[Any]]) -> RDD:
        return self._then(ops.ElementOp("flatMapValues", f))

    def mapPartitions(self, f: Callable, preservesPartitioning: bool = False) -> RDD:
        return self._then(ops.map_partitions(f))

    def mapPartitionsWithIndex(self, f: Callable, preservesPartitioning: bool = False) -> RDD:
        return self._then(ops.map_partitions(f, with_index=True))

    def keys(self) -> RDD:
        return self._then(ops.SelectOp("key"))

    def values(self) -> RDD:
        return self._then(ops.SelectOp("value"))

    def keyBy(self, f: Callable[[Any], Any]) -> RDD:
        return self.map(lambda x: (f(x), x))

    def _reduce_partitions(self, n: int | None) -> int | None:
        """PySpark's ``_defaultReducePartitions``: ``spark.default.parallelism`` when it is set,
        else (None) as many partitions as the input has."""
        if n is not None:
            return n
        conf = getattr(self.ctx, "_conf", None)
        if conf is not None and conf.contains("spark.default.parallelism"):
            return self.ctx.defaultParallelism
        return None

    def reduceByKey(self, func: Callable, numPartitions: int | None = None, partitionFunc=None) -> RDD:
        return self._then(ops.ReduceByKeyOp(func, self._reduce_partitions(numPartitions)))

    def groupByKey(self, numPartitions: int | None = None, partitionFunc=None) -> RDD:
        return self._then(ops.GroupByKeyOp(self._reduce_partitions(numPartitions)))

    def combineByKey(
        self, createCombiner, mergeValue, mergeCombiners, numPartitions=None, partitionFunc=None
    ):
        n = self._reduce_partitions(numPartitions)
        return self._then(ops.CombineByKeyOp(createCombiner, mergeValue, mergeCombiners, n))

    def distinct(self, numPartitions: int | None = None) -> RDD:
        return self._then(ops.DistinctOp(self._reduce_partitions(numPartitions)))

    def partitionBy(self, numPartitions: int, partitionFunc: Callable | None = None) -> RDD:
        return self._then(ops.PartitionByOp(numPartitions, partitionFunc))

    def repartition(self, numPartitions: int) -> RDD:
        return self._then(ops.RepartitionOp(numPartitions))

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> RDD:
        return self.repartition(min(numPartitions, self.getNumPartitions()) or 1)

    def sortByKey(self, ascending: bool = True, numPartitions: int | None = None, keyfunc=lambda x: x) -> RDD:
        n = self._reduce_partitions(numPartitions)
        return self._then(ops.SortOp(ascending, n, keyfunc, by_key=True))

    def sortBy(self, keyfunc: Callable, ascending: bool = True, numPartitions: int | None = None) -> RDD:
        n = self._reduce_partitions(numPartitions)
        return self._then(ops.SortOp(ascending, n, keyfunc, by_key=False))

    def union(self, other: RDD) -> RDD:
        return RDD(Batch(*ops.union([_parts(self), _parts(other)])), self.ctx)

    def cartesian(self, other: RDD) -> RDD:
        left, right = self._batch.partitions(), other._batch.partitions()
        parts = [[(a, b) for a in lp for b in rp] for lp in left for rp in right]
        return RDD(Batch.from_partitions(parts) if parts else Batch.empty(0), self.ctx)

    def _cogroup(self, how: str, other: RDD, numPartitions: int | None) -> RDD:
        # As PySpark, which joins through union().groupByKey(): by default as many output
        # partitions as both inputs together (unless spark.default.parallelism is set).
        n = self._reduce_partitions(numPartitions)
        if n is None:
            n = max(1, self.getNumPartitions() + other.getNumPartitions())
        return RDD(ops.cogroup(how, self._batch, other._batch, n), self.ctx)

    def join(self, other: RDD, numPartitions: int | None = None) -> RDD:
        return self._cogroup("join", other, numPartitions)

    def leftOuterJoin(self, other: RDD, numPartitions: int | None = None) -> RDD:
        return self._cogroup("leftOuterJoin", other, numPartitions)

    def rightOuterJoin(self, other: RDD, numPartitions: int | None = None) -> RDD:
        return self._cogroup("rightOuterJoin", other, numPartitions)

    def fullOuterJoin(self, other: RDD, numPartitions: int | None = None) -> RDD:
        return self._cogroup("fullOuterJoin", other, numPartitions)

    def cogroup(self, other: RDD, numPartitions: int | None = None) -> RDD:
        return self._cogroup("cogroup", other, numPartitions)

    # -- persistence (no effect: batches live in memory for as long as they are needed) -------
    def cache(self) -> RDD:
        self._batch.table  # noqa: B018 - materialize once
        return self

    def persist(self, storageLevel: Any = None) -> RDD:
        return self.cache()

    def unpersist(self, blocking: bool = False) -> RDD:
        return self

    def __repr__(self) -> str:
        return f"RDD({self._batch!r})"


def _parts(rdd: RDD):
    b = rdd._batch
    return b.table, b.layout, b.num_partitions
