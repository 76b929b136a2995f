"""The dstreams demo: a live word count on a built-in stream of words, written two ways.

No server and no data to download: ``ssc.generatorStream(kind="words")`` produces lines of words
drawn from a Zipf distribution (``w0`` is the most frequent word). The job runs on the system
clock with 1-second batches and counts words in every batch

* Spark style: ``flatMap`` / ``map`` / ``reduceByKey`` with lambdas, printed with ``pprint(5)``;
* expression style: Polars expressions (``select`` / ``explode`` / ``group_by().agg()``), the
  batch handed to ``foreach_batch`` as a ``pyarrow.Table``.

Both print the five most frequent words of each batch, so their counts agree. Run it with::

    make demo                                   # or: .venv/bin/python examples/demo.py --batches 4
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading

import polars as pl
import pyarrow as pa

from dstreams import SparkContext, StreamingContext, StreamingListener

TOP = 5


def print_top_words(time: dt.datetime, table: pa.Table) -> None:
    """The expression-style output: one line per batch, ``word=count`` pairs."""
    ranked = ", ".join(f"{row['word']}={row['count']}" for row in table.to_pylist())
    print(f"expression API, {time:%H:%M:%S}: {ranked}\n", flush=True)


class BatchCounter(StreamingListener):
    """Records each finished batch's processing time; ``finished`` is set after the ``n``-th."""

    def __init__(self, n: int):
        self.n = n
        self.processing_ms: list[int] = []
        self.finished = threading.Event()

    def onBatchCompleted(self, batchCompleted) -> None:
        self.processing_ms.append(batchCompleted.batchInfo().processingDelay())
        if len(self.processing_ms) >= self.n:
            self.finished.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=4, help="how many 1-second batches to run (4)")
    parser.add_argument("--rate", type=int, default=2000, help="lines per second, 10 words each (2000)")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be at least 1")

    sc = SparkContext("local[2]", "dstreams-demo")
    ssc = StreamingContext(sc, 1)  # 1-second batches on the system clock
    lines = ssc.generatorStream(kind="words", rate=args.rate, vocabulary=1000)

    # Spark style: PySpark's word count, then the most frequent words first.
    counts = (
        lines.flatMap(lambda line: line.split(" "))
        .map(lambda word: (word, 1))
        .reduceByKey(lambda a, b: a + b)
    )
    counts.transform(lambda rdd: rdd.sortBy(lambda pair: (-pair[1], pair[0]))).pprint(TOP)

    # Expression style: the same count as one Polars plan per batch.
    top_words = (
        lines.select(pl.col("value").str.split(" ").alias("word"))
        .explode("word")
        .group_by("word")
        .agg(pl.len().alias("count"))
        .pipe(lambda lf: lf.sort(["count", "word"], descending=[True, False]).head(TOP))
    )
    top_words.foreach_batch(print_top_words)

    counter = BatchCounter(args.batches)
    ssc.addStreamingListener(counter)
    ssc.start()
    try:
        while not counter.finished.is_set():
            ssc.awaitTerminationOrTimeout(0.1)  # re-raises the error of a failed batch, as Spark
    finally:
        ssc.stop(stopGraceFully=True)

    mean_ms = sum(counter.processing_ms) / len(counter.processing_ms)
    print(f"{len(counter.processing_ms)} batches of {args.rate} lines, {mean_ms:.0f} ms of processing each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
