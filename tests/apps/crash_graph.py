"""The graph of the crash test's application (``crash_app.py``), importable so that the pickled graph
refers to these functions by name, and so that the test can build the same graph for its reference
run on a manual clock.

File source -> word pairs -> running totals (``updateStateByKey``, checkpointed every 2 s) and an
incremental sliding window (``reduceByKeyAndWindow`` with an inverse, 2 s every 0.4 s), both written
with ``saveAsParquetFiles``; the raw lines go to DuckDB (``to_duckdb``, exactly once per batch).
"""

from __future__ import annotations

import operator
import os

from dstreams.outputs import to_ms

BATCH = 0.2
WINDOW, SLIDE = 2.0, 0.4
LAST: list[int] = [0]  # the newest batch time processed (ms), for the application's main loop


def note_progress(t, rdd) -> None:
    LAST[0] = max(LAST[0], to_ms(t))


def split(line: str) -> list[str]:
    return line.split(" ")


def build(ssc, in_dir: str, out_dir: str) -> None:
    lines = ssc.textFileStream(in_dir, newFilesOnly=False)
    pairs = lines.flatMap(split).map(lambda w: (w, 1))
    totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).checkpoint(2)
    totals.saveAsParquetFiles(os.path.join(out_dir, "totals"))
    windowed = pairs.reduceByKeyAndWindow(operator.add, operator.sub, WINDOW, SLIDE)
    windowed.saveAsParquetFiles(os.path.join(out_dir, "window"))
    lines.to_duckdb(os.path.join(out_dir, "lines.duckdb"), "lines")
    lines.foreachRDD(note_progress)
