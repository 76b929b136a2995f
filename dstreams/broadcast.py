"""``Broadcast``: a read-only value shared by every operator, as ``sc.broadcast(value)`` gives.

Spark ships a broadcast value to each executor once. dstreams runs in one process, so a
``Broadcast`` simply holds the value. It pickles *by value*: a checkpointed closure that captured it
brings the value back on recovery. Spark's own guidance still applies: create broadcasts lazily
(a function that makes the broadcast on first use and reuses it after) so that a program restored
from a checkpoint by ``StreamingContext.getOrCreate`` makes them again.

>>> from dstreams import SparkContext
>>> stop_words = SparkContext.getOrCreate().broadcast({"a", "the"})
>>> sorted(stop_words.value)
['a', 'the']
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Generic, TypeVar

from .errors import DStreamsError

T = TypeVar("T")

_ids = itertools.count()


class BroadcastDestroyedError(DStreamsError, RuntimeError):
    """A destroyed ``Broadcast`` was used."""


class Broadcast(Generic[T]):
    """A value broadcast to every operator (PySpark's ``pyspark.Broadcast``).

    >>> from dstreams import SparkContext
    >>> b = SparkContext.getOrCreate().broadcast([1, 2, 3])
    >>> sum(b.value)
    6
    >>> b.destroy()
    >>> b.value  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dstreams.broadcast.BroadcastDestroyedError: Broadcast(...) was destroyed; ...
    """

    def __init__(self, value: T, bid: int | None = None):
        self._id = next(_ids) if bid is None else bid
        self._value = value
        self._destroyed = False
        self._lock = threading.Lock()

    @property
    def id(self) -> int:
        """This broadcast's id (unique in the process).

        >>> Broadcast(1).id != Broadcast(1).id
        True
        """
        return self._id

    @property
    def value(self) -> T:
        """The broadcast value; raises :class:`BroadcastDestroyedError` after :meth:`destroy`.

        >>> Broadcast({"k": 1}).value["k"]
        1
        """
        with self._lock:
            if self._destroyed:
                raise BroadcastDestroyedError(
                    f"Broadcast({self._id}) was destroyed; it cannot be used any more: make a new one "
                    "with sc.broadcast(value), or call unpersist() instead of destroy() to keep it usable"
                )
            return self._value

    def unpersist(self, blocking: bool = False) -> None:
        """Spark drops executor copies (re-sent on next use). Here the value stays: nothing to do.

        >>> b = Broadcast([1])
        >>> b.unpersist(); b.value
        [1]
        """

    def destroy(self, blocking: bool = False) -> None:
        """Release the value for good: using the broadcast afterwards raises an error.

        >>> b = Broadcast([1])
        >>> b.destroy()
        >>> b.value  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dstreams.broadcast.BroadcastDestroyedError: Broadcast(...) was destroyed; ...
        """
        with self._lock:
            self._destroyed = True
            self._value = None  # type: ignore[assignment]

    # Pickled by value, so checkpointed closures that captured it recover it.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.value, self._id))

    def __repr__(self) -> str:
        return f"<Broadcast id={self._id}>"


def _restore(value: Any, bid: int) -> Broadcast:
    return Broadcast(value, bid)
