"""Running state per key: ``updateStateByKey`` (Spark's semantics) and the state store format.

``updateStateByKey(updateFunc)`` calls ``updateFunc(new_values, old_state)`` for every key of the
state and of the batch, every batch (``new_values`` is ``[]`` for a key without new data); a
``None`` result removes the key; the whole state is emitted every batch. When the parent has no
batch the state is carried forward without calling the function.

The state is one Arrow table ``(key, value)``. Update functions of a few well-known shapes (a
running sum ``sum(new) + (old or 0)`` or count ``len(new) + (old or 0)``, recognised exactly by
their bytecode, see :mod:`dstreams.recognize`) run as one Polars group-by over the state and the
batch, with no Python per key; any other function is called per key as in Spark.

State store: every stateful stream (``_stateful = True``) can hand out a :class:`StateSnapshot`
(Arrow tables plus a little JSON-able metadata) and take one back; the checkpoint code only has to
write and read those. Without a checkpoint directory state lives in memory (the context warns once).

>>> counts = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from . import batch as _batch
from . import codec, ops, pairs, recognize
from .batch import Batch
from .dstream import DStream
from .errors import BatchError
from .outputs import to_datetime

try:
    from . import tracing
except ImportError:  # pragma: no cover - the tracer is optional
    tracing = None  # type: ignore[assignment]

_NEWEST = pl.CompatLevel.newest()


@dataclass
class StateSnapshot:
    """The state of one stateful stream after batch ``batch_time``: what a checkpoint stores.

    ``tables`` are plain Arrow tables (Parquet-ready; columns holding Python objects are pickled
    binaries marked in their field metadata, see :mod:`dstreams.codec`); ``metadata`` is small and
    JSON-serialisable.
    """

    batch_time: int
    tables: dict[str, pa.Table]
    metadata: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# updateStateByKey


def update_state_by_key(
    stream: DStream,
    updateFunc: Callable[[list, Any], Any],
    numPartitions: int | None = None,
    initialRDD: Any = None,
) -> DStream:
    """Spark's ``updateStateByKey``; see :meth:`DStream.updateStateByKey`."""
    if not callable(updateFunc):
        raise TypeError(f"updateStateByKey needs a function, got {updateFunc!r}")
    n = stream._partitions(numPartitions)
    initial = None
    if initialRDD is not None:
        initial = pairs.from_items(initial_state(initialRDD, n, "updateStateByKey").items())
    return StateDStream(stream, updateFunc, n, initial)


def initial_state(initial: Any, n: int, operator: str) -> dict[Any, Any]:
    """An initial state (RDD, list of pairs, Arrow table, Polars frame) as ``{key: state}``.

    As Spark's cogroup, the first state given for a key wins.
    """
    from dstreams.receivers.queue import to_batch

    table = pairs.of_batch(to_batch(initial, n), f"{operator}: the initial state")
    first: dict[Any, Any] = {}
    for k, v in codec.to_elements(table, "pair"):
        try:
            first.setdefault(k, v)
        except TypeError:
            raise pairs.unhashable(k, operator) from None
    return first


# Update functions that run as a group-by: (new_values, old_state) -> running sum or count.
def _sum_update_def(new, old):
    if old is None:
        old = 0
    return sum(new) + old


def _sum_update_def2(new, old):
    if old is None:
        old = 0
    return sum(new, old)


def _count_update_def(new, old):
    if old is None:
        old = 0
    return len(new) + old


_UPDATE_TEMPLATES: dict[str, list[Callable]] = {
    "sum": [
        lambda new, old: sum(new) + (old or 0),
        lambda new, old: (old or 0) + sum(new),
        lambda new, old: sum(new, old or 0),
        lambda new, old: sum(new) + old if old else sum(new),
        lambda new, old: sum(new) + old if old is not None else sum(new),
        _sum_update_def,
        _sum_update_def2,
    ],
    "count": [
        lambda new, old: len(new) + (old or 0),
        lambda new, old: (old or 0) + len(new),
        lambda new, old: len(new) + old if old else len(new),
        lambda new, old: len(new) + old if old is not None else len(new),
        _count_update_def,
    ],
}


def recognise_update(fn: Callable) -> str | None:
    """``"sum"`` or ``"count"`` when ``fn`` is written as one of the known running updates."""
    for kind, templates in _UPDATE_TEMPLATES.items():
        if recognize.matches(fn, templates):
            return kind
    return None


class StateDStream(DStream):
    """Spark's ``StateDStream``: the state after each batch, emitted whole."""

    _stateful = True

    def __init__(self, parent: DStream, func: Callable, num_partitions: int, initial: pa.Table | None):
        super().__init__(parent._ssc, [parent])
        self._func = func
        self._kind = recognise_update(func)
        self._num_partitions = num_partitions
        self._initial = initial
        self._state: pa.Table | None = None  # None: no batch seen yet
        self._state_time: int | None = None
        self.name = f"updateStateByKey({ops.describe(func)})"

    def _compute(self, t: int) -> Batch | None:
        batch = self._parents[0]._get(t)
        if batch is None:  # as Spark: the previous state, without calling the function
            return None if self._state is None else self._emit(self._state)
        old = self._state if self._state is not None else self._initial
        new = pairs.of_batch(batch, self.name)
        state = self._columnar(old, new) if self._kind is not None else None
        if state is None:
            state = self._python(old, new, t)
        self._state, self._state_time = state, t
        return self._emit(state)

    def _emit(self, state: pa.Table) -> Batch:
        return pairs.to_batch(state, self._num_partitions)

    def _columnar(self, old: pa.Table | None, new: pa.Table) -> pa.Table | None:
        if not _batch.compilation_enabled() or tracing is None:
            return None
        tables = [x for x in (old, new) if x is not None and x.num_rows]
        if not tables:
            return pairs.EMPTY
        if any(codec.is_pickled(x.schema.field("key")) for x in tables):
            return None
        key_types = {pl.from_arrow(x.column("key").slice(0, 0)).dtype for x in tables}
        if len(key_types) > 1 or next(iter(key_types)).is_float():
            return None  # mixed key types, or float keys (NaN and -0.0 differ from a dict)
        parts = []
        bound = 0  # the largest |value| any total can reach, to pick a cheap sum when it fits Int64
        if old is not None and old.num_rows:
            if not _plain_ints(old):
                return None
            bound += _abs_max(old) or 0
            parts.append(pl.from_arrow(old).lazy().select("key", pl.col("value").cast(pl.Int64)))
        if new.num_rows:
            if self._kind == "count":
                agg = pl.len().cast(pl.Int64)
                bound += new.num_rows
            elif _plain_ints(new):
                most = _abs_max(new)
                if most is None:
                    return None
                bound += most * new.num_rows
                agg = _sum(bound)
            else:
                return None  # sum() of None or of other types: Python's semantics (and errors)
            parts.append(
                pl.from_arrow(new).lazy().group_by("key", maintain_order=True).agg(agg.alias("value"))
            )
        # cogroup order: the state's keys, then new keys by first appearance
        plan = pl.concat(parts).group_by("key", maintain_order=True).agg(_sum(bound).alias("value"))
        try:
            return plan.collect().to_arrow(compat_level=_NEWEST)
        except pl.exceptions.PolarsError:
            return None  # e.g. a total beyond Int64: Python ints grow

    def _python(self, old: pa.Table | None, new: pa.Table, t: int) -> pa.Table:
        groups: dict[Any, list] = {}
        if old is not None:
            for k, s in codec.to_elements(old, "pair"):
                groups[k] = [[], s]
        for k, v in codec.to_elements(new, "pair"):
            try:
                entry = groups.get(k)
            except TypeError:
                raise pairs.unhashable(k, self.name) from None
            if entry is None:
                groups[k] = [[v], None]
            else:
                entry[0].append(v)
        out = []
        func = self._func
        for k, (values, s) in groups.items():
            try:
                result = func(values, s)
            except Exception as error:
                raise BatchError(
                    f"{self.name}: updateFunc raised {type(error).__name__}: {error} for key {k!r} "
                    f"at batch {to_datetime(t)} ({t} ms); the state of the previous batch is kept",
                    operator=self.name,
                    batch_time=t,
                ) from error
            if result is not None:
                out.append((k, result))
        return pairs.from_items(out)

    # -- state store -----------------------------------------------------------------------------
    def _state_snapshot(self) -> StateSnapshot | None:
        if self._state is None or self._state_time is None:
            return None
        return StateSnapshot(self._state_time, {"state": self._state}, {"kind": "updateStateByKey"})

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._state, self._state_time = snapshot.tables["state"], snapshot.batch_time


def _plain_ints(table: pa.Table) -> bool:
    """The value column holds Arrow integers (Python ints), no nulls."""
    field = table.schema.field("value")
    return (
        pa.types.is_integer(field.type)
        and not codec.is_pickled(field)
        and not table.column("value").null_count
    )


_INT64_MAX = 2**63 - 1


def _abs_max(table: pa.Table) -> int | None:
    """The largest |value| (None when it does not fit a Python-side check, e.g. UInt64 extremes)."""
    values = pl.from_arrow(table.column("value"))
    try:
        return max(abs(int(values.min())), abs(int(values.max())))  # type: ignore[arg-type]
    except (TypeError, OverflowError):
        return None


def _sum(bound: int) -> pl.Expr:
    """Sum of ``value`` as Python would: Int64 when no total can overflow, else checked in Int128."""
    if bound <= _INT64_MAX:
        return pl.col("value").cast(pl.Int64).sum()
    return tracing.Reducer("sum", pl.Int64()).agg(pl.col("value"))  # fails the cast on overflow
