"""Output operations' formats and writers: ``pprint``, ``saveAsTextFiles``, ``saveAsParquetFiles``.

File outputs are atomic and idempotent per batch time: a batch directory is written under a
temporary name next to its final one and renamed into place last; if the final directory already
exists (the batch ran before a restart), the write is skipped. So a reader never sees a half-written
batch and a batch that runs twice leaves one correct copy.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import time as _time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

DASHES = "-" * 43


def to_datetime(ms: int) -> _dt.datetime:
    """Batch time as PySpark hands it to functions: a naive local datetime."""
    return _dt.datetime.fromtimestamp(ms / 1000.0)


def batch_label(ms: int) -> str:
    """How errors name a batch: ``batch 2026-11-24 10:00:01 (1764000001000 ms)``."""
    return f"batch {to_datetime(ms)} ({ms} ms)"


def to_ms(value: Any) -> int:
    """A batch time given as datetime, unix seconds or ms-int ``Time`` -> epoch milliseconds."""
    if isinstance(value, _dt.datetime):
        return int(_time.mktime(value.timetuple())) * 1000 + value.microsecond // 1000
    return round(float(value) * 1000)


def format_pprint(ms: int, taken: Sequence[Any], num: int) -> str:
    """PySpark's ``pprint`` block for one batch (``taken`` holds up to ``num + 1`` records)."""
    lines = [DASHES, f"Time: {to_datetime(ms)}", DASHES]
    lines.extend(str(record) for record in taken[:num])
    if len(taken) > num:
        lines.append("...")
    lines.append("")
    return "\n".join(lines) + "\n"


def batch_path(prefix: str, suffix: str | None, ms: int) -> str:
    """``prefix-<ms>[.suffix]``, as PySpark's ``rddToFileName``."""
    return f"{prefix}-{ms}" + (f".{suffix}" if suffix else "")


def write_batch_dir(path: str, write_parts: Callable[[str], None]) -> bool:
    """Write a batch directory atomically; False when it already existed (nothing written)."""
    if os.path.exists(path):
        return False
    parent, name = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    try:
        write_parts(tmp)
        with open(os.path.join(tmp, "_SUCCESS"), "wb"):
            pass
        _fsync_dir(tmp)
        try:
            os.rename(tmp, path)
        except OSError:
            if os.path.isdir(path):  # another attempt finished first: keep its copy
                shutil.rmtree(tmp, ignore_errors=True)
                return False
            raise
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


def text_parts(partitions: Sequence[Sequence[Any]]) -> Callable[[str], None]:
    """One ``part-NNNNN`` file per partition, one line per element, as PySpark's ``saveAsTextFile``.

    ``str`` elements are written as UTF-8, ``bytes`` as they are, anything else as ``str(element)``.
    """

    def write(directory: str) -> None:
        for i, part in enumerate(partitions or [[]]):
            with open(os.path.join(directory, f"part-{i:05d}"), "wb") as fh:
                for element in part:
                    fh.write(_text_line(element))
                fh.flush()
                os.fsync(fh.fileno())

    return write


def _text_line(element: Any) -> bytes:
    if isinstance(element, bytes):
        return element + b"\n"
    return f"{element}\n".encode()


def parquet_parts(table: pa.Table) -> Callable[[str], None]:
    """One ``part-00000.parquet`` file with the batch's columns."""

    def write(directory: str) -> None:
        path = os.path.join(directory, "part-00000.parquet")
        pq.write_table(table, path)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())

    return write


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
