"""The SQL examples: sql_per_batch shows a SQL table per batch of a socket stream; the ETL writes once."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import duckdb

from dstreams import ManualClock, SparkContext, StreamingContext
from dstreams.sql import SparkSession

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SQL_PER_BATCH = EXAMPLES / "sql_per_batch.py"
BATCH_LINE = re.compile(r"^batch \d\d:\d\d:\d\d: (?:(\d+) words|\(no words\))$")
TABLE_ROW = re.compile(r"^\|\s*(\S+)\|\s*(\d+)\|\s*(\d+)\|$")


def load(name: str):
    """The example's module, imported without running its ``main``."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(*args: str) -> str:
    """Run sql_per_batch.py in a subprocess; fail with its output unless it exits 0 without a traceback."""
    env = {**os.environ, "TZ": "UTC", "PYTHONWARNINGS": "default"}
    proc = subprocess.run(
        [sys.executable, str(SQL_PER_BATCH), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc.stdout


def shown_tables(out: str) -> list[list[tuple[str, int, int]]]:
    """The rows ``(word, times, letters)`` of each batch's table, one list per batch (empty: no words).

    Also checks the layout: a ``batch HH:MM:SS: N words`` line whose N is the sum of the ``times``
    column (unless ``show`` cut the table short), then the table, ranked by ``times`` descending,
    then by word.
    """
    batches: list[list[tuple[str, int, int]]] = []
    announced: list[int | None] = []
    for line in out.splitlines():
        if line.startswith("batch "):
            m = BATCH_LINE.match(line)
            assert m, f"unexpected batch line {line!r}"
            batches.append([])
            announced.append(int(m.group(1) or 0))
        elif line.startswith("only showing top"):
            announced[-1] = None
        elif (row := TABLE_ROW.match(line)) and row.group(1) != "word":
            batches[-1].append((row.group(1), int(row.group(2)), int(row.group(3))))
    for rows, words in zip(batches, announced, strict=True):
        if words is not None:
            assert sum(times for _, times, _ in rows) == words
        assert rows == sorted(rows, key=lambda r: (-r[1], r[0]))
        assert all(letters == len(word) for word, _, letters in rows)
    return batches


class LineServer:
    """A TCP server on a free local port that sends ``lines`` to its first client, then keeps the
    connection open until ``close()``, as ``nc -lk`` would."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.server:
            self.server.settimeout(30)
            client, _ = self.server.accept()
        with client:
            client.sendall("".join(f"{line}\n" for line in self.lines).encode())
            self.done.wait(60)

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)


def test_sql_per_batch_counts_the_words_a_server_sends():
    lines = ["Apple pie and apple juice", "plum jam", "", "juice of one plum and one apple"]
    server = LineServer(lines)
    try:
        out = run_example("127.0.0.1", str(server.port), "--batches", "3", "--interval", "0.5")
    finally:
        server.close()
    batches = shown_tables(out)
    assert len(batches) >= 3
    totals: Counter = Counter()
    for rows in batches:
        totals.update({word: times for word, times, _ in rows})
    assert totals == Counter(word.lower() for line in lines for word in line.split(" ") if word)


def test_sql_per_batch_demo_needs_no_server_of_ours():
    batches = shown_tables(run_example("--demo", "--batches", "2", "--interval", "0.5", "--rows", "3"))
    assert len(batches) >= 2 and any(batches)
    demo_words = {w for line in load("sql_per_batch").DEMO_TEXT for w in line.split(" ")}
    assert all(len(rows) <= 3 and {w for w, _, _ in rows} <= demo_words for rows in batches)


def test_sql_per_batch_needs_a_server_or_demo():
    proc = subprocess.run([sys.executable, str(SQL_PER_BATCH)], capture_output=True, text=True)
    assert proc.returncode == 2 and "give either HOST PORT or --demo" in proc.stderr


# -- the enrichment ETL example --------------------------------------------------------------------
def run_etl(workdir, batches: int) -> None:
    module = load("enrichment_etl")
    clock = ManualClock()
    ssc = StreamingContext(SparkContext("local[1]", "etl"), 1, clock=clock)
    module.build(ssc, str(workdir), rate=50)
    ssc.start()
    for _ in range(batches):
        clock.advance(1)
    ssc.stop()
    ssc.awaitTerminationOrTimeout(0)  # re-raises a failed batch


def test_enrichment_etl_writes_each_batch_once(tmp_path, capsys):
    run_etl(tmp_path, 10)
    db = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(db) as con:
        assert con.sql("SELECT count(*), count(DISTINCT country) FROM events").fetchall() == [(500, 5)]
        assert con.sql("SELECT count(*) FROM events WHERE tier IS NULL").fetchall() == [(0,)]
        # the 10 s window at t = 10 s holds all 500 events; one row per country (upserted)
        assert con.sql("SELECT count(*), sum(purchases) FROM revenue_by_country").fetchall() == [(5, 500)]
    run_etl(tmp_path, 10)  # a restart over the same batch times writes nothing twice
    with duckdb.connect(db) as con:
        assert con.sql("SELECT count(*) FROM events").fetchall() == [(500,)]
        assert con.sql("SELECT count(*) FROM dstreams_batches").fetchall() == [(12,)]
    SparkSession.builder.getOrCreate().stop()
