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

Incremental snapshots: keyed states (``updateStateByKey``, ``mapWithState``, native or not) track,
with a checkpoint directory, which keys changed since their last snapshot (:class:`ChangeTracker`)
and hand out a :class:`StateDelta` (upserted rows, deleted keys) instead of the whole table when
the state is large, so that checkpoint cost follows the change, not the state. Here "changed"
means the value changed: a per-key update function is called for every key, and its results are
compared with the old values column by column; a running sum or count changes only the batch's
keys. The checkpoint writes deltas on the last full table and compacts into a new one every few
deltas (see :mod:`dstreams.checkpoint.snapshots`). Windows keep full snapshots.

>>> counts = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from . import batch as _batch
from . import codec, ops, pairs, recognize
from .batch import Batch, failures_named
from .dstream import DStream
from .errors import BatchError
from .outputs import batch_label

try:
    from . import tracing
except ImportError:  # pragma: no cover - the tracer is optional
    tracing = None  # type: ignore[assignment]

_NEWEST = pl.CompatLevel.newest()
log = logging.getLogger("dstreams")


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
    #: Set instead of ``tables`` for an incremental snapshot: what changed since snapshot ``seq - 1``.
    delta: StateDelta | None = None
    #: Where the stream's snapshots were written (shared with the checkpoint writer); see :class:`DeltaChain`.
    chain: DeltaChain | None = None
    seq: int = 0
    #: The snapshots of the chain not known to be written when this one was taken, this one included
    #: when it is full: ``(seq, PendingTable or StateDelta)`` in order, so that a delta can be written
    #: whatever got written before it
    earlier: list[tuple[int, Any]] = field(default_factory=list)


class PendingTable:
    """A full state table until it is written (the writer then lets go of it: ``table`` is None)."""

    __slots__ = ("table",)

    def __init__(self, table: pa.Table):
        self.table: pa.Table | None = table


@dataclass
class StateDelta:
    """The change of a keyed state table since the previous snapshot: rows to upsert, keys to delete.

    Applied in that order (deletes, then upserts) on the previous state by :func:`apply_deltas`.
    """

    upserts: pa.Table
    deleted: pa.Table  # the key column only
    key: str  # the key column's name


class DeltaChain:
    """The checkpoint files a stream's snapshots went to: the last full one and the deltas on it.

    The stream hands the same chain with every snapshot; the checkpoint writer records in it the
    manifest entry of each snapshot it wrote (``entries``, by ``seq``; the newest few), so that the
    next delta is written on top. Writes need not come in order, nor all succeed: a delta snapshot
    carries the earlier ones not yet written when it was taken (``StateSnapshot.earlier``).
    """

    KEEP = 8  # entries kept

    def __init__(self, entry: dict[str, Any] | None = None, seq: int = 0):
        self.lock = threading.Lock()  # held by writers (entries); the stream only reads ``written``
        self.entries: dict[int, dict[str, Any]] = {} if entry is None else {seq: entry}
        self.written = -1 if entry is None else seq  # the newest snapshot written (-1: none)

    def record(self, seq: int, entry: dict[str, Any]) -> None:
        """Called with ``lock`` held: snapshot ``seq`` was written as ``entry``."""
        self.entries[seq] = entry
        for old in sorted(self.entries)[: -self.KEEP]:
            del self.entries[old]
        self.written = max(self.written, seq)


# Incremental checkpoints of keyed state (conf keys; see ChangeTracker)
INCREMENTAL = "dstreams.checkpoint.incremental"  # "false": every checkpoint is full
MIN_KEYS = "dstreams.checkpoint.incremental.minKeys"  # smaller states are always written whole
MAX_DELTAS = "dstreams.checkpoint.incremental.maxDeltas"  # compaction: a full one after this many deltas
MAX_FRACTION = "dstreams.checkpoint.incremental.maxFraction"  # ... or when deltas reach this share of rows


class ChangeTracker:
    """Which keys of a keyed state changed since its last snapshot, and whether the next one is a delta.

    The stream calls :meth:`changed` with the keys a batch changed (or deleted); :meth:`snapshot`
    then gives a full snapshot, or a delta built by the stream from those keys. A full one is taken
    when the changes are unknown (first snapshot, restored from a plain table, too many changes to
    keep), the state is small (fewer than ``minKeys`` rows, default 100,000), ``maxDeltas`` (10)
    deltas were written since the last full one, or their rows reach ``maxFraction`` (0.3) of it.
    """

    def __init__(self, stream: DStream, key: str = "key"):
        self._stream = stream
        self._key = key
        self.chain = DeltaChain()
        self.seq = 0
        self._unwritten: list[tuple[int, Any]] = []  # snapshots since the last full one, maybe not written
        self._known = False  # the changes since the last snapshot are in _parts
        self._parts: list[Any] = []
        self._count = 0
        self._base_rows = 0
        self._base_schema: pa.Schema | None = None
        self._deltas = 0
        self._delta_rows = 0

    @property
    def active(self) -> bool:
        """Only worth tracking with a checkpoint directory."""
        return self._known and self._stream._ssc._checkpoint_dir is not None

    def changed(self, part: Any, count: int, state_rows: int) -> None:
        """Keys (``count`` of them, in whatever form the stream uses) changed or deleted by a batch."""
        if not self._known:
            return
        if part is not None:
            self._parts.append(part)
        self._count += count
        if self._count > max(state_rows, 1_000):  # a delta would be no smaller than the state
            self.forget()

    def forget(self) -> None:
        """The changes are unknown: the next snapshot is a full one."""
        self._known, self._parts, self._count = False, [], 0

    def snapshot(
        self,
        batch_time: int,
        metadata: dict[str, Any],
        rows: int,
        full: Callable[[], pa.Table],
        delta: Callable[[list[Any]], StateDelta],
    ) -> StateSnapshot:
        """A full snapshot (``full()``) or a delta (``delta(parts)``); changes are tracked anew after."""
        written = self.chain.written
        self._unwritten = [(seq, step) for seq, step in self._unwritten if seq > written]
        conf = self._conf()
        parts = self._parts if self._use_delta(rows, conf) else None
        # only track changes when the next snapshot may be a delta: no cost per batch otherwise
        self._known = conf["incremental"] and rows >= conf["min_keys"] // 2
        self._parts, self._count = [], 0
        self.seq += 1
        if parts is not None:
            try:
                change = _conform(delta(parts), self._base_schema)
            except (pl.exceptions.PolarsError, pa.ArrowException, ValueError, TypeError) as error:
                log.warning("%s: no incremental snapshot (%s); writing the state whole", self._stream, error)
                change = None
            if change is not None:
                self._deltas += 1
                self._delta_rows += change.upserts.num_rows + change.deleted.num_rows
                earlier = list(self._unwritten)
                self._unwritten.append((self.seq, change))
                return StateSnapshot(
                    batch_time, {}, metadata, delta=change, chain=self.chain, seq=self.seq, earlier=earlier
                )
        table = full()
        self._base_rows, self._base_schema = table.num_rows, table.schema
        self._deltas = self._delta_rows = 0
        if not _delta_keys(table.schema.field(self._key)):
            self._known = False
        self._unwritten = [(self.seq, PendingTable(table))]
        return StateSnapshot(
            batch_time, {"state": table}, metadata, chain=self.chain, seq=self.seq, earlier=self._unwritten[:]
        )

    def restored(self, snapshot: StateSnapshot) -> None:
        """The stream got ``snapshot`` back: go on with its chain (recovery), or start anew."""
        table = snapshot.tables["state"]
        self.seq = 0
        self._parts, self._count, self._unwritten = [], 0, []
        entry = snapshot.chain.entries.get(0) if snapshot.chain is not None else None
        if entry is None:
            self.chain, self._known = DeltaChain(), False
            return
        assert snapshot.chain is not None
        self.chain, self._known = snapshot.chain, _delta_keys(table.schema.field(self._key))
        deltas = entry.get("deltas") or []
        tables = entry["tables"]
        self._base_rows = int(tables["state"]["rows"])
        self._base_schema = table.schema
        self._deltas = len(deltas)
        self._delta_rows = sum(int(tables[d[p]]["rows"]) for d in deltas for p in ("upserts", "deleted"))

    def _conf(self) -> dict[str, Any]:
        conf = self._stream._ssc.sparkContext.getConf()
        return {
            "incremental": str(conf.get(INCREMENTAL, "true")).lower() != "false",
            "min_keys": int(conf.get(MIN_KEYS, "100000") or 100_000),
            "max_deltas": int(conf.get(MAX_DELTAS, "10") or 10),
            "max_fraction": float(conf.get(MAX_FRACTION, "0.3") or 0.3),
        }

    def _use_delta(self, rows: int, conf: dict[str, Any]) -> bool:
        if not self._known or self._base_schema is None or not conf["incremental"]:
            return False
        if rows < conf["min_keys"] or self._deltas >= conf["max_deltas"]:
            return False
        return self._delta_rows + self._count <= conf["max_fraction"] * max(self._base_rows, 1)


def _delta_keys(key: pa.Field) -> bool:
    """Keys a delta can be applied by: equality of pickled or float keys is not Python's."""
    return not (codec.is_pickled(key) or pa.types.is_floating(key.type))


_STRINGS = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
_BINARIES = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view)


def _conform(change: StateDelta, schema: pa.Schema | None) -> StateDelta | None:
    """``change`` with the base's column types, or None when it does not fit them (a full one then).

    Only casts that cannot change a value: from null, and between string (or binary) layouts.
    """
    if schema is None:
        return None
    key = schema.field(change.key)
    upserts = _cast_like(change.upserts, schema)
    deleted = _cast_like(change.deleted, pa.schema([key]))
    if upserts is None or deleted is None:
        return None
    return StateDelta(upserts, deleted, change.key)


def _cast_like(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    if table.column_names != schema.names:
        return None
    for got, want in zip(table.schema, schema):
        if got.type == want.type or pa.types.is_null(got.type):
            continue
        if (got.metadata or None) != (want.metadata or None) or not (
            (_family(got.type, _STRINGS) and _family(want.type, _STRINGS))
            or (_family(got.type, _BINARIES) and _family(want.type, _BINARIES))
        ):
            return None
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _family(dtype: pa.DataType, tests: tuple) -> bool:
    return any(test(dtype) for test in tests)


def apply_deltas(base: pa.Table, deltas: list[StateDelta]) -> pa.Table:
    """``base`` with each delta applied in order: its deleted keys removed, then its upserts set.

    Keys keep their place in ``base`` (an upserted one is changed where it is); keys not in it come
    last. The result has ``base``'s schema. One pass over ``base``, however many deltas.

    >>> apply_deltas(base, [StateDelta(upserts, deleted, "key")])
    """
    if not deltas:
        return base
    key = deltas[0].key
    frame = pl.from_arrow(base)
    assert isinstance(frame, pl.DataFrame)
    key_type = frame.schema[key]
    # Every step of every delta, in order: (key, deleted?, its row in `upserts`); the last one per key wins
    steps, ups, offset = [], [], 0
    for change in deltas:
        gone = pl.from_arrow(change.deleted)
        up = pl.from_arrow(change.upserts)
        assert isinstance(gone, pl.DataFrame) and isinstance(up, pl.DataFrame)
        steps.append(
            gone.select(pl.col(key).cast(key_type), __gone=pl.lit(True), __row=pl.lit(None, pl.UInt32))
        )
        steps.append(
            up.select(pl.col(key).cast(key_type))
            .with_row_index("__row", offset)
            .select(key, __gone=pl.lit(False), __row="__row")
        )
        ups.append(up.cast(frame.schema))  # type: ignore[arg-type]
        offset += up.height
    upserts = pl.concat(ups, how="vertical")
    net = pl.concat(steps, how="vertical").unique(key, keep="last", maintain_order=True)
    keys = frame.get_column(key)
    hit = keys.is_in(net.get_column(key).implode())
    fresh = net
    if hit.any():
        at = hit.arg_true()
        found = pl.DataFrame({"__pos": at, key: keys.gather(at)}).join(
            net, on=key, how="left", maintain_order="left"
        )
        kept = found.filter(~pl.col("__gone"))
        replaced = upserts.gather(kept.get_column("__row")).with_columns(kept.get_column("__pos"))
        frame = _replace_rows(frame, key, replaced, found.filter(pl.col("__gone")).get_column("__pos"))
        fresh = net.filter(~pl.col(key).is_in(found.get_column(key).implode()))
    added = upserts.gather(fresh.filter(~pl.col("__gone")).get_column("__row"))
    if added.height:
        frame = pl.concat([frame, added], how="vertical")
    return frame.to_arrow(compat_level=_NEWEST).cast(base.schema)


def _replace_rows(frame: pl.DataFrame, key: str, replaced: pl.DataFrame, gone: pl.Series) -> pl.DataFrame:
    """``frame`` with the rows at ``replaced["__pos"]`` replaced (same keys) and those at ``gone`` removed."""
    pos = replaced.get_column("__pos")
    out = frame
    if len(pos):
        try:  # in place: the key column stays as it is, each other column is copied once
            out = pl.DataFrame(
                [c if c.name == key else c.clone().scatter(pos, replaced.get_column(c.name)) for c in frame]
            )
        except (pl.exceptions.PolarsError, TypeError):  # a type scatter does not take: merge by position
            rest = frame.with_row_index("__pos").filter(~pl.col("__pos").is_in(pos.implode()))
            out = rest.merge_sorted(replaced.select(rest.columns), "__pos").drop("__pos")
    if len(gone):  # rows kept their positions above
        out = out.filter(pl.repeat(True, frame.height, eager=True).scatter(gone, False))
    return out


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
        self._changes = ChangeTracker(self)  # keys whose value changed, for incremental checkpoints
        self._changed_rows: pl.Series | None = None  # or rows of the state (the running sum/count path)
        self.name = f"updateStateByKey({ops.describe(func)})"

    def _compute(self, t: int) -> Batch | None:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch | None:
        batch = self._parents[0]._get(t)
        if batch is None:  # as Spark: the previous state, without calling the function
            return None if self._state is None else self._emit(self._state)
        old = self._state if self._state is not None else self._initial
        new = pairs.of_batch(batch, self.name)
        state = self._columnar(old, new) if self._kind is not None else None
        if state is None:
            self._rows_to_keys()  # rows move on that path: record the keys instead
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
        track = self._changes.active and self._state is not None
        aggs = [_sum(bound).alias("value")]
        if track:  # a key with 2 rows was in the state and the batch: its total changed
            aggs.append(pl.len().alias("__rows"))
        plan = pl.concat(parts).group_by("key", maintain_order=True).agg(aggs)
        try:
            frame = plan.collect()
        except pl.exceptions.PolarsError:
            return None  # e.g. a total beyond Int64: Python ints grow
        if track:
            self._track_rows(frame.get_column("__rows"), old.num_rows if old is not None else 0)
            frame = frame.drop("__rows")
        return frame.to_arrow(compat_level=_NEWEST)

    def _track_rows(self, rows: pl.Series, before: int) -> None:
        """Rows of the new state that changed: the state's keys keep their rows, new keys come after."""
        changed = (rows > 1) | (pl.int_range(0, len(rows), eager=True) >= before)
        if self._changed_rows is not None:
            changed = self._changed_rows.extend_constant(False, len(rows) - before) | changed
        self._changed_rows = changed
        self._changes.changed(None, len(rows) - before + int((rows > 1).sum()), len(rows))

    def _rows_to_keys(self) -> None:
        if self._changed_rows is not None and self._state is not None and self._changes.active:
            keys = pl.from_arrow(self._state.column("key")).filter(self._changed_rows)  # type: ignore[union-attr]
            self._changes.changed(keys, 0, self._state.num_rows)
        self._changed_rows = None

    def _python(self, old: pa.Table | None, new: pa.Table, t: int) -> pa.Table:
        groups: dict[Any, list] = {}
        if old is not None:
            for i, (k, s) in enumerate(codec.to_elements(old, "pair")):
                groups[k] = [[], s, i]
        for k, v in codec.to_elements(new, "pair"):
            try:
                entry = groups.get(k)
            except TypeError:
                raise pairs.unhashable(k, self.name) from None
            if entry is None:
                groups[k] = [[v], None, -1]
            else:
                entry[0].append(v)
        out = []
        rows = []  # the old state's row of each output row (-1: a new key), and of each removed key
        removed = []
        func = self._func
        for k, (values, s, row) in groups.items():
            try:
                result = func(values, s)
            except Exception as error:
                raise BatchError(
                    f"{self.name}: updateFunc raised {type(error).__name__}: {error} for key {k!r} "
                    f"at {batch_label(t)}; the state of the previous batch is kept",
                    operator=self.name,
                    batch_time=t,
                ) from error
            if result is not None:
                out.append((k, result))
                rows.append(row)
            elif row >= 0:
                removed.append(row)
        state = pairs.from_items(out)
        if self._changes.active:
            self._track(old, state, rows, removed)
        return state

    def _track(self, old: pa.Table | None, state: pa.Table, rows: list[int], removed: list[int]) -> None:
        """Record the keys whose value changed (compared column against column) or that were removed."""
        new = pl.from_arrow(state)
        assert isinstance(new, pl.DataFrame)
        if old is None or not old.num_rows:
            self._changes.changed(new.get_column("key"), new.height, new.height)
            return
        before = pl.from_arrow(old.select(["key", "value"]))
        assert isinstance(before, pl.DataFrame)
        where = pl.Series(rows, dtype=pl.Int64)
        fresh = where < 0
        try:
            previous = before.get_column("value").gather(where.clip(lower_bound=0))
            changed = fresh | (new.get_column("value") != previous).fill_null(True)
        except (pl.exceptions.PolarsError, TypeError):  # values of another type now: all changed
            changed = pl.repeat(True, new.height, eager=True)
        self._changes.changed(new.get_column("key").filter(changed), int(changed.sum()), new.height)
        if removed:
            gone = before.get_column("key").gather(pl.Series(removed, dtype=pl.Int64))
            self._changes.changed(gone, len(gone), new.height)

    # -- state store -----------------------------------------------------------------------------
    def _state_snapshot(self) -> StateSnapshot | None:
        if self._state is None or self._state_time is None:
            return None
        state = self._state
        snapshot = self._changes.snapshot(
            self._state_time, {"kind": "updateStateByKey"}, state.num_rows, lambda: state, self._delta
        )
        self._changed_rows = None  # changes are counted from this snapshot on
        return snapshot

    def _delta(self, parts: list[Any]) -> StateDelta:
        """The rows of the changed keys, and the changed keys no longer in the state."""
        state = self._state
        assert state is not None
        parts = [k for k in parts if k is not None]
        rows, self._changed_rows = self._changed_rows, None
        if not parts:  # only the running sum/count path ran: the changed rows are known, no key search
            frame = pl.from_arrow(state)
            assert isinstance(frame, pl.DataFrame)
            upserts = frame.filter(rows) if rows is not None else frame.clear()
            empty = pa.table({"key": pa.array([], state.schema.field("key").type)})
            return StateDelta(upserts.to_arrow(compat_level=_NEWEST).cast(state.schema), empty, "key")
        if rows is not None:
            parts.append(pl.from_arrow(state.column("key")).filter(rows))  # type: ignore[union-attr]
        frames = [pl.DataFrame({"key": k if isinstance(k, pl.Series) else pl.Series(k)}) for k in parts]
        keys = pl.concat(frames, how="vertical_relaxed").get_column("key").unique()
        frame = pl.from_arrow(state)
        assert isinstance(frame, pl.DataFrame)
        found = frame.filter(pl.col("key").is_in(keys.implode()))
        upserts = found.to_arrow(compat_level=_NEWEST).cast(state.schema)  # (pyarrow cannot take views)
        gone = keys.filter(~keys.is_in(found.get_column("key").implode()))
        deleted = pa.table({"key": gone.to_arrow(compat_level=_NEWEST)})
        return StateDelta(upserts, deleted, "key")

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._state, self._state_time = snapshot.tables["state"], snapshot.batch_time
        self._changed_rows = None
        self._changes.restored(snapshot)


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
