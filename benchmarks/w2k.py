"""W2k: parse ``"k<id> <value>"`` records the PySpark way, then a running sum or a per-batch sum.

Each batch holds ``--records`` lines ``"k<id> <value>"`` (ids uniform over ``--ids``, values in
0..999): with the defaults, 100,000 records over 1,000,000 ids, so after 20 batches the running
state holds about 865,000 keys. Variants, each in its own interpreter (``_common.Worker``), timed
runs interleaved:

  spark-update  ``map(lambda line: line.split(" ")).map(lambda kv: (kv[0], int(kv[1])))``
                ``.updateStateByKey(lambda new, old: sum(new) + (old or 0))``, the state emitted
                as Arrow every batch (``rdd.toArrow()``)
  loop-update   the same with Polars by hand: split and cast, group_by sum, merge into the state
                (concat + group_by sum), emit the state as Arrow
  spark-reduce  the same parse, then ``reduceByKey(lambda a, b: a + b)``, emitted as Arrow
  loop-reduce   the same with Polars by hand
  loop-*-ordered  the loops with ``group_by(..., maintain_order=True)``: keys in the order the
                engine promises (PySpark's with one partition: the state's keys, then new keys by
                first appearance), so the price of that promise shows apart from the engine's own

Ratios are throughputs over the plain loop's (target: at least 0.7) and over the ordered loop's.
The engine runs on a ManualClock, so only processing is timed.

    .venv/bin/python benchmarks/w2k.py                # 20 batches: 2 warm-up, 3 x 6 timed
    .venv/bin/python benchmarks/w2k.py --quick        # a smoke run of a few seconds
    .venv/bin/python benchmarks/w2k.py --profile spark-update   # cProfile of one variant, in-process
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any

import _common
import polars as pl
import pyarrow as pa

_NEWEST = pl.CompatLevel.newest()
VARIANTS = ["spark-update", "loop-update", "loop-update-ordered", "spark-reduce", "loop-reduce",
            "loop-reduce-ordered"]  # fmt: skip


def w2k_tables(batches: int, records: int, ids: int, seed: int = 0) -> list[pa.Table]:
    """``batches`` Arrow tables of ``records`` lines ``"k<id> <value>"`` (``value: string_view``).

    >>> w2k_tables(1, 2, 10)[0].column("value").to_pylist()
    ['k5 608', 'k4 746']
    """
    out = []
    for b in range(batches):
        index = pl.int_range(b * records, (b + 1) * records, eager=True, dtype=pl.UInt64)
        key = index.hash(seed) % ids
        value = index.hash(seed + 1) % 1000
        line = pl.select(pl.format("k{} {}", key, value).alias("value"))
        out.append(line.to_arrow(compat_level=_NEWEST))
    return out


# ---------------------------------------------------------------------------------------------
# Variants: each returns advance(n), which processes the next n batches


def _spark(queue: list[pa.Table], stateful: bool):
    def build(ssc):
        pairs = ssc.queueStream(queue).map(lambda line: line.split(" ")).map(lambda kv: (kv[0], int(kv[1])))
        if stateful:
            return pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        return pairs.reduceByKey(lambda a, b: a + b)

    advance, _close = _common.engine_runner(build, lambda rdd: rdd.toArrow())
    return advance


def _parse(table: pa.Table) -> pl.LazyFrame:
    parts = pl.col("value").str.split(" ")
    lines = pl.from_arrow(table).lazy()  # type: ignore[union-attr]
    return lines.select(parts.list.get(0).alias("key"), parts.list.get(1).cast(pl.Int64).alias("value"))


def _loop(queue: list[pa.Table], stateful: bool, ordered: bool = False):
    pending = iter(queue)
    state = pl.DataFrame(schema={"key": pl.String, "value": pl.Int64})

    def advance(n: int) -> None:
        nonlocal state
        for _ in range(n):
            sums = _parse(next(pending)).group_by("key", maintain_order=ordered).agg(pl.col("value").sum())
            if stateful:
                merged = pl.concat([state.lazy(), sums]).group_by("key", maintain_order=ordered)
                state = merged.agg(pl.col("value").sum()).collect()
                state.to_arrow(compat_level=_NEWEST)  # emitted whole, as updateStateByKey does
            else:
                sums.collect().to_arrow(compat_level=_NEWEST)

    return advance


def _advance_for(variant: str, queue: list[pa.Table]):
    kind, op, *ordered = variant.split("-")
    if kind == "spark":
        return _spark(queue, op == "update")
    return _loop(queue, op == "update", bool(ordered))


# ---------------------------------------------------------------------------------------------
# Worker and parent


def _batches(args: argparse.Namespace) -> int:
    return args.warmup + args.timed * args.repeats


def _serve(args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore", message="stateful operators keep their state in memory")
    advance = _advance_for(args.variant, _common.load_tables(args.data))

    def handle(command: str) -> dict[str, Any]:
        if command == "warmup":
            advance(args.warmup)
            return {"rss_mb": _common.rss_mb()}
        if command == "run":
            start, cpu = time.perf_counter(), time.process_time()
            advance(args.timed)
            return {
                "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu,
                "batches": args.timed,
            }
        return {"peak_rss_mb": _common.peak_rss_mb()}

    _common.serve(handle)


def _measure(args: argparse.Namespace, variants: list[str]) -> dict[str, _common.Timings]:
    workers = {
        v: _common.Worker([os.path.abspath(__file__), *sys.argv[1:], "--variant", v]) for v in variants
    }
    timings = {v: _common.Timings() for v in variants}
    try:
        for v in variants:
            workers[v].call("warmup")
        for r in range(args.repeats):  # interleaved, starting one variant later each repeat
            for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
                got = workers[v].call("run")
                timings[v].add(got["seconds"], got["batches"], got["cpu_seconds"])
        for v in variants:
            workers[v].close()
        return timings
    finally:
        for w in workers.values():
            w.kill()


def _report(args: argparse.Namespace, timings: dict[str, _common.Timings]) -> None:
    best = {v: max(t.rates(args.records)) for v, t in timings.items()}
    med = {v: _common.median(t.rates(args.records)) for v, t in timings.items()}
    rows = []
    for v, t in timings.items():
        loop = "loop-" + v.split("-")[1]
        rows.append(
            [
                v,
                best[v],
                med[v],
                _common.ratio(best[v], best.get(loop, float("nan"))),
                _common.ratio(med[v], med.get(loop, float("nan"))),
                _common.ratio(med[v], med.get(loop + "-ordered", float("nan"))),
                min(t.ms_per_batch()),
                _common.median(t.cpu_ms_per_batch()),
            ]
        )
    header = ["variant", "records/s best", "records/s median", "ratio to loop (best)",
              "ratio to loop (median)", "ratio to ordered loop (median)", "ms/batch best",
              "CPU ms/batch median"]  # fmt: skip
    print(_common.format_table(header, rows))


def _profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    advance = _advance_for(args.profile, w2k_tables(_batches(args), args.records, args.ids))
    advance(args.warmup)
    profiler = cProfile.Profile()
    profiler.enable()
    advance(args.timed * args.repeats)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100_000, help="records per batch (default 100,000)")
    p.add_argument("--ids", type=int, default=1_000_000, help="distinct ids keys are drawn from")
    p.add_argument("--timed", type=int, default=6, help="timed batches per repeat (default 6)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timed runs per variant (default 3)")
    p.add_argument("--warmup", type=int, default=2, help="untimed batches first (default 2)")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated, from " + ", ".join(VARIANTS)
    )
    p.add_argument(
        "--quick", action="store_true", help="a smoke run: 10,000 records, 2 timed batches, 2 repeats"
    )
    p.add_argument("--profile", choices=VARIANTS, help="cProfile one variant in this process instead")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.records, args.ids, args.timed, args.repeats, args.warmup = 10_000, 100_000, 2, 2, 1
    return args


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.variant:
        _serve(args)
        return
    if args.profile:
        _profile(args)
        return
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; choose from {VARIANTS}")
    start = time.perf_counter()
    path = f"/tmp/dstreams-w2k-{os.getpid()}.arrow"
    _common.save_tables(w2k_tables(_batches(args), args.records, args.ids), path)
    sys.argv += ["--data", path]  # the workers read the same batches
    try:
        timings = _measure(args, variants)
    finally:
        os.remove(path)
    print(
        f"W2k: {args.records:,} records per batch, ids over {args.ids:,}, "
        f"{args.warmup} warm-up + {args.repeats} x {args.timed} timed batches"
    )
    _report(args, timings)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
