"""SQL on every batch of a network stream: words read from a TCP socket become, batch by batch, a
DataFrame, a temporary view and a SQL query printed with ``show()``.

The stream is ``ssc.socketTextStream(host, port)``: the program connects as a client to a server
that sends lines of text. In ``foreachRDD``, each batch's words are turned into ``Row(word=...)``
records, registered as the temp view ``batch_words`` of the one ``SparkSession`` (DuckDB
underneath), and ranked by a SQL query. An empty batch prints ``(no words)`` instead of a table.

Run it without any server of your own: ``--demo`` starts a small one inside the program, on a free
local port, that sends a built-in text one line every quarter of a second::

    .venv/bin/python examples/sql_per_batch.py --demo

Or type the lines yourself: start ``nc -lk 9999`` in a terminal, then, in another one::

    .venv/bin/python examples/sql_per_batch.py localhost 9999 --batches 0

The program stops after ``--batches`` batches (10; ``0`` runs until Ctrl-C).
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable

from dstreams import SparkContext, StreamingContext, StreamingListener
from dstreams.rdd import RDD
from dstreams.sql import Row, SparkSession

DEMO_TEXT = [
    "the kettle sings before the toast is done",
    "the cat watches the kettle and the toast",
    "rain on the window rain on the roof",
    "the toast is done and the cat is asleep",
]

QUERY = """
    SELECT word, count(*) AS times, length(word) AS letters
    FROM batch_words
    GROUP BY word
    ORDER BY times DESC, word
"""


def show_batch_words(rows: int) -> Callable[[dt.datetime, RDD], None]:
    """The ``foreachRDD`` function: one header line and one ``show(rows)`` table per batch."""

    def show(time: dt.datetime, rdd: RDD) -> None:
        words = rdd.filter(lambda word: word != "")
        if words.isEmpty():
            print(f"batch {time:%H:%M:%S}: (no words)\n")
            return
        spark = SparkSession.builder.getOrCreate()
        frame = spark.createDataFrame(words.map(lambda word: Row(word=word.lower())))
        frame.createOrReplaceTempView("batch_words")
        print(f"batch {time:%H:%M:%S}: {frame.count()} words")
        spark.sql(QUERY).show(rows)

    return show


def serve_demo_text(pause: float = 0.25) -> int:
    """Start a local TCP server that sends ``DEMO_TEXT`` over and over, one line per ``pause``
    seconds, to the first client; return its port. It runs on a daemon thread until the program ends.

    >>> port = serve_demo_text(pause=0.01)
    >>> with socket.create_connection(("127.0.0.1", port)) as client:
    ...     client.makefile().readline()
    'the kettle sings before the toast is done\\n'
    """
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def send_lines() -> None:
        with server:
            client, _ = server.accept()
        with client:
            line = 0
            while True:
                try:
                    client.sendall((DEMO_TEXT[line % len(DEMO_TEXT)] + "\n").encode())
                except OSError:  # the program's receiver went away: nothing more to send
                    return
                line += 1
                time.sleep(pause)

    threading.Thread(target=send_lines, name="demo-text-server", daemon=True).start()
    return port


class CountBatches(StreamingListener):
    """Sets ``done`` when ``n`` batches have completed (never, for ``n == 0``)."""

    def __init__(self, n: int):
        self.n = n
        self.completed = 0
        self.done = threading.Event()

    def onBatchCompleted(self, batchCompleted) -> None:
        self.completed += 1
        if self.n and self.completed >= self.n:
            self.done.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("host", nargs="?", help="the TCP server to read lines from")
    parser.add_argument("port", nargs="?", type=int, help="its port")
    parser.add_argument("--demo", action="store_true", help="read a built-in text from a local server")
    parser.add_argument("--batches", type=int, default=10, help="stop after this many batches (10; 0: never)")
    parser.add_argument("--interval", type=float, default=1.0, help="batch interval in seconds (1)")
    parser.add_argument("--rows", type=int, default=20, help="rows shown per batch (20)")
    args = parser.parse_args(argv)
    if args.demo == (args.host is not None):
        parser.error("give either HOST PORT or --demo")
    if args.host is not None and args.port is None:
        parser.error("give the port after the host")
    if args.batches < 0:
        parser.error("--batches must be 0 (run until Ctrl-C) or more")

    host, port = ("127.0.0.1", serve_demo_text()) if args.demo else (args.host, args.port)
    sc = SparkContext("local[2]", "sql-per-batch")  # one core for the receiver, as in Spark
    ssc = StreamingContext(sc, args.interval)
    lines = ssc.socketTextStream(host, port)
    lines.flatMap(lambda line: line.split(" ")).foreachRDD(show_batch_words(args.rows))

    finished = CountBatches(args.batches)
    ssc.addStreamingListener(finished)
    ssc.start()
    try:
        while not finished.done.is_set():
            ssc.awaitTerminationOrTimeout(0.1)  # re-raises a failed batch's error
    except KeyboardInterrupt:  # Ctrl-C: the usual way to end --batches 0
        print("interrupted: stopping after the batches received so far", flush=True)
    finally:
        ssc.stop(stopGraceFully=True)
        SparkSession.builder.getOrCreate().stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
