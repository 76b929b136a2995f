"""Manifests: the small JSON file that makes a checkpoint exist, published after its data files.

Layout of a checkpoint directory::

    manifests/checkpoint-g<generation>-<batch ms>-<written ns>-<id>.json   one per checkpoint
    state/g<generation>-<batch ms>-<id>/...parquet                         state tables
    graph/g<generation>-<id>.pkl                                           the pickled graph
    journal/g<generation>/...wal                                           the input journal
    wal/g<generation>/<source>/...wal                                      receivers' write-ahead logs

A *generation* is one chain of runs: a fresh start (no checkpoint to recover) begins a new one; a
recovered run continues its checkpoint's generation. The newest manifest is the one with the
highest (generation, batch time, write time). Each manifest carries a CRC32 of its own content, so
a truncated or damaged one is recognised and skipped.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from .errors import CheckpointCorruptError
from .store import CheckpointDir

log = logging.getLogger("dstreams")

FORMAT = 1
MANIFESTS = "manifests"
_NAME = re.compile(r"^checkpoint-g(\d+)-(\d+)-(\d+)-([0-9a-f]+)\.json$")


@dataclass
class Manifest:
    """One published checkpoint: its file name and its content (``body``)."""

    name: str
    generation: int
    checkpoint_ms: int
    body: dict[str, Any]

    @property
    def journal(self) -> str:
        return str(self.body["journal"])


def manifest_names(directory: CheckpointDir) -> list[tuple[int, int, int, str]]:
    """``(generation, batch ms, written ns, name)`` of every manifest, oldest first."""
    found = []
    for name in directory.listdir(MANIFESTS):
        match = _NAME.match(name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), int(match.group(3)), name))
    return sorted(found)


def publish(directory: CheckpointDir, body: dict[str, Any]) -> str:
    """Publish a manifest (last, after every file it names is durable); returns its name."""
    body = {"format": FORMAT, **body}
    generation, cut = int(body["generation"]), int(body["checkpoint_ms"])
    name = f"checkpoint-g{generation:06d}-{cut:013d}-{time.time_ns():019d}-{uuid.uuid4().hex[:8]}.json"
    text = _canonical(body)
    data = json.dumps({"checksum": zlib.crc32(text.encode()), "body": body}, indent=1).encode()
    directory.publish(f"{MANIFESTS}/{name}", data)
    return name


def read(directory: CheckpointDir, name: str) -> Manifest:
    """Read and check one manifest; :class:`CheckpointCorruptError` when it cannot be trusted."""
    match = _NAME.match(name)
    if match is None:
        raise CheckpointCorruptError(f"{name} is not a manifest name")
    try:
        outer = json.loads(directory.read_bytes(f"{MANIFESTS}/{name}"))
        body = outer["body"]
        checksum = outer["checksum"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointCorruptError(f"manifest {name} is unreadable or truncated ({error})") from error
    if zlib.crc32(_canonical(body).encode()) != checksum:
        raise CheckpointCorruptError(f"manifest {name} is damaged (checksum mismatch)")
    if body.get("format") != FORMAT:
        raise CheckpointCorruptError(
            f"manifest {name} has format {body.get('format')!r}; this dstreams reads format {FORMAT}"
        )
    return Manifest(name, int(match.group(1)), int(match.group(2)), body)


def delete(directory: CheckpointDir, name: str) -> None:
    directory.delete(f"{MANIFESTS}/{name}")


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))
