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

A stream that also marks which pieces each batch took (:meth:`ReceiverLog.taken`: a small record
with the batch time and its block sizes, taking a sequence number of its own, not fsynced on its
own) can give the batches after a checkpoint again from the log alone
(:meth:`ReceiverLog.replay_batches`), with the same blocks (partitions): its data then need not be
copied into the input journal, only its position, the mark of its last batch
(``ReceiverInputDStream`` does this). A receiver that acknowledges after ``store`` is at least once
at its source, as Spark's: a crash after a piece reached the log and before the acknowledgement
makes the source deliver it again.

The receiver side (``dstreams.receivers.receiver``) calls ``stored`` under the lock that also adds
the piece to the block being filled, and ``position``/``taken`` under the lock that hands blocks to a
batch, so that the position always matches what the batch holds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pyarrow as pa

from .store import CheckpointDir
from .wal import Entry, WriteAheadLog

ENABLE = "spark.streaming.receiver.writeAheadLog.enable"
ROLL_BYTES = 64 * 1024 * 1024  # a new segment after this much data, so that old ones can be deleted


Piece = tuple[pa.Table, str]  # a stored table and its layout


@dataclass
class LoggedBatches:
    """What :meth:`ReceiverLog.replay_batches` gives back: the batches to give again, and the rest."""

    batches: dict[int, tuple[list[list[Piece]], int]] = field(default_factory=dict)  # t -> (blocks, seq)
    pending: list[Piece] = field(default_factory=list)  # stored after the last marked batch


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

    def taken(self, t: int, blocks: list[int]) -> int:
        """Batch ``t`` took every piece stored so far, as blocks of ``blocks[i]`` pieces each: mark it
        (not fsynced: the next ``stored`` or the journal syncs it). Returns the mark's position,
        the stream's position after batch ``t``."""
        with self._lock:
            # A mark takes a sequence number of its own, so that positions never repeat and a
            # segment's last position is exactly the next segment's first minus one.
            self._seq += 1
            self.log.append([Entry(self._seq, "batch", meta={"t": t, "blocks": blocks})], sync=False)
            return self._seq

    def replay_batches(self, after: int, after_batch: int | None) -> LoggedBatches:
        """The pieces stored after position ``after``: grouped into the blocks of the batches after
        ``after_batch`` that took them (as marked by :meth:`taken`), the others left pending. The log
        then goes on after them."""
        pieces: list[tuple[int, Piece]] = []
        marks: dict[int, tuple[int, list[int]]] = {}
        last = after
        for record in self.log.read(repair=self.log.directory.is_local):
            last = max(last, record.position)
            if record.kind == "piece" and record.position > after:
                table = record.table()
                if table is not None:
                    pieces.append((record.position, (table, str(record.meta.get("layout", "value")))))
            elif record.kind == "batch":
                t = int(record.meta["t"])
                if after_batch is None or t > after_batch:
                    marks[t] = (record.position, [int(b) for b in record.meta.get("blocks", [])])
        with self._lock:
            self._seq = max(self._seq, last)
        found = LoggedBatches()
        start = after
        for t in sorted(marks):
            end, sizes = marks[t]
            taken = [piece for seq, piece in pieces if start < seq <= end]
            found.batches[t] = (_blocks(taken, sizes), end)
            start = max(start, end)
        found.pending = [piece for seq, piece in pieces if seq > start]
        return found

    def delete_through(self, seq: int) -> int:
        """Delete the segments that hold nothing after position ``seq`` (a checkpoint's position)."""
        return self.log.delete_through(seq)

    def close(self) -> None:
        self.log.close()


def _blocks(pieces: list[Piece], sizes: list[int]) -> list[list[Piece]]:
    """``pieces`` cut into blocks of ``sizes`` pieces (one block when the sizes do not fit)."""
    if sum(sizes) != len(pieces) or any(size <= 0 for size in sizes):
        return [pieces] if pieces else []
    blocks, start = [], 0
    for size in sizes:
        blocks.append(pieces[start : start + size])
        start += size
    return blocks
