"""Word count per batch: the Spark-style program and the expression API against a plain Polars loop.

Every variant counts the words of the same in-memory Arrow batches (Zipf text, vocabulary 100,000,
10 words per line) and materialises each batch's counts as an Arrow table:

  a  Spark style: ``queueStream.flatMap(split).map((w, 1)).reduceByKey(add)`` + ``foreachRDD(toArrow)``
  b  expression API: ``select(str.split).explode().group_by().agg(pl.len())``, the same output
  c  a hand-written loop: ``pl.from_arrow(t).lazy().select(...).explode(...).group_by(...).agg(...)``
  c-ordered  the same loop with ``group_by(maintain_order=True)`` (what a and b promise)
  c-first  (not run by default) the same order as c-ordered, got another way: ``with_row_index``,
           ``group_by`` unordered with ``min(index)``, ``sort(index)``; a cheaper way the engine could keep

a and b run in a StreamingContext on a ManualClock, so only processing is timed (``clock.advance``
returns once the batch is done). Each variant runs in its own interpreter (its own peak memory),
warms up on the first batch, then loops over all batches ``--repeats`` times; the repeats of the
variants are interleaved, so load from other processes on a shared machine hits them alike.

    .venv/bin/python benchmarks/wordcount.py                            # the full run (make bench)
    .venv/bin/python benchmarks/wordcount.py --batches 3 --lines 10000  # a smoke run
    .venv/bin/python benchmarks/wordcount.py --profile b --lines 1000   # cProfile of the engine threads
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import _common
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

VARIANTS = {
    "a": "a: Spark style (flatMap/map/reduceByKey)",
    "b": "b: expression API (select/explode/group_by)",
    "c": "c: plain Polars loop",
    "c-ordered": "c-ordered: plain Polars loop, maintain_order=True",
    "c-first": "c-first: plain Polars loop, first-appearance order by row index",
}
_DEFAULT_VARIANTS = "a,b,c,c-ordered"
_NEWEST = pl.CompatLevel.newest()


# ---------------------------------------------------------------------------------------------
# The variants. Each gives (advance, close): advance(n) processes the next n batches.


def _sink(checks: list[tuple[int, int]]) -> Callable[[pa.Table], None]:
    """The output every variant ends with: the batch's counts as an Arrow table, checked later."""

    def take(table: pa.Table) -> None:
        checks.append((table.num_rows, pc.sum(table.column(table.num_columns - 1)).as_py() or 0))

    return take


def _spark_style(ssc, queue):
    lines = ssc.queueStream(queue)
    return lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)


def _expression_api(ssc, queue):
    words = ssc.queueStream(queue).select(pl.col("value").str.split(" ")).explode("value")
    return words.group_by("value").agg(pl.len())


def _polars_loop(queue: list[pa.Table], sink, order: str) -> _common.Runner:
    pending = iter(queue)

    def advance(n: int) -> None:
        for _ in range(n):
            lf = pl.from_arrow(next(pending)).lazy()  # type: ignore[union-attr]
            lf = lf.select(pl.col("value").str.split(" ")).explode("value")
            if order == "first":
                lf = lf.with_row_index("__first")
                grouped = lf.group_by("value").agg(pl.len(), pl.col("__first").min())
                counts = grouped.sort("__first").drop("__first").collect()
            else:
                counts = lf.group_by("value", maintain_order=order == "ordered").agg(pl.len()).collect()
            sink(counts.to_arrow(compat_level=_NEWEST))

    return advance, lambda: None


def _runner(variant: str, queue: list[pa.Table], sink) -> _common.Runner:
    if variant == "a":
        return _common.engine_runner(lambda ssc: _spark_style(ssc, queue), lambda rdd: sink(rdd.toArrow()))
    if variant == "b":
        return _common.engine_runner(lambda ssc: _expression_api(ssc, queue), lambda rdd: sink(rdd.toArrow()))
    return _polars_loop(queue, sink, {"c": "any", "c-ordered": "ordered", "c-first": "first"}[variant])


# ---------------------------------------------------------------------------------------------
# Worker: one variant in this interpreter, driven by the parent (warmup, run, run..., stop)


def _serve(args: argparse.Namespace) -> None:
    tables = _common.load_tables(args.data)
    warmup = tables[: args.warmup]
    # The queue holds references, so repeating the batches costs no memory.
    queue = warmup + tables * args.repeats
    checks: list[tuple[int, int]] = []
    rss_before = _common.rss_mb()
    advance, close = _runner(args.variant, queue, _sink(checks))
    spent = 0.0

    def handle(command: str) -> dict[str, Any]:
        nonlocal spent
        if command == "warmup":
            advance(len(warmup))
            return {}
        if command == "run":
            done, capped, start, cpu = 0, False, time.perf_counter(), time.process_time()
            for _ in tables:
                advance(1)
                done += 1
                if spent + time.perf_counter() - start > args.time_cap:
                    capped = True
                    break
            elapsed = time.perf_counter() - start
            spent += elapsed
            return {
                "seconds": elapsed,
                "cpu_seconds": time.process_time() - cpu,
                "batches": done,
                "capped": capped,
            }
        close()
        return {
            "rss_before_mb": rss_before,
            "peak_rss_mb": _common.peak_rss_mb(),
            "checks": checks[len(warmup) :],
        }

    _common.serve(handle)


def _measure(args: argparse.Namespace, variants: list[str], data: str) -> dict[str, dict[str, Any]]:
    """Run the variants' repeats interleaved (rotating who goes first), each in its own worker."""
    workers = {v: _common.Worker(_worker_argv(args, v, data)) for v in variants}
    timings = {v: _common.Timings() for v in variants}
    try:
        for v in variants:  # one at a time, so no warm-up overlaps another's
            workers[v].call("warmup")
        for r in range(args.repeats):
            order = variants[r % len(variants) :] + variants[: r % len(variants)]
            for v in order:
                if timings[v].capped:
                    continue
                got = workers[v].call("run")
                timings[v].add(got["seconds"], got["batches"], got["cpu_seconds"])
                timings[v].capped = got["capped"]
            print(f"  repeat {r + 1}/{args.repeats} done", flush=True)
        return {v: {**workers[v].close(), "timings": timings[v]} for v in variants}
    finally:
        for w in workers.values():
            w.kill()


# ---------------------------------------------------------------------------------------------
# Profiling: cProfile on the scheduler's threads, warm-up excluded


def _profile(args: argparse.Namespace, tables: list[pa.Table]) -> None:
    from dstreams import scheduler

    profilers: dict[str, cProfile.Profile] = {}
    active = [False]

    def profiled(method: Callable, thread: str) -> Callable:
        # cProfile only sees the thread that enabled it: switch it on inside the engine's threads.
        def wrapper(self, *a):
            if not active[0]:
                return method(self, *a)
            prof = profilers.setdefault(thread, cProfile.Profile())
            prof.enable()
            try:
                return method(self, *a)
            finally:
                prof.disable()

        return wrapper

    # The runner thread processes batches, the timer thread generates them.
    for name, thread in (("_process", "runner"), ("_generate", "timer")):
        if not hasattr(scheduler.Scheduler, name):
            sys.exit(f"--profile: dstreams.scheduler.Scheduler has no {name}() any more; update _profile()")
        setattr(scheduler.Scheduler, name, profiled(getattr(scheduler.Scheduler, name), thread))
    checks: list[tuple[int, int]] = []
    advance, close = _runner(args.profile, tables[: args.warmup] + tables * args.repeats, _sink(checks))
    advance(args.warmup)
    active[0] = True
    start = time.perf_counter()
    advance(len(tables) * args.repeats)
    elapsed = time.perf_counter() - start
    active[0] = False
    close()
    n = len(tables) * args.repeats
    print(
        f"profile of variant {args.profile}: {n} batches of {args.lines} lines, "
        f"{1000 * elapsed / n:.3f} ms/batch under the profiler"
    )
    stats = None
    for prof in profilers.values():
        stats = pstats.Stats(prof) if stats is None else stats.add(prof)
    if stats is None:
        sys.exit("--profile: no batch ran on the profiled scheduler methods")
    if args.profile_out:
        stats.dump_stats(args.profile_out)
        print(f"stats written to {args.profile_out} (python -m pstats {args.profile_out})")
    _print_split(stats, n)
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\n==== top {args.profile_top} by {key} ====")
        stats.sort_stats(key).print_stats(args.profile_top)


def _print_split(stats: pstats.Stats, batches: int) -> None:
    """Per batch: time inside Polars' native calls vs everything else (the engine's Python)."""
    native = {"collect": 0.0, "to_arrow": 0.0}
    for (_, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        for key in native:
            if name.startswith(f"<method '{key}' of 'builtins.Py"):
                native[key] += own
    total = stats.total_tt  # type: ignore[attr-defined]
    rest = total - sum(native.values())
    print(
        f"per batch: {1000 * total / batches:.3f} ms profiled = Polars collect "
        f"{1000 * native['collect'] / batches:.3f} + to_arrow {1000 * native['to_arrow'] / batches:.3f} "
        f"+ Python {1000 * rest / batches:.3f} (the profiler inflates the Python part)"
    )


# ---------------------------------------------------------------------------------------------
# Parent: generate, run each variant in a fresh interpreter, print the table


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20, help="timed batches per repeat (default 20)")
    p.add_argument("--lines", type=int, default=100_000, help="lines per batch (default 100,000)")
    p.add_argument("--words-per-line", type=int, default=10)
    p.add_argument("--vocabulary", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5, help="timed passes over all batches (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed batches first (default 1)")
    p.add_argument(
        "--variants",
        default=_DEFAULT_VARIANTS,
        help=f"comma-separated, from {', '.join(VARIANTS)} (default {_DEFAULT_VARIANTS})",
    )
    p.add_argument("--skip-a", action="store_true", help="leave out variant a")
    p.add_argument(
        "--time-cap",
        type=float,
        default=120.0,
        help="stop a variant's timed loops after this many seconds (default 120; a without the tracer)",
    )
    p.add_argument("--profile", choices=["a", "b"], help="profile one engine variant in-process instead")
    p.add_argument("--profile-top", type=int, default=30, help="functions to print per ordering")
    p.add_argument("--profile-out", help="also write the pstats file here")
    # worker mode (used by the parent)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warmup < 0 or args.batches < 1 or args.repeats < 1 or args.lines < 1:
        p.error("--batches, --repeats and --lines must be >= 1, --warmup >= 0")
    return args


def _worker_argv(args: argparse.Namespace, variant: str, data: str) -> list[str]:
    return [
        os.path.abspath(__file__),
        "--variant",
        variant,
        "--data",
        data,
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--time-cap",
        str(args.time_cap),
    ]


def _tracer_status() -> str:
    try:
        from dstreams import tracing  # noqa: F401
    except ImportError:
        return "absent (Spark-style lambdas run row-wise in Python)"
    return "present"


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.variant:
        _serve(args)
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if args.skip_a:
        variants = [v for v in variants if v != "a"]

    start = time.perf_counter()
    tables = _common.zipf_tables(
        args.batches,
        args.lines,
        vocabulary=args.vocabulary,
        words_per_line=args.words_per_line,
        seed=args.seed,
    )
    words_per_batch = args.lines * args.words_per_line
    print(
        f"wordcount: {args.batches} batches x {args.lines:,} lines x {args.words_per_line} words "
        f"(vocabulary {args.vocabulary:,}, Zipf), generated in {time.perf_counter() - start:.1f} s; "
        f"repeats {args.repeats}, warm-up {args.warmup} batch(es); "
        f"polars {pl.__version__}, pyarrow {pa.__version__}, tracer {_tracer_status()}"
    )
    if args.profile:
        _profile(args, tables)
        return

    with tempfile.TemporaryDirectory(prefix="dstreams-bench-") as tmp:
        data = os.path.join(tmp, "batches.arrow")
        _common.save_tables(tables, data)
        del tables
        print(f"variants {', '.join(variants)}, repeats interleaved", flush=True)
        results = _measure(args, variants, data)

    _check(results, words_per_batch)
    print()
    print(_summary(results, words_per_batch))
    print(
        f"\nwords/s over the timed batches, best and median of {args.repeats} repeats; ratios to c's "
        "best and median; CPU = process CPU time, all threads; peak RSS = ru_maxrss of the variant's "
        "own interpreter (includes the input batches); growth = peak minus RSS after loading them. "
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end."
    )


def _check(results: dict[str, dict[str, Any]], words_per_batch: int) -> None:
    """Every variant must find the same number of distinct words and all the words, batch by batch."""
    reference = None
    for variant, r in results.items():
        checks = [tuple(c) for c in r["checks"]]
        bad = [c for c in checks if c[1] != words_per_batch]
        if bad:
            raise SystemExit(f"variant {variant} counted {bad[0][1]} words in a batch, not {words_per_batch}")
        if reference is None:
            reference = (variant, checks)
        elif checks[: len(reference[1])] != reference[1][: len(checks)]:  # a capped variant did fewer
            raise SystemExit(
                f"variants {reference[0]} and {variant} disagree on the distinct words per batch"
            )


def _summary(results: dict[str, dict[str, Any]], words_per_batch: int) -> str:
    rates = {}
    for variant, r in results.items():
        t = r["timings"]
        rates[variant] = (t.rates(words_per_batch), t.ms_per_batch(), t.cpu_ms_per_batch())
    base = max(rates["c"][0]) if "c" in rates else float("nan")
    base_median = _common.median(rates["c"][0]) if "c" in rates else float("nan")
    rows = []
    for variant, r in results.items():
        per_s, ms, cpu_ms = rates[variant]
        name = VARIANTS[variant] + (" (time cap hit)" if r["timings"].capped else "")
        rows.append(
            [
                name,
                max(per_s),
                _common.median(per_s),
                _common.ratio(max(per_s), base),
                _common.ratio(_common.median(per_s), base_median),
                min(ms),
                _common.median(cpu_ms),
                r["peak_rss_mb"],
                r["peak_rss_mb"] - r["rss_before_mb"],
            ]
        )
    header = [
        "variant",
        "words/s best",
        "words/s median",
        "ratio to c (best)",
        "ratio to c (median)",
        "ms/batch best",
        "CPU ms/batch median",
        "peak RSS MiB",
        "growth MiB",
    ]
    return _common.format_table(header, rows)


if __name__ == "__main__":
    main()
