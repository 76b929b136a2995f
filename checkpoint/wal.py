"""A write-ahead log of Arrow tables: rolling segment files of Arrow IPC streams.

Each record is one row of a fixed envelope schema (``position``, ``kind``, ``key``, JSON ``meta``,
the record's table as an IPC stream in ``payload``, and a CRC32 of meta and payload), so tables of
any schema share one stream. :meth:`WriteAheadLog.append` returns once the records are durable
(flushed and fsynced), which is what lets a reliable receiver acknowledge its source.

* **Positions** are the caller's ordering key (a batch time, a sequence number). Appends must not go
  backwards except for small markers about positions already written (a "batch completed" marker);
  :meth:`roll` starts a new segment, named by the position of its first record.
* **Torn tails**: a crash can leave the last record of a segment half-written (there is never an
  end-of-stream marker: segments are only ever appended to). :meth:`read` returns every complete
  record and stops at the first one that does not parse or fails its checksum; with
  ``repair=True`` the local file is cut there (with a warning), so the next append starts clean.
* **Cleanup**: :meth:`delete_through` removes the segments whose records are all at or before a
  position (e.g. everything covered by the last checkpoint).
* **Object stores** cannot append or fsync: there every :meth:`append` writes one object of its own
  (Spark's ``closeFileAfterWrite=true``), named with its first and last position.

>>> log = WriteAheadLog(CheckpointDir("/tmp/cp"), "wal/receiver-0")
>>> log.append([Entry(1, "block", table=pa.table({"value": ["a", "b"]}))])
>>> [r.table().num_rows for r in log.read()]
[2]
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from dstreams.privatefiles import open_private

from .store import CheckpointDir, fsync_dir

log = logging.getLogger("dstreams")

ENVELOPE = pa.schema(
    [
        ("position", pa.int64()),
        ("kind", pa.string()),
        ("key", pa.string()),
        ("meta", pa.string()),
        ("payload", pa.large_binary()),
        ("crc", pa.uint32()),
    ]
)
SUFFIX = ".wal"


@dataclass
class Entry:
    """One record to append: ``table`` (any schema) travels as an IPC stream; ``meta`` as JSON."""

    position: int
    kind: str
    key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    table: pa.Table | None = None


@dataclass
class Record:
    """One record read back from the log."""

    position: int
    kind: str
    key: str
    meta: dict[str, Any]
    payload: pa.Buffer | None
    segment: str

    def table(self) -> pa.Table | None:
        """The record's table (None when it was appended without one)."""
        if self.payload is None:
            return None
        with ipc.open_stream(self.payload) as reader:
            return reader.read_all()


def table_to_ipc(table: pa.Table) -> pa.Buffer:
    """``table`` as the bytes of an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


class WriteAheadLog:
    """An append-only log in directory ``rel`` of a :class:`CheckpointDir` (see the module docstring).

    ``sync=False`` skips fsync (faster; a crash of the machine, not only of the process, may then
    lose the last records). Thread-safe.
    """

    def __init__(self, directory: CheckpointDir, rel: str, *, sync: bool = True):
        self.directory, self.rel, self.sync = directory, rel.strip("/"), sync
        self._lock = threading.Lock()
        self._file: Any = None  # the open local segment
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._segment: str | None = None
        self._roll = True
        self.appended_bytes = 0

    # -- writing ---------------------------------------------------------------------------------
    def append(self, entries: Sequence[Entry], *, sync: bool | None = None) -> None:
        """Append ``entries`` in order; durable when this returns (unless ``sync`` is off)."""
        if not entries:
            return
        batches = [_envelope(e) for e in entries]
        durable = self.sync if sync is None else sync
        with self._lock:
            if not self.directory.is_local:
                self._append_object(entries, batches)
                return
            if self._roll or self._writer is None:
                self._open_segment(entries[0].position)
            assert self._writer is not None
            for batch in batches:
                self._writer.write_batch(batch)
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())
            self.appended_bytes = self._file.tell()

    def roll(self) -> None:
        """The next append starts a new segment (its position must exceed every position so far)."""
        with self._lock:
            self._roll = True

    def close(self) -> None:
        with self._lock:
            self._close_segment()

    def _open_segment(self, position: int) -> None:
        self._close_segment()
        self.directory.makedirs(self.rel)
        name = f"{_pos(position)}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        full = self.directory.path(f"{self.rel}/{name}")
        # kept open across appends, closed in _close_segment; private: it holds the received data
        self._file = open_private(full, exclusive=True)
        self._writer = ipc.new_stream(self._file, ENVELOPE)
        self._file.flush()
        if self.sync:
            os.fsync(self._file.fileno())
            fsync_dir(os.path.dirname(full))
        self._segment, self._roll = name, False

    def _close_segment(self) -> None:
        # Never write the end-of-stream marker: a closed segment and a crashed one read the same way.
        if self._file is not None:
            try:
                self._file.flush()
                if self.sync:
                    os.fsync(self._file.fileno())
            finally:
                self._file.close()
        self._file = self._writer = self._segment = None

    def _append_object(self, entries: Sequence[Entry], batches: list[pa.RecordBatch]) -> None:
        first = min(e.position for e in entries)
        last = max(e.position for e in entries)
        name = f"{_pos(first)}-{_pos(last)}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        sink = pa.BufferOutputStream()
        writer = ipc.new_stream(sink, ENVELOPE)
        for batch in batches:
            writer.write_batch(batch)
        self.directory.write_file(f"{self.rel}/{name}", sink.getvalue().to_pybytes())

    # -- reading ---------------------------------------------------------------------------------
    def segments(self) -> list[str]:
        """Segment names, oldest first."""
        names = [n for n in self.directory.listdir(self.rel) if n.endswith(SUFFIX) and not n.startswith(".")]
        return sorted(names, key=_segment_key)

    def read(self, *, repair: bool = False) -> list[Record]:
        """Every complete record of every segment, in order (see torn tails in the module docstring)."""
        records: list[Record] = []
        for name in self.segments():
            if name == self._segment:
                continue  # being written by this very log: nothing to replay from it
            records.extend(self._read_segment(name, repair))
        return records

    def _read_segment(self, name: str, repair: bool) -> list[Record]:
        rel = f"{self.rel}/{name}"
        try:
            data = pa.py_buffer(self.directory.read_bytes(rel))
        except OSError as error:
            log.warning("write-ahead log %s: cannot read segment %s (%s); skipped", self.rel, name, error)
            return []
        source = pa.BufferReader(data)
        records: list[Record] = []
        good_end = 0
        problem = None
        try:
            reader = ipc.MessageReader.open_stream(source)
            schema_message = reader.read_next_message()
            if ipc.read_schema(schema_message) != ENVELOPE:
                raise ValueError("not a write-ahead log segment (unexpected schema)")
            good_end = source.tell()
            while True:
                try:
                    message = reader.read_next_message()
                except StopIteration:
                    break
                batch = ipc.read_record_batch(message, ENVELOPE)
                records.extend(_unwrap(batch, name))
                good_end = source.tell()
        except (pa.ArrowException, ValueError, OSError, StopIteration) as error:
            # StopIteration: pyarrow's answer to an empty stream (no schema message at all)
            problem = error
        if problem is not None and good_end == 0:
            # Killed before its first message was complete (or left empty by a repair): the
            # segment holds no record. Skip it, and delete it when repairing.
            log.warning("write-ahead log %s: segment %s holds no complete record; skipped", self.rel, name)
            if repair and self.directory.is_local:
                self.directory.delete(rel)
            return []
        if problem is not None and good_end < data.size:
            log.warning(
                "write-ahead log %s: segment %s ends with an incomplete or corrupt record at byte %d "
                "of %d (%s); using the %d complete record(s) before it",
                self.rel,
                name,
                good_end,
                data.size,
                problem,
                len(records),
            )
            if repair and self.directory.is_local:
                os.truncate(self.directory.path(rel), good_end)
        return records

    # -- cleanup ---------------------------------------------------------------------------------
    def delete_through(self, position: int) -> int:
        """Delete the segments whose records are all at or before ``position``; returns how many."""
        with self._lock:
            names = self.segments()
            doomed = []
            for i, name in enumerate(names):
                if name == self._segment:
                    continue
                last = _segment_range(name)[1]
                if last is None:  # a local segment ends before the next one starts
                    if i + 1 >= len(names):
                        continue
                    nxt = _segment_range(names[i + 1])[0]
                    done = nxt - 1 <= position
                else:
                    done = last <= position
                if done:
                    doomed.append(name)
            for name in doomed:
                self.directory.delete(f"{self.rel}/{name}")
            return len(doomed)

    def delete_all(self) -> None:
        with self._lock:
            self._close_segment()
            self.directory.delete_tree(self.rel)


def _pos(position: int) -> str:
    if position < 0:
        raise ValueError(f"write-ahead log positions must be >= 0, got {position}")
    return f"{position:020d}"


def _segment_range(name: str) -> tuple[int, int | None]:
    parts = name[: -len(SUFFIX)].split("-")
    if len(parts) == 3:
        return int(parts[0]), int(parts[1])
    return int(parts[0]), None


def _segment_key(name: str) -> tuple[int, str]:
    try:
        return _segment_range(name)[0], name
    except ValueError:
        return -1, name


def _envelope(entry: Entry) -> pa.RecordBatch:
    meta = json.dumps(entry.meta, separators=(",", ":"), sort_keys=True).encode()
    payload = table_to_ipc(entry.table) if entry.table is not None else None
    crc = zlib.crc32(meta)
    if payload is not None:
        crc = zlib.crc32(memoryview(payload), crc)
        offsets = pa.py_buffer(pa.array([0, payload.size], pa.int64()).buffers()[1])
        payload_array = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, payload])
    else:
        payload_array = pa.nulls(1, pa.large_binary())
    return pa.record_batch(
        [
            pa.array([entry.position], pa.int64()),
            pa.array([entry.kind], pa.string()),
            pa.array([entry.key], pa.string()),
            pa.array([meta.decode()], pa.string()),
            payload_array,
            pa.array([crc], pa.uint32()),
        ],
        schema=ENVELOPE,
    )


def _unwrap(batch: pa.RecordBatch, segment: str) -> list[Record]:
    out = []
    payloads = batch.column(4)
    for i in range(batch.num_rows):
        meta_text = batch.column(3)[i].as_py()
        payload = payloads[i].as_buffer() if payloads[i].is_valid else None
        crc = zlib.crc32(meta_text.encode())
        if payload is not None:
            crc = zlib.crc32(memoryview(payload), crc)
        if crc != batch.column(5)[i].as_py():
            raise ValueError(f"checksum mismatch in record {i} of a batch")
        out.append(
            Record(
                batch.column(0)[i].as_py(),
                batch.column(1)[i].as_py(),
                batch.column(2)[i].as_py(),
                json.loads(meta_text),
                payload,
                segment,
            )
        )
    return out
