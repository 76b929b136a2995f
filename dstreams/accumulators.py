"""``Accumulator`` and ``AccumulatorParam``: a shared value that operators only add to.

In Spark, tasks on executors add to an accumulator and only the driver reads it. In dstreams
everything runs in one process, so ``.value`` is readable everywhere; adds are serialized by a
lock, because they come from the scheduler's thread(s) and from the program's own thread.

>>> from dstreams import SparkContext
>>> sc = SparkContext.getOrCreate()
>>> dropped = sc.accumulator(0)
>>> sc.parallelize(["a", "", "b", ""]).foreach(lambda w: dropped.add(1) if not w else None)
>>> dropped.value
2
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_ids = itertools.count()


class AccumulatorParam(Generic[T]):
    """How to add values of a type: subclass it and give ``zero`` and ``addInPlace``.

    >>> class ListParam(AccumulatorParam):
    ...     def zero(self, value):
    ...         return []
    ...     def addInPlace(self, value1, value2):
    ...         value1.extend(value2)
    ...         return value1
    >>> from dstreams import SparkContext
    >>> seen = SparkContext.getOrCreate().accumulator([], ListParam())
    >>> seen += [1]
    >>> seen.add([2])
    >>> seen.value
    [1, 2]
    """

    def zero(self, value: T) -> T:
        """The identity of ``addInPlace`` for values like ``value`` (0 for numbers)."""
        raise NotImplementedError("an AccumulatorParam subclass must define zero(value)")

    def addInPlace(self, value1: T, value2: T) -> T:
        """``value1`` plus ``value2``; may update ``value1`` in place and return it."""
        raise NotImplementedError("an AccumulatorParam subclass must define addInPlace(value1, value2)")


class _NumberParam(AccumulatorParam):
    """Numbers of one type: zero is that type's 0; adding is ``+``."""

    def __init__(self, zero_value: Any):
        self.zero_value = zero_value

    def zero(self, value: Any) -> Any:
        return self.zero_value

    def addInPlace(self, value1: Any, value2: Any) -> Any:
        value1 += value2
        return value1


INT_ACCUMULATOR_PARAM = _NumberParam(0)
FLOAT_ACCUMULATOR_PARAM = _NumberParam(0.0)
COMPLEX_ACCUMULATOR_PARAM = _NumberParam(0.0j)


def default_param(value: Any) -> AccumulatorParam:
    """The param ``sc.accumulator(value)`` uses without one: for int, float or complex values.

    >>> default_param(2.5).zero(2.5)
    0.0
    """
    # bool is an int subclass in Python; PySpark checks isinstance(value, int) too and accepts it.
    if isinstance(value, int):
        return INT_ACCUMULATOR_PARAM
    if isinstance(value, float):
        return FLOAT_ACCUMULATOR_PARAM
    if isinstance(value, complex):
        return COMPLEX_ACCUMULATOR_PARAM
    raise TypeError(
        f"No default accumulator param for type {type(value)}: pass one, "
        "sc.accumulator(value, MyParam()) with MyParam an AccumulatorParam subclass"
    )


class Accumulator(Generic[T]):
    """A value that operators add to with ``add`` or ``+=``; read or reset it with ``.value``.

    >>> from dstreams import SparkContext
    >>> total = SparkContext.getOrCreate().accumulator(0.5)
    >>> total += 2
    >>> total.value
    2.5
    """

    def __init__(self, aid: int, value: T, accum_param: AccumulatorParam[T]):
        self.aid = aid
        self.accum_param = accum_param
        self._value = value
        self._lock = threading.Lock()

    @property
    def value(self) -> T:
        """The current value (assigning it resets the accumulator).

        >>> from dstreams import SparkContext
        >>> hits = SparkContext.getOrCreate().accumulator(4)
        >>> hits.value = 0
        >>> hits.value
        0
        """
        with self._lock:
            return self._value

    @value.setter
    def value(self, value: T) -> None:
        with self._lock:
            self._value = value

    def add(self, term: T) -> None:
        """Add ``term`` (with the param's ``addInPlace``).

        >>> from dstreams import SparkContext
        >>> hits = SparkContext.getOrCreate().accumulator(0)
        >>> hits.add(3)
        >>> hits.value
        3
        """
        with self._lock:
            self._value = self.accum_param.addInPlace(self._value, term)

    def __iadd__(self, term: T) -> Accumulator[T]:
        self.add(term)
        return self

    # Pickled (a checkpointed closure that holds it) with its value: the lock is re-made.
    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            return {"aid": self.aid, "accum_param": self.accum_param, "_value": self._value}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return f"Accumulator<id={self.aid}, value={self.value}>"


def new_accumulator(value: T, accum_param: AccumulatorParam[T] | None = None) -> Accumulator[T]:
    """An accumulator with a process-wide unique id (what ``SparkContext.accumulator`` returns).

    >>> new_accumulator(1j).value
    1j
    """
    param = accum_param if accum_param is not None else default_param(value)
    return Accumulator(next(_ids), value, param)
