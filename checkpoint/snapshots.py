"""State snapshots as Parquet files, each checked by size and CRC32 when read back.

A :class:`~dstreams.state.StateSnapshot` is a few Arrow tables plus JSON-able metadata. Each table
becomes one Parquet file with a unique name; the manifest (see :mod:`.manifest`) records, per
stream, the snapshot's batch time, its metadata and for each table the file, its size and CRC32.
Columns holding pickled Python objects keep their field metadata through Parquet (the Arrow schema
is stored in the file), so they read back as the same objects.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dstreams.state import StateSnapshot

from .errors import CheckpointCorruptError
from .store import CheckpointDir


def write_snapshot(
    directory: CheckpointDir, folder: str, index: int, snapshot: StateSnapshot
) -> dict[str, Any]:
    """Write ``snapshot``'s tables under ``folder``; returns the manifest entry describing them."""
    tables = {}
    for j, (name, table) in enumerate(snapshot.tables.items()):
        rel = f"{folder}/{index}-{j}-{_safe(name)}.parquet"
        data = parquet_bytes(table)
        directory.write_file(rel, data)
        tables[name] = {"file": rel, "bytes": len(data), "crc32": zlib.crc32(data), "rows": table.num_rows}
    return {"batch_time": snapshot.batch_time, "metadata": snapshot.metadata, "tables": tables}


def read_snapshot(directory: CheckpointDir, entry: dict[str, Any]) -> StateSnapshot:
    """The snapshot a manifest entry describes; :class:`CheckpointCorruptError` if a file is damaged."""
    tables = {name: read_table(directory, spec) for name, spec in entry["tables"].items()}
    return StateSnapshot(int(entry["batch_time"]), tables, dict(entry.get("metadata") or {}))


def check_files(directory: CheckpointDir, entry: dict[str, Any]) -> None:
    """Cheap check that every file of an entry exists with its recorded size."""
    for spec in entry["tables"].values():
        size = directory.size(spec["file"])
        if size != spec["bytes"]:
            found = "missing" if size is None else f"{size} bytes, expected {spec['bytes']}"
            raise CheckpointCorruptError(f"state file {spec['file']} is {found}")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


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
