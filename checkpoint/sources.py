"""Source positions: where each source stands, so that after a restart it neither skips nor repeats.

The protocol, for any :class:`~dstreams.dstream.InputDStream` subclass (both methods optional)::

    def _checkpoint_state(self) -> dict:
        '''JSON-able: where the source stands after the last ``_allocate(t)``. Called on the timer
        thread right after each ``_allocate``, so it must be cheap.'''

    def _restore_state(self, state: dict) -> None:
        '''Called before ``_start()`` on recovery: go on from ``state``; ``_start`` must keep it.'''

    def _restore_batches(self, later: dict[int, dict]) -> None:
        '''Optional, for replayable sources: after ``_restore_state``, the positions journaled with
        each batch generated after the checkpoint (batch time -> position), e.g. to read each
        batch's own offset ranges again.'''

Two kinds of sources:

* **replayable** (``_replayable = True``): moved back to the position of the checkpoint, the source
  gives the batches after it again, the same ones; only its positions are journaled, never its data.
  File streams (the files each batch of the remember window selected; the directory is listed
  again), receiver streams with the write-ahead log on (the log position; the log gives the blocks
  again) and Kafka (offsets; each batch's offset ranges are read again) are.
* the others: the data of the batches generated before a crash is replayed from the input journal
  (see :mod:`.journal`), so their position only has to say where to go on *after* the last
  generated batch. Receivers without the write-ahead log need none (what a batch took is in the
  journal; what they stored after the last batch is lost).

A source without the protocol starts afresh after a restart, as newly created.

The built-in sources that predate the protocol are handled here by adapters (their positions:
queue: items left; generator: batches made).
"""

from __future__ import annotations

import logging
from typing import Any

from dstreams.dstream import InputDStream

log = logging.getLogger("dstreams")


def position(source: InputDStream) -> Any | None:
    """The source's position after its last allocated batch (None: it has none)."""
    own = getattr(source, "_checkpoint_state", None)
    if own is not None:
        return own()
    adapter = _ADAPTERS.get(_kind(source))
    return adapter[0](source) if adapter is not None else None


def restore(source: InputDStream, state: Any) -> None:
    """Before ``_start()``: move the source to ``state`` (and give it its later batches' positions)."""
    own = getattr(source, "_restore_state", None)
    if own is not None:
        own(state)
        batches = getattr(source, "_restore_batches", None)
        if batches is not None:
            batches(_later_positions(source))
        return
    adapter = _ADAPTERS.get(_kind(source))
    if adapter is not None and adapter[1] is not None:
        adapter[1](source, state)


def after_start(source: InputDStream, state: Any) -> None:
    """After ``_start()``: for adapted sources whose ``_start`` resets what ``restore`` set."""
    if getattr(source, "_restore_state", None) is not None:
        return
    adapter = _ADAPTERS.get(_kind(source))
    if adapter is not None and adapter[2] is not None:
        adapter[2](source, state)


def replayable(source: InputDStream) -> bool:
    """Whether the source, moved back to an earlier position, gives the same batches again.

    Such a source needs no data in the journal (``_replayable = True`` on the class, or the queue and
    generator adapters): recovery moves it back to the checkpoint's position and lets it
    generate the batches after it again.
    """
    declared = getattr(source, "_replayable", None)
    if declared is not None:
        return bool(declared)
    return getattr(source, "_checkpoint_state", None) is None and _kind(source) in _REPLAYABLE


def resumable(source: InputDStream) -> bool:
    """Whether the source keeps a position (receivers need none, see the module docstring)."""
    if getattr(source, "_checkpoint_state", None) is not None or _kind(source) in _ADAPTERS:
        return True
    return any(c.__name__ == "ReceiverInputDStream" for c in type(source).__mro__)


def _later_positions(source: InputDStream) -> dict[int, Any]:
    """The positions the journal recorded for ``source`` with each batch after the checkpoint that
    its context is being restored from (see dstreams.checkpoint.recovery)."""
    ssc = source._ssc
    recovery = getattr(ssc, "_recovery", None)
    if recovery is None:
        return {}
    from .names import sources

    name = next((n for n, s in sources(ssc._graph).items() if s is source), None)
    found = {}
    for t, positions in recovery.replay.positions.items():
        if name in positions and positions[name] is not None:
            found[t] = positions[name]
    return found


def _kind(source: InputDStream) -> str:
    # By class name: importing the optional sources' modules here would pull their dependencies.
    for cls in type(source).__mro__:
        if cls.__name__ in _ADAPTERS:
            return cls.__name__
    return type(source).__name__


# -- adapters for the built-in sources -----------------------------------------------------------
def _queue_position(source: Any) -> dict[str, Any]:
    return {"left": len(source._queue)}


def _queue_restore(source: Any, state: dict[str, Any]) -> None:
    # The queue was rebuilt whole (unpickled or by setupFunc): drop the items already taken.
    left = int(state["left"])
    while len(source._queue) > left:
        source._queue.popleft()


def _generator_position(source: Any) -> dict[str, Any]:
    return {"batches": source._batches}


def _generator_restore(source: Any, state: dict[str, Any]) -> None:
    source._batches = int(state["batches"])


_REPLAYABLE = {"QueueInputDStream", "GeneratorInputDStream"}  # deterministic from their position
_ADAPTERS: dict[str, tuple[Any, Any, Any]] = {
    "QueueInputDStream": (_queue_position, _queue_restore, None),
    "GeneratorInputDStream": (_generator_position, _generator_restore, None),
}
