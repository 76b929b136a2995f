"""``queueStream``: batches taken from a Python collection (tests, demos, notebooks)."""

from __future__ import annotations

import collections
from typing import Any

import polars as pl
import pyarrow as pa

from dstreams.batch import Batch
from dstreams.dstream import InputDStream
from dstreams.errors import ConfigurationError
from dstreams.rdd import RDD


def to_batch(item: Any, default_partitions: int) -> Batch:
    """A queue item (list, RDD, Arrow table, Polars frame) as a batch."""
    if isinstance(item, RDD):
        return item._batch
    if isinstance(item, Batch):
        return item
    if isinstance(item, pa.Table):
        return Batch(item)
    if isinstance(item, pa.RecordBatch):
        return Batch(pa.Table.from_batches([item]))
    if isinstance(item, pl.DataFrame):
        return Batch(item.to_arrow(compat_level=pl.CompatLevel.newest()))
    if isinstance(item, pl.LazyFrame):
        return Batch(item.collect().to_arrow(compat_level=pl.CompatLevel.newest()))
    if isinstance(item, (str, bytes)) or not hasattr(item, "__iter__"):
        raise ConfigurationError(
            "queueStream items must be lists, RDDs, Arrow tables or Polars frames, "
            f"got {type(item).__name__}: {item!r:.60}; wrap single values in a list"
        )
    return Batch.from_elements(list(item), default_partitions)


class QueueInputDStream(InputDStream):
    """Each batch takes the next item (or all of them with ``oneAtATime=False``).

    The queue is copied when the stream is created, as in Spark; once it is empty every batch is
    ``default`` when given, else an empty batch (one empty partition, so ``count()`` gives 0).
    """

    reports_input_info = False  # as Spark's queue stream: streamIdToInputInfo() is {}, numRecords() 0

    def __init__(self, ssc, rdds, oneAtATime: bool = True, default: Any = None):
        super().__init__(ssc)
        n = ssc.sparkContext.defaultParallelism
        self._queue = collections.deque(to_batch(item, n) for item in rdds)
        self._one_at_a_time = oneAtATime
        self._default = None if default is None else to_batch(default, n)

    def explain_sample(self) -> Batch | None:
        """The next queued batch (or the default): what ``explain()`` takes the column types from."""
        return self._queue[0] if self._queue else self._default

    def _allocate(self, t: int) -> Batch | None:
        if not self._queue:
            return self._default if self._default is not None else Batch.empty(1)
        if self._one_at_a_time:
            return self._queue.popleft()
        from dstreams import ops

        items = list(self._queue)
        self._queue.clear()
        return Batch(*ops.union([(b.table, b.layout, b.num_partitions) for b in items]))
