"""Word count with only the native columnar API: every batch is one Polars plan, no Python per word.

The stream of lines comes from the built-in generator (Zipf-distributed words ``w0``, ``w1``...).
Each batch is a ``pyarrow.Table`` with one string column, ``value``; the operators below are
Polars expressions over its columns, and ``pprint`` shows each resulting row as a ``Row``::

    .venv/bin/python examples/wordcount_expressions.py --seconds 3

The Spark-style version of the same count is in ``examples/demo.py``.
"""

from __future__ import annotations

import argparse

import polars as pl

from dstreams import StreamingContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3, help="how long to run, one batch a second (3)")
    parser.add_argument("--rate", type=int, default=1000, help="lines per second, 10 words each (1000)")
    args = parser.parse_args(argv)

    ssc = StreamingContext(batchDuration=1)  # no SparkContext needed for the native API
    lines = ssc.generatorStream(kind="words", rate=args.rate, vocabulary=1000)

    words = lines.select(pl.col("value").str.split(" ").alias("word")).explode("word")
    counts = words.group_by("word").agg(pl.len().alias("count"))

    # The most frequent words, with their share of the batch's words.
    ranked = counts.with_columns(share=(pl.col("count") / pl.col("count").sum()).round(3)).pipe(
        lambda lf: lf.sort(["count", "word"], descending=[True, False])
    )
    ranked.pprint(5)

    # One summary row per batch.
    counts.select(
        pl.col("count").sum().alias("words"),
        pl.len().alias("distinct_words"),
    ).pprint()

    ssc.start()
    ssc.awaitTerminationOrTimeout(args.seconds)
    ssc.stop(stopGraceFully=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
