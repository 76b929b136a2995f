"""Saving the DStream graph (streams, operators, user functions) with cloudpickle, and loading it.

As Spark, the graph of a checkpoint is code: loading it runs whatever the pickle says, so a
checkpoint directory must be trusted as much as the application itself.

The graph is pickled without the context that runs it: the :class:`StreamingContext` and its
SparkContext are written as references and bound to the new context on load. Locks, conditions
and events come back new (unlocked); a thread comes back as None. What cannot be pickled at all (an
open network consumer, a database connection) makes :func:`dump_graph` fail with the reason;
recovery then rebuilds the graph with ``setupFunc`` instead (see :mod:`.recovery`).
"""

from __future__ import annotations

import io
import pickle
import threading
import weakref
from typing import TYPE_CHECKING, Any

import cloudpickle

if TYPE_CHECKING:
    from dstreams.context import StreamingContext
    from dstreams.graph import DStreamGraph

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


def dump_graph(ssc: StreamingContext) -> bytes:
    """The context's graph as bytes; raises (``pickle.PicklingError``, ``TypeError``...) if it cannot be."""
    buffer = io.BytesIO()
    _GraphPickler(buffer, ssc).dump(ssc._graph)
    return buffer.getvalue()


def load_graph(data: bytes, ssc: StreamingContext) -> DStreamGraph:
    """The graph saved by :func:`dump_graph`, its streams bound to ``ssc``."""
    return _GraphUnpickler(io.BytesIO(data), ssc).load()


class _GraphPickler(cloudpickle.Pickler):
    def __init__(self, file: io.BytesIO, ssc: StreamingContext):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._refs = {id(ssc): "ssc", id(ssc._sc): "sc"}

    def persistent_id(self, obj: Any) -> str | None:
        return self._refs.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK):
            return threading.Lock, ()
        if isinstance(obj, _RLOCK):
            return threading.RLock, ()
        if isinstance(obj, threading.Condition):
            return threading.Condition, (obj._lock,)  # type: ignore[attr-defined]
        if isinstance(obj, threading.Thread):
            return _none, ()
        if isinstance(obj, weakref.ref):
            target = obj()
            return (weakref.ref, (target,)) if target is not None else (_none, ())
        return super().reducer_override(obj)


class _GraphUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, ssc: StreamingContext):
        super().__init__(file)
        self._refs = {"ssc": ssc, "sc": ssc._sc}

    def persistent_load(self, pid: Any) -> Any:
        try:
            return self._refs[pid]
        except KeyError:
            raise pickle.UnpicklingError(f"unknown reference {pid!r} in a saved graph") from None


def graph_files(spec: dict[str, Any]) -> list[str]:
    """The files holding one saved graph: its copies (checkpoints before copies were kept name one)."""
    return list(spec.get("copies") or [spec["file"]])


def _none() -> None:
    return None
