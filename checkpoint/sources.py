"""Source positions: where each source stands, so that after a restart it neither skips nor repeats.

The protocol, for any :class:`~dstreams.dstream.InputDStream` subclass (both methods optional)::

    def _checkpoint_state(self) -> dict:
        '''JSON-able: where the source stands after the last ``_allocate(t)``. Called on the timer
        thread right after each ``_allocate``, so it must be cheap.'''

    def _restore_state(self, state: dict) -> None:
        '''Called before ``_start()`` on recovery: go on from ``state``; ``_start`` must keep it.'''

The data of the batches generated before a crash is replayed from the input journal (see
:mod:`.journal`), so a position only has to say where to go on *after* the last generated batch.
A source without the protocol starts afresh after a restart, as newly created; receivers (socket,
custom ``Receiver``) need no position: what they had stored is in the journal, and with the
receiver write-ahead log on, so is what they stored after the last batch.

The built-in sources that predate the protocol are handled here by adapters (their positions:
queue: items left; generator: batches made; Kafka: next offsets, via ``state()``/``restore()``;
files: the files already seen and the start time).
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
    """Before ``_start()``: move the source to ``state``."""
    own = getattr(source, "_restore_state", None)
    if own is not None:
        own(state)
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


def _kafka_position(source: Any) -> dict[str, Any]:
    state = dict(source.state())
    state["batches"] = {}  # the batches' messages are in the journal; only the next offsets matter
    return state


def _kafka_restore(source: Any, state: dict[str, Any]) -> None:
    source.restore({"offsets": state["offsets"], "batches": {}})


def _files_position(source: Any) -> dict[str, Any]:
    seen = source._seen  # the paths already read or ignored (a set; older versions: path -> mtime)
    state: dict[str, Any] = {"seen": dict(seen) if isinstance(seen, dict) else sorted(seen)}
    if hasattr(source, "_start_ms"):
        state["start_ms"] = source._start_ms
    return state


def _files_after_start(source: Any, state: dict[str, Any]) -> None:
    # FileInputDStream._start lists the directory as "already there"; put back what was seen instead,
    # so that the files that arrived while the application was down are read.
    seen = state["seen"]
    if isinstance(source._seen, dict):
        source._seen = dict(seen) if isinstance(seen, dict) else dict.fromkeys(seen, 0)
    else:
        source._seen = set(seen)
    if "start_ms" in state and hasattr(source, "_start_ms"):
        source._start_ms = int(state["start_ms"])


_REPLAYABLE = {"QueueInputDStream", "GeneratorInputDStream"}  # deterministic from their position
_ADAPTERS: dict[str, tuple[Any, Any, Any]] = {
    "QueueInputDStream": (_queue_position, _queue_restore, None),
    "GeneratorInputDStream": (_generator_position, _generator_restore, None),
    "KafkaDirectDStream": (_kafka_position, _kafka_restore, None),
    "FileInputDStream": (_files_position, None, _files_after_start),
}
