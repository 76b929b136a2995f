"""Stateful operators: cost against window length, against a hand-written loop, against state size.

  window    sliding word count ``reduceByKeyAndWindow(add, sub, W, 1)``: ms per batch with a window
            of 100 batches against 10 (target: at most 1.3x)
  update    running word count ``updateStateByKey(lambda new, old: sum(new) + (old or 0))`` over
            batches of 1M words, against a hand-written Polars loop keeping the same state (target:
            at least 0.5x its throughput)
  mapstate  ``mapWithState`` with 10M keys in state against 100k, same batches (1M records, keys
            uniform over 100k keys, spread over the whole state); the Python function and the
            native (Polars) spec (target: at most 1.5x)

Every variant runs in its own interpreter (``_common.Worker``) on a ManualClock, so only processing
is timed; warm-up batches (filling the window, loading the initial state) are not timed, and the
timed runs of the variants of one benchmark are interleaved.

    .venv/bin/python benchmarks/stateful.py                              # all three (a few minutes)
    .venv/bin/python benchmarks/stateful.py window update --lines 2000 --timed 3 --repeats 1   # smoke
    .venv/bin/python benchmarks/stateful.py mapstate --small-keys 1000 --large-keys 100000
"""

from __future__ import annotations

import argparse
import operator
import os
import sys
import time
import warnings
from typing import Any

import _common
import polars as pl
import pyarrow as pa

_NEWEST = pl.CompatLevel.newest()


# ---------------------------------------------------------------------------------------------
# Data


def _words(args: argparse.Namespace, batches: int) -> list[pa.Table]:
    """Zipf text batches (``value`` column); a few distinct batches, cycled."""
    distinct = _common.zipf_tables(min(batches, args.distinct), args.lines, vocabulary=args.vocabulary)
    return [distinct[i % len(distinct)] for i in range(batches)]


def _keys(n_keys: int, hot: int, records: int, batch: int) -> pa.Table:
    """``records`` (key, 1) pairs; keys uniform over ``hot`` keys spread evenly over ``[0, n_keys)``.

    Every batch touches the same number of distinct keys whatever the state's size, so the
    variants differ only in how much state the lookups have to search.
    """
    index = pl.int_range(batch * records, (batch + 1) * records, eager=True, dtype=pl.UInt64)
    keys = ((index.hash(7) % hot) * (n_keys // hot)).cast(pl.Int64)
    return pl.DataFrame({"key": keys, "value": pl.repeat(1, records, eager=True, dtype=pl.Int64)}).to_arrow()


# ---------------------------------------------------------------------------------------------
# Variants: each builds (advance, close); advance(n) processes n more batches


def _window_variant(args: argparse.Namespace, window: int) -> tuple[_common.Runner, int]:
    warmup = window + args.warmup
    queue = _words(args, warmup + args.timed * args.repeats)

    def build(ssc):
        pairs = ssc.queueStream(queue).flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
        return pairs.reduceByKeyAndWindow(operator.add, operator.sub, window, 1)

    return _common.engine_runner(build, lambda rdd: rdd.toArrow()), warmup


def _update_engine(args: argparse.Namespace) -> tuple[_common.Runner, int]:
    queue = _words(args, args.warmup + args.timed * args.repeats)

    def build(ssc):
        pairs = ssc.queueStream(queue).flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
        return pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))

    return _common.engine_runner(build, lambda rdd: rdd.toArrow()), args.warmup


def _update_loop(args: argparse.Namespace) -> tuple[_common.Runner, int]:
    """The same running count, written by hand: count the batch, merge into the state, emit it."""
    pending = iter(_words(args, args.warmup + args.timed * args.repeats))
    state = pl.DataFrame(schema={"key": pl.String, "value": pl.Int64})

    def advance(n: int) -> None:
        nonlocal state
        for _ in range(n):
            lines = pl.from_arrow(next(pending)).lazy()  # type: ignore[union-attr]
            words = lines.select(pl.col("value").str.split(" ").alias("key")).explode("key")
            counts = words.group_by("key").agg(pl.len().cast(pl.Int64).alias("value"))
            state = pl.concat([state.lazy(), counts]).group_by("key").agg(pl.col("value").sum()).collect()
            state.to_arrow(compat_level=_NEWEST)  # emitted whole, as updateStateByKey does

    return (advance, lambda: None), args.warmup


def _mapstate_variant(args: argparse.Namespace, kind: str, n_keys: int) -> tuple[_common.Runner, int]:
    from dstreams.mapstate import StateSpec

    batches = [_keys(n_keys, args.small_keys, args.records, b) for b in range(args.distinct)]
    queue = [batches[i % len(batches)] for i in range(args.warmup + args.timed * args.repeats)]
    initial = pl.DataFrame(
        {
            "key": pl.int_range(0, n_keys, eager=True),
            "value": pl.repeat(0, n_keys, eager=True, dtype=pl.Int64),
        }
    )
    if kind == "python":

        def count(key, value, state):
            total = state.getOption() + value
            state.update(total)
            return total

        spec = StateSpec.function(count).initialState(initial.to_arrow())

        def build(ssc):
            return ssc.queueStream(queue).mapWithState(spec)

    else:
        spec = StateSpec.native(
            agg={"n": pl.col("value").sum()},
            update={"count": pl.col("count").fill_null(0) + pl.col("n")},
        ).initialState(initial.rename({"value": "count"}))

        def build(ssc):
            return ssc.queueStream(queue).to_rows().mapWithState(spec)

    return _common.engine_runner(build, lambda rdd: rdd.count()), args.warmup


def _runner(args: argparse.Namespace, variant: str) -> tuple[_common.Runner, int]:
    bench, _, option = variant.partition(":")
    if bench == "window":
        return _window_variant(args, int(option))
    if bench == "update":
        return _update_engine(args) if option == "engine" else _update_loop(args)
    kind, size = option.split("-")
    return _mapstate_variant(args, kind, args.small_keys if size == "small" else args.large_keys)


# ---------------------------------------------------------------------------------------------
# Worker and parent


def _serve(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", message="stateful operators keep their state in memory")
    setup_start = time.perf_counter()
    (advance, close), warmup = _runner(args, args.variant)

    def handle(command: str) -> dict[str, Any]:
        if command == "warmup":
            advance(warmup)
            return {"setup_seconds": time.perf_counter() - setup_start, "rss_mb": _common.rss_mb()}
        if command == "run":
            start, cpu = time.perf_counter(), time.process_time()
            advance(args.timed)
            return {
                "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu,
                "batches": args.timed,
            }
        close()
        return {"peak_rss_mb": _common.peak_rss_mb()}

    _common.serve(handle)


def _measure(args: argparse.Namespace, variants: list[str]) -> dict[str, dict[str, Any]]:
    workers = {
        v: _common.Worker([os.path.abspath(__file__), *sys.argv[1:], "--variant", v]) for v in variants
    }
    timings = {v: _common.Timings() for v in variants}
    info: dict[str, dict[str, Any]] = {}
    try:
        for v in variants:
            info[v] = workers[v].call("warmup")
        for r in range(args.repeats):
            for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
                got = workers[v].call("run")
                timings[v].add(got["seconds"], got["batches"], got["cpu_seconds"])
        for v in variants:
            info[v].update(workers[v].close())
        return {v: {**info[v], "timings": timings[v]} for v in variants}
    finally:
        for w in workers.values():
            w.kill()


_BENCHES = {
    "window": (["window:10", "window:100"], "window:100", "window:10", "at most 1.3"),
    "update": (["update:engine", "update:loop"], "update:loop", "update:engine", "at least 0.5 (throughput)"),
    "mapstate": (
        ["mapstate:python-small", "mapstate:python-large", "mapstate:native-small", "mapstate:native-large"],
        None,
        None,
        "at most 1.5",
    ),
}


def _report(bench: str, results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    rows = []
    for v, r in results.items():
        ms = _common.median(r["timings"].ms_per_batch())
        cpu = _common.median(r["timings"].cpu_ms_per_batch())
        rows.append([v, ms, cpu, r.get("setup_seconds", float("nan")), r.get("peak_rss_mb", float("nan"))])
    print(
        _common.format_table(
            ["variant", "ms/batch (median)", "CPU ms/batch", "setup s", "peak RSS MiB"], rows
        )
    )
    wall = {v: _common.median(r["timings"].ms_per_batch()) for v, r in results.items()}
    cpu = {v: _common.median(r["timings"].cpu_ms_per_batch()) for v, r in results.items()}
    target = _BENCHES[bench][3]

    def show(label: str, num: str, den: str) -> None:
        print(
            f"{label}: {_common.ratio(wall[num], wall[den]):.2f} by wall time, "
            f"{_common.ratio(cpu[num], cpu[den]):.2f} by CPU time ({target})"
        )

    if len(results) < 2:
        return
    if bench == "window":
        show("window 100 / window 10, ms per batch", "window:100", "window:10")
    elif bench == "update":
        show("updateStateByKey / hand-written loop, throughput", "update:loop", "update:engine")
    else:
        for kind in [
            k for k in ("python", "native") if f"mapstate:{k}-large" in wall and f"mapstate:{k}-small" in wall
        ]:
            label = f"mapWithState {kind}, {args.large_keys:,} / {args.small_keys:,} keys, ms per batch"
            show(label, f"mapstate:{kind}-large", f"mapstate:{kind}-small")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "benches", nargs="*", default=list(_BENCHES), help="window, update, mapstate (default all)"
    )
    p.add_argument("--lines", type=int, help="lines of 10 words per batch (window: 10,000; update: 100,000)")
    p.add_argument("--vocabulary", type=int, default=100_000)
    p.add_argument("--distinct", type=int, default=10, help="distinct batches generated, then cycled")
    p.add_argument("--timed", type=int, default=10, help="timed batches per repeat (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timed runs per variant (default 3)")
    p.add_argument("--warmup", type=int, default=3, help="untimed batches (after filling a window)")
    p.add_argument("--records", type=int, default=1_000_000, help="mapstate: records per batch")
    p.add_argument(
        "--small-keys",
        type=int,
        default=100_000,
        help="mapstate: the small state, and the keys every batch draws from",
    )
    p.add_argument("--large-keys", type=int, default=10_000_000, help="mapstate: the large state")
    p.add_argument("--only", help="run only the variants containing one of these (comma-separated) words")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.variant:
        if args.lines is None:
            args.lines = 10_000 if args.variant.startswith("window") else 100_000
        _serve(args)
        return
    unknown = [b for b in args.benches if b not in _BENCHES]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {list(_BENCHES)}")
    for bench in args.benches:
        print(f"== {bench} ==", flush=True)
        start = time.perf_counter()
        variants = [
            v for v in _BENCHES[bench][0] if not args.only or any(o in v for o in args.only.split(","))
        ]
        results = _measure(args, variants)
        _report(bench, results, args)
        print(f"({time.perf_counter() - start:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main()
