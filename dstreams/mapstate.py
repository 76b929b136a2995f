"""``mapWithState``: per-key state touched only by the keys of each batch, with timeouts.

Spark's Scala ``mapWithState`` (PySpark never had it), with the same rules:

* ``fn(key, value, state)`` is called once per record of the batch, in order, and sees what the
  previous records of the same key did to ``state``; keys without data are not called.
* :class:`State` has ``exists()``, ``get()``, ``getOption()``, ``update(s)``, ``remove()`` and
  ``isTimingOut()``.
* With ``StateSpec.timeout(d)``, a key idle for more than ``d`` seconds gets one last call
  ``fn(key, None, state)`` with ``state.isTimingOut()`` true, and is removed. Unlike Spark, where
  timeouts fire only on checkpoint batches, they fire at the first batch past the timeout.
* The stream holds what ``fn`` returned (a 4-argument ``fn(time, key, value, state)`` may return
  None to emit nothing, as Spark's ``Option``); ``stateSnapshots()`` gives every ``(key, state)``
  after each batch.

A batch that fails (``fn`` raises) leaves the state as it was before that batch.

>>> def track(key, value, state):
...     total = (state.getOption() or 0) + value
...     state.update(total)
...     return (key, total)
>>> totals = pairs.mapWithState(StateSpec.function(track).timeout(60))
>>> totals.stateSnapshots().pprint()

For large states, :meth:`StateSpec.native` takes Polars expressions instead of a function; see
:mod:`dstreams.nativestate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import codec, ops, pairs
from .batch import Batch, failures_named
from .dstream import DStream
from .errors import BatchError, ConfigurationError, DStreamsError
from .outputs import batch_label, to_datetime

if TYPE_CHECKING:
    import polars as pl

    from .state import StateDelta, StateSnapshot

_MISSING = object()
_REMOVED = object()


class StateNotSetError(DStreamsError, LookupError):
    """``State.get()`` on a key that has no state (Spark: NoSuchElementException)."""


class StateUsageError(DStreamsError, ValueError):
    """``update``/``remove`` where Spark forbids it (after ``remove()``, or while timing out)."""


class State:
    """The state of one key, handed to a ``mapWithState`` function."""

    __slots__ = ("_defined", "_removed", "_timing_out", "_updated", "_value")

    def __init__(self) -> None:
        self._wrap(_MISSING)

    def _wrap(self, value: Any, timing_out: bool = False) -> None:
        self._value = None if value is _MISSING else value
        self._defined = value is not _MISSING
        self._updated = self._removed = False
        self._timing_out = timing_out

    def exists(self) -> bool:
        """True when the key has a state."""
        return self._defined

    def get(self) -> Any:
        """The state; raises :class:`StateNotSetError` when there is none (see ``getOption``)."""
        if not self._defined:
            raise StateNotSetError("State is not set: check state.exists() or use state.getOption()")
        return self._value

    def getOption(self) -> Any:
        """The state, or None when there is none."""
        return self._value if self._defined else None

    def update(self, newState: Any) -> None:
        """Set the key's state (not allowed after ``remove()`` or while timing out)."""
        if self._removed:
            raise StateUsageError("Cannot update the state after it has been removed")
        if self._timing_out:
            raise StateUsageError("Cannot update the state that is timing out")
        self._value, self._defined, self._updated = newState, True, True

    def remove(self) -> None:
        """Drop the key's state (not allowed twice, or while timing out)."""
        if self._timing_out:
            raise StateUsageError("Cannot remove the state that is timing out")
        if self._removed:
            raise StateUsageError("Cannot remove the state that has already been removed")
        self._value, self._defined, self._updated, self._removed = None, False, False, True

    def isTimingOut(self) -> bool:
        """True during the last call for a key that timed out."""
        return self._timing_out

    def __repr__(self) -> str:
        return f"State({self._value!r})" if self._defined else "State(<none>)"


class StateSpec:
    """What ``mapWithState`` needs: the function (or native expressions) and options.

    >>> StateSpec.function(track).initialState([("a", 10)]).numPartitions(2).timeout(60)
    """

    def __init__(self, func: Callable[..., Any] | None = None, native: Any = None):
        self._func = func
        self._native = native
        self._initial: Any = None
        self._num_partitions: int | None = None
        self._timeout_ms: int | None = None

    @staticmethod
    def function(mappingFunction: Callable[..., Any]) -> StateSpec:
        """``fn(key, value, state)`` (or ``fn(time, key, value, state)``) per record."""
        if not callable(mappingFunction):
            raise TypeError(f"StateSpec.function needs a function, got {mappingFunction!r}")
        n = ops.arity(mappingFunction)
        if n not in (3, 4):
            raise ConfigurationError(
                f"StateSpec.function: the function must take (key, value, state) or "
                f"(time, key, value, state); {ops.describe(mappingFunction)} takes {n} arguments"
            )
        return StateSpec(func=mappingFunction)

    @staticmethod
    def native(
        update: dict[str, pl.Expr],
        agg: dict[str, pl.Expr] | None = None,
        key: str | list[str] = "key",
        remove: pl.Expr | None = None,
        schema: dict[str, Any] | None = None,
    ) -> StateSpec:
        """Per-key state as Polars expressions: no Python per key, cost following the batch.

        ``agg`` aggregates each key's rows of the batch; ``update`` computes the new state columns
        from the old ones (null for a new key) and the aggregates; keys where ``remove`` is true
        afterwards are dropped. See :mod:`dstreams.nativestate`.

        >>> counts = StateSpec.native(
        ...     agg={"n": pl.len()}, update={"count": pl.col("count").fill_null(0) + pl.col("n")}
        ... )
        """
        from .nativestate import NativeSpec

        return StateSpec(native=NativeSpec(update, agg, key, remove, schema))

    def initialState(self, rdd: Any) -> StateSpec:
        """Start from these ``(key, state)`` pairs (an RDD, a list, an Arrow table...)."""
        self._initial = rdd
        return self

    def numPartitions(self, numPartitions: int) -> StateSpec:
        """Spread the keys over ``numPartitions`` partitions."""
        self._num_partitions = int(numPartitions)
        return self

    def timeout(self, idleDuration: float) -> StateSpec:
        """Remove keys idle for more than ``idleDuration`` seconds (after one last call)."""
        ms = round(float(idleDuration) * 1000)
        if ms <= 0:
            raise ConfigurationError(f"StateSpec.timeout must be positive, got {idleDuration!r}")
        self._timeout_ms = ms
        return self


def map_with_state(stream: DStream, spec: StateSpec) -> DStream:
    """``stream.mapWithState(spec)``; see :meth:`DStream.mapWithState`."""
    if not isinstance(spec, StateSpec):
        raise TypeError(f"mapWithState needs a StateSpec, got {spec!r}: use StateSpec.function(fn)")
    n = stream._partitions(spec._num_partitions)
    if spec._native is not None:
        from .nativestate import NativeMapWithStateDStream

        return NativeMapWithStateDStream(stream, spec, n)
    return MapWithStateDStream(stream, spec, n)


class MapWithStateDStream(DStream):
    """The records ``fn`` returned for each batch; ``stateSnapshots()`` gives the state itself."""

    _stateful = True

    def __init__(self, parent: DStream, spec: StateSpec, num_partitions: int):
        super().__init__(parent._ssc, [parent])
        assert spec._func is not None
        self._func = spec._func
        self._with_time = ops.arity(spec._func) == 4
        self._timeout_ms = spec._timeout_ms
        self._num_partitions = num_partitions
        self.name = f"mapWithState({ops.describe(spec._func)})"
        self._initial = spec._initial
        self._values: dict[Any, Any] = {}  # key -> state
        # With a timeout: key -> last batch time that touched it, and keys grouped by that time
        self._touched: dict[Any, int] = {}
        self._by_time: dict[int, dict[Any, None]] = {}
        self._state_time: int | None = None
        from .state import ChangeTracker

        self._changes = ChangeTracker(self)  # keys changed since the last snapshot (checkpoints)

    # -- computing a batch -----------------------------------------------------------------------
    def _compute(self, t: int) -> Batch:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch:
        if self._state_time is None and self._initial is not None:
            self._load_initial(t)
        batch = self._parents[0]._get(t)
        records = [] if batch is None else codec.to_elements(pairs.of_batch(batch, self.name), "pair")
        changes: dict[Any, tuple[Any, int]] = {}  # key -> (state or _REMOVED, time): applied at the end
        out: list[tuple[Any, Any]] = []  # (key, returned value)
        state = State()
        stamp = self._timeout_ms is not None
        when = to_datetime(t) if self._with_time else None
        for k, v in records:
            change = self._change_of(changes, k)
            state._wrap(self._values.get(k, _MISSING) if change is None else change[0])
            out.append((k, self._call(when, k, v, state, t)))
            if state._removed:
                changes[k] = (_REMOVED, t)
            elif state._updated or (state._defined and stamp):
                changes[k] = (state._value, t)
        if stamp:
            for k, last in self._expired(t - self._timeout_ms, changes):
                state._wrap(last, timing_out=True)
                out.append((k, self._call(when, k, None, state, t)))
                changes[k] = (_REMOVED, t)
        self._commit(changes)
        self._state_time = t
        return self._mapped(out)

    def _change_of(self, changes: dict, key: Any) -> tuple[Any, int] | None:
        try:
            change = changes.get(key)
        except TypeError:
            raise pairs.unhashable(key, self.name) from None
        if change is not None and change[0] is _REMOVED:
            return (_MISSING, change[1])
        return change

    def _call(self, when: Any, key: Any, value: Any, state: State, t: int) -> Any:
        try:
            if self._with_time:
                return self._func(when, key, value, state)
            return self._func(key, value, state)
        except Exception as error:
            raise BatchError(
                f"{self.name}: the function raised {type(error).__name__}: {error} for key {key!r} "
                f"at {batch_label(t)}; the state of the previous batch is kept",
                operator=self.name,
                batch_time=t,
            ) from error

    def _expired(self, threshold: int, changes: dict) -> list[tuple[Any, Any]]:
        """Keys last touched before ``threshold`` (and not in this batch), oldest first."""
        found = []
        for when in sorted(w for w in self._by_time if w < threshold):
            for k in self._by_time[when]:
                if k not in changes:
                    found.append((k, self._values[k]))
        return found

    def _commit(self, changes: dict[Any, tuple[Any, int]]) -> None:
        stamp = self._timeout_ms is not None
        if changes and self._changes.active:
            self._changes.changed(list(changes), len(changes), len(self._values))
        for k, (value, when) in changes.items():
            if stamp:
                last = self._touched.pop(k, None)
                if last is not None:
                    bucket = self._by_time[last]
                    del bucket[k]
                    if not bucket:
                        del self._by_time[last]
            if value is _REMOVED:
                self._values.pop(k, None)
                continue
            self._values[k] = value
            if stamp:
                self._touched[k] = when
                self._by_time.setdefault(when, {})[k] = None

    def _mapped(self, out: list[tuple[Any, Any]]) -> Batch:
        if not self._with_time:
            values = [v for _, v in out]
        else:  # fn(time, ...) returns an Option: None emits nothing
            out = [(k, v) for k, v in out if v is not None]
            values = [v for _, v in out]
        n = self._num_partitions
        if n <= 1:
            return Batch.from_elements(values)
        ids = ops.partition_ids([k for k, _ in out], n)
        parts: list[list[Any]] = [[] for _ in range(n)]
        for value, p in zip(values, ids):
            parts[p].append(value)
        return Batch.from_partitions(parts)

    def _load_initial(self, t: int) -> None:
        from .state import initial_state

        initial = initial_state(self._initial, self._num_partitions, self.name)
        self._commit({k: (v, t) for k, v in initial.items()})

    # -- outputs and state -----------------------------------------------------------------------
    def stateSnapshots(self) -> DStream:
        """Every ``(key, state)`` after each batch: ``totals.stateSnapshots().pprint()``."""
        return _SnapshotDStream(self)

    def _state_table(self) -> pa.Table:
        return pairs.from_items(self._values.items())

    def _state_snapshot(self) -> StateSnapshot | None:
        if self._state_time is None:
            return None
        return self._changes.snapshot(
            self._state_time,
            {"kind": "mapWithState"},
            len(self._values),
            lambda: self._rows(list(self._values)),
            self._delta,
        )

    def _rows(self, keys: list[Any]) -> pa.Table:
        """The state table of ``keys`` (all in the state): key, value and, with a timeout, touched_ms."""
        table = pairs.from_items((k, self._values[k]) for k in keys)
        if self._timeout_ms is not None and keys:
            touched = [self._touched.get(k) for k in keys]
            table = table.append_column("touched_ms", pa.array(touched, pa.int64()))
        return table

    def _delta(self, parts: list[list[Any]]) -> StateDelta:
        from .state import StateDelta

        keys = dict.fromkeys(k for part in parts for k in part)
        present = [k for k in keys if k in self._values]
        gone = pairs.from_items((k, None) for k in keys if k not in self._values).select(["key"])
        return StateDelta(self._rows(present), gone, "key")

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        table = snapshot.tables["state"]
        self._values, self._touched, self._by_time = {}, {}, {}
        items = codec.to_elements(table.select(["key", "value"]), "pair") if table.num_rows else []
        times = table.column("touched_ms").to_pylist() if "touched_ms" in table.column_names else None
        self._commit({k: (v, times[i] if times else snapshot.batch_time) for i, (k, v) in enumerate(items)})
        self._state_time = snapshot.batch_time
        self._initial = None
        self._changes.restored(snapshot)


class _SnapshotDStream(DStream):
    """``stateSnapshots()``: the state of a mapWithState stream after each of its batches."""

    def __init__(self, parent: DStream):
        super().__init__(parent._ssc, [parent])

    def _compute(self, t: int) -> Batch | None:
        parent = self._parents[0]
        if parent._get(t) is None:
            return None
        return pairs.to_batch(parent._state_table(), parent._num_partitions)
