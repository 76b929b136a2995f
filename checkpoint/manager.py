"""Checkpointing a running context: the input journal, state checkpoints, retention, the final one.

:func:`attach` is called by ``ssc.start()``; the :class:`Checkpointer` it returns is driven by the
scheduler:

* **timer thread**, batch ``t`` generated: each source's data comes from the journal when ``t`` is
  re-run after a crash (:meth:`Checkpointer.allocate`), else from the source; the data and the
  sources' positions are then appended to the journal and fsynced (:meth:`Checkpointer.generated`)
  before the batch is queued;
* **runner thread**, batch ``t`` processed: a ``completed`` marker; at every checkpoint time the
  state of every stream that has one is snapshotted (Arrow tables, no copy) and handed to the
  **writer thread**, which writes the Parquet files, publishes the manifest, keeps the last 10
  checkpoints and deletes the journal segments they no longer need.

Checkpoint times are ``zero + k * interval``. The interval is Spark's default (the smallest multiple
of the slide of at least 10 s, or ``stream.checkpoint(seconds)``; the smallest over the stateful
streams), rounded up to a multiple of every stream's slide, so that a checkpoint is a consistent cut
of the whole graph: recovery restarts the batch grid at that time and every window still falls on
its slide.

Spark's non-fatal rule applies: a checkpoint that cannot be written is logged and skipped (the
journal keeps what recovery needs); only the first one, written by ``start()``, fails loudly.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
import zlib
from math import lcm
from typing import TYPE_CHECKING, Any

from dstreams.clock import ManualClock
from dstreams.errors import ConfigurationError

from . import manifest, names, shutdown, sources
from .errors import CheckpointError
from .graphfile import dump_graph, graph_files
from .journal import InputJournal
from .receiver_log import ENABLE, ReceiverLog
from .snapshots import write_snapshot
from .store import CheckpointDir, resolve

if TYPE_CHECKING:
    from dstreams.batch import Batch
    from dstreams.context import StreamingContext
    from dstreams.dstream import InputDStream

    from .recovery import Recovery

log = logging.getLogger("dstreams")

DEFAULT_INTERVAL_MS = 10_000  # Spark: the smallest multiple of the slide of at least 10 s
RETAINED = "dstreams.checkpoint.retained"  # how many checkpoints to keep (10, as Spark)
FSYNC = "dstreams.checkpoint.fsync"  # "false": no fsync (a machine crash may lose the newest)
_STOP = object()


def attach(ssc: StreamingContext) -> Checkpointer | None:
    """Called by ``ssc.start()``: the context's checkpointer, or None without a checkpoint directory."""
    shutdown.install(ssc)
    if ssc._checkpoint_dir is None:
        if _wal_enabled(ssc) and any(getattr(s, "_uses_write_ahead_log", False) for s in ssc._graph.inputs):
            raise ConfigurationError(
                f"{ENABLE} is true but no checkpoint directory is set: the receivers' write-ahead log "
                "lives in it; call ssc.checkpoint(directory) before start()"
            )
        return None
    checkpointer = Checkpointer(ssc, resolve(ssc._checkpoint_dir), getattr(ssc, "_recovery", None))
    checkpointer.prepare()
    return checkpointer


def schedule(ssc: StreamingContext) -> tuple[int, int]:
    """``(grid, interval)`` in ms: checkpoint times must be on the grid (every slide divides it)."""
    graph = ssc._graph
    grid = ssc._batch_ms
    for stream in graph.streams:
        grid = lcm(grid, stream._slide_ms)
    wanted = []
    for stream in graph.streams:
        if not getattr(stream, "_stateful", False) and stream._checkpoint_ms is None:
            continue
        if stream._checkpoint_ms is not None:
            wanted.append(stream._checkpoint_ms)
        else:
            slide = stream._slide_ms
            wanted.append(-(-DEFAULT_INTERVAL_MS // slide) * slide)
    interval = min(wanted) if wanted else -(-DEFAULT_INTERVAL_MS // grid) * grid
    return grid, -(-interval // grid) * grid


class Checkpointer:
    """The checkpointing side of one started context (see the module docstring)."""

    def __init__(self, ssc: StreamingContext, directory: CheckpointDir, recovery: Recovery | None):
        self._ssc = ssc
        self._dir = directory
        self._recovery = recovery
        conf = ssc.sparkContext.getConf()
        self._retained = max(1, int(conf.get(RETAINED, "10") or 10))
        self._sync = str(conf.get(FSYNC, "true")).lower() != "false"
        self.generation = 0
        self.zero = 0
        self.grid_ms, self.interval_ms = schedule(ssc)
        self._positions_at: dict[int, dict[str, Any]] = {}
        self._last_processed: int | None = None
        self._last_cut: int | None = None
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self._writer: threading.Thread | None = None
        self._warned_busy = False
        self._lock = threading.Lock()

    # -- start -----------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check the directory, pick the generation, save the graph, restore the state (recovery)."""
        d, ssc = self._dir, self._ssc
        d.ensure_writable()
        if self._recovery is None:
            existing = manifest.manifest_names(d)
            self.generation = existing[-1][0] + 1 if existing else 1
            if existing:
                log.warning(
                    "checkpoint directory %s already holds checkpoints (the newest after batch %d ms); "
                    "this context starts afresh and its checkpoints supersede them. To resume from them, "
                    "create the context with StreamingContext.getOrCreate(%r, setupFunc)",
                    d.location,
                    existing[-1][1],
                    d.location,
                )
        else:
            self.generation = self._recovery.manifest.generation
        self._holders = names.state_holders(ssc._graph)
        self._sources = names.sources(ssc._graph)
        self._source_names = {id(s): n for n, s in self._sources.items()}
        # sources that give the same batches again from a position: only their positions are journaled
        self._replayable = {n for n, s in self._sources.items() if sources.replayable(s)}
        for name, source in self._sources.items():
            if not sources.resumable(source):
                log.warning(
                    "%s (%s) keeps no position in the checkpoint (see dstreams.checkpoint.sources): after "
                    "a restart it starts as newly created",
                    name,
                    source,
                )
        self._graph_entry, self._graph_error = self._save_graph()
        self._journal = InputJournal(d, f"journal/g{self.generation:06d}", sync=self._sync)
        self._receiver_logs: dict[str, ReceiverLog] = {}
        if _wal_enabled(ssc):
            for name, source in self._sources.items():
                if getattr(source, "_uses_write_ahead_log", False):  # see receiver_log
                    rel = f"wal/g{self.generation:06d}/{_safe(name)}"
                    log_ = ReceiverLog(d, rel, sync=self._sync)
                    source._write_ahead_log = log_  # type: ignore[attr-defined]
                    self._receiver_logs[name] = log_
        if self._recovery is not None:
            for name, snapshot in self._recovery.snapshots.items():
                holder = self._holders.get(name)
                if holder is not None:
                    holder._state_restore(snapshot)

    def _save_graph(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            data = dump_graph(self._ssc)
        except Exception as error:
            reason = f"{type(error).__name__}: {error}"
            log.warning(
                "the DStream graph cannot be saved in the checkpoint (%s); on recovery, getOrCreate "
                "will call setupFunc to rebuild it and give the saved state back by stream name",
                reason,
            )
            return None, reason
        # Two copies: every checkpoint of this generation names the same graph, so one damaged
        # file must not make them all unusable (the reader takes the first copy that checks out).
        copies = []
        for _ in range(2):
            rel = f"graph/g{self.generation:06d}-{uuid.uuid4().hex[:8]}.pkl"
            self._dir.write_file(rel, data, sync=self._sync)
            copies.append(rel)
        return {"file": copies[0], "copies": copies, "bytes": len(data), "crc32": zlib.crc32(data)}, None

    # -- scheduler hooks: start ------------------------------------------------------------------
    def starting(self, zero: int) -> int:
        """Before the sources start: the zero time to use (the checkpoint's, on recovery)."""
        recovery = self._recovery
        if recovery is None:
            self.zero = zero
            return zero
        self.zero = recovery.checkpoint_ms
        clock = self._ssc.clock
        if isinstance(clock, ManualClock):  # a test's clock (upgrade mode: a new one) goes on from the stop
            stopped_at = max(self.zero, recovery.replay.last_generated or 0)
            if clock.now_ms() < stopped_at:
                clock.set_time_ms(stopped_at)
        for name, state in recovery.positions(self._replayable).items():
            source = self._sources.get(name)
            if source is not None and state is not None:
                sources.restore(source, state)
        return self.zero

    def sources_started(self) -> None:
        """After the sources started: fix up restored positions, or write the first checkpoint."""
        recovery = self._recovery
        if recovery is not None:
            for name, state in recovery.positions(self._replayable).items():
                source = self._sources.get(name)
                if source is not None and state is not None:
                    sources.after_start(source, state)
            self._last_cut = self.zero
        else:
            # The first checkpoint (empty state, where the sources start) proves the directory works
            # and makes a crash before the first checkpoint time recoverable from the journal.
            self._positions_at[self.zero] = self._positions()
            self._cut(self.zero, wait=True)
        self._writer = threading.Thread(target=self._write_loop, name="dstreams-checkpoint", daemon=True)
        self._writer.start()

    # -- scheduler hooks: timer thread -----------------------------------------------------------
    def allocate(self, source: InputDStream, t: int) -> Batch | None:
        """Batch ``t`` of ``source``: from the journal when ``t`` is re-run, else from the source."""
        recovery = self._recovery
        if recovery is not None:
            journaled = recovery.replay.inputs.get(t)
            if journaled is not None:
                name = self._source_names[id(source)]
                if name in journaled:
                    return journaled[name]
        return source._allocate(t)

    def generated(self, t: int, allocated: dict[InputDStream, Batch | None]) -> None:
        """Batch ``t`` is generated: journal the sources' positions and, for the sources that cannot
        give the same batch again by themselves, its data; durable (fsynced) when there is data."""
        recovery = self._recovery
        journaled: dict[str, Any] = {}
        positions: dict[str, Any] = {}
        rerun = recovery is not None and t <= (recovery.replay.last_generated or -1)
        if rerun:
            assert recovery is not None
            journaled = recovery.replay.inputs.get(t, {})
            positions = dict(recovery.replay.positions.get(t, {}))
        data = {}
        for source, batch in allocated.items():
            name = self._source_names[id(source)]
            if name in journaled:
                continue  # it came from the journal: already there
            positions[name] = sources.position(source)
            if name not in self._replayable:
                data[name] = batch
        if not rerun or data:
            if (t - self.zero - self._ssc._batch_ms) % self.interval_ms == 0:
                self._journal.roll()  # the first batch after a checkpoint time starts a segment
            self._journal.generated(t, data, positions, sync=bool(data))
        with self._lock:
            self._positions_at[t] = positions

    # -- scheduler hooks: runner thread ----------------------------------------------------------
    def replays(self, t: int) -> bool:
        """True when batch ``t`` completed before the crash: re-run it for its state only."""
        return self._recovery is not None and self._recovery.replay.replays(t)

    def replay(self, t: int) -> None:
        """Compute what the outputs would, without running them (their results exist already)."""
        for output in self._ssc._graph.outputs:
            output._parents[0]._get(t)

    def processed(self, t: int) -> None:
        """Batch ``t`` is done: mark it, and checkpoint when ``t`` is a checkpoint time. Never raises."""
        if not self.replays(t):
            try:
                self._journal.completed(t)
            except (OSError, CheckpointError) as error:  # losing the marker only re-runs its outputs
                log.warning("checkpoint journal: cannot mark batch %d ms completed: %s", t, error)
        self._last_processed = t
        if (t - self.zero) % self.interval_ms == 0:
            try:
                self._cut(t)
            except Exception:  # as Spark: a failed checkpoint is reported, the stream goes on
                log.exception("checkpoint after batch %d ms failed", t)
        with self._lock:
            for old in [k for k in self._positions_at if k < t]:
                del self._positions_at[old]

    def runner_finished(self, graceful: bool) -> None:
        """The runner ended: a final checkpoint (graceful stop), then flush and close everything."""
        last = self._last_processed
        if (
            graceful
            and last is not None
            and (last - self.zero) % self.grid_ms == 0
            and (self._last_cut is None or last > self._last_cut)
        ):
            self._cut(last, wait=True)
        if self._writer is not None and self._writer.is_alive():
            self._jobs.put(_STOP)
            self._writer.join()
        self._journal.close()
        for receiver_log in self._receiver_logs.values():
            receiver_log.close()

    # -- checkpoints -----------------------------------------------------------------------------
    def _positions(self) -> dict[str, Any]:
        return {name: sources.position(source) for name, source in self._sources.items()}

    def _cut(self, t: int, wait: bool = False) -> None:
        """Snapshot every state after batch ``t`` (on the runner thread) and have it written."""
        with self._lock:
            positions = self._positions_at.get(t)
        if positions is None:
            return  # generating batch t failed: the sources' positions at t are unknown
        snapshots = {}
        for name, holder in self._holders.items():
            snapshot = holder._state_snapshot()
            if snapshot is not None:
                snapshots[name] = (type(holder).__name__, snapshot)
        job = (t, snapshots, positions)
        self._last_cut = t
        for receiver_log in self._receiver_logs.values():
            receiver_log.log.roll()  # so that the pieces before this checkpoint can be deleted later
        if self._writer is None or not self._writer.is_alive():
            self._write(job, fatal=self._writer is None)
            return
        if wait:
            # One writer at a time, also for the final checkpoint of a graceful stop: publishing
            # manifests and deleting old checkpoints must never run concurrently.
            self._jobs.put(job)
            self._jobs.join()
            return
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            # The previous checkpoint is still being written: wait rather than skip, so that memory
            # stays bounded (one checkpoint queued, one being written) and every checkpoint is taken.
            if not self._warned_busy:
                self._warned_busy = True
                log.warning(
                    "checkpoint after batch %d ms waits for the previous one to be written: writing "
                    "state takes longer than the checkpoint interval (%d ms); consider "
                    "stream.checkpoint(<longer interval>)",
                    t,
                    self.interval_ms,
                )
            self._jobs.put(job)

    def _write_loop(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                self._write(job, fatal=False)
            finally:
                self._jobs.task_done()  # _cut(wait=True) joins the queue

    def _write(self, job: tuple[int, dict[str, Any], dict[str, Any]], fatal: bool) -> None:
        t, snapshots, positions = job
        started = time.perf_counter()
        try:
            folder = f"state/g{self.generation:06d}-{t:013d}-{uuid.uuid4().hex[:8]}"
            states = {}
            for index, (name, (cls, snapshot)) in enumerate(snapshots.items()):
                entry = write_snapshot(self._dir, folder, index, snapshot)
                entry["class"] = cls
                states[name] = entry
            ssc = self._ssc
            body = {
                "generation": self.generation,
                "checkpoint_ms": t,
                "batch_ms": ssc._batch_ms,
                "zero_ms": self.zero,
                "interval_ms": self.interval_ms,
                "grid_ms": self.grid_ms,
                "written_at_ms": int(time.time() * 1000),
                "clock": type(ssc.clock).__name__,
                "conf": dict(ssc.sparkContext.getConf().getAll()),
                "graph": self._graph_entry,
                "graph_error": self._graph_error,
                "states": states,
                "sources": {
                    name: {"class": type(self._sources[name]).__name__, "position": positions.get(name)}
                    for name in self._sources
                },
                "journal": f"journal/g{self.generation:06d}",
            }
            manifest.publish(self._dir, body)
        except Exception as error:
            if fatal:
                raise CheckpointError(
                    f"writing the checkpoint of batch {t} ms to {self._dir.location} failed: {error}"
                ) from error
            log.error("writing the checkpoint of batch %d ms to %s failed: %s", t, self._dir.location, error)
            return
        self.last_write_seconds = time.perf_counter() - started
        try:
            self._clean_up()
        except Exception as error:  # a file that cannot be deleted must not stop the stream
            log.warning("checkpoint clean-up in %s failed: %s", self._dir.location, error)

    def _clean_up(self) -> None:
        """Keep the newest checkpoints; delete what only older ones used."""
        d = self._dir
        found = manifest.manifest_names(d)
        for _, _, _, name in found[: -self._retained]:
            manifest.delete(d, name)
        kept = []
        for entry in found[-self._retained :]:
            try:
                kept.append(manifest.read(d, entry[3]))
            except CheckpointError:
                continue  # a damaged manifest references nothing we must keep
        folders, graphs = set(), set()
        oldest: dict[int, int] = {}
        for m in kept:
            for state in m.body.get("states", {}).values():
                for spec in state["tables"].values():
                    folders.add(spec["file"].rsplit("/", 1)[0].split("/", 1)[1])
            if m.body.get("graph"):
                graphs.update(f.split("/", 1)[1] for f in graph_files(m.body["graph"]))
            oldest[m.generation] = min(oldest.get(m.generation, m.checkpoint_ms), m.checkpoint_ms)
        if self._graph_entry is not None:
            graphs.update(f.split("/", 1)[1] for f in graph_files(self._graph_entry))
        for folder in d.listdir("state"):
            if folder not in folders:
                d.delete_tree(f"state/{folder}")
        for graph in d.listdir("graph"):
            if graph not in graphs:
                d.delete(f"graph/{graph}")
        for area in ("journal", "wal"):
            for gen_dir in d.listdir(area):
                generation = int(gen_dir[1:]) if gen_dir[:1] == "g" and gen_dir[1:].isdigit() else None
                if generation is not None and generation not in oldest and generation != self.generation:
                    d.delete_tree(f"{area}/{gen_dir}")  # a generation no kept checkpoint belongs to
        if self.generation in oldest:
            self._journal.delete_through(oldest[self.generation])
        for name, receiver_log in self._receiver_logs.items():
            passed = [_wal_position(m, name) for m in kept if m.generation == self.generation]
            if passed and None not in passed:
                receiver_log.delete_through(min(passed))  # type: ignore[type-var]


def _wal_enabled(ssc: StreamingContext) -> bool:
    return str(ssc.sparkContext.getConf().get(ENABLE, "false")).lower() == "true"


def _wal_position(m: manifest.Manifest, name: str) -> int | None:
    """The receiver write-ahead log position a checkpoint recorded for source ``name``."""
    position = m.body.get("sources", {}).get(name, {}).get("position")
    if isinstance(position, dict) and isinstance(position.get("wal"), int):
        return position["wal"]
    return None


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
