"""The crash test: an application killed with SIGKILL at random moments, again and again, and restarted
by ``dstreams run`` (it resumes with getOrCreate), writes exactly what an uninterrupted run writes.

The application (``apps/crash_app.py``, graph in ``apps/crash_graph.py``) reads files, keeps running
word totals and an incremental sliding window, and writes them as Parquet batch directories and the
raw lines into DuckDB. Every input file is in place before the start, with a modification time in
the future, so each one belongs to a known batch whatever the timing of the crashes; the
uninterrupted reference runs in this process on a manual clock over the same batch times.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from _crash import kill_at_random

from dstreams import ManualClock, SparkContext, StreamingContext

APPS = Path(__file__).parent / "apps"
sys.path.insert(0, str(APPS))
import crash_graph  # noqa: E402

VOCABULARY = [f"w{i}" for i in range(25)]


def write_inputs(directory: Path, first_ms: int, count: int, rng: random.Random) -> int:
    """One file per batch from ``first_ms`` on, each modified mid-interval; returns the last mtime."""
    directory.mkdir(parents=True)
    batch = round(crash_graph.BATCH * 1000)
    for k in range(count):
        lines = [" ".join(rng.choices(VOCABULARY, k=5)) for _ in range(rng.randint(1, 8))]
        path = directory / f"part-{k:04d}.txt"
        path.write_text("\n".join(lines) + "\n")
        mtime = first_ms + k * batch - batch // 2
        os.utime(path, ns=(mtime * 1_000_000, mtime * 1_000_000))
    return first_ms + (count - 1) * batch


def read_outputs(out: Path, end_ms: int) -> dict:
    found: dict = {}
    for kind in ("totals", "window"):
        for batch_dir in sorted(out.glob(f"{kind}-*")):
            t = int(batch_dir.name.rsplit("-", 1)[1])
            if t <= end_ms:
                rows = pq.read_table(batch_dir / "part-00000.parquet").to_pylist()
                found[(kind, t)] = sorted(tuple(r.values()) for r in rows)
    with duckdb.connect(str(out / "lines.duckdb")) as con:  # the reference run may still hold it
        found["lines"] = con.execute(
            "SELECT value, count(*) FROM lines GROUP BY value ORDER BY value"
        ).fetchall()
        found["batches"] = con.execute(
            "SELECT batch_time, num_rows FROM dstreams_batches WHERE batch_time <= ? ORDER BY 1", [end_ms]
        ).fetchall()
    return found


def reference_run(in_dir: Path, out_dir: Path, zero_ms: int, end_ms: int) -> None:
    ssc = StreamingContext(
        SparkContext("local[1]", "reference"), crash_graph.BATCH, clock=ManualClock(zero_ms)
    )
    crash_graph.build(ssc, str(in_dir), str(out_dir))
    with pytest.warns(UserWarning, match="in memory only"):
        ssc.start()
    ssc.clock.set_time_ms(end_ms)
    ssc.stop()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    seed = int(os.environ.get("CRASH_SEED", time.time()))
    rng = random.Random(seed)
    work = tmp_path / "work"
    batch_ms = round(crash_graph.BATCH * 1000)
    first_ms = (int(time.time() * 1000) // batch_ms + 10) * batch_ms  # 2 s from now
    last_ms = write_inputs(work / "in", first_ms, 60, rng)
    end_ms = last_ms + round(crash_graph.WINDOW * 1000) + 2 * batch_ms  # the windows drain too
    app = [str(APPS / "crash_app.py"), str(work), str(end_ms)]
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "dstreams", "run", "--backoff", "0.1", "--max-backoff", "0.4", *app],
        stderr=subprocess.PIPE,
        text=True,
    )
    kills: list[int] = []
    try:
        deadline = time.time() + 120
        kills = kill_at_random(
            supervisor,
            work / "pid",
            rng,
            first_ms=first_ms,
            stop_ms=end_ms,
            deadline=deadline,
            max_kills=10,
            pause=(0.1, 1.6),
        )
        _, errors = supervisor.communicate(timeout=max(5, deadline - time.time()))
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 0, f"seed {seed}, kills at {kills} ms:\n{errors[-3000:]}"
    assert len(kills) >= 4, f"seed {seed}: only {len(kills)} kills ({kills})"
    assert errors.count("killed by SIGKILL") == len(kills)

    zero_ms = int((work / "zero").read_text())
    reference_run(work / "in", tmp_path / "reference", zero_ms, end_ms)
    expected = read_outputs(tmp_path / "reference", end_ms)
    got = read_outputs(work / "out", end_ms)
    assert sum(n for _, n in expected["batches"]) == sum(
        len((work / "in" / f).read_text().splitlines()) for f in os.listdir(work / "in")
    )
    assert len(expected) > 100
    assert got.keys() == expected.keys(), f"seed {seed}, kills at {kills} ms"
    for key in expected:
        assert got[key] == expected[key], f"seed {seed}, kills at {kills} ms: {key} differs"
