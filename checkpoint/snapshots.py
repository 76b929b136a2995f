"""State snapshots as Parquet files, each checked by size and CRC32 when read back.

A :class:`~dstreams.state.StateSnapshot` is a few Arrow tables plus JSON-able metadata. Each table
becomes one Parquet file with a unique name; the manifest (see :mod:`.manifest`) records, per
stream, the snapshot's batch time, its metadata and for each table the file, its size and CRC32.
Columns holding pickled Python objects keep their field metadata through Parquet (the Arrow schema
is stored in the file), so they read back as the same objects.

**Incremental snapshots.** A keyed state (``updateStateByKey``, ``mapWithState``) may hand a
*delta* instead of its whole table (see :class:`~dstreams.state.ChangeTracker`): the rows of the
keys that changed and the keys that were deleted since its previous snapshot. It is written as two
small Parquet files, and its manifest entry names the last full table (``tables["state"]``, possibly
in an older checkpoint's folder) plus every delta written on it since, in order (``deltas``)::

    {"tables": {"state": {...}, "delta1.upserts": {...}, "delta1.deleted": {...}, ...},
     "deltas": [{"key": "key", "upserts": "delta1.upserts", "deleted": "delta1.deleted"}, ...]}

Reading applies them in order on the full table (:func:`~dstreams.state.apply_deltas`). Every file
is checked as before, so a missing or damaged delta makes that checkpoint unusable and recovery
takes an older one. Retention needs nothing special: a checkpoint's entry lists every file it uses.

Writes need not succeed, nor come in order (a graceful stop writes its final checkpoint while the
writer thread may still hold the previous one): each stream's :class:`~dstreams.state.DeltaChain`
remembers the entries written, and a delta snapshot carries the earlier snapshots not yet written
when it was taken, so it is written on the newest entry it can build on, with the steps in between.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dstreams.state import DeltaChain, PendingTable, StateDelta, StateSnapshot, apply_deltas

from .errors import CheckpointCorruptError, CheckpointError
from .store import CheckpointDir


def write_snapshot(
    directory: CheckpointDir, folder: str, index: int, snapshot: StateSnapshot
) -> dict[str, Any]:
    """Write ``snapshot``'s tables (or its delta) under ``folder``; returns the manifest entry."""
    chain = snapshot.chain
    if snapshot.delta is None:
        entry = _full_entry(directory, folder, index, snapshot.batch_time, snapshot.metadata, snapshot.tables)
        if chain is not None:
            with chain.lock:
                chain.record(snapshot.seq, entry)
            for seq, step in snapshot.earlier:
                if seq == snapshot.seq and isinstance(step, PendingTable):
                    step.table = None  # written: later deltas build on the entry, not on the table
        return entry
    assert chain is not None
    with chain.lock:
        return _write_delta(directory, folder, index, snapshot, chain)


def _full_entry(
    directory: CheckpointDir,
    folder: str,
    index: int,
    batch_time: int,
    metadata: dict[str, Any],
    tables: dict[str, pa.Table],
) -> dict[str, Any]:
    return {
        "batch_time": batch_time,
        "metadata": metadata,
        "tables": _write_tables(directory, folder, index, tables),
    }


def _write_tables(directory: CheckpointDir, folder: str, index: int, tables: dict[str, pa.Table]) -> dict:
    specs = {}
    for j, (name, table) in enumerate(tables.items()):
        rel = f"{folder}/{index}-{j}-{_safe(name)}.parquet"
        data = parquet_bytes(table)
        directory.write_file(rel, data)
        specs[name] = {"file": rel, "bytes": len(data), "crc32": zlib.crc32(data), "rows": table.num_rows}
    return specs


def _write_delta(
    directory: CheckpointDir, folder: str, index: int, snapshot: StateSnapshot, chain: DeltaChain
) -> dict[str, Any]:
    """The delta on the newest written snapshot it can build on, writing the steps between them too."""
    steps = [*snapshot.earlier, (snapshot.seq, snapshot.delta)]
    first, base = steps[0]
    lowest = first if isinstance(base, PendingTable) else first - 1
    on = [seq for seq in chain.entries if lowest <= seq < snapshot.seq]
    if on:
        entry: dict[str, Any] | None = chain.entries[max(on)]
        todo = [(seq, step) for seq, step in steps if seq > max(on)]
    elif isinstance(base, PendingTable) and base.table is not None:
        entry, todo = None, steps  # the full one it builds on was not written (yet): write it too
    else:
        raise CheckpointError(
            f"the incremental state snapshot after batch {snapshot.batch_time} ms builds on a snapshot that "
            "is no longer known; it is skipped. This is a bug: please report it"
        )
    for seq, step in todo:
        if isinstance(step, PendingTable):
            assert step.table is not None
            entry = _full_entry(
                directory, folder, index, snapshot.batch_time, snapshot.metadata, {"state": step.table}
            )
            step.table = None
        else:
            assert entry is not None
            entry = _delta_entry(directory, folder, index, snapshot, entry, step)
        chain.record(seq, entry)
    assert entry is not None
    return entry


def _delta_entry(
    directory: CheckpointDir,
    folder: str,
    index: int,
    snapshot: StateSnapshot,
    previous: dict[str, Any],
    delta: StateDelta,
) -> dict[str, Any]:
    deltas = list(previous.get("deltas") or [])
    n = len(deltas) + 1
    names = {"upserts": f"delta{n}.upserts", "deleted": f"delta{n}.deleted"}
    written = _write_tables(
        directory, folder, index, {names["upserts"]: delta.upserts, names["deleted"]: delta.deleted}
    )
    deltas.append({"key": delta.key, **names})
    return {
        "batch_time": snapshot.batch_time,
        "metadata": snapshot.metadata,
        "tables": {**previous["tables"], **written},
        "deltas": deltas,
    }


def read_snapshot(directory: CheckpointDir, entry: dict[str, Any]) -> StateSnapshot:
    """The snapshot a manifest entry describes; :class:`CheckpointCorruptError` if a file is damaged."""
    tables = {name: read_table(directory, spec) for name, spec in entry["tables"].items()}
    deltas = entry.get("deltas") or []
    if deltas:
        try:
            changes = [StateDelta(tables[d["upserts"]], tables[d["deleted"]], d["key"]) for d in deltas]
            tables = {"state": apply_deltas(tables["state"], changes)}
        except (KeyError, TypeError, pa.ArrowException, pl.exceptions.PolarsError) as error:
            raise CheckpointCorruptError(
                f"the state deltas of {entry['tables'].get('state', {}).get('file')} cannot be applied: "
                f"{type(error).__name__}: {error}"
            ) from error
    # the stream that gets this state back goes on writing deltas on the same files
    chain = DeltaChain(entry=entry, seq=0)
    return StateSnapshot(int(entry["batch_time"]), tables, dict(entry.get("metadata") or {}), chain=chain)


def check_files(directory: CheckpointDir, entry: dict[str, Any]) -> None:
    """Cheap check that every file of an entry exists with its recorded size."""
    for spec in entry["tables"].values():
        size = directory.size(spec["file"])
        if size != spec["bytes"]:
            found = "missing" if size is None else f"{size} bytes, expected {spec['bytes']}"
            raise CheckpointCorruptError(f"state file {spec['file']} is {found}")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(table, sink)
    except pa.ArrowNotImplementedError:
        # pyarrow cannot write a string view inside a sliced struct ("Slicing not implemented for
        # StringView"), as a Polars filter leaves them: write those columns as plain strings
        sink = pa.BufferOutputStream()
        pq.write_table(
            table.cast(pa.schema([_plain_field(f) for f in table.schema], table.schema.metadata)), sink
        )
    return sink.getvalue().to_pybytes()


def _plain_field(field: pa.Field) -> pa.Field:
    return field.with_type(_plain(field.type))


def _plain(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_string_view(dtype):
        return pa.large_string()
    if pa.types.is_binary_view(dtype):
        return pa.large_binary()
    if pa.types.is_struct(dtype):
        return pa.struct([_plain_field(dtype.field(i)) for i in range(dtype.num_fields)])
    if pa.types.is_list(dtype):
        return pa.list_(_plain_field(dtype.value_field))
    if pa.types.is_large_list(dtype):
        return pa.large_list(_plain_field(dtype.value_field))
    return dtype


def read_table(directory: CheckpointDir, spec: dict[str, Any]) -> pa.Table:
    rel = spec["file"]
    try:
        data = directory.read_bytes(rel)
    except OSError as error:
        raise CheckpointCorruptError(f"state file {rel} cannot be read: {error}") from error
    if len(data) != spec["bytes"] or zlib.crc32(data) != spec["crc32"]:
        raise CheckpointCorruptError(
            f"state file {rel} is damaged ({len(data)} bytes, expected {spec['bytes']}, or checksum mismatch)"
        )
    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as error:
        raise CheckpointCorruptError(f"state file {rel} is not valid Parquet: {error}") from error


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]", "_", name)[:80]
