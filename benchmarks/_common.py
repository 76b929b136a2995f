"""Helpers shared by the benchmark scripts: test data, timing, memory, subprocess runs, result tables.

A benchmark script generates its batches once (``zipf_tables``), saves them (``save_tables``) and
runs each variant in a fresh interpreter (``Worker``), so that each variant's peak memory is its
own. The worker loads the batches (``load_tables``) and answers the parent's commands (``serve``)
with timings; the parent collects them in ``Timings`` and prints ``format_table``.

>>> tables = zipf_tables(batches=2, lines=1000)          # two pa.Tables with a "value" column
>>> tables[0].column("value")[0].as_py()
'w2253 w35 w3 w551 w93440 w38 w6 w33 w19 w16'
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

_RESULT_PREFIX = "BENCH-RESULT "


# ---------------------------------------------------------------------------------------------
# Data


def zipf_tables(
    batches: int,
    lines: int,
    *,
    vocabulary: int = 100_000,
    words_per_line: int = 10,
    exponent: float = 1.0,
    seed: int = 0,
) -> list[pa.Table]:
    """``batches`` Arrow tables of ``lines`` lines each: one ``value`` column of Zipf words.

    Words are ``w<rank>`` (``w0`` the most frequent), with P(rank r) proportional to
    ``1 / (r + 1) ** exponent``, as ``dstreams.receivers.generator.zipf_lines`` (same distribution,
    different draws). Vectorised in Polars: about 0.3 s for 100,000 lines of 10 words, against
    several seconds for the pure-Python generator. Strings are ``string_view``, the engine's own
    batch type, so no variant pays a conversion the others do not.

    Deterministic for a seed and Polars version: the uniform draws are ``hash(seed)`` of the word's
    global index (Polars may change its hash between major versions).
    """
    weights = pl.Series([1.0 / (r**exponent) for r in range(1, vocabulary + 1)], dtype=pl.Float64)
    cdf = weights.cum_sum()
    total = cdf[-1]
    words = lines * words_per_line
    out = []
    for b in range(batches):
        index = pl.int_range(b * words, (b + 1) * words, eager=True, dtype=pl.UInt64)
        # the top 53 bits of a 64-bit hash, as a uniform float in [0, total)
        uniform = (index.hash(seed) // 2048).cast(pl.Float64) * (total / 2.0**53)
        ranks = cdf.search_sorted(uniform, side="right")
        text = pl.select(pl.lit("w") + ranks.cast(pl.String)).to_series()
        value = text.reshape((lines, words_per_line)).arr.join(" ").alias("value")
        out.append(pl.DataFrame([value]).to_arrow(compat_level=pl.CompatLevel.newest()))
    return out


def save_tables(tables: Sequence[pa.Table], path: str) -> None:
    """Write batches to an Arrow IPC file, one record batch per table."""
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, tables[0].schema) as writer:
        for table in tables:
            writer.write_table(table, max_chunksize=max(1, table.num_rows))


def load_tables(path: str) -> list[pa.Table]:
    """Read batches saved by ``save_tables`` into memory (read, not memory-mapped)."""
    with pa.OSFile(path, "rb") as source:
        reader = pa.ipc.open_file(source)
        return [pa.Table.from_batches([reader.get_batch(i)]) for i in range(reader.num_record_batches)]


# ---------------------------------------------------------------------------------------------
# Timing and memory


@dataclass
class Timings:
    """Per repeat of a timed loop over all batches: wall seconds, process CPU seconds, batches done.

    CPU time (``time.process_time``: every thread of the process) is a steadier measure than wall
    time when other processes compete for the cores; ``capped`` when a time cap cut a repeat short.
    """

    repeats: list[float] = field(default_factory=list)
    batches_per_repeat: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    capped: bool = False

    def add(self, seconds: float, batches: int, cpu_seconds: float = float("nan")) -> None:
        self.repeats.append(seconds)
        self.batches_per_repeat.append(batches)
        self.cpu.append(cpu_seconds)

    def rates(self, units_per_batch: float) -> list[float]:
        """Units per second for each repeat (e.g. words/s)."""
        return [units_per_batch * n / s for s, n in zip(self.repeats, self.batches_per_repeat) if s > 0]

    def ms_per_batch(self) -> list[float]:
        return [1000 * s / n for s, n in zip(self.repeats, self.batches_per_repeat) if n]

    def cpu_ms_per_batch(self) -> list[float]:
        return [1000 * s / n for s, n in zip(self.cpu, self.batches_per_repeat) if n]


def rss_mb() -> float:
    """Current resident set size of this process, MiB (Linux ``/proc``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# Running variants in fresh interpreters


class Worker:
    """One benchmark variant in its own interpreter, driven one command at a time.

    The parent keeps every variant's worker alive and interleaves their timed runs (a, b, c, a, b,
    c...), so a burst of load from another process on a shared machine hits all variants alike.
    ``call("run")`` sends a command line and returns the dict the worker answered with ``serve``.

    >>> w = Worker(["benchmarks/wordcount.py", "--variant", "c", "--data", path])
    >>> w.call("warmup"); w.call("run")["seconds"]; w.close()
    """

    def __init__(self, argv: Sequence[str]):
        self.argv = list(argv)
        self._proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def call(self, command: str) -> dict[str, Any]:
        """Send ``command`` and wait for the answer; other worker output goes to stderr."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            pass  # the worker died: reported below
        for line in self._proc.stdout:
            if line.startswith(_RESULT_PREFIX):
                return json.loads(line[len(_RESULT_PREFIX) :])
            sys.stderr.write(line)
        code = self._proc.wait()
        raise RuntimeError(
            f"benchmark worker {' '.join(self.argv)} exited with code {code} during {command!r} "
            "(its error is printed above)"
        )

    def close(self) -> dict[str, Any]:
        """Send ``stop`` and wait for the worker to exit; returns its final answer."""
        result = self.call("stop")
        self._proc.wait()
        return result

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def serve(handle: Callable[[str], dict[str, Any]]) -> None:
    """Worker side: answer each command line from stdin with ``handle(command)`` until ``stop``."""
    for line in sys.stdin:
        command = line.strip()
        result = handle(command)
        sys.stdout.write(_RESULT_PREFIX + json.dumps(result) + "\n")
        sys.stdout.flush()
        if command == "stop":
            return


# ---------------------------------------------------------------------------------------------
# Printing


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into benchmarks/README.md)."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    return str(value)


def ratio(x: float, baseline: float) -> float:
    """``x / baseline`` (NaN when either is missing)."""
    return x / baseline if baseline and baseline == baseline and x == x else float("nan")


# -- driving the engine -------------------------------------------------------------------------
Runner = tuple[Callable[[int], None], Callable[[], None]]
"""``(advance(n_batches), close())``: how a benchmark drives one variant."""


def engine_runner(build: Callable[[Any], Any], sink: Callable[[Any], None]) -> Runner:
    """A StreamingContext on a ManualClock running ``build(ssc)`` into ``foreachRDD(sink)``.

    ``advance(n)`` returns once n batches are processed, so only processing is timed; ``close()``
    stops the context and re-raises the error of a failed batch.
    """
    from dstreams import ManualClock, StreamingContext

    clock = ManualClock()
    ssc = StreamingContext(batchDuration=1, clock=clock)
    build(ssc).foreachRDD(sink)
    ssc.start()

    def advance(n: int) -> None:
        for _ in range(n):
            clock.advance(1)

    def close() -> None:
        ssc.stop(stopSparkContext=False)
        ssc.awaitTerminationOrTimeout(0)

    return advance, close
