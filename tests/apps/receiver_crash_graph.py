"""The graph of the receiver crash test's application (``receiver_crash_app.py``), importable so that
the pickled graph refers to these names.

A reliable receiver reads numbered records from a file as they become due (record ``k`` at
``first_ms + k * spacing_ms``), stores them with ``store(list)`` (durable in the write-ahead log when
it returns) and only then acknowledges them: it writes how many it has stored into an ack file, and
starts from there after a restart, as a queue that redelivers what was not acknowledged. That is
at-least-once at the source, as Spark's reliable receivers: a kill after a chunk reached the log and
before its acknowledgement was written delivers the chunk again. The acknowledgement is one pwrite
right after ``store`` returns, so that moment is some microseconds out of every ``POLL_S``.
Records -> word pairs -> running totals (``updateStateByKey``, checkpointed every second) written with
``saveAsParquetFiles``; the records with their batch time go to DuckDB (``to_duckdb``, once per batch).
"""

from __future__ import annotations

import os
import time

from dstreams.outputs import to_ms
from dstreams.receivers import Receiver

BATCH = 0.2
CHUNK = 50  # records per store() at most
POLL_S = 0.1
LAST: list[int] = [0]  # the newest batch time processed (ms), for the application's main loop


class NumberedFileReceiver(Receiver):
    def __init__(self, records: str, ack: str, first_ms: int, spacing_ms: int):
        super().__init__()
        self.records, self.ack, self.first_ms, self.spacing_ms = records, ack, first_ms, spacing_ms

    def onStart(self) -> None:
        with open(self.records) as fh:
            lines = fh.read().splitlines()
        fd = os.open(self.ack, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            text = os.pread(fd, 16, 0).strip()
            acked = int(text) if text else 0
            while not self.isStopped() and acked < len(lines):
                due = min(len(lines), (int(time.time() * 1000) - self.first_ms) // self.spacing_ms + 1)
                if due > acked:
                    chunk = lines[acked : min(due, acked + CHUNK)]
                    self.store(chunk)  # reliable: in the write-ahead log when it returns
                    acked += len(chunk)
                    os.pwrite(fd, b"%16d" % acked, 0)  # acknowledge
                time.sleep(POLL_S)
        finally:
            os.close(fd)


def note_progress(t, rdd) -> None:
    LAST[0] = max(LAST[0], to_ms(t))


def split(line: str) -> list[str]:
    return line.split(" ")[1:]


def with_time(t, rdd):
    batch = to_ms(t)
    return rdd.map(lambda line: (batch, line))


def build(ssc, work: str, first_ms: int, spacing_ms: int) -> None:
    out = os.path.join(work, "out")
    lines = ssc.receiverStream(
        NumberedFileReceiver(
            os.path.join(work, "records.txt"), os.path.join(work, "ack"), first_ms, spacing_ms
        )
    )
    totals = (
        lines.flatMap(split).map(lambda w: (w, 1)).updateStateByKey(lambda new, old: sum(new) + (old or 0))
    )
    totals.checkpoint(1).saveAsParquetFiles(os.path.join(out, "totals"))
    lines.transform(with_time).to_duckdb(os.path.join(out, "lines.duckdb"), "lines")
    lines.foreachRDD(note_progress)
