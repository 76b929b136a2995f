"""``RDD``: the batch object handed to ``transform`` and ``foreachRDD`` functions.

It has the RDD methods such functions use, with PySpark's semantics, plus ``toArrow()`` and
``toPolars()``. Transformations are lazy and compile to Polars the same way DStream operators do.

Actions that depend on the partitioning (``fold``/``aggregate``, whose zero counts once per
partition, ``zipWithUniqueId``, ``max`` with NaN, ``treeReduce``...) work partition by partition as
PySpark's tasks do, and seeded ``sample``/``takeSample``/``sampleByKey``/``randomSplit`` draw the
same random numbers as PySpark, so they pick the same elements for the same partitioning.
``top``/``takeOrdered`` (no key) and ``sum`` run on the Polars column when the elements are one
null-free column of ints or strings, whose order and sums Polars reproduces exactly; floats stay in
Python (NaN, -0.0 and the rounding of left-to-right sums). Where dstreams differs:

* ``stats()`` min/max follow Python's ``max``/``min`` (PySpark uses numpy's when numpy is
  installed, which propagates NaN), and the figures are plain floats, not numpy ones;
* ``treeAggregate``/``treeReduce`` combine partition results in partition order (no tree);
* ``countApproxDistinct`` is exact; ``saveAsPickleFile`` writes dstreams' own files (streams of
  pickled lists), read back by ``sc.pickleFile``, not Hadoop SequenceFiles;
* keys other than ints go to other partitions than in PySpark (see the README), so the order of
  keyed results over several partitions differs there.

>>> from dstreams import SparkContext
>>> sc = SparkContext.getOrCreate()
>>> rdd = sc.parallelize(["a b", "b"]).flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
>>> rdd.reduceByKey(lambda a, b: a + b).collect()
[('a', 1), ('b', 2)]
"""

from __future__ import annotations

import bisect
import bz2
import collections
import copy
import functools
import gzip
import heapq
import itertools
import math
import os
import pickle
import random
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import polars as pl
import pyarrow as pa

from . import codec, ops
from .batch import Batch, compilation_enabled, require_native
from .codec import PARTITION
from .errors import ConfigurationError, DStreamsError, NotSupportedError
from .statcounter import StatCounter

if TYPE_CHECKING:
    from .spark import StorageLevel

T_co = TypeVar("T_co", covariant=True)


class RDD(Generic[T_co]):
    """One micro-batch with the RDD API; ``RDD[str]`` annotates an RDD of strings."""

    def __init__(self, batch: Batch, ctx: Any = None):
        self._batch = batch
        self.ctx = ctx
        self._rdd_id = next(_rdd_ids)

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
        """The batch as a ``pyarrow.Table`` (``value`` or ``key``/``value`` columns for Spark-style data).

        Strings come as ``large_string`` (binary as ``large_binary``), never as the
        ``string_view`` the engine keeps internally, so ``pyarrow.compute`` (``take``,
        ``sort_indices``, ``filter``...), pandas and DuckDB all work on the table. That cast
        copies the string data: about 4 ms per million short strings (``benchmarks/strings.py``);
        ``toPolars()`` has no such cost.

        >>> import pyarrow.compute as pc
        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> table = sc.parallelize(["b a", "c"]).flatMap(lambda line: line.split(" ")).toArrow()
        >>> table.take(pc.sort_indices(table, [("value", "ascending")])).column("value").to_pylist()
        ['a', 'b', 'c']
        """
        return codec.user_table(self._columns())

    def _columns(self) -> pa.Table:
        table = self._batch.table
        return table.drop_columns([PARTITION]) if PARTITION in table.column_names else table

    def toPolars(self) -> pl.DataFrame:
        """The batch as a Polars DataFrame (zero-copy for numeric and string columns).

        Tuples (a join's ``(v, w)``) become structs with fields ``_0``, ``_1``...; a column of
        pickled Python objects (mixed types...) raises :class:`~dstreams.SchemaError`.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([("a", 1)]).toPolars().columns
        ['key', 'value']
        """
        table = self._columns()
        require_native(table.select([f.name for f in table.schema if not codec.is_tuples(f)]), "toPolars()")
        return pl.from_arrow(table)  # type: ignore[return-value]

    def toDF(self, *cols: Any, schema: Any = None, sampleRatio: float | None = None):
        """A ``dstreams.sql.DataFrame`` over this batch (needs ``dstreams.sql``).

        The schema is column names (``toDF("word", "n")``), a list or tuple of names, a
        ``StructType`` or a DDL string (``toDF("word string, n long")``), as PySpark's
        ``toDF(schema, sampleRatio)`` takes it; ``sampleRatio`` has no effect.

        >>> from dstreams import SparkContext
        >>> rdd = SparkContext.getOrCreate().parallelize([("a", 1)])
        >>> rdd.toDF(("word", "n")).columns, rdd.toDF("word string, n long").dtypes
        (['word', 'n'], [('word', 'string'), ('n', 'bigint')])
        """
        from dstreams.sql import SparkSession

        if cols and schema is None:
            first = cols[0]
            ddl = len(cols) == 1 and isinstance(first, str) and any(c in first for c in " ,:")
            # names, or one schema object (a second positional argument is PySpark's sampleRatio)
            schema = list(cols) if all(isinstance(c, str) for c in cols) and not ddl else first
        if isinstance(schema, tuple):
            schema = list(schema)
        return SparkSession.builder.getOrCreate().createDataFrame(self, schema=schema)

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
        """Combine the elements with ``f``: each partition left to right, then the partition results
        in partition order, as PySpark (which matters for an ``f`` that is not associative).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([5, 1, 4, 2], 2).reduce(lambda a, b: a - b)
        2
        """
        if self.getNumPartitions() > 1:
            return self._reduce_partitions_of(f)
        # One partition: one left fold, which the reduce operator may compile to Polars.
        got = self._then(ops.ReduceByKeyOp(f, keyed=False)).collect()
        if not got:
            raise EmptyRDDError("Can not reduce() empty RDD")
        return got[0]

    def foreach(self, f: Callable[[Any], None]) -> None:
        for element in self.collect():
            f(element)

    def countByValue(self) -> dict[Any, int]:
        return dict(self._then(ops.CountByValueOp()).collect())

    def sum(self) -> Any:
        """The sum of the elements (0 when empty); ints stay exact Python ints.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3], 2).sum()
        6
        """
        column = self._native_values()
        if column is not None and column.dtype == pl.Int64:
            # Exact in 128 bits (a batch cannot overflow that); floats stay in Python, whose
            # left-to-right rounding a columnar sum would not reproduce.
            return int(column.cast(pl.Int128).sum())
        return functools.reduce(lambda a, b: a + b, (sum(part) for part in self._batch.partitions()), 0)

    def max(self, key: Callable | None = None) -> Any:
        """The largest element (by ``key`` when given); raises ValueError when empty.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize(["aa", "b", "ccc"], 2).max(key=len)
        'ccc'
        """
        return self._reduce_partitions_of(max if key is None else (lambda a, b: max(a, b, key=key)))

    def min(self, key: Callable | None = None) -> Any:
        """The smallest element (by ``key`` when given); raises ValueError when empty.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([3, 1, 2], 2).min()
        1
        """
        return self._reduce_partitions_of(min if key is None else (lambda a, b: min(a, b, key=key)))

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
        # reports (explain, fallback warnings) name the user's f, not this wrapper
        return self._then(ops.ElementOp("map", lambda x: (f(x), x), origin=f, label="keyBy"))

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
        from .spark import StorageLevel

        self._batch.table  # noqa: B018 - materialize once
        if self._storage_level is None:
            self._storage_level = StorageLevel.MEMORY_ONLY  # type: ignore[attr-defined]
        return self

    def persist(self, storageLevel: Any = None) -> RDD:
        if storageLevel is not None:
            self._storage_level = storageLevel
        return self.cache()

    def unpersist(self, blocking: bool = False) -> RDD:
        return self

    def __repr__(self) -> str:
        return f"RDD({self._batch!r})"

    # -- the rest of PySpark's RDD surface (one local batch; PySpark's semantics) -----------------
    # Partition-aware methods work partition by partition, as PySpark's tasks do, so that results
    # that depend on the partitioning (fold's zero per partition, zipWithUniqueId, NaN in max...)
    # are PySpark's for any partition count.

    # Set by setName, persist/cache, checkpoint and localCheckpoint.
    _rdd_name: str | None = None
    _storage_level: StorageLevel | None = None
    _checkpointed = False
    _locally_checkpointed = False

    def _from_parts(self, parts: list[list[Any]]) -> RDD:
        return RDD(Batch.from_partitions(parts) if parts else Batch.empty(0), self.ctx)

    def _python_op(self, name: str, fn: Callable[[int, Iterable[Any]], Iterable[Any]]) -> RDD:
        return self._then(ops.PartitionOp(name, fn))

    def _native_values(self) -> pl.Series | None:
        """The elements as one null-free Polars column of ints or strings, when the batch has one.

        Those order exactly as Python does (strings by code point = UTF-8 bytes), so columnar
        top/takeOrdered/sum give Python's results; anything else (floats: NaN, -0.0) stays Python.
        """
        if not compilation_enabled() or self._batch.layout != "value":
            return None
        table = self._batch.table
        field = table.schema.field("value")
        if codec.is_pickled(field) or table.column("value").null_count:
            return None
        kind = field.type
        if not (
            pa.types.is_int64(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
        ):
            return None
        return pl.from_arrow(table.column("value"))  # type: ignore[return-value]

    def aggregate(
        self, zeroValue: Any, seqOp: Callable[[Any, Any], Any], combOp: Callable[[Any, Any], Any]
    ) -> Any:
        """Fold each partition with ``seqOp`` from a copy of ``zeroValue``, then the partition
        results with ``combOp`` from ``zeroValue`` (so the zero counts once per partition, plus once).

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize([1, 2, 3, 4], 2).aggregate((0, 0), lambda a, x: (a[0] + x, a[1] + 1),
        ...                                             lambda a, b: (a[0] + b[0], a[1] + b[1]))
        (10, 4)
        """
        results = [
            functools.reduce(seqOp, part, copy.deepcopy(zeroValue)) for part in self._batch.partitions()
        ]
        return functools.reduce(combOp, results, zeroValue)

    def fold(self, zeroValue: Any, op: Callable[[Any, Any], Any]) -> Any:
        """``aggregate(zeroValue, op, op)``: the zero is used once per partition and once more.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3], 2).fold(10, lambda a, b: a + b)
        36
        """
        return self.aggregate(zeroValue, op, op)

    def treeAggregate(
        self,
        zeroValue: Any,
        seqOp: Callable[[Any, Any], Any],
        combOp: Callable[[Any, Any], Any],
        depth: int = 2,
    ) -> Any:
        """As :meth:`aggregate`, but the partition results are combined without the zero.

        One process has no tree to build: partition results are combined in partition order.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3], 2).treeAggregate(10, lambda a, b: a + b,
        ...                                                                  lambda a, b: a + b)
        26
        """
        if depth < 1:
            raise ValueError(f"Depth cannot be smaller than 1 but got {depth}.")
        parts = self._batch.partitions()
        if not parts:
            return zeroValue
        results = [functools.reduce(seqOp, part, copy.deepcopy(zeroValue)) for part in parts]
        return functools.reduce(combOp, results)

    def treeReduce(self, f: Callable[[Any, Any], Any], depth: int = 2) -> Any:
        """:meth:`reduce`, in PySpark's tree form (here: partition results in partition order).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3, 4], 2).treeReduce(lambda a, b: a + b)
        10
        """
        if depth < 1:
            raise ValueError(f"Depth cannot be smaller than 1 but got {depth}.")
        results = [functools.reduce(f, part) for part in self._batch.partitions() if part]
        if not results:
            raise EmptyRDDError("Cannot reduce empty RDD.")
        return functools.reduce(f, results)

    def _reduce_partitions_of(self, f: Callable[[Any, Any], Any]) -> Any:
        results = [functools.reduce(f, part) for part in self._batch.partitions() if part]
        if not results:
            raise EmptyRDDError("Can not reduce() empty RDD")
        return functools.reduce(f, results)

    def aggregateByKey(
        self,
        zeroValue: Any,
        seqFunc: Callable[[Any, Any], Any],
        combFunc: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Any = None,
    ) -> RDD:
        """Per key: fold values with ``seqFunc`` from a fresh copy of ``zeroValue`` in each
        partition, then merge the partition results with ``combFunc``.

        >>> from dstreams import SparkContext
        >>> pairs = SparkContext.getOrCreate().parallelize([("a", 1), ("b", 2), ("a", 3)], 1)
        >>> pairs.aggregateByKey(0, lambda acc, v: acc + v, lambda a, b: a + b).collect()
        [('a', 4), ('b', 2)]
        """
        n = self._reduce_partitions(numPartitions)
        op = ops.CombineByKeyOp(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc, combFunc, n)
        op.name = f"aggregateByKey({ops.describe(seqFunc)})"
        return self._then(op)

    def foldByKey(
        self,
        zeroValue: Any,
        func: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Any = None,
    ) -> RDD:
        """``aggregateByKey(zeroValue, func, func)``: the zero once per key and partition.

        >>> from dstreams import SparkContext
        >>> pairs = SparkContext.getOrCreate().parallelize([("a", 1), ("b", 2), ("a", 3)], 1)
        >>> pairs.foldByKey(0, lambda a, b: a + b).collect()
        [('a', 4), ('b', 2)]
        """
        return self.aggregateByKey(zeroValue, func, func, numPartitions, partitionFunc)

    def top(self, num: int, key: Callable[[Any], Any] | None = None) -> list[Any]:
        """The ``num`` largest elements, largest first (by ``key`` when given).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([5, 1, 4, 2], 2).top(2)
        [5, 4]
        """
        if self.getNumPartitions() == 0:
            raise EmptyRDDError("Can not reduce() empty RDD")
        column = self._native_values() if key is None and num > 0 else None
        if column is not None:
            return column.top_k(num).sort(descending=True).to_list()
        tops = [heapq.nlargest(num, part, key=key) for part in self._batch.partitions()]
        return functools.reduce(lambda a, b: heapq.nlargest(num, a + b, key=key), tops)

    def takeOrdered(self, num: int, key: Callable[[Any], Any] | None = None) -> list[Any]:
        """The ``num`` smallest elements, smallest first (by ``key`` when given).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([5, 1, 4, 2], 2).takeOrdered(3, key=lambda x: -x)
        [5, 4, 2]
        """
        if num < 0:
            raise ValueError("top N cannot be negative.")
        if num == 0 or self.getNumPartitions() == 0:
            return []
        column = self._native_values() if key is None else None
        if column is not None:
            return column.bottom_k(num).sort().to_list()
        smallest = [heapq.nsmallest(num, part, key=key) for part in self._batch.partitions()]
        return functools.reduce(lambda a, b: heapq.nsmallest(num, a + b, key=key), smallest)

    def sample(self, withReplacement: bool, fraction: float, seed: int | None = None) -> RDD:
        """About ``fraction`` of the elements (each kept with that probability; with replacement,
        each taken a Poisson(``fraction``) number of times). With a ``seed``, the same elements
        as PySpark for the same partitioning.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize(range(100), 2).sample(False, 0.1, 1).count() < 30
        True
        """
        if not fraction >= 0:
            raise ValueError("Fraction must be nonnegative.")
        sampler = Sampler(withReplacement, seed)
        return self._python_op(
            f"sample({withReplacement}, {fraction})", lambda i, it: sampler.sample(i, it, lambda _: fraction)
        )

    def sampleByKey(self, withReplacement: bool, fractions: dict[Any, float], seed: int | None = None) -> RDD:
        """As :meth:`sample`, with each pair's fraction given by its key (every key needs one).

        >>> from dstreams import SparkContext
        >>> pairs = SparkContext.getOrCreate().parallelize([("a", 1), ("b", 2)])
        >>> pairs.sampleByKey(False, {"a": 1.0, "b": 0.0}).collect()
        [('a', 1)]
        """
        for value in fractions.values():
            if not value >= 0.0:
                raise ValueError(f"Negative fraction value: {value}")
        sampler = Sampler(withReplacement, seed)
        return self._python_op(
            f"sampleByKey({withReplacement})",
            lambda i, it: sampler.sample(i, it, lambda kv: fractions[kv[0]]),
        )

    def takeSample(self, withReplacement: bool, num: int, seed: int | None = None) -> list[Any]:
        """``num`` elements drawn at random (all of them, shuffled, when there are fewer), as PySpark
        draws them: with a ``seed``, the same list as PySpark for the same partitioning.

        >>> from dstreams import SparkContext
        >>> sorted(SparkContext.getOrCreate().parallelize(range(10)).takeSample(False, 10, 7))
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        """
        spread = 10.0  # standard deviations of margin when choosing the fraction
        if num < 0:
            raise ValueError("Sample size cannot be negative.")
        if num == 0 or self.getNumPartitions() == 0:
            return []
        total = self.count()
        if total == 0:
            return []
        rand = random.Random(seed)
        if not withReplacement and num >= total:
            everything = self.collect()
            rand.shuffle(everything)
            return everything
        largest = int(sys.maxsize - spread * math.sqrt(sys.maxsize))
        if num > largest:
            raise ValueError(f"Sample size cannot be greater than {largest}.")
        fraction = sample_fraction(num, total, withReplacement)
        got = self.sample(withReplacement, fraction, seed).collect()
        while len(got) < num:  # unlucky: draw again with a new seed
            got = self.sample(withReplacement, fraction, rand.randint(0, sys.maxsize)).collect()
        rand.shuffle(got)
        return got[:num]

    def zipWithIndex(self) -> RDD:
        """Pairs ``(element, index)``, indices counting across partitions in order.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize(["a", "b", "c"], 2).zipWithIndex().collect()
        [('a', 0), ('b', 1), ('c', 2)]
        """
        parts = self._batch.partitions()
        starts = list(itertools.accumulate((len(p) for p in parts), initial=0))
        return self._from_parts([[(e, starts[i] + j) for j, e in enumerate(p)] for i, p in enumerate(parts)])

    def zipWithUniqueId(self) -> RDD:
        """Pairs ``(element, id)``: the j-th element of partition k of n gets ``j * n + k``.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize(["a", "b", "c"], 2).zipWithUniqueId().collect()
        [('a', 0), ('b', 1), ('c', 3)]
        """
        parts = self._batch.partitions()
        n = len(parts)
        return self._from_parts([[(e, j * n + k) for j, e in enumerate(p)] for k, p in enumerate(parts)])

    def zip(self, other: RDD) -> RDD:
        """Pairs of the i-th elements of both RDDs; they need the same partitions and sizes.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize([1, 2], 2).zip(sc.parallelize(["a", "b"], 2)).collect()
        [(1, 'a'), (2, 'b')]
        """
        mine, theirs = self._batch.partitions(), other._batch.partitions()
        if len(mine) != len(theirs):
            raise ZipError(
                "Can only zip with RDD which has the same number of partitions: "
                f"{len(mine)} and {len(theirs)}; repartition one of them first"
            )
        if any(len(a) != len(b) for a, b in zip(mine, theirs)):
            raise ZipError(
                "Can only zip RDDs with same number of elements in each partition: "
                f"{[len(p) for p in mine]} and {[len(p) for p in theirs]}; use zipWithIndex and join instead"
            )
        return self._from_parts([list(zip(a, b)) for a, b in zip(mine, theirs)])

    def stats(self) -> StatCounter:
        """A :class:`~dstreams.StatCounter` of the elements (count, mean, variance, min, max).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3, 4], 2).stats()
        (count: 4, mean: 2.5, stdev: 1.118033988749895, max: 4.0, min: 1.0)
        """
        # Python over the values: a columnar mean or variance would not round as Welford's
        # running updates do, and PySpark's figures are those of the running updates.
        counters = [StatCounter(part) for part in self._batch.partitions()]
        if not counters:
            raise EmptyRDDError("Can not reduce() empty RDD")
        return functools.reduce(lambda a, b: a.mergeStats(b), counters)

    def mean(self) -> float:
        """The mean of the elements (0.0 for an empty RDD, as PySpark's ``stats().mean()``).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2]).mean()
        1.5
        """
        return self.stats().mean()

    def variance(self) -> float:
        """Population variance (nan when empty).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 3]).variance()
        1.0
        """
        return self.stats().variance()

    def stdev(self) -> float:
        """Population standard deviation (nan when empty).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 3]).stdev()
        1.0
        """
        return self.stats().stdev()

    def sampleVariance(self) -> float:
        """Sample variance, dividing by n - 1 (nan for fewer than two elements).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 3]).sampleVariance()
        2.0
        """
        return self.stats().sampleVariance()

    def sampleStdev(self) -> float:
        """Sample standard deviation (nan for fewer than two elements).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3]).sampleStdev()
        1.0
        """
        return self.stats().sampleStdev()

    def histogram(self, buckets: int | list[Any] | tuple[Any, ...]) -> tuple[list[Any], list[int]]:
        """Counts per bucket: ``buckets`` is a number of even buckets between the min and max, or
        the sorted bucket edges. Each bucket holds [edge, next edge), the last one includes its
        upper edge; None, NaN and values outside the edges are not counted.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize(range(1, 11)).histogram(3)
        ([1, 4, 7, 10], [3, 3, 4])
        >>> sc.parallelize([1, 2, 3]).histogram([0, 2, 3])
        ([0, 2, 3], [1, 2])
        """
        return histogram(self._batch.partitions(), buckets)

    def countByKey(self) -> dict[Any, int]:
        """How many pairs each key has.

        >>> from dstreams import SparkContext
        >>> dict(SparkContext.getOrCreate().parallelize([("a", 1), ("b", 1), ("a", 2)]).countByKey())
        {'a': 2, 'b': 1}
        """
        counts: collections.defaultdict[Any, int] = collections.defaultdict(int)
        for part in self._batch.partitions():
            for element in part:
                counts[element[0]] += 1
        return counts

    def lookup(self, key: Any) -> list[Any]:
        """The values of the pairs whose key equals ``key``, in order.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([("a", 1), ("b", 2), ("a", 3)]).lookup("a")
        [1, 3]
        """
        return [v for k, v in self.collect() if k == key]

    def subtract(self, other: RDD, numPartitions: int | None = None) -> RDD:
        """The elements that are not in ``other`` (duplicates kept, as PySpark).

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sorted(sc.parallelize([1, 2, 2, 3]).subtract(sc.parallelize([2])).collect())
        [1, 3]
        """
        return self._as_keys().subtractByKey(other._as_keys(), numPartitions).keys()

    def _as_keys(self) -> RDD:
        return self._python_op("map to (element, True)", lambda _, it: ((x, True) for x in it))

    def subtractByKey(self, other: RDD, numPartitions: int | None = None) -> RDD:
        """The pairs whose key is not a key of ``other``.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize([("a", 1), ("b", 2), ("a", 3)]).subtractByKey(sc.parallelize([("b", 0)])).collect()
        [('a', 1), ('a', 3)]
        """
        grouped = self.cogroup(other, numPartitions)
        return grouped._python_op(
            "subtractByKey", lambda _, it: ((k, v) for k, (vs, ws) in it if vs and not ws for v in vs)
        )

    def intersection(self, other: RDD) -> RDD:
        """The distinct elements found in both RDDs.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sorted(sc.parallelize([1, 2, 2, 3]).intersection(sc.parallelize([2, 3, 4])).collect())
        [2, 3]
        """
        grouped = self._as_keys().cogroup(other._as_keys())
        return grouped._python_op("intersection", lambda _, it: (k for k, (vs, ws) in it if vs and ws))

    def groupBy(
        self, f: Callable[[Any], Any], numPartitions: int | None = None, partitionFunc: Any = None
    ) -> RDD:
        """Pairs ``(f(x), [elements with that f(x)])``.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3, 4], 1).groupBy(lambda x: x % 2).collect()
        [(1, [1, 3]), (0, [2, 4])]
        """
        keyed = self._python_op(f"groupBy({ops.describe(f)})", lambda _, it: ((f(x), x) for x in it))
        return keyed.groupByKey(numPartitions, partitionFunc)

    def groupWith(self, other: RDD, *others: RDD) -> RDD:
        """``cogroup`` of several pair RDDs: ``(key, ([values in self], [in other], ...))``.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize([("a", 1)], 1).groupWith(sc.parallelize([("a", 2), ("b", 3)], 1)).collect()
        [('a', ([1], [2])), ('b', ([], [3]))]
        """
        rdds = (self, other, *others)
        groups: dict[Any, tuple[list[Any], ...]] = {}
        for side, rdd in enumerate(rdds):
            for k, v in rdd.collect():
                entry = groups.get(k)
                if entry is None:
                    entry = groups[k] = tuple([] for _ in rdds)
                entry[side].append(v)
        n = self._reduce_partitions(None) or max(1, sum(r.getNumPartitions() for r in rdds))
        parts: list[list[Any]] = [[] for _ in range(n)]
        ids = ops.partition_ids(list(groups), n) if n > 1 else [0] * len(groups)
        for (k, values), p in zip(groups.items(), ids):
            parts[p].append((k, values))
        return self._from_parts(parts)

    def reduceByKeyLocally(self, func: Callable[[Any, Any], Any]) -> dict[Any, Any]:
        """``reduceByKey`` straight into a dict.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([("a", 1), ("b", 2), ("a", 3)]).reduceByKeyLocally(
        ...     lambda a, b: a + b)
        {'a': 4, 'b': 2}
        """
        maps = []
        for part in self._batch.partitions():
            acc: dict[Any, Any] = {}
            for k, v in part:
                acc[k] = func(acc[k], v) if k in acc else v
            maps.append(acc)
        if not maps:
            raise EmptyRDDError("Can not reduce() empty RDD")
        merged = maps[0]
        for other in maps[1:]:
            for k, v in other.items():
                merged[k] = func(merged[k], v) if k in merged else v
        return merged

    def foreachPartition(self, f: Callable[[Iterator[Any]], Any]) -> None:
        """Call ``f`` once per partition with an iterator over its elements.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 3], 2).foreachPartition(lambda it: print(list(it)))
        [1]
        [2, 3]
        """
        for part in self._batch.partitions():
            f(iter(part))

    def toLocalIterator(self, prefetchPartitions: bool = False) -> Iterator[Any]:
        """An iterator over the elements, partition after partition.

        >>> from dstreams import SparkContext
        >>> list(SparkContext.getOrCreate().parallelize([1, 2, 3], 2).toLocalIterator())
        [1, 2, 3]
        """
        for part in self._batch.partitions():
            yield from part

    def id(self) -> int:
        """A number unique to this RDD in the process.

        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.parallelize([1]).id() != sc.parallelize([1]).id()
        True
        """
        return self._rdd_id

    def name(self) -> str | None:
        """The name given with :meth:`setName`, else None.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).setName("numbers").name()
        'numbers'
        """
        return self._rdd_name

    def setName(self, name: str) -> RDD:
        """Name this RDD (shown by :meth:`toDebugString`); returns self.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).setName("ones").name()
        'ones'
        """
        self._rdd_name = name
        return self

    def toDebugString(self) -> bytes:
        """A description of this RDD, as bytes like PySpark's: partitions, id and name.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1], 2).setName("n").toDebugString().startswith(b"(2) n")
        True
        """
        label = self.name() or "RDD"
        text = f"({self.getNumPartitions()}) {label}[{self.id()}] of {self.count()} elements on one batch []"
        return text.encode("utf-8")

    def getStorageLevel(self) -> StorageLevel:
        """The storage level given to :meth:`persist` (``cache`` is MEMORY_ONLY); it has no effect.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).cache().getStorageLevel()
        StorageLevel(False, True, False, False, 1)
        """
        from .spark import StorageLevel

        level = self._storage_level
        return level if level is not None else StorageLevel(False, False, False, False, 1)

    def checkpoint(self) -> None:
        """Mark for checkpointing; the batch is computed and kept (needs ``sc.setCheckpointDir``).

        >>> import tempfile
        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> sc.setCheckpointDir(tempfile.mkdtemp())
        >>> rdd = sc.parallelize([1])
        >>> rdd.checkpoint(); rdd.isCheckpointed()
        True
        """
        ctx = self.context
        if ctx.getCheckpointDir() is None:
            raise ConfigurationError(
                "rdd.checkpoint() needs a checkpoint directory: call sc.setCheckpointDir(path) first"
            )
        self.cache()
        self._checkpointed = True

    def isCheckpointed(self) -> bool:
        """Whether :meth:`checkpoint` was called (batches are not checkpointed one by one otherwise).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).isCheckpointed()
        False
        """
        return self._checkpointed

    def saveAsTextFile(self, path: str, compressionCodecClass: str | None = None) -> None:
        """Write one file ``part-NNNNN`` per partition into the new directory ``path``, one element
        per line (``str(x)``; bytes as they are), then an empty ``_SUCCESS``. A codec class whose
        name ends in ``GzipCodec`` or ``BZip2Codec`` compresses the parts (``.gz``/``.bz2``).

        >>> import os, tempfile
        >>> from dstreams import SparkContext
        >>> out = os.path.join(tempfile.mkdtemp(), "words")
        >>> SparkContext.getOrCreate().parallelize(["a", "b"], 2).saveAsTextFile(out)
        >>> sorted(os.listdir(out))
        ['_SUCCESS', 'part-00000', 'part-00001']
        """
        opener, suffix = _codec(compressionCodecClass)

        def lines(part: list[Any]) -> bytes:
            return b"".join((x if isinstance(x, bytes) else str(x).encode("utf-8")) + b"\n" for x in part)

        _write_parts(path, self._batch.partitions(), lambda fh, part: fh.write(lines(part)), opener, suffix)

    def saveAsPickleFile(self, path: str, batchSize: int = 10) -> None:
        """Write the elements pickled, one file per partition, into the new directory ``path``;
        ``sc.pickleFile(path)`` reads them back. The files are dstreams' own (a stream of pickled
        lists of up to ``batchSize`` elements), not Hadoop SequenceFiles.

        >>> import os, tempfile
        >>> from dstreams import SparkContext
        >>> sc = SparkContext.getOrCreate()
        >>> out = os.path.join(tempfile.mkdtemp(), "saved")
        >>> sc.parallelize([(1, "a"), (2, "b")], 2).saveAsPickleFile(out)
        >>> sc.pickleFile(out).collect()
        [(1, 'a'), (2, 'b')]
        """
        size = max(1, batchSize)

        def dump(fh: Any, part: list[Any]) -> None:
            for start in range(0, len(part), size):
                pickle.dump(part[start : start + size], fh, protocol=pickle.HIGHEST_PROTOCOL)

        _write_parts(path, self._batch.partitions(), dump, open, "")

    def randomSplit(self, weights: list[float], seed: int | None = None) -> list[RDD]:
        """Split at random into RDDs whose sizes follow ``weights`` (normalized to sum to 1); with
        a ``seed``, the same elements as PySpark for the same partitioning.

        >>> from dstreams import SparkContext
        >>> parts = SparkContext.getOrCreate().parallelize(range(10), 2).randomSplit([1, 1], seed=3)
        >>> sorted(parts[0].collect() + parts[1].collect())
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        """
        if any(w < 0.0 for w in weights):
            raise ValueError(f"Weights must be nonnegative: {weights}")
        total = float(sum(weights))
        if total <= 0:
            raise ValueError(f"Sum of weights must be positive: {weights}")
        bounds = list(itertools.accumulate((w / total for w in weights), initial=0.0))
        if seed is None:
            seed = random.randint(0, 2**32 - 1)
        sampler = Sampler(False, seed)
        return [
            self._python_op(
                f"randomSplit[{low}, {high})",
                lambda i, it, low=low, high=high: sampler.in_range(i, it, low, high),
            )
            for low, high in itertools.pairwise(bounds)
        ]

    def repartitionAndSortWithinPartitions(
        self,
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] | None = None,
        ascending: bool = True,
        keyfunc: Callable[[Any], Any] = lambda x: x,
    ) -> RDD:
        """Pairs spread over ``numPartitions`` by key (as :meth:`partitionBy`), each partition
        sorted by ``keyfunc(key)`` (stable: equal keys keep their order).

        >>> from dstreams import SparkContext
        >>> pairs = SparkContext.getOrCreate().parallelize([(3, "c"), (1, "a"), (2, "b"), (4, "d")])
        >>> pairs.repartitionAndSortWithinPartitions(2).glom().collect()
        [[(2, 'b'), (4, 'd')], [(1, 'a'), (3, 'c')]]
        """
        n = self._reduce_partitions(numPartitions) or self.getNumPartitions() or 1
        spread = self.partitionBy(n, partitionFunc)
        return spread._python_op(
            "sortWithinPartitions",
            lambda _, it: sorted(it, key=lambda kv: keyfunc(kv[0]), reverse=not ascending),
        )

    def countApproxDistinct(self, relativeSD: float = 0.05) -> int:
        """The number of distinct elements. PySpark estimates it (HyperLogLog, within ``relativeSD``);
        one local batch can afford the exact count, which is within any error bound.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1, 2, 2, 3] * 5).countApproxDistinct()
        3
        """
        if relativeSD < 0.000017:
            raise ValueError("relativeSD should be greater than 0.000017")
        return self.distinct().count()

    def localCheckpoint(self) -> None:
        """Mark for local checkpointing: the batch is computed and kept in memory (as :meth:`cache`).

        >>> from dstreams import SparkContext
        >>> rdd = SparkContext.getOrCreate().parallelize([1])
        >>> rdd.localCheckpoint(); rdd.isLocallyCheckpointed()
        True
        """
        self.cache()
        self._locally_checkpointed = True

    def isLocallyCheckpointed(self) -> bool:
        """Whether :meth:`localCheckpoint` was called.

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).isLocallyCheckpointed()
        False
        """
        return self._locally_checkpointed

    def getCheckpointFile(self) -> str | None:
        """None: a batch's own data is never written to a checkpoint file (state is, by the stream).

        >>> from dstreams import SparkContext
        >>> SparkContext.getOrCreate().parallelize([1]).getCheckpointFile() is None
        True
        """
        return None

    def mapPartitionsWithSplit(self, f: Callable, preservesPartitioning: bool = False) -> RDD:
        """Deprecated in PySpark: :meth:`mapPartitionsWithIndex` under its old name (warns).

        >>> import warnings
        >>> from dstreams import SparkContext
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     SparkContext.getOrCreate().parallelize([1, 2], 2).mapPartitionsWithSplit(
        ...         lambda i, it: [i]).collect()
        [0, 1]
        """
        warnings.warn(
            "mapPartitionsWithSplit is deprecated (as in PySpark); use mapPartitionsWithIndex",
            FutureWarning,
            stacklevel=2,
        )
        return self.mapPartitionsWithIndex(f, preservesPartitioning)

    # -- end of the PySpark RDD surface block ------------------------------------------------------


def _parts(rdd: RDD):
    b = rdd._batch
    return b.table, b.layout, b.num_partitions


# -- helpers of the PySpark RDD surface ----------------------------------------------------------

_rdd_ids = itertools.count()


class EmptyRDDError(DStreamsError, ValueError):
    """An action that needs at least one element (reduce, max, stats...) met an empty RDD."""


class ZipError(DStreamsError, ValueError):
    """``zip`` of RDDs whose partitions do not line up."""


class Sampler:
    """PySpark's per-partition sampling, draw for draw, so a seeded sample picks the same elements.

    Partition ``i`` draws from ``random.Random(seed ^ i)`` after discarding ten draws (seeds of
    neighbouring partitions are close). Without replacement each element is kept when a uniform
    draw is below its fraction; with replacement it is repeated a Poisson(fraction) number of times.
    """

    def __init__(self, with_replacement: bool, seed: int | None):
        self.with_replacement = with_replacement
        self.seed = seed if seed is not None else random.randint(0, sys.maxsize)

    def _random(self, index: int) -> random.Random:
        rng = random.Random(self.seed ^ index)
        for _ in range(10):
            rng.randint(0, 1)
        return rng

    def in_range(self, index: int, elements: Iterable[Any], low: float, high: float) -> Iterator[Any]:
        """The elements whose uniform draw falls in [low, high) (``randomSplit``)."""
        rng = self._random(index)
        return (element for element in elements if low <= rng.random() < high)

    def sample(
        self, index: int, elements: Iterable[Any], fraction_of: Callable[[Any], float]
    ) -> Iterator[Any]:
        """The sampled elements of partition ``index`` (each with its fraction, see the class)."""
        rng = self._random(index)
        for element in elements:
            if self.with_replacement:
                yield from itertools.repeat(element, _poisson(rng, fraction_of(element)))
            elif rng.random() < fraction_of(element):
                yield element


def _poisson(rng: random.Random, mean: float) -> int:
    if mean < 20.0:  # Knuth: multiply uniforms until the product falls below e^-mean
        threshold, product, k = math.exp(-mean), rng.random(), 0
        while product > threshold:
            k += 1
            product *= rng.random()
        return k
    # Large means: count exponential inter-arrival times within one unit
    elapsed, k = rng.expovariate(mean), 0
    while elapsed < 1.0:
        k += 1
        elapsed += rng.expovariate(mean)
    return k


def sample_fraction(wanted: int, total: int, with_replacement: bool) -> float:
    """The sampling fraction that gives at least ``wanted`` of ``total`` elements almost always
    (Spark's bounds: a few standard deviations above ``wanted / total``)."""
    fraction = wanted / total
    if with_replacement:
        deviations = 9 if wanted < 12 else 5
        return fraction + deviations * math.sqrt(fraction / total)
    gamma = -math.log(0.00005) / total
    return min(1.0, fraction + gamma + math.sqrt(gamma * gamma + 2 * gamma * fraction))


def _countable(x: Any) -> bool:
    return x is not None and not (type(x) is float and math.isnan(x))


def histogram(partitions: list[list[Any]], buckets: Any) -> tuple[list[Any], list[int]]:
    """``RDD.histogram`` over elements grouped by partition (see there)."""
    if isinstance(buckets, int):
        if buckets < 1:
            raise ValueError("number of buckets must be >= 1")
        values = [x for part in partitions for x in part if _countable(x)]
        if not values:
            raise EmptyRDDError(
                "Can not reduce() empty RDD: histogram(n) needs numbers to place n buckets; "
                "pass the bucket edges instead, e.g. histogram([0, 10, 20])"
            )
        low, high = min(values), max(values)
        if low == high or buckets == 1:
            return [low, high], [len(values)]
        try:
            inc = (high - low) / buckets
        except TypeError:
            raise TypeError("Can not generate buckets with non-number in RDD") from None
        if math.isinf(inc):
            raise ValueError("Can not generate buckets with infinite value")
        # integer edges when they are exact
        inc = int(inc) if int(inc) * buckets == high - low else (high - low) * 1.0 / buckets
        edges = [i * inc + low for i in range(buckets)]
        edges.append(high)  # exactly the max, whatever the rounding of the steps
        return edges, _count_buckets(partitions, edges, inc)
    if isinstance(buckets, (list, tuple)):
        if len(buckets) < 2:
            raise ValueError("buckets should have more than one value")
        if any(not _countable(b) for b in buckets):
            raise ValueError("can not have None or NaN in buckets")
        if sorted(buckets) != list(buckets):
            raise ValueError("buckets should be sorted")
        if len(set(buckets)) != len(buckets):
            raise ValueError("buckets should not contain duplicated values")
        inc = None
        try:
            steps = [buckets[i + 1] - buckets[i] for i in range(len(buckets) - 1)]
        except TypeError:
            pass  # edges that are not numbers (strings...): bisect only
        else:
            if max(steps) - min(steps) < 1e-10:  # even steps: arithmetic instead of bisect
                inc = (buckets[-1] - buckets[0]) / (len(buckets) - 1)
        return list(buckets), _count_buckets(partitions, list(buckets), inc)
    raise TypeError("buckets should be a list or tuple or number(int or long)")


def _count_buckets(partitions: list[list[Any]], edges: list[Any], inc: Any) -> list[int]:
    low, high = edges[0], edges[-1]
    counts = [0] * len(edges)  # one spare slot: a value equal to the top edge lands there
    for part in partitions:
        for x in part:
            if not _countable(x) or x > high or x < low:
                continue
            slot = int((x - low) / inc) if inc is not None else bisect.bisect_right(edges, x) - 1
            counts[slot] += 1
    last = counts.pop()
    counts[-1] += last  # the last bucket includes its upper edge
    return counts


_CODECS = {"GzipCodec": (gzip.open, ".gz"), "BZip2Codec": (bz2.open, ".bz2")}


def _codec(name: str | None) -> tuple[Callable[..., Any], str]:
    if name is None:
        return open, ""
    found = _CODECS.get(name.rsplit(".", 1)[-1])
    if found is None:
        raise NotSupportedError(
            f"compression codec {name!r} is not supported; use "
            "'org.apache.hadoop.io.compress.GzipCodec' or '...BZip2Codec', or None"
        )
    return found


def _write_parts(
    path: str,
    parts: list[list[Any]],
    write: Callable[[Any, list[Any]], Any],
    opener: Callable[..., Any],
    suffix: str,
) -> None:
    if os.path.exists(path):
        raise OutputExistsError(f"Output directory {path} already exists: remove it or choose another path")
    os.makedirs(path)
    for i, part in enumerate(parts):
        with opener(os.path.join(path, f"part-{i:05d}{suffix}"), "wb") as fh:
            write(fh, part)
    with open(os.path.join(path, "_SUCCESS"), "wb"):
        pass


class OutputExistsError(DStreamsError, FileExistsError):
    """``saveAsTextFile``/``saveAsPickleFile`` into a directory that already exists (as Spark refuses)."""
