"""The receivers' write-ahead log (``spark.streaming.receiver.writeAheadLog.enable``).

What a receiver stores between two batches lives in memory until the next batch takes it; a crash
loses it. With the write-ahead log on, every piece of data a receiver stores is appended to
``wal/g<generation>/<stream name>/`` of the checkpoint directory and fsynced before ``store``
returns, so a reliable receiver that acknowledges its source after ``store`` loses nothing:

* each stored piece gets a sequence number (:meth:`ReceiverLog.stored`);
* when batch ``t`` takes what was stored, the stream's position is the sequence number of the
  last piece it took (:meth:`ReceiverLog.position`), journaled with batch ``t``;
* on recovery, the pieces stored after the position of the last generated batch are given back
  (:meth:`ReceiverLog.replay`) and go into the first batch after the restart;
* pieces that every kept checkpoint has already passed are deleted (:meth:`ReceiverLog.delete_through`).

The receiver side (``dstreams.receivers.receiver``) calls ``stored`` under the lock that also adds
the piece to the block being filled, and ``position`` under the lock that hands blocks to a batch, so
that the position always matches what the batch holds.
"""

from __future__ import annotations

import threading

import pyarrow as pa

from .store import CheckpointDir
from .wal import Entry, WriteAheadLog

ENABLE = "spark.streaming.receiver.writeAheadLog.enable"
ROLL_BYTES = 64 * 1024 * 1024  # a new segment after this much data, so that old ones can be deleted


class ReceiverLog:
    """The write-ahead log of one receiver stream (see the module docstring)."""

    def __init__(self, directory: CheckpointDir, rel: str, *, sync: bool = True):
        self.log = WriteAheadLog(directory, rel, sync=sync)
        self._lock = threading.Lock()
        self._seq = self._last_written()

    def _last_written(self) -> int:
        """Go on numbering after the pieces of an earlier run (only the newest segment is read)."""
        segments = self.log.segments()
        if not segments:
            return 0
        newest = self.log._read_segment(segments[-1], repair=self.log.directory.is_local)
        return max((r.position for r in newest), default=int(segments[-1].split("-")[0]))

    def stored(self, table: pa.Table, layout: str) -> int:
        """Append a stored piece; durable when this returns. Returns its sequence number."""
        with self._lock:
            self._seq += 1
            if self.log.appended_bytes >= ROLL_BYTES:
                self.log.roll()
            self.log.append([Entry(self._seq, "piece", meta={"layout": layout}, table=table)])
            return self._seq

    def position(self) -> int:
        """The sequence number of the last piece stored so far."""
        with self._lock:
            return self._seq

    def replay(self, after: int) -> list[tuple[pa.Table, str]]:
        """The pieces stored after position ``after``, in order; the log then goes on after them."""
        pieces = []
        last = after
        for record in self.log.read(repair=self.log.directory.is_local):
            last = max(last, record.position)
            if record.position > after and record.kind == "piece":
                table = record.table()
                if table is not None:
                    pieces.append((table, str(record.meta.get("layout", "value"))))
        with self._lock:
            self._seq = max(self._seq, last)
        return pieces

    def delete_through(self, seq: int) -> int:
        return self.log.delete_through(seq)

    def close(self) -> None:
        self.log.close()
