"""A word count that drops the words of a broadcast exclude list and counts them in an accumulator.

Each batch reads the next line of a short text. The words of the broadcast list (``a``, ``the``...)
are dropped and added to an accumulator; the others are counted and printed with the running number
of dropped words::

    .venv/bin/python examples/broadcast_accumulators.py --checkpoint /tmp/bc-checkpoint --batches 3
    .venv/bin/python examples/broadcast_accumulators.py --checkpoint /tmp/bc-checkpoint --batches 3

Broadcasts and accumulators are not part of a checkpoint's state. A program restored by
``StreamingContext.getOrCreate`` gets its graph back, not the objects its functions made, so both
are made *lazily*: ``exclude_list(sc)`` and ``dropped_counter(sc)`` create them on first use in
each process and return the same ones afterwards. The second run above does not call
``build_context``; its first batch makes the broadcast and a new accumulator, which counts from 0
again (as in Spark: an accumulator's value is not recovered). Delete the directory to start over.

The clock is a :class:`dstreams.ManualClock`, so each run processes exactly ``--batches`` batches
and prints the same lines every time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile

from dstreams import Accumulator, Broadcast, ManualClock, SparkContext, StreamingContext
from dstreams.rdd import RDD

TEXT = [
    "the cat sat on the mat",
    "a dog and a cat",
    "the dog ran to the park",
    "a cat in the park",
    "cats and dogs",
    "the end",
]

EXCLUDED = ["a", "an", "and", "the", "to", "on", "in"]

_shared: dict[str, object] = {}  # this process's broadcast and accumulator, made on first use


def exclude_list(sc: SparkContext) -> Broadcast[list[str]]:
    """The broadcast exclude list, created on first use (again after a restore from a checkpoint)."""
    if "exclude" not in _shared:
        print("creating the exclude list broadcast", flush=True)
        _shared["exclude"] = sc.broadcast(EXCLUDED)
    return _shared["exclude"]  # type: ignore[return-value]


def dropped_counter(sc: SparkContext) -> Accumulator[int]:
    """The accumulator of dropped words, created on first use with the value 0."""
    if "dropped" not in _shared:
        _shared["dropped"] = sc.accumulator(0)
    return _shared["dropped"]  # type: ignore[return-value]


def count_kept_words(time: dt.datetime, rdd: RDD[tuple[str, int]]) -> None:
    """Drop the excluded words (counting them), count the others, print one line for the batch."""
    excluded = exclude_list(rdd.context)
    dropped = dropped_counter(rdd.context)

    def keep(pair: tuple[str, int]) -> bool:
        if pair[0] in excluded.value:
            dropped.add(pair[1])
            return False
        return True

    counts = sorted(rdd.filter(keep).collect())
    words = ", ".join(f"{word}={n}" for word, n in counts) or "(none)"
    print(f"{time:%H:%M:%S}  {words}  | dropped so far: {dropped.value}", flush=True)


def build_context() -> StreamingContext:
    """The whole application; called only when the checkpoint directory holds no checkpoint yet."""
    print("no checkpoint yet: starting from the first line", flush=True)
    sc = SparkContext("local[1]", "broadcast-accumulators")
    ssc = StreamingContext(sc, 1, clock=ManualClock())
    lines = ssc.queueStream([[line] for line in TEXT])  # one line per batch
    pairs = lines.flatMap(lambda line: line.split(" ")).map(lambda word: (word, 1))
    pairs.reduceByKey(lambda a, b: a + b).foreachRDD(count_kept_words)
    return ssc


def main(argv: list[str] | None = None) -> int:
    default_dir = os.path.join(tempfile.gettempdir(), "dstreams-broadcast-accumulators")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=default_dir, help=f"checkpoint directory ({default_dir})")
    parser.add_argument("--batches", type=int, default=3, help="batches to run before stopping (3)")
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error("--batches must be at least 1")

    ssc = StreamingContext.getOrCreate(args.checkpoint, build_context)
    ssc.start()
    ssc.clock.advance(args.batches)  # returns once these batches are processed (raises if one failed)
    ssc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
