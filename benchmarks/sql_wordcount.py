"""Per-batch SQL word count: ``stream.sql`` against a hand-written DuckDB loop.

Both variants run the same DuckDB query over the same in-memory Arrow batches (Zipf text,
``value: string_view``, vocabulary 100,000, 10 words per line) and materialise each batch's counts
as an Arrow table:

  s  ``queueStream(tables).sql(QUERY)`` + ``foreachRDD(lambda rdd: rdd.toArrow())`` in a
     StreamingContext on a ManualClock (``clock.advance`` returns once the batch is processed)
  d  a loop over one DuckDB connection: ``register("batch", t)``, ``sql(QUERY).to_arrow_table()``,
     ``unregister("batch")``

``--query words`` feeds one word per row instead and counts with a bare GROUP BY, so the query is
cheap and the engine's per-batch overhead shows more. Each variant runs in its own interpreter,
warms up on the first batch, then loops over all batches ``--repeats`` times, interleaved with the
other variant. Target: s >= 0.8 x d.

    .venv/bin/python benchmarks/sql_wordcount.py                             # the full run
    .venv/bin/python benchmarks/sql_wordcount.py --batches 3 --lines 10000   # a smoke run
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import _common
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

QUERIES = {
    "split": (
        "SELECT word, count(*) AS n FROM (SELECT unnest(string_split(value, ' ')) AS word FROM batch) "
        "GROUP BY word"
    ),
    "words": "SELECT value AS word, count(*) AS n FROM batch GROUP BY value",
}
VARIANTS = {"s": "s: stream.sql", "d": "d: hand-written DuckDB loop"}


def _sink(checks: list[tuple[int, int]]) -> Callable[[pa.Table], None]:
    def take(table: pa.Table) -> None:
        checks.append((table.num_rows, pc.sum(table.column("n")).as_py() or 0))

    return take


def _stream_sql(queue: list[pa.Table], query: str, sink) -> _common.Runner:
    return _common.engine_runner(
        lambda ssc: ssc.queueStream(queue).sql(query), lambda rdd: sink(rdd.toArrow())
    )


def _duckdb_loop(queue: list[pa.Table], query: str, sink) -> _common.Runner:
    con = duckdb.connect()
    pending = iter(queue)

    def advance(n: int) -> None:
        for _ in range(n):
            con.register("batch", next(pending))
            sink(con.sql(query).to_arrow_table())
            con.unregister("batch")

    return advance, con.close


def _words(tables: list[pa.Table]) -> list[pa.Table]:
    """One word per row, ``value: string_view``, for ``--query words``."""
    out = []
    for t in tables:
        frame = pl.from_arrow(t).select(pl.col("value").str.split(" ")).explode("value")  # type: ignore[union-attr]
        out.append(frame.to_arrow(compat_level=pl.CompatLevel.newest()))
    return out


# ---------------------------------------------------------------------------------------------
# Worker: one variant in this interpreter, driven by the parent (warmup, run, run..., stop)


def _serve(args: argparse.Namespace) -> None:
    tables = _common.load_tables(args.data)
    warmup = tables[: args.warmup]
    queue = warmup + tables * args.repeats  # references: repeating costs no memory
    checks: list[tuple[int, int]] = []
    rss_before = _common.rss_mb()
    build = _stream_sql if args.variant == "s" else _duckdb_loop
    advance, close = build(queue, QUERIES[args.query], _sink(checks))

    def handle(command: str) -> dict[str, Any]:
        if command == "warmup":
            advance(len(warmup))
            return {}
        if command == "run":
            start, cpu = time.perf_counter(), time.process_time()
            advance(len(tables))
            return {
                "seconds": time.perf_counter() - start,
                "cpu_seconds": time.process_time() - cpu,
                "batches": len(tables),
            }
        close()
        return {
            "rss_before_mb": rss_before,
            "peak_rss_mb": _common.peak_rss_mb(),
            "checks": checks[len(warmup) :],
        }

    _common.serve(handle)


def _measure(args: argparse.Namespace, data: str) -> dict[str, dict[str, Any]]:
    variants = list(VARIANTS)
    workers = {v: _common.Worker(_worker_argv(args, v, data)) for v in variants}
    timings = {v: _common.Timings() for v in variants}
    try:
        for v in variants:
            workers[v].call("warmup")
        for r in range(args.repeats):
            for v in variants[r % 2 :] + variants[: r % 2]:  # alternate who goes first
                got = workers[v].call("run")
                timings[v].add(got["seconds"], got["batches"], got["cpu_seconds"])
            print(f"  repeat {r + 1}/{args.repeats} done", flush=True)
        return {v: {**workers[v].close(), "timings": timings[v]} for v in variants}
    finally:
        for w in workers.values():
            w.kill()


def _worker_argv(args: argparse.Namespace, variant: str, data: str) -> list[str]:
    return [
        os.path.abspath(__file__),
        *("--variant", variant, "--data", data, "--query", args.query),
        *("--repeats", str(args.repeats), "--warmup", str(args.warmup)),
    ]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20, help="timed batches per repeat (default 20)")
    p.add_argument("--lines", type=int, default=100_000, help="lines per batch (default 100,000)")
    p.add_argument("--vocabulary", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5, help="timed passes over all batches (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed batches first (default 1)")
    p.add_argument("--query", choices=list(QUERIES), default="split", help="split lines in SQL, or words")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warmup < 0 or args.batches < 1 or args.repeats < 1 or args.lines < 1:
        p.error("--batches, --repeats and --lines must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.variant:
        _serve(args)
        return
    start = time.perf_counter()
    tables = _common.zipf_tables(args.batches, args.lines, vocabulary=args.vocabulary)
    if args.query == "words":
        tables = _words(tables)
    words_per_batch = args.lines * 10
    print(
        f"sql_wordcount ({args.query}): {args.batches} batches x {args.lines:,} lines x 10 words "
        f"(vocabulary {args.vocabulary:,}, Zipf), generated in {time.perf_counter() - start:.1f} s; "
        f"repeats {args.repeats}; duckdb {duckdb.__version__}, pyarrow {pa.__version__}\n"
        f"query: {QUERIES[args.query]}"
    )
    with tempfile.TemporaryDirectory(prefix="dstreams-bench-") as tmp:
        data = os.path.join(tmp, "batches.arrow")
        _common.save_tables(tables, data)
        del tables
        results = _measure(args, data)
    _check(results, words_per_batch)
    print()
    print(_summary(results, words_per_batch))
    print(
        f"\nwords/s, best and median of {args.repeats} repeats; ratio = s / d; CPU = process CPU time, all "
        f"threads. {datetime.date.today().isoformat()}, {os.cpu_count()} cores, load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end."
    )


def _check(results: dict[str, dict[str, Any]], words_per_batch: int) -> None:
    """Both variants must count every word and find the same distinct words, batch by batch."""
    checks = {v: [tuple(c) for c in r["checks"]] for v, r in results.items()}
    for v, got in checks.items():
        if any(total != words_per_batch for _, total in got):
            sys.exit(f"variant {v} did not count {words_per_batch} words in every batch")
    if checks["s"] != checks["d"]:
        sys.exit("the variants disagree on the distinct words per batch")


def _summary(results: dict[str, dict[str, Any]], words_per_batch: int) -> str:
    rates = {v: r["timings"].rates(words_per_batch) for v, r in results.items()}
    best_d, median_d = max(rates["d"]), _common.median(rates["d"])
    rows = []
    for v, r in results.items():
        t = r["timings"]
        rows.append(
            [
                VARIANTS[v],
                max(rates[v]),
                _common.median(rates[v]),
                _common.ratio(max(rates[v]), best_d),
                _common.ratio(_common.median(rates[v]), median_d),
                min(t.ms_per_batch()),
                _common.median(t.cpu_ms_per_batch()),
                r["peak_rss_mb"],
            ]
        )
    header = ["variant", "best words/s", "median words/s", "ratio best", "ratio median", "best ms/batch",
              "CPU ms/batch", "peak RSS MB"]  # fmt: skip
    return _common.format_table(header, rows)


if __name__ == "__main__":
    main()
