"""Stable names for the parts of a graph that a checkpoint saves: state holders and sources.

A checkpoint stores each stream's state under a name, and recovery gives it back to the stream of
the same name. A name is the one given with ``stream.setName("totals")``, or else derived from the
graph: the operator's kind and its rank among the streams of that kind, in the order they were
created (``updateStateByKey#0``, ``window#1``, ``fileStream#0``...). Derived names survive changes
inside functions; adding, removing or reordering operators of one kind changes them, which is
what ``setName`` is for.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dstreams.errors import ConfigurationError

if TYPE_CHECKING:
    from dstreams.dstream import DStream
    from dstreams.graph import DStreamGraph

# Class name -> the operator as users write it.
_KINDS = {
    "StateDStream": "updateStateByKey",
    "MapWithStateDStream": "mapWithState",
    "NativeMapWithStateDStream": "mapWithState",
    "ReducedWindowedDStream": "reduceByKeyAndWindow",
    "WindowedAggDStream": "window.group_by",
    "_WindowedDStream": "window",
    "EventTimeDStream": "event_time",
    "EventWindowDStream": "event_time.window",
    "QueueInputDStream": "queueStream",
    "GeneratorInputDStream": "generatorStream",
    "FileInputDStream": "fileStream",
    "KafkaDirectDStream": "kafka",
    "ReceiverInputDStream": "receiverStream",
}


def kind(stream: Any) -> str:
    """The operator kind of ``stream`` (its class name when it is not a known one)."""
    for cls in type(stream).__mro__:
        if cls.__name__ in _KINDS:
            return _KINDS[cls.__name__]
    return type(stream).__name__


def holds_state(stream: Any) -> bool:
    """Whether a checkpoint saves this stream's state (it implements ``_state_snapshot``)."""
    return callable(getattr(stream, "_state_snapshot", None))


def state_holders(graph: DStreamGraph) -> dict[str, DStream]:
    """Name -> stream, for every stream whose state a checkpoint saves.

    A stream that nothing reads never computes, so it has no state to save (e.g. the plain window
    under ``window(...).group_by(...)``, which aggregates its parent's batches itself).
    """
    read = {id(p) for s in graph.streams for p in s._parents}
    return _named([s for s in graph.streams if holds_state(s) and id(s) in read])


def sources(graph: DStreamGraph) -> dict[str, DStream]:
    """Name -> input stream."""
    return _named(list(graph.inputs))


def _named(streams: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ranks: Counter[str] = Counter()
    for stream in streams:
        explicit = getattr(stream, "_checkpoint_name", None)
        if explicit:
            name = str(explicit)
        else:
            k = kind(stream)
            name = f"{k}#{ranks[k]}"
            ranks[k] += 1
        if name in out:
            raise ConfigurationError(
                f"two streams are named {name!r} ({out[name]!r} and {stream!r}); give each a different "
                "name with .setName(...)"
            )
        out[name] = stream
    return out
