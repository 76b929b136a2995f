"""Checkpointing: what it costs a running word count, how long a large state takes to save and restore.

  throughput  running word count ``flatMap -> map -> updateStateByKey(sum)`` over Zipf batches from
              a queue, without and with a checkpoint directory (state checkpoint every 10 batches):
              "on" as the queue is (replayable: only its position is journaled), "on+journal" as a
              source that is not (socket, Kafka: each batch's input is journaled and fsynced before
              it runs); words/s (target: at least 0.9x)
  state       a state of ``--keys`` keys (``updateStateByKey``, string keys): the time of a full
              state checkpoint (snapshot on the runner + Parquet + manifest), of an incremental one
              when ``--changed`` (1%) of the keys changed since the previous checkpoint (target: at
              most 0.1x the full one), and of recovery from the full table and ``--deltas`` deltas
              (``getOrCreate`` reads the checkpoint, ``start()`` restores it, the first batch runs)

Both run in this interpreter on a ManualClock, so only processing is timed; the throughput variants
are interleaved (off, on, on, off, ...) over fresh contexts, each warmed up on one batch.

    .venv/bin/python benchmarks/checkpoint.py                                  # both (a few minutes)
    .venv/bin/python benchmarks/checkpoint.py throughput --lines 10000 --batches 10 --repeats 1  # smoke
    .venv/bin/python benchmarks/checkpoint.py state --keys 100000
    .venv/bin/python benchmarks/checkpoint.py state --operator native   # mapWithState(StateSpec.native)
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
import warnings

import _common
import polars as pl
import pyarrow as pa

from dstreams import ManualClock, SparkConf, SparkContext, StateSpec, StreamingContext
from dstreams.state import StateSnapshot


def _context(conf: dict[str, str] | None = None) -> StreamingContext:
    spark_conf = SparkConf()
    for key, value in (conf or {}).items():
        spark_conf.set(key, value)
    return StreamingContext(SparkContext("local[1]", "bench", conf=spark_conf), 1, clock=ManualClock())


def _word_count(ssc: StreamingContext, tables: list[pa.Table], checkpoint: str | None, journal: bool) -> None:
    lines = ssc.queueStream(tables)
    lines._replayable = not journal  # journal: as a socket or Kafka source, its data goes to the journal
    pairs = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
    totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
    if checkpoint is not None:
        ssc.checkpoint(checkpoint)
        totals.checkpoint(10)
    totals.foreachRDD(lambda rdd: rdd.toArrow())


def _run_once(tables: list[pa.Table], checkpoint: str | None, journal: bool) -> float:
    ssc = _context()
    _word_count(ssc, tables, checkpoint, journal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssc.start()
    ssc.clock.advance(1)  # warm-up: first plans, first state
    started = time.perf_counter()
    for _ in range(len(tables) - 1):
        ssc.clock.advance(1)
    elapsed = time.perf_counter() - started
    ssc.stop()
    return elapsed


def throughput(args: argparse.Namespace) -> None:
    distinct = _common.zipf_tables(min(args.batches, 5), args.lines)
    tables = [distinct[i % len(distinct)] for i in range(args.batches)]
    words = args.lines * 10 * (args.batches - 1)
    root = tempfile.mkdtemp(prefix="dstreams-bench-", dir=args.dir)
    variants = ["off", "on", "on+journal"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    try:
        for r in range(args.repeats):
            for variant in variants[r % 3 :] + variants[: r % 3]:
                checkpoint = os.path.join(root, f"cp-{variant}-{r}") if variant != "off" else None
                times[variant].append(_run_once(tables, checkpoint, journal=variant == "on+journal"))
        journal = sum(
            os.path.getsize(os.path.join(d, f))
            for d, _, files in os.walk(os.path.join(root, "cp-on+journal-0", "journal"))
            for f in files
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\nRunning word count, {args.lines:,} lines x 10 words per batch, {args.batches - 1} timed batches"
    )
    print("| variant | words/s best | words/s median | ratio best | ratio median | ms/batch best |")
    print("|---|---|---|---|---|---|")
    best_off, median_off = min(times["off"]), statistics.median(times["off"])
    for variant in variants:
        best, median = min(times[variant]), statistics.median(times[variant])
        print(
            f"| checkpoint {variant} | {words / best:,.0f} | {words / median:,.0f} | {best_off / best:.2f} | "
            f"{median_off / median:.2f} | {best / (args.batches - 1) * 1000:.1f} |"
        )
    print(f"on+journal: journal kept at the end of a run {journal / 2**20:.1f} MiB")


def state(args: argparse.Namespace) -> None:
    root = tempfile.mkdtemp(prefix="dstreams-bench-", dir=args.dir)
    path = os.path.join(root, "cp")
    keys = args.keys
    native = args.operator == "native"
    step = max(1, round(1 / args.changed))  # every step-th key changes in each batch
    changes = [[(f"k{i}", 1) for i in range(r, keys, step)] for r in range(1 + args.deltas)]
    changes.append([("k1", 1), (f"new{keys}", 1)])
    if native:
        table = pl.select(
            __key=pl.format("k{}", pl.int_range(0, keys)),
            count=pl.int_range(0, keys, dtype=pl.UInt32),
            __touched=pl.lit(0, pl.Int64),
        ).to_arrow()
        queue: list = [pa.table({"word": [k for k, _ in batch]}) for batch in changes]
    else:
        table = pl.select(
            key=pl.format("k{}", pl.int_range(0, keys)), value=pl.int_range(0, keys, dtype=pl.Int64)
        ).to_arrow()
        queue = changes

    def create() -> StreamingContext:
        ssc = _context()
        stream = ssc.queueStream(queue)
        if native:
            spec = StateSpec.native(
                key="word", agg={"n": pl.len()}, update={"count": pl.col("count").fill_null(0) + pl.col("n")}
            )
            stream.mapWithState(spec).foreachRDD(lambda rdd: None)
        else:
            stream.updateStateByKey(lambda new, old: sum(new) + (old or 0)).foreachRDD(lambda rdd: None)
        return ssc

    def cut(ssc: StreamingContext) -> float:
        """A checkpoint after the batch just processed, written synchronously: snapshot, files, manifest."""
        started = time.perf_counter()
        ssc._checkpointer._cut(ssc.clock.now_ms(), wait=True)  # type: ignore[attr-defined]
        return time.perf_counter() - started

    try:
        ssc = StreamingContext.getOrCreate(path, create)
        holder = next(s for s in ssc._graph.streams if getattr(s, "_stateful", False))
        holder._state_restore(StateSnapshot(0, {"state": table}))  # as if it had been built up
        ssc.start()  # writes the first checkpoint (full)
        ssc.clock.advance(1)
        holder._changes.forget()  # as after a compaction: the next checkpoint is a full one
        before = _size(path)
        full_s = cut(ssc)
        size = _size(path) - before
        delta_s = []
        for _ in range(args.deltas):
            ssc.clock.advance(1)  # len(changes[i]) keys change
            delta_s.append(cut(ssc))
        ssc.stop()  # a crash: recovery reads the full table and the deltas on it
        started = time.perf_counter()
        ssc = StreamingContext.getOrCreate(path, create)
        read_s = time.perf_counter() - started
        ssc.start()
        ssc.clock.advance(1)
        recovery_s = time.perf_counter() - started
        holder = next(s for s in ssc._graph.streams if getattr(s, "_stateful", False))
        restored = holder._store.live_frame().height if native else holder._state.num_rows
        ssc.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    delta = statistics.median(delta_s)
    changed = len(changes[0])
    print(
        f"\n{args.operator}: state of {keys:,} keys ({restored:,} after recovery and one more batch), "
        f"full checkpoint {size / 2**20:.0f} MiB; {changed:,} keys ({changed / keys:.1%}) change between "
        "checkpoints"
    )
    print("| step | seconds |")
    print("|---|---|")
    print(f"| full checkpoint (snapshot + Parquet + manifest) | {full_s:.2f} |")
    print(
        f"| incremental checkpoint, {changed / keys:.1%} of keys changed (median of {len(delta_s)}) | "
        f"{delta:.3f} ({delta / full_s:.3f}x full) |"
    )
    print(
        f"| recovery: getOrCreate (read + check the full table and {len(delta_s)} deltas, apply them) | "
        f"{read_s:.2f} |"
    )
    print(f"| recovery: until the first batch after the restart is processed | {recovery_s:.2f} |")


def _size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "benchmarks", nargs="*", default=["throughput", "state"], choices=["throughput", "state"]
    )
    parser.add_argument("--lines", type=int, default=100_000, help="lines per batch (throughput)")
    parser.add_argument("--batches", type=int, default=31, help="batches per run, the first untimed")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--keys", type=int, default=10_000_000, help="keys in state (state)")
    parser.add_argument("--changed", type=float, default=0.01, help="share of keys changed per checkpoint")
    parser.add_argument("--deltas", type=int, default=3, help="incremental checkpoints after the full one")
    parser.add_argument(
        "--operator", choices=["updateStateByKey", "native"], default="updateStateByKey", help="(state)"
    )
    parser.add_argument("--dir", default=None, help="where checkpoints go (default: the temp dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name in args.benchmarks:
        {"throughput": throughput, "state": state}[name](args)


if __name__ == "__main__":
    main()
