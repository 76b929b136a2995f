"""Ingest: socket lines/s into batches, and Parquet/CSV file rows/s against pyarrow reading the same bytes.

Socket (real clock, loopback): a server process writes ``--lines`` Zipf text lines (10 words,
about 60 bytes each) as fast as it can; ``socketTextStream`` with 100 ms batches counts them with
``foreachRDD(rdd.count())``. lines/s = lines / (time from connect until the batch holding the last
line completed), so it includes up to one batch interval of latency. The baseline is the same
server read by a plain ``recv`` loop that counts ``\\n`` bytes (no lines, no batches).

Files (manual clock): ``--files`` files of ``--rows`` rows each ``(id int64, user string, amount
float64, note string)``, written once as Parquet and as CSV (with a header), then hard-linked into
a fresh watched directory per repeat (same bytes, same page cache). dstreams:
``fileStream(dir, fmt, schema=...)`` + ``count()``; one ``clock.advance`` lists, reads (one Arrow
table per file, unioned into one batch) and counts. Baseline: ``pq.read_table`` /
``pyarrow.csv.read_csv`` of each file with the same schema, then ``pa.concat_tables``. Repeats of
the variants are interleaved; best and median are reported.

    .venv/bin/python benchmarks/ingest.py                        # the full run
    .venv/bin/python benchmarks/ingest.py --lines 100000 --files 4 --rows 20000 --repeats 2   # smoke
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import _common
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dstreams import ManualClock, SparkContext, StreamingContext, SystemClock

SCHEMA = pa.schema(
    [("id", pa.int64()), ("user", pa.string()), ("amount", pa.float64()), ("note", pa.string())]
)

_SERVER = r"""
import socket, sys
data = open(sys.argv[1], "rb").read()
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(data)
"""


# -- socket ---------------------------------------------------------------------------------------
class _LineServer:
    """A separate process that sends the same lines to every client (so it has its own GIL)."""

    def __init__(self, path: str):
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER, path], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def socket_dstreams(port: int, lines: int) -> float:
    ssc = StreamingContext(SparkContext("local[1]", "ingest"), 0.1, clock=SystemClock())
    counted = [0]
    done = threading.Event()
    stream = ssc.socketTextStream("127.0.0.1", port)

    def count(rdd):
        counted[0] += rdd.count()
        if counted[0] >= lines:
            done.set()

    stream.foreachRDD(count)
    start = time.perf_counter()
    ssc.start()
    try:
        if not done.wait(300):
            raise RuntimeError(f"only {counted[0]} of {lines} lines arrived")
        seconds = time.perf_counter() - start
    finally:
        ssc.stop()
    if counted[0] != lines:
        raise RuntimeError(f"counted {counted[0]} lines, sent {lines}")
    return seconds


def socket_baseline(port: int, lines: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        seen = 0
        while seen < lines:
            data = sock.recv(1 << 18)
            if not data:
                break
            seen += data.count(b"\n")
    return time.perf_counter() - start


# -- files ----------------------------------------------------------------------------------------
def make_files(root: str, files: int, rows: int) -> dict[str, list[str]]:
    text = _common.zipf_tables(batches=files, lines=rows, words_per_line=3, vocabulary=10_000)
    paths: dict[str, list[str]] = {"parquet": [], "csv": []}
    for i, notes in enumerate(text):
        ids = pa.array(range(i * rows, (i + 1) * rows), pa.int64())
        users = pa.array([f"u{(i * rows + j) % 1000}" for j in range(rows)], pa.string())
        amounts = pa.array([((i * rows + j) % 10_000) / 100 for j in range(rows)], pa.float64())
        table = pa.table([ids, users, amounts, notes.column("value").cast(pa.string())], schema=SCHEMA)
        for fmt in paths:
            path = os.path.join(root, f"part-{i:04d}.{fmt}")
            if fmt == "parquet":
                pq.write_table(table, path)
            else:
                pa_csv.write_csv(table, path)
            os.utime(path, (0.5, 0.5))  # in the first batch of a ManualClock at 0
            paths[fmt].append(path)
    return paths


def files_dstreams(fmt: str, sources: list[str], scratch: str, rows: int) -> float:
    watched = tempfile.mkdtemp(dir=scratch)
    clock = ManualClock()
    ssc = StreamingContext(SparkContext("local[1]", "ingest"), 1, clock=clock)
    options = {"header": True} if fmt == "csv" else {}
    counted = []
    ssc.fileStream(watched, fmt, schema=SCHEMA, **options).foreachRDD(lambda rdd: counted.append(rdd.count()))
    ssc.start()
    try:
        for path in sources:
            os.link(path, os.path.join(watched, os.path.basename(path)))  # same bytes, same mtime
        start = time.perf_counter()
        clock.advance(1)
        seconds = time.perf_counter() - start
    finally:
        ssc.stop()
    if counted != [rows * len(sources)]:
        raise RuntimeError(f"{fmt}: counted {counted}, expected {rows * len(sources)}")
    return seconds


def files_baseline(fmt: str, sources: list[str], rows: int) -> float:
    start = time.perf_counter()
    if fmt == "parquet":
        tables = [pq.read_table(p, schema=SCHEMA) for p in sources]
    else:
        convert = pa_csv.ConvertOptions(column_types=dict(zip(SCHEMA.names, SCHEMA.types)))
        tables = [pa_csv.read_csv(p, convert_options=convert) for p in sources]
    total = pa.concat_tables(tables).num_rows
    seconds = time.perf_counter() - start
    if total != rows * len(sources):
        raise RuntimeError(f"baseline {fmt}: {total} rows")
    return seconds


# -- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=3_000_000, help="socket lines per run")
    parser.add_argument("--files", type=int, default=20, help="files per format")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        lines_path = os.path.join(scratch, "lines.txt")
        (table,) = _common.zipf_tables(batches=1, lines=args.lines, vocabulary=100_000)
        payload = "\n".join(table.column("value").to_pylist()) + "\n"
        with open(lines_path, "w") as fh:
            fh.write(payload)
        megabytes = len(payload.encode()) / 2**20
        data_dir = os.path.join(scratch, "data")
        os.mkdir(data_dir)
        paths = make_files(data_dir, args.files, args.rows)
        sizes = {fmt: sum(os.path.getsize(p) for p in ps) / 2**20 for fmt, ps in paths.items()}

        server = _LineServer(lines_path)
        results: dict[str, list[float]] = {}
        try:
            variants = {
                "socket dstreams": lambda: socket_dstreams(server.port, args.lines),
                "socket recv loop": lambda: socket_baseline(server.port, args.lines),
                "parquet dstreams": lambda: files_dstreams("parquet", paths["parquet"], scratch, args.rows),
                "parquet pyarrow": lambda: files_baseline("parquet", paths["parquet"], args.rows),
                "csv dstreams": lambda: files_dstreams("csv", paths["csv"], scratch, args.rows),
                "csv pyarrow": lambda: files_baseline("csv", paths["csv"], args.rows),
            }
            for run in variants.values():  # warm up (imports, page cache)
                run()
            for _ in range(args.repeats):
                for name, run in variants.items():
                    results.setdefault(name, []).append(run())
        finally:
            server.close()

    total_rows = args.files * args.rows
    units = {"socket": args.lines, "parquet": total_rows, "csv": total_rows}
    rows = []
    for name, seconds in results.items():
        kind = name.split()[0]
        baseline = results[f"{kind} {'recv loop' if kind == 'socket' else 'pyarrow'}"]
        best, med = units[kind] / min(seconds), units[kind] / _common.median(seconds)
        rows.append(
            [
                name,
                best,
                med,
                _common.ratio(best, units[kind] / min(baseline)),
                _common.ratio(med, units[kind] / _common.median(baseline)),
            ]
        )
    print(
        f"socket: {args.lines:,} lines ({megabytes:.0f} MiB); files: {args.files} x {args.rows:,} rows "
        f"(parquet {sizes['parquet']:.0f} MiB, csv {sizes['csv']:.0f} MiB); {args.repeats} repeats"
    )
    print(
        _common.format_table(
            ["variant", "rows/s best", "rows/s median", "ratio to baseline (best)", "ratio (median)"], rows
        )
    )


if __name__ == "__main__":
    main()
