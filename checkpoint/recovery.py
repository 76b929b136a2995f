"""``StreamingContext.getOrCreate``: start afresh, or restore a context from its checkpoint.

With no checkpoint in the directory, ``setupFunc()`` builds the context and the directory is set
as its checkpoint directory. With one, as Spark:

1. the newest readable checkpoint is chosen (a damaged or truncated one is skipped with a warning;
   if checkpoints exist but none can be read, :class:`CheckpointCorruptError` is raised rather than
   silently starting over);
2. the graph saved in it is loaded (``setupFunc`` is **not** called; loading runs pickled code, so
   the directory must be trusted as much as the application);
3. on ``start()``, every stream gets its state back, the batch grid resumes at the checkpoint's
   batch ``C``, and the batches after ``C`` run again: those that had completed before the crash
   with the data the journal kept, to rebuild the state, without running their outputs again;
   those that had not completed, and the batches of the down time, fully.

**Upgrade mode** (``getOrCreate(path, setupFunc, upgrade=True)``, beyond Spark): ``setupFunc``
builds the graph from the new code and the saved state is given to the streams of the same names
(see :mod:`.names`); saved state with no stream to take it is a :class:`GraphMismatchError` listing
the names on both sides. The same happens without ``upgrade`` when the graph could not be saved (it
held something that cannot be pickled, such as a Kafka consumer).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dstreams.privatefiles import check_trusted
from dstreams.state import StateSnapshot

from . import manifest, names
from .errors import CheckpointCorruptError, CheckpointError, GraphMismatchError
from .graphfile import graph_files, load_graph
from .journal import JournalReplay, read_journal
from .snapshots import check_files, read_snapshot
from .store import CheckpointDir, resolve

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

log = logging.getLogger("dstreams")


@dataclass
class Recovery:
    """What a restored context resumes from; applied by ``ssc.start()`` (see :mod:`.manager`)."""

    manifest: manifest.Manifest
    snapshots: dict[str, StateSnapshot]
    replay: JournalReplay

    @property
    def checkpoint_ms(self) -> int:
        return self.manifest.checkpoint_ms

    def positions(self, replayable: set[str]) -> dict[str, Any]:
        """Where each source goes on from: after the last batch generated before the stop, or for the
        ``replayable`` ones (which give the batches after the checkpoint again), after the checkpoint."""
        saved = {n: s.get("position") for n, s in self.manifest.body.get("sources", {}).items()}
        last = self.replay.last_generated
        if last is not None:
            newest = self.replay.positions.get(last, {})
            saved.update({n: p for n, p in newest.items() if n not in replayable})
        return saved


def get_or_create(
    cls: type[StreamingContext],
    checkpointPath: str,
    setupFunc: Callable[[], StreamingContext],
    upgrade: bool = False,
) -> StreamingContext:
    """See the module docstring and :meth:`StreamingContext.getOrCreate`."""
    directory = resolve(checkpointPath)
    # upgrade mode builds the graph from the new code: the saved one is never read nor unpickled
    found = load_latest(directory, read_graph=not upgrade)
    if found is None:
        ssc = _setup(cls, setupFunc)
        ssc.checkpoint(checkpointPath)
        return ssc
    chosen, snapshots, graph = found
    replay = read_journal(directory, chosen.journal, after=chosen.checkpoint_ms)
    if graph is None or upgrade:
        if graph is None and not upgrade:
            log.warning(
                "checkpoint %s holds no graph (%s): rebuilding it with setupFunc and giving the saved "
                "state back by stream name",
                chosen.name,
                chosen.body.get("graph_error"),
            )
        ssc = _setup(cls, setupFunc)
        batch_ms = int(chosen.body["batch_ms"])
        if ssc._batch_ms != batch_ms:
            raise GraphMismatchError(
                f"checkpoint {directory.location}: the batch duration changed from {batch_ms} ms to "
                f"{ssc._batch_ms} ms; the saved windows and batch times cannot follow. Keep the batch "
                "duration, or start from a new checkpoint directory"
            )
        _check_names(ssc, chosen, directory)
    else:
        ssc = _restored_context(cls, chosen, graph, replay)
    ssc.checkpoint(checkpointPath)
    ssc._recovery = Recovery(chosen, snapshots, replay)  # type: ignore[attr-defined]
    log.info(
        "recovering from checkpoint %s (batch %d ms): %d batch(es) after it were generated before the "
        "stop, %d completed",
        chosen.name,
        chosen.checkpoint_ms,
        len(replay.inputs),
        sum(1 for t in replay.inputs if replay.replays(t)),
    )
    return ssc


def load_latest(
    directory: CheckpointDir, *, read_graph: bool = True
) -> tuple[manifest.Manifest, dict[str, StateSnapshot], bytes | None] | None:
    """The newest checkpoint that reads back whole, its state and its graph; None when there is none.

    With ``read_graph`` the directory must be trusted first (see :func:`check_trust`): the graph is
    code. Without it the graph is not read (upgrade mode) and None is returned in its place.
    """
    found = manifest.manifest_names(directory)
    if not found:
        return None
    if read_graph:
        check_trust(directory)
    problems = []
    for entry in reversed(found):
        name = entry[3]
        try:
            chosen = manifest.read(directory, name)
            states = chosen.body.get("states", {})
            for state in states.values():
                check_files(directory, state)
            snapshots = {n: read_snapshot(directory, state) for n, state in states.items()}
            graph = _read_graph(directory, chosen.body.get("graph")) if read_graph else None
        except CheckpointCorruptError as error:
            log.warning("checkpoint %s in %s is skipped: %s", name, directory.location, error)
            problems.append(f"{name}: {error}")
            continue
        if problems:
            log.warning(
                "recovering from the older checkpoint %s: %d newer one(s) could not be read",
                name,
                len(problems),
            )
        return chosen, snapshots, graph
    raise CheckpointCorruptError(
        f"none of the {len(found)} checkpoint(s) in {directory.location} can be read: "
        + "; ".join(problems)
        + (
            ". If only the saved graph is damaged, getOrCreate(path, setupFunc, upgrade=True) rebuilds "
            "the graph from your code and keeps the saved state; otherwise move the directory away to "
            "start afresh (the state in it is lost)"
            if read_graph
            else ". Move the directory away to start afresh (the state in it is lost)"
        )
    )


def _read_graph(directory: CheckpointDir, spec: dict[str, Any] | None) -> bytes | None:
    if not spec:
        return None
    import zlib

    problems = []
    for rel in graph_files(spec):
        try:
            data = directory.read_bytes(rel)
        except OSError as error:
            problems.append(f"graph file {rel} cannot be read: {error}")
            continue
        if len(data) != spec["bytes"] or zlib.crc32(data) != spec["crc32"]:
            problems.append(f"graph file {rel} is damaged (size or checksum mismatch)")
            continue
        if directory.is_local and TRUST_ANY_OWNER not in _trust_settings():
            check_trusted(directory.path(rel), what="checkpoint graph file")
        return data
    raise CheckpointCorruptError("; ".join(problems))


TRUST_ANY_OWNER = "spark.dstreams.checkpoint.trustAnyOwner"


def _trust_settings() -> set[str]:
    """The trust opt-outs in force: the active SparkContext's conf, or the environment variable
    ``DSTREAMS_CHECKPOINT_TRUST_ANY_OWNER=true`` (getOrCreate runs before setupFunc makes a context)."""
    from dstreams.spark import SparkContext

    values = [os.environ.get("DSTREAMS_CHECKPOINT_TRUST_ANY_OWNER", "")]
    sc = SparkContext._active
    if sc is not None:
        values.append(sc.getConf().get(TRUST_ANY_OWNER, "") or "")
    return {TRUST_ANY_OWNER} if any(v.strip().lower() == "true" for v in values) else set()


def check_trust(directory: CheckpointDir) -> None:
    """Refuse to load a graph (code) from a local checkpoint directory another user could write.

    The directory and its ``graph`` folder must be owned by this user (or root) and not writable by
    group or others (see :func:`dstreams.privatefiles.check_trusted`); set
    ``spark.dstreams.checkpoint.trustAnyOwner=true`` to load it anyway.
    """
    if not directory.is_local or TRUST_ANY_OWNER in _trust_settings():
        return
    for rel in ("", "graph"):
        path = directory.path(rel)
        if os.path.exists(path):
            check_trusted(path, what="checkpoint directory")


def _setup(cls: type[StreamingContext], setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
    ssc = setupFunc()
    if not isinstance(ssc, cls):
        raise TypeError(f"setupFunc must return a StreamingContext, got {type(ssc).__name__}")
    return ssc


def _restored_context(
    cls: type[StreamingContext], chosen: manifest.Manifest, graph: bytes, replay: JournalReplay
) -> StreamingContext:
    from dstreams.clock import ManualClock
    from dstreams.spark import SparkConf, SparkContext

    body = chosen.body
    sc = SparkContext.getOrCreate(SparkConf().setAll(body.get("conf", {}).items()))
    clock = None
    if body.get("clock") == "ManualClock":  # a test's context comes back on a manual clock, at the crash
        clock = ManualClock(start_ms=max(chosen.checkpoint_ms, replay.last_generated or 0))
    ssc = cls(sc, int(body["batch_ms"]) / 1000.0, clock=clock)
    try:
        ssc._graph = load_graph(graph, ssc)
    except Exception as error:
        raise GraphMismatchError(
            f"the graph saved in checkpoint {chosen.name} cannot be loaded ({type(error).__name__}: "
            f"{error}); if the application code changed, use StreamingContext.getOrCreate(path, "
            "setupFunc, upgrade=True) to build the graph from the new code and keep the saved state"
        ) from error
    return ssc


def _check_names(ssc: StreamingContext, chosen: manifest.Manifest, directory: CheckpointDir) -> None:
    """Upgrade mode: every saved state must find a stream of the same name and class."""
    holders = names.state_holders(ssc._graph)
    saved = chosen.body.get("states", {})
    homeless = sorted(n for n in saved if n not in holders)
    changed = sorted(
        f"{n} (saved from {saved[n]['class']}, now {type(holders[n]).__name__})"
        for n in saved
        if n in holders and type(holders[n]).__name__ != saved[n]["class"]
    )
    if homeless or changed:
        lines = [
            f"checkpoint {chosen.name} in {directory.location} does not fit the graph built by setupFunc:"
        ]
        if homeless:
            lines.append(f"  saved state with no stream of that name: {', '.join(homeless)}")
        if changed:
            lines.append(f"  streams whose kind changed: {', '.join(changed)}")
        lines.append(f"  stateful streams of the new graph: {', '.join(sorted(holders)) or '(none)'}")
        lines.append(
            "Give stateful streams stable names with stream.setName('...') (names without it follow the "
            "order in which operators of each kind are created), or start from a new checkpoint directory"
        )
        raise GraphMismatchError("\n".join(lines))
    fresh = sorted(n for n in holders if n not in saved)
    if fresh:
        log.info("upgrade: stream(s) %s have no saved state and start empty", ", ".join(fresh))
    gone = sorted(set(chosen.body.get("sources", {})) - set(names.sources(ssc._graph)))
    if gone:
        log.warning(
            "upgrade: source(s) %s of the checkpoint are not in the new graph; their data is dropped", gone
        )


__all__ = ["CheckpointError", "Recovery", "get_or_create", "load_latest"]
