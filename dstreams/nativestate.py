"""Native ``mapWithState``: per-key state updated with Polars expressions, never Python per key.

>>> spec = StateSpec.native(
...     key="word",
...     agg={"n": pl.len()},
...     update={"count": pl.col("count").fill_null(0) + pl.col("n")},
... ).timeout(600)
>>> counts = words.select(pl.col("value").alias("word")).mapWithState(spec)

For each batch: the rows are grouped by key and aggregated with ``agg``; each key's old state
columns are looked up (null for a new key); ``update`` computes the new state columns from the old
ones and the aggregates; keys where ``remove`` is true are dropped. The stream holds one row per key
of the batch: the key, the new state and ``timed_out = False``; keys idle for more than the timeout
come once more with their last state and ``timed_out = True``, then leave. ``stateSnapshots()``
streams the whole state, sorted by key.

Store: the state columns are kept sorted by key. Keys of a batch are found by binary search and
updated in place, so a batch costs O(batch · log(state)), not O(state); new keys go to a small sorted
side table merged into the main one when it reaches a quarter of its size (amortised), and removed
keys are tombstones until then. Timeouts scan the touch-time column only when some key can have
expired.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from .batch import Batch, failures_named
from .codec import PARTITION
from .dstream import DStream
from .errors import BatchError, ConfigurationError, SchemaError
from .outputs import batch_label
from .state import ChangeTracker, StateDelta

if TYPE_CHECKING:
    from .mapstate import StateSpec
    from .state import StateSnapshot

_KEY = "__key"
_TOUCHED = "__touched"
_LIVE = "__live"
_NEWEST = pl.CompatLevel.newest()
_MIN_MERGE = 65_536


class NativeSpec:
    """The expressions of ``StateSpec.native``, checked once."""

    def __init__(
        self,
        update: dict[str, pl.Expr],
        agg: dict[str, pl.Expr] | None,
        key: str | Sequence[str],
        remove: pl.Expr | None,
        schema: dict[str, Any] | None,
    ):
        if not isinstance(update, dict) or not update:
            raise ConfigurationError(
                "StateSpec.native needs update={state column: expression}, e.g. "
                'update={"count": pl.col("count").fill_null(0) + pl.col("n")}'
            )
        self.keys = [key] if isinstance(key, str) else list(key)
        self.agg = dict(agg or {})
        self.update = dict(update)
        self.remove = remove
        self.schema = {
            k: pl.DataType.from_python(v) if isinstance(v, type) else v for k, v in (schema or {}).items()
        }
        clash = (set(self.agg) & set(self.update)) | (set(self.keys) & (set(self.agg) | set(self.update)))
        if clash:
            raise ConfigurationError(
                f"StateSpec.native: names {sorted(clash)} are used twice; state columns, aggregates and "
                "key columns need distinct names (in update, pl.col(state) is the old state)"
            )
        if any(n.startswith("__") for n in [*self.agg, *self.update]):
            raise ConfigurationError("StateSpec.native: column names starting with '__' are reserved")


def _find(
    sorted_keys: pl.Series, query: pl.Series, fence: pl.Series | None = None
) -> tuple[pl.Series, pl.Series]:
    """Positions of ``query`` in ``sorted_keys`` (clipped to valid rows) and whether each is there."""
    n = len(sorted_keys)
    if n == 0:
        return _filled(False, len(query), pl.Boolean), _filled(0, len(query), pl.UInt32)
    if fence is None:
        pos = sorted_keys.search_sorted(query, side="left").clip(upper_bound=n - 1)
    else:
        pos = _fenced_search(sorted_keys, fence, query)
    return (sorted_keys.gather(pos) == query).fill_null(False), pos


_FENCE_STEP = 64
_FENCE_MIN = 1_000_000  # below this a plain binary search is faster


def _fenced_search(sorted_keys: pl.Series, fence: pl.Series, query: pl.Series) -> pl.Series:
    """Binary search through a small, cached fence (every 64th key), then within one 64-key block.

    The same result as ``search_sorted`` for keys present, with far fewer cache misses on a large
    state: the fence stays in cache and each block is a few adjacent cache lines.
    """
    n = len(sorted_keys)
    lo = (fence.search_sorted(query, side="right").cast(pl.Int64) - 1).clip(lower_bound=0) * _FENCE_STEP
    step = _FENCE_STEP // 2
    while step:
        mid = (lo + step).clip(upper_bound=n - 1)
        below = (sorted_keys.gather(mid) <= query) & (lo + step < n)
        lo = mid.zip_with(below, lo)
        step //= 2
    return lo.cast(pl.UInt32)


def _filled(value: Any, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(value, n, dtype=dtype, eager=True)


_Where = tuple[pl.Series, pl.Series, pl.Series]  # per run: found, position, found and live


class _Run:
    """One sorted run of the store: key, state columns, touch time and a live flag, as Series."""

    def __init__(self, frame: pl.DataFrame):
        self.cols = {name: frame.get_column(name) for name in frame.columns}
        self.cols[_KEY] = self.cols[_KEY].set_sorted()
        keys = self.cols[_KEY]
        # keys never move inside a run (updates write values in place), so the fence stays valid
        self.fence = keys.gather_every(_FENCE_STEP).set_sorted() if len(keys) >= _FENCE_MIN else None

    def find(self, query: pl.Series) -> tuple[pl.Series, pl.Series]:
        return _find(self.cols[_KEY], query, self.fence)

    @property
    def height(self) -> int:
        return len(self.cols[_KEY])

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(list(self.cols.values()))

    def scatter(self, pos: pl.Series, values: pl.DataFrame) -> None:
        for name in values.columns:
            column = self.cols[name]
            if column.dtype != values.schema[name]:
                column = column.cast(values.schema[name])
            self.cols[name] = column.scatter(pos, values.get_column(name))


class NativeStore:
    """Sorted runs of state rows with tombstones (see the module docstring)."""

    def __init__(self, schema: dict[str, pl.DataType], key_dtype: pl.DataType, timed: bool = True):
        self.schema = dict(schema)
        self.key_dtype = key_dtype
        self.timed = timed  # keep touch times up to date (only a timeout needs them)
        empty = pl.DataFrame(schema={_KEY: key_dtype, **self.schema, _TOUCHED: pl.Int64, _LIVE: pl.Boolean})
        self.base, self.delta = _Run(empty), _Run(empty)
        self.touch_counts: dict[int, int] = {}  # live keys per last touch time

    # -- reading ---------------------------------------------------------------------------------
    def lookup(self, keys: pl.Series) -> tuple[pl.DataFrame, list[_Where]]:
        """Old state of ``keys`` (unique; null where absent) and where each key lives."""
        names = [*self.schema, _TOUCHED]
        dtypes = {**self.schema, _TOUCHED: pl.Int64()}
        old = {name: _filled(None, len(keys), dtypes[name]) for name in names}
        where = []
        for run in (self.base, self.delta):
            found, pos = run.find(keys)
            alive = found & run.cols[_LIVE].gather(pos) if found.any() else found
            where.append((found, pos, alive))
            if not found.any():
                continue
            for name in names if self.timed else self.schema:
                old[name] = run.cols[name].gather(pos).zip_with(alive, old[name])
        return pl.DataFrame([s.alias(n) for n, s in old.items()]), where

    def live_frame(self) -> pl.DataFrame:
        """Every live row, sorted by key."""
        frames = [r.frame().filter(pl.col(_LIVE)) for r in (self.base, self.delta) if r.height]
        if not frames:
            return self.base.frame().drop(_LIVE)
        frame = frames[0] if len(frames) == 1 else frames[0].merge_sorted(frames[1], _KEY)
        return frame.drop(_LIVE)

    # -- writing ---------------------------------------------------------------------------------
    def write(
        self,
        keys: pl.Series,
        where: list[_Where],
        old_touched: pl.Series,
        new: pl.DataFrame,
        keep: pl.Series,
        t: int,
    ) -> None:
        """Store ``new`` (state columns) for ``keys``; rows where ``keep`` is false are removed."""
        if self.timed:
            for when, count in old_touched.drop_nulls().value_counts().iter_rows():
                self._count(when, -count)
            self._count(t, int(keep.sum()))
        values = new.with_columns(pl.lit(t, pl.Int64).alias(_TOUCHED), keep.alias(_LIVE))
        placed = _filled(False, len(keys), pl.Boolean)
        for run, (found, pos, alive) in zip((self.base, self.delta), where):
            if found.any():
                # only write what changes: touch times without a timeout, live flags that stay true
                columns = list(self.schema)
                if self.timed:
                    columns.append(_TOUCHED)
                if not (keep | ~found).all() or (found & ~alive).any():
                    columns.append(_LIVE)
                run.scatter(pos.filter(found), values.filter(found).select(columns))
                placed = placed | found
        fresh = values.filter(~placed & keep)
        if fresh.height:
            added = fresh.with_columns(keys.filter(~placed & keep).alias(_KEY)).select(self.base.cols.keys())
            delta = self.delta.frame()
            merged = added if delta.height == 0 else delta.cast(added.schema).merge_sorted(added, _KEY)
            self.delta = _Run(merged)
            if self.delta.height > max(_MIN_MERGE, self.base.height // 4):
                self._merge()

    def expire(self, threshold: int) -> pl.DataFrame | None:
        """Remove and return the live rows last touched before ``threshold`` (sorted by key)."""
        if not any(when < threshold for when in self.touch_counts):
            return None
        found = []
        for run in (self.base, self.delta):
            if not run.height:
                continue
            mask = run.cols[_LIVE] & (run.cols[_TOUCHED] < threshold)
            if mask.any():
                rows = mask.arg_true()
                found.append(run.frame().filter(mask).drop(_LIVE))
                run.cols[_LIVE] = run.cols[_LIVE].scatter(rows, False)
        for when in [w for w in self.touch_counts if w < threshold]:
            del self.touch_counts[when]
        if not found:
            return None
        return found[0] if len(found) == 1 else found[0].merge_sorted(found[1], _KEY)

    def _merge(self) -> None:
        self.base = _Run(self.live_frame().with_columns(pl.lit(True).alias(_LIVE)))
        empty = self.base.frame().clear()
        self.delta = _Run(empty)

    def _count(self, when: int, delta: int) -> None:
        left = self.touch_counts.get(when, 0) + delta
        if left > 0:
            self.touch_counts[when] = left
        else:
            self.touch_counts.pop(when, None)

    @property
    def height(self) -> int:
        """Rows held, removed ones included until the next merge."""
        return self.base.height + self.delta.height

    # -- snapshots -------------------------------------------------------------------------------
    def rows_of(self, keys: pl.Series) -> tuple[pl.DataFrame, pl.Series]:
        """The live rows of ``keys`` (unique, sorted) as :meth:`to_arrow` has them, and the keys not live."""
        names = [*self.schema, _TOUCHED]
        dtypes = {**self.schema, _TOUCHED: pl.Int64()}
        columns = {name: _filled(None, len(keys), dtypes[name]) for name in names}
        live = _filled(False, len(keys), pl.Boolean)
        for run in (self.base, self.delta):
            found, pos = run.find(keys)
            if not found.any():
                continue
            alive = found & run.cols[_LIVE].gather(pos)
            for name in names:
                columns[name] = run.cols[name].gather(pos).zip_with(alive, columns[name])
            live = live | alive
        frame = pl.DataFrame([keys.alias(_KEY), *(s.alias(n) for n, s in columns.items())])
        return frame.filter(live), keys.filter(~live)

    def to_arrow(self) -> pa.Table:
        return self.live_frame().to_arrow(compat_level=_NEWEST)

    @classmethod
    def from_arrow(cls, table: pa.Table, schema: dict[str, pl.DataType], timed: bool = True) -> NativeStore:
        frame = pl.from_arrow(table)
        store = cls(schema, frame.schema[_KEY], timed)  # type: ignore[union-attr]
        store.base = _Run(frame.sort(_KEY).with_columns(pl.lit(True).alias(_LIVE)))  # type: ignore[union-attr]
        for when, count in frame.get_column(_TOUCHED).value_counts().iter_rows():  # type: ignore[union-attr]
            store._count(when, count)
        return store


class NativeMapWithStateDStream(DStream):
    """``mapWithState(StateSpec.native(...))``: updated state rows per batch."""

    _stateful = True

    def __init__(self, parent: DStream, spec: StateSpec, num_partitions: int):
        super().__init__(parent._ssc, [parent])
        self._spec: NativeSpec = spec._native
        self._timeout_ms = spec._timeout_ms
        self._initial = spec._initial
        self._num_partitions = num_partitions
        self._store: NativeStore | None = None
        self._state_time: int | None = None
        self._changes = ChangeTracker(self, _KEY)  # keys changed since the last snapshot (checkpoints)
        self.name = f"mapWithState(native, key={self._spec.keys})"

    # -- computing a batch -----------------------------------------------------------------------
    def _compute(self, t: int) -> Batch:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch:
        spec = self._spec
        batch = self._parents[0]._get(t)
        rows = self._rows(batch, t)
        try:
            grouped = rows.group_by(_KEY).agg(**spec.agg).sort(_KEY) if rows is not None else None
            store = self._store_for(grouped, t)
            if grouped is not None and grouped.height:
                keys = grouped.get_column(_KEY)
                old, where = store.lookup(keys)
                frame = pl.concat([grouped, old.drop(_TOUCHED)], how="horizontal")
                new = frame.with_columns(**spec.update)
                state_cols = list(spec.update)
                cast = [pl.col(c).cast(store.schema[c], strict=True) for c in state_cols]
                new = new.with_columns(cast)
                keep = _filled(True, new.height, pl.Boolean)
                if spec.remove is not None:
                    keep = ~new.select(spec.remove.fill_null(False)).to_series()
                emitted = new.select(_KEY, *state_cols).with_columns(pl.lit(False).alias("timed_out"))
                store.write(keys, where, old.get_column(_TOUCHED), new.select(state_cols), keep, t)
                if self._changes.active:
                    self._changes.changed(keys, len(keys), store.height)
            else:
                emitted = None
            expired = store.expire(t - self._timeout_ms) if self._timeout_ms is not None else None
        except pl.exceptions.PolarsError as error:
            raise BatchError(
                f"{self.name}: the state expressions failed at {batch_label(t)}: "
                f"{type(error).__name__}: {error}",
                operator=self.name,
                batch_time=t,
            ) from error
        parts = [] if emitted is None else [emitted]
        if expired is not None and expired.height and self._changes.active:
            self._changes.changed(expired.get_column(_KEY), expired.height, store.height)
        if expired is not None and expired.height:
            parts.append(expired.drop(_TOUCHED).with_columns(pl.lit(True).alias("timed_out")))
        self._state_time = t
        return self._emit(parts, [*self._store_schema(), "timed_out"])

    def _rows(self, batch: Batch | None, t: int) -> pl.DataFrame | None:
        if batch is None:
            return None
        table = batch.table
        if table.num_rows == 0:
            return None
        if PARTITION in table.column_names:
            table = table.drop_columns([PARTITION])
        missing = [k for k in self._spec.keys if k not in table.column_names]
        if missing:
            raise SchemaError(
                f"{self.name}: key column(s) {missing} not in the batch (columns {table.column_names}); "
                "pass key=... naming existing columns"
            )
        frame = pl.from_arrow(table)
        key = pl.col(self._spec.keys[0]) if len(self._spec.keys) == 1 else pl.struct(self._spec.keys)
        frame = frame.with_columns(key.alias(_KEY))  # type: ignore[union-attr]
        if frame.get_column(_KEY).null_count():
            raise SchemaError(f"{self.name}: null keys in {batch_label(t)}; drop or fill them first")
        return frame

    def _store_for(self, grouped: pl.DataFrame | None, t: int) -> NativeStore:
        if self._store is not None:
            return self._store
        spec = self._spec
        timed = self._timeout_ms is not None
        key_dtype = grouped.schema[_KEY] if grouped is not None else None
        initial = None
        if self._initial is not None:
            initial = _initial_frame(self._initial, spec, self.name)
            key_dtype = key_dtype or initial.schema[_KEY]
        if key_dtype is None:
            return NativeStore({}, pl.Null(), timed)  # nothing seen yet: decide the schema later
        schema = _state_schema(spec, grouped, initial, key_dtype)
        store = NativeStore(schema, key_dtype, timed)
        if initial is not None and initial.height:
            frame = initial.with_columns(pl.lit(t, pl.Int64).alias(_TOUCHED))
            store = NativeStore.from_arrow(frame.select(_KEY, *schema, _TOUCHED).to_arrow(), schema, timed)
        self._store = store
        return store

    def _store_schema(self) -> list[str]:
        return [*self._spec.keys, *self._spec.update]

    def _emit(self, parts: list[pl.DataFrame], columns: list[str]) -> Batch:
        frames = [self._unkey(p) for p in parts]
        if not frames:
            return Batch(pa.table({c: pa.nulls(0) for c in columns}), "row", 1)
        frame = pl.concat(frames, how="vertical_relaxed")
        return Batch(frame.to_arrow(compat_level=_NEWEST), "row", 1)

    def _unkey(self, frame: pl.DataFrame) -> pl.DataFrame:
        keys = self._spec.keys
        if len(keys) == 1:
            return frame.rename({_KEY: keys[0]})
        return frame.with_columns(pl.col(_KEY).struct.unnest()).drop(_KEY).select(*keys, pl.exclude(keys))

    # -- outputs and state -----------------------------------------------------------------------
    def stateSnapshots(self) -> DStream:
        """Every key and its state after each batch, sorted by key."""
        return _NativeSnapshotDStream(self)

    def _state_frame(self) -> pl.DataFrame:
        if self._store is None or not self._store.schema:
            return pl.DataFrame(schema={k: pl.Null for k in self._store_schema()})
        return self._unkey(self._store.live_frame().drop(_TOUCHED))

    def _state_snapshot(self) -> StateSnapshot | None:
        if self._store is None or self._state_time is None:
            return None
        store = self._store
        schema = {k: str(v) for k, v in store.schema.items()}
        metadata = {"kind": "mapWithState.native", "schema": schema}
        return self._changes.snapshot(self._state_time, metadata, store.height, store.to_arrow, self._delta)

    def _delta(self, parts: list[pl.Series]) -> StateDelta:
        assert self._store is not None
        keys = pl.concat(parts, how="vertical").unique().sort()
        rows, gone = self._store.rows_of(keys)
        return StateDelta(
            rows.to_arrow(compat_level=_NEWEST), pl.DataFrame([gone]).to_arrow(compat_level=_NEWEST), _KEY
        )

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        table = snapshot.tables["state"]
        schema = {n: pl.from_arrow(table.column(n).slice(0, 0)).dtype for n in self._spec.update}
        self._store = NativeStore.from_arrow(table, schema, self._timeout_ms is not None)
        self._state_time = snapshot.batch_time
        self._initial = None
        self._changes.restored(snapshot)


class _NativeSnapshotDStream(DStream):
    def __init__(self, parent: NativeMapWithStateDStream):
        super().__init__(parent._ssc, [parent])

    def _compute(self, t: int) -> Batch | None:
        parent = self._parents[0]
        if parent._get(t) is None:
            return None
        return Batch(parent._state_frame().to_arrow(compat_level=_NEWEST), "row", 1)


def _initial_frame(initial: Any, spec: NativeSpec, name: str) -> pl.DataFrame:
    """The initial state as (__key, state columns...)."""
    if isinstance(initial, pa.Table):
        frame = pl.from_arrow(initial)
    elif isinstance(initial, pl.DataFrame):
        frame = initial
    else:
        raise ConfigurationError(
            f"{name}: the initial state of a native spec must be an Arrow table or Polars frame with "
            f"columns {spec.keys + list(spec.update)}"
        )
    missing = [c for c in [*spec.keys, *spec.update] if c not in frame.columns]  # type: ignore[union-attr]
    if missing:
        raise SchemaError(f"{name}: the initial state lacks column(s) {missing}")
    key = pl.col(spec.keys[0]) if len(spec.keys) == 1 else pl.struct(spec.keys)
    frame = frame.select(key.alias(_KEY), *spec.update).unique(_KEY, keep="first", maintain_order=True)  # type: ignore[union-attr]
    return frame.sort(_KEY)


def _state_schema(
    spec: NativeSpec, grouped: pl.DataFrame | None, initial: pl.DataFrame | None, key_dtype: pl.DataType
) -> dict[str, pl.DataType]:
    """The state columns' types: given, from the initial state, or what ``update`` gives."""
    if initial is not None:
        return {c: spec.schema.get(c, initial.schema[c]) for c in spec.update}
    sample = grouped.head(0) if grouped is not None else pl.DataFrame(schema={_KEY: key_dtype})
    dtypes: dict[str, pl.DataType] = {c: spec.schema.get(c, pl.Null()) for c in spec.update}
    for _ in range(3):  # the old state's type feeds the new one: iterate to a fixed point
        frame = sample.with_columns(pl.lit(None, d).alias(c) for c, d in dtypes.items())
        got = dict(frame.lazy().with_columns(**spec.update).collect_schema())
        new = {c: spec.schema.get(c, got[c]) for c in spec.update}
        if new == dtypes:
            break
        dtypes = new
    return dtypes
