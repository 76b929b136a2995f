"""What handing out ``large_string`` instead of the engine's ``string_view`` costs in ``rdd.toArrow()``.

The engine keeps Polars' ``string_view`` columns (Polars hands them over without a copy), but
pyarrow 26 has no ``take``/``filter``/``sort_indices`` kernel for them, so ``RDD.toArrow()`` (and
``foreach_batch``, ``createDataFrame``) cast view columns to ``large_string``. This script times,
interleaved in one process on the same batches:

- **view**: the batch's own table (``Batch.table``: what ``toArrow()`` returned before, no copy);
- **large**: ``RDD.toArrow()`` (the cast to ``large_string``);
- **string**: the same cast to 32-bit ``string``, for comparison;
- **polars default**: ``pl.DataFrame.to_arrow()`` (Polars' own ``large_string`` conversion).

for short strings (words, stored inline in the views) and long ones (64 characters, out of line).

    .venv/bin/python benchmarks/strings.py                  # 1M strings per batch, 15 rounds
    .venv/bin/python benchmarks/strings.py --rows 100000 --rounds 5    # smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from dstreams.batch import Batch
from dstreams.rdd import RDD


def batch_frame(rows: int, width: int) -> pl.DataFrame:
    """``rows`` strings: ``w<n>`` words (``width`` 0) or strings of ``width`` characters."""
    words = (pl.int_range(rows, eager=True) % 50_000).cast(pl.String)
    words = words.str.pad_start(width, "x") if width else "w" + words
    return pl.DataFrame({"value": words})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    print(f"pyarrow {pa.__version__}, polars {pl.__version__}; {args.rows:,} strings per batch")
    print()
    print(
        "| strings | variant | ms best | ms median | ratio to polars default (median) | ns/string (median) |"
    )
    print("|---|---|---|---|---|---|")
    for label, width in (("words (~6 chars)", 0), ("64 chars", 64)):
        frame = batch_frame(args.rows, width)
        table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
        assert table.schema.field("value").type == pa.string_view()
        variants: dict[str, Callable[[], pa.Table]] = {
            "view": lambda table=table: Batch(table, "value", 1).table,
            "large": lambda table=table: RDD(Batch(table, "value", 1)).toArrow(),
            "string": lambda table=table: table.cast(pa.schema([("value", pa.string())])),
            "polars default": lambda frame=frame: frame.to_arrow(),
        }
        # what users do next works on every handed-out variant but the view
        for name, run in variants.items():
            got = run()
            try:
                pc.sort_indices(got, [("value", "ascending")])
                usable = True
            except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
                usable = False
            assert usable == (name != "view"), name
        times: dict[str, list[float]] = {name: [] for name in variants}
        names = list(variants)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
                start = time.perf_counter()
                variants[name]()
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["polars default"])
        for name in names:
            best, median = min(times[name]) * 1e3, statistics.median(times[name]) * 1e3
            ratio = statistics.median(times[name]) / base if base else float("inf")
            per = statistics.median(times[name]) * 1e9 / args.rows
            print(f"| {label} | {name} | {best:.2f} | {median:.2f} | {ratio:.2f} | {per:.1f} |")


if __name__ == "__main__":
    main()
