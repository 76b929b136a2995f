"""The input journal: what every batch was given, durable before the batch runs.

When the timer generates batch ``t``, each source's data for ``t`` and each source's position after
it are appended to the journal (a :class:`~.wal.WriteAheadLog`) and fsynced; only then is the batch
queued. When the batch has been processed a ``completed`` marker follows (not fsynced: losing it
only means the batch's outputs run once more, which idempotent outputs absorb).

On recovery from a state checkpoint taken after batch ``C``, the journal says:

* which batches after ``C`` were generated (``last_generated``), with exactly the data they had, so
  that re-running them gives the same results whatever the source (even a queue or a socket);
* which of them had completed (``last_completed``): those re-run only to rebuild the state, without
  running their outputs again;
* where each source stood after the last generated batch, to go on from there.

Records: ``input`` (key = source name, the table, meta ``layout``/``partitions`` or ``none``),
``generated`` (meta ``positions``) and ``completed``; the position is the batch time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from dstreams.batch import Batch

from .errors import CheckpointError
from .store import CheckpointDir
from .wal import Entry, WriteAheadLog

log = logging.getLogger("dstreams")


@dataclass
class JournalReplay:
    """What the journal holds about the batches after a checkpoint (see the module docstring)."""

    inputs: dict[int, dict[str, Batch | None]] = field(default_factory=dict)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)  # sources' positions after t
    last_generated: int | None = None
    last_completed: int | None = None

    def replays(self, t: int) -> bool:
        """True when batch ``t`` completed before the crash (re-run for its state, not its outputs)."""
        return self.last_completed is not None and t <= self.last_completed


class InputJournal:
    """Appends the journal records of one running context (see the module docstring)."""

    def __init__(self, directory: CheckpointDir, rel: str, *, sync: bool = True):
        self.log = WriteAheadLog(directory, rel, sync=sync)

    def generated(
        self, t: int, inputs: dict[str, Batch | None], positions: dict[str, Any], *, sync: bool = True
    ) -> None:
        entries = []
        for name, batch in inputs.items():
            if batch is None:
                entries.append(Entry(t, "input", name, {"none": True}))
            else:
                meta = {"layout": batch.layout, "partitions": batch.num_partitions}
                entries.append(Entry(t, "input", name, meta, batch.table))
        entries.append(Entry(t, "generated", "", {"positions": positions}))
        self._append(t, entries, sync=None if sync else False)

    def completed(self, t: int) -> None:
        self._append(t, [Entry(t, "completed")], sync=False)

    def _append(self, t: int, entries: list[Entry], sync: bool | None) -> None:
        # A full disk or a lost permission is the checkpoint's problem, not the source's: name the
        # journal's path and what to do (what was journaled before stays replayable).
        try:
            self.log.append(entries, sync=sync)
        except OSError as error:
            where = self.log.directory.path(self.log.rel)
            raise CheckpointError(
                f"cannot write the input journal of batch {t} ms in {where}: {error}. Free space on that "
                "disk or fix its permissions, then restart the application with the same checkpoint "
                "directory: batches already journaled are replayed, nothing accepted is lost"
            ) from error

    def roll(self) -> None:
        """Start a new segment with the next batch (the timer calls this after each checkpoint time)."""
        self.log.roll()

    def delete_through(self, t: int) -> int:
        """Delete the segments that hold only batches at or before ``t`` (covered by a checkpoint)."""
        return self.log.delete_through(t)

    def close(self) -> None:
        self.log.close()


def read_journal(directory: CheckpointDir, rel: str, after: int) -> JournalReplay:
    """The journal's records about batches after ``after`` (torn tails cut, see :mod:`.wal`)."""
    replay = JournalReplay()
    pending: dict[int, dict[str, Batch | None]] = {}
    for record in WriteAheadLog(directory, rel).read(repair=directory.is_local):
        t = record.position
        if t <= after:
            continue
        if record.kind == "input":
            table = record.table()
            batch = None
            if not record.meta.get("none") and table is not None:
                batch = Batch(table, record.meta["layout"], int(record.meta["partitions"]))
            pending.setdefault(t, {})[record.key] = batch
        elif record.kind == "generated":
            # inputs count only once their batch's "generated" record made it to disk
            replay.inputs.setdefault(t, {}).update(pending.pop(t, {}))
            replay.positions.setdefault(t, {}).update(record.meta.get("positions") or {})
            if replay.last_generated is None or t > replay.last_generated:
                replay.last_generated = t
        elif record.kind == "completed" and (replay.last_completed is None or t > replay.last_completed):
            replay.last_completed = t
    if replay.last_completed is not None and replay.last_generated is not None:
        replay.last_completed = min(replay.last_completed, replay.last_generated)
    return replay
