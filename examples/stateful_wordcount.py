"""A running word count that survives restarts: ``updateStateByKey`` plus a checkpoint directory.

Each batch reads the next line of a short text (a queue of one-line batches) and adds its words to
the totals kept by ``updateStateByKey``. The context is built in ``build_context`` and obtained
with ``StreamingContext.getOrCreate(checkpoint, build_context)``, the PySpark recovery pattern:

* the first run finds no checkpoint, calls ``build_context`` and writes checkpoints as it goes;
* a later run with the same ``--checkpoint`` directory does **not** call it: the graph, the totals
  and the position in the queue come back from the checkpoint, and the counts go on from there.

The clock is a :class:`dstreams.ManualClock`, saved with the checkpoint, so every run processes
exactly ``--batches`` batches and the output is the same each time. Try it::

    .venv/bin/python examples/stateful_wordcount.py --checkpoint /tmp/wc-checkpoint --batches 3
    .venv/bin/python examples/stateful_wordcount.py --checkpoint /tmp/wc-checkpoint --batches 3

The second run starts at batch 4 with the totals of the first. Delete the directory to start over.
Once the text is used up, batches are empty and the totals stay as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile

from dstreams import ManualClock, SparkContext, StreamingContext
from dstreams.rdd import RDD

TEXT = [
    "green tea in the morning",
    "black tea at noon",
    "green apples and black coffee",
    "tea again",
    "coffee in the evening",
    "no tea no coffee at night",
    "morning again",
]

TOP = 4  # words printed per batch, most frequent first


def add_counts(new_counts: list[int], total: int | None) -> int:
    """``updateStateByKey``'s function: this batch's counts of a word added to its running total.

    >>> add_counts([1, 1], None), add_counts([1], 4), add_counts([], 4)
    (2, 5, 4)
    """
    return sum(new_counts) + (total or 0)


def print_totals(time: dt.datetime, rdd: RDD) -> None:
    """One line per batch: the batch time and the leading words with their totals so far."""
    totals = sorted(rdd.collect(), key=lambda pair: (-pair[1], pair[0]))
    leaders = ", ".join(f"{word}={count}" for word, count in totals[:TOP])
    print(f"{time:%H:%M:%S}  {len(totals)} distinct words; most frequent: {leaders}", flush=True)


def build_context() -> StreamingContext:
    """The whole application; called only when the checkpoint directory holds no checkpoint yet."""
    print("no checkpoint yet: starting from the first line", flush=True)
    sc = SparkContext("local[2]", "stateful-wordcount")  # the totals live in two partitions, by word
    ssc = StreamingContext(sc, 1, clock=ManualClock())
    lines = ssc.queueStream([[line] for line in TEXT])  # one line per batch
    words = lines.flatMap(lambda line: line.split(" ")).map(lambda word: (word, 1))
    words.updateStateByKey(add_counts).foreachRDD(print_totals)
    return ssc


def main(argv: list[str] | None = None) -> int:
    default_dir = os.path.join(tempfile.gettempdir(), "dstreams-stateful-wordcount")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=default_dir, help=f"checkpoint directory ({default_dir})")
    parser.add_argument("--batches", type=int, default=3, help="batches to run before stopping (3)")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be at least 1")

    ssc = StreamingContext.getOrCreate(args.checkpoint, build_context)
    restored_at = ssc.clock.now_ms() / 1000  # 0 for a new context; a restored one resumes its clock
    if restored_at:
        print(f"restored from {args.checkpoint}: continuing after the batch of second {restored_at:g}")
    ssc.start()  # a recovered context resumes after its last checkpointed batch
    ssc.clock.advance(args.batches)  # returns once these batches are processed and checkpointed
    ssc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
