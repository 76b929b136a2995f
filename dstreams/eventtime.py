"""Event-time windows with watermarks: tumbling, sliding and session windows over a time column.

Batches follow processing time; event-time windows follow a column of the rows instead:

>>> events = stream.event_time("ts", watermark=10)            # tolerate 10 s of disorder
>>> per_minute = events.window(60).group_by("user").agg(pl.len().alias("n"))
>>> sessions = events.session(gap=30).group_by("user").agg(pl.col("amount").sum())
>>> events.late_rows().pprint()                                 # rows that came too late

Rules (deterministic, batch by batch):

* The **watermark** is the largest event time seen so far minus ``watermark`` seconds. A row is
  **late** when its time is older than the watermark at the start of its batch: it is left out of
  every window, counted (``late_count``, the batch's ``late_rows`` metric) and sent to
  ``late_rows()``; never dropped silently.
* A window ``[start, end)`` is emitted **once**, in the first batch whose watermark (including that
  batch's rows) reaches ``end``. No row can join it afterwards: such a row would be late.
  With ``early=True`` every batch also emits the current result of the open windows it touched,
  marked ``final = False``.
* Tumbling windows ``window(length)`` and sliding ones ``window(length, slide)`` start at multiples
  of their slide since the epoch; a session (``session(gap)``) per group is a run of rows less than
  ``gap`` apart and ends ``gap`` after its last row.

The event-time column may be a ``Datetime`` (any unit or time zone), a ``Date``, or numbers of
seconds since the epoch; ``window_start`` and ``window_end`` come out as ``Datetime``.
Rows of open windows are kept (as an Arrow table, see :meth:`EventWindowDStream._state_snapshot`)
until their windows close; any Polars aggregation works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from . import codec
from .batch import Batch, failures_named
from .codec import PARTITION
from .dstream import DStream
from .errors import BatchError, ConfigurationError, SchemaError
from .outputs import batch_label

if TYPE_CHECKING:
    from .state import StateSnapshot

_TS = "__event_ms"
_NEWEST = pl.CompatLevel.newest()
_NO_WATERMARK = -(2**62)


def _seconds_to_ms(seconds: float, what: str) -> int:
    try:
        ms = round(float(seconds) * 1000)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be a number of seconds, got {seconds!r}") from None
    return ms


class EventTimeDStream(DStream):
    """``stream.event_time(col, watermark)``: the rows that are not late, and the watermark."""

    _stateful = True

    def __init__(self, parent: DStream, column: str, watermark: float):
        delay = _seconds_to_ms(watermark, "event_time: watermark")
        if delay < 0:
            raise ConfigurationError(
                f"event_time({column!r}): the watermark delay must be zero or more seconds, got {watermark!r}"
            )
        super().__init__(parent._ssc, [parent])
        self.column = column
        self.name = f"event_time({column!r})"
        self._delay = delay
        self._max_event: int | None = None  # largest event time seen, ms
        self._state_time: int | None = None
        self._watermarks: dict[int, tuple[int, int]] = {}  # batch time -> (watermark before, after)
        self._late: dict[int, Batch] = {}
        self._late_counts: dict[int, int] = {}

    # -- per batch -------------------------------------------------------------------------------
    def _compute(self, t: int) -> Batch | None:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch | None:
        before = self._watermark()
        batch = self._parents[0]._get(t)
        if batch is None:
            self._watermarks[t] = (before, before)
            return None
        table = batch.table
        if PARTITION in table.column_names:
            table = table.drop_columns([PARTITION])
        if table.num_rows == 0:
            self._watermarks[t] = (before, before)
            self._late_counts[t] = 0
            return Batch(table, batch.layout, 1)
        frame = pl.from_arrow(table)
        stamps = self._event_ms(frame, t)  # type: ignore[arg-type]
        late = stamps < before
        n_late = int(late.sum())
        # (not Table.filter: pyarrow has no filter kernel for the string_view columns Polars gives)
        on_time = codec.take_rows(table, (~late).arg_true()) if n_late else table
        self._late[t] = Batch(codec.take_rows(table, late.arg_true()), batch.layout, 1)
        self._late_counts[t] = n_late
        newest = stamps.filter(~late).max()
        if newest is not None and (self._max_event is None or newest > self._max_event):
            self._max_event = int(newest)  # type: ignore[arg-type]
        self._watermarks[t] = (before, self._watermark())
        self._state_time = t
        return Batch(on_time, batch.layout, 1)

    def _event_ms(self, frame: pl.DataFrame, t: int) -> pl.Series:
        """The event time of every row in epoch milliseconds; clear errors for bad columns."""
        if self.column not in frame.columns:
            raise SchemaError(
                f"{self.name}: no column {self.column!r} in {batch_label(t)}; columns are {frame.columns}"
            )
        column = frame.get_column(self.column)
        if column.null_count():
            raise SchemaError(
                f"{self.name}: {column.null_count()} row(s) have no event time (null) in "
                f"{batch_label(t)}; drop or fill them first, e.g. "
                f".filter(pl.col({self.column!r}).is_not_null())"
            )
        return _to_ms(column, self.name, t)

    def _watermark(self) -> int:
        return _NO_WATERMARK if self._max_event is None else self._max_event - self._delay

    def watermark_at(self, t: int) -> tuple[int, int]:
        """(watermark at the start of batch ``t``, watermark after it), epoch ms."""
        self._get(t)
        return self._watermarks.get(t, (self._watermark(), self._watermark()))

    def late_count(self, t: int) -> int:
        """How many rows of batch ``t`` were late."""
        self._get(t)
        return self._late_counts.get(t, 0)

    def _late_rows_at(self, t: int) -> int:
        """The batch's late-row count for the scheduler's batch metrics."""
        return self._late_counts.get(t, 0)

    def _forget_before(self, t: int) -> None:
        super()._forget_before(t)
        horizon = t - self._remember_ms
        for store in (self._watermarks, self._late, self._late_counts):
            for old in [k for k in store if k <= horizon]:
                del store[old]

    # -- public API ------------------------------------------------------------------------------
    def late_rows(self) -> DStream:
        """The rows that arrived too late for their windows, batch by batch (also counted)."""
        return _LateRowsDStream(self)

    def window(self, length: float, slide: float | None = None, *, early: bool = False) -> EventWindows:
        """Tumbling (``slide=None``) or sliding windows of ``length`` seconds on the event time."""
        length_ms = _seconds_to_ms(length, "window length")
        slide_ms = length_ms if slide is None else _seconds_to_ms(slide, "window slide")
        if length_ms <= 0 or slide_ms <= 0:
            raise ConfigurationError(
                f"{self.name}.window: length and slide must be positive, got {length!r}, {slide!r}"
            )
        return EventWindows(self, "window", length_ms, slide_ms, early)

    def session(self, gap: float, *, early: bool = False) -> EventWindows:
        """Session windows: runs of rows (per group) less than ``gap`` seconds apart."""
        gap_ms = _seconds_to_ms(gap, "session gap")
        if gap_ms <= 0:
            raise ConfigurationError(f"{self.name}.session: the gap must be positive, got {gap!r}")
        return EventWindows(self, "session", gap_ms, gap_ms, early)

    # -- state -----------------------------------------------------------------------------------
    def _state_snapshot(self) -> StateSnapshot | None:
        from .state import StateSnapshot

        if self._state_time is None:
            return None
        return StateSnapshot(self._state_time, {}, {"kind": "event_time", "max_event_ms": self._max_event})

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._max_event = snapshot.metadata.get("max_event_ms")
        self._state_time = snapshot.batch_time


def _to_ms(column: pl.Series, name: str, t: int) -> pl.Series:
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime):
        return column.dt.epoch("ms")  # time-zone aware or not: ms since the epoch in UTC
    if isinstance(dtype, pl.Date):
        return column.cast(pl.Datetime("ms")).dt.epoch("ms")
    if dtype.is_numeric() and not isinstance(dtype, pl.Decimal):
        return (column.cast(pl.Float64) * 1000).round().cast(pl.Int64)
    raise SchemaError(
        f"{name}: the event-time column {column.name!r} is {dtype} in {batch_label(t)}; "
        "it must be a Datetime, a Date or seconds since the epoch (e.g. parse strings with "
        "pl.col(...).str.to_datetime())"
    )


class _LateRowsDStream(DStream):
    def __init__(self, parent: EventTimeDStream):
        super().__init__(parent._ssc, [parent])

    def _compute(self, t: int) -> Batch | None:
        parent = self._parents[0]
        parent._get(t)
        late = parent._late.get(t)
        return late if late is not None else Batch.empty(1)


class EventWindows:
    """``events.window(...)`` / ``events.session(...)``; finish with ``group_by(...).agg(...)``."""

    def __init__(self, events: EventTimeDStream, kind: str, length_ms: int, slide_ms: int, early: bool):
        self._events, self._kind = events, kind
        self._length_ms, self._slide_ms, self._early = length_ms, slide_ms, early

    def group_by(self, *keys: str) -> _GroupedEventWindows:
        """Group each window's rows by these columns: ``.group_by("user").agg(pl.len())``."""
        return _GroupedEventWindows(self, list(keys))

    def agg(self, *aggs: Any, **named: Any) -> EventWindowDStream:
        """Aggregate all rows of each window: ``events.window(60).agg(pl.len())``."""
        return _GroupedEventWindows(self, []).agg(*aggs, **named)


class _GroupedEventWindows:
    def __init__(self, windows: EventWindows, keys: list[str]):
        self._windows, self._keys = windows, keys

    def agg(self, *aggs: Any, **named: Any) -> EventWindowDStream:
        """One row per window (and group): ``window_start``, ``window_end``, the keys, the aggregates."""
        return EventWindowDStream(self._windows, self._keys, [*aggs, *(e.alias(n) for n, e in named.items())])


class EventWindowDStream(DStream):
    """Closed event-time windows, each emitted once (plus early results with ``early=True``)."""

    _stateful = True

    def __init__(self, windows: EventWindows, keys: Sequence[str], aggs: Sequence[pl.Expr]):
        events = windows._events
        super().__init__(events._ssc, [events])
        self._kind = windows._kind
        self._span_ms, self._step_ms, self._early = windows._length_ms, windows._slide_ms, windows._early
        self._keys, self._aggs = list(keys), list(aggs)
        self._buffer: pl.DataFrame | None = None  # rows of windows not yet emitted, with _TS
        self._emitted_upto = _NO_WATERMARK  # windows ending at or before this were emitted
        self._out_dtype: pl.DataType = pl.Datetime("ms")
        self._state_time: int | None = None
        what = "session" if self._kind == "session" else "window"
        self.name = f"{events.name}.{what}"

    def _compute(self, t: int) -> Batch:
        with failures_named(self.name):  # errors here are this operator's, not the output's
            return self._next_batch(t)

    def _next_batch(self, t: int) -> Batch:
        events: EventTimeDStream = self._parents[0]
        batch = events._get(t)
        _, watermark = events.watermark_at(t)
        buffer = self._buffer
        touched = None
        if batch is not None and batch.table.num_rows:
            frame = pl.from_arrow(batch.table)
            column = frame.get_column(events.column)  # type: ignore[union-attr]
            self._out_dtype = _bound_dtype(column.dtype)
            new = frame.with_columns(_to_ms(column, events.name, t).alias(_TS))  # type: ignore[union-attr]
            touched = new
            buffer = new if buffer is None else pl.concat([buffer, new], how="vertical_relaxed")
        if buffer is None:
            return Batch.empty(1)
        try:
            if self._kind == "session":
                result, buffer = self._sessions(buffer, watermark, touched)
            else:
                result, buffer = self._windows(buffer, watermark, touched)
        except pl.exceptions.PolarsError as error:
            raise BatchError(
                f"{self.name}: the aggregation failed at {batch_label(t)}: {type(error).__name__}: {error}",
                operator=self.name,
                batch_time=t,
            ) from error
        self._buffer, self._state_time = buffer, t
        self._emitted_upto = max(self._emitted_upto, watermark)
        return Batch(result.to_arrow(compat_level=_NEWEST), "row", 1)

    # -- tumbling and sliding --------------------------------------------------------------------
    def _windows(self, buffer: pl.DataFrame, watermark: int, touched: pl.DataFrame | None):
        length, slide = self._span_ms, self._step_ms
        # every window [start, start + length) holding the row: starts at multiples of slide
        last_start = (pl.col(_TS) // slide) * slide
        count = -(-length // slide)
        starts = pl.int_ranges(last_start - (count - 1) * slide, last_start + 1, slide)
        assigned = (
            buffer.lazy()
            .with_columns(starts.alias("__start"))
            .explode("__start")
            .filter(pl.col("__start") > pl.col(_TS) - length)
            .with_columns((pl.col("__start") + length).alias("__end"))
        )
        # a row may sit in windows closed earlier and in open ones: emit each window once
        closed = assigned.filter((pl.col("__end") <= watermark) & (pl.col("__end") > self._emitted_upto))
        parts = [self._aggregate(closed, final=True)]
        if self._early and touched is not None:
            open_keys = (
                touched.lazy()
                .with_columns(starts.alias("__start"))
                .explode("__start")
                .filter(pl.col("__start") > pl.col(_TS) - length)
                .select("__start", *self._keys)
                .unique()
            )
            still_open = assigned.filter(pl.col("__end") > watermark).join(
                open_keys, on=["__start", *self._keys], how="semi", nulls_equal=True
            )
            parts.append(self._aggregate(still_open, final=False))
        result = pl.concat(pl.collect_all(parts), how="vertical_relaxed")
        # a row leaves once the last window holding it has closed
        keep = buffer.filter((pl.col(_TS) // slide) * slide + length > watermark)
        return result, keep

    # -- sessions --------------------------------------------------------------------------------
    def _sessions(self, buffer: pl.DataFrame, watermark: int, touched: pl.DataFrame | None):
        gap = self._span_ms
        keys = self._keys
        ordered = buffer.lazy().sort([*keys, _TS], maintain_order=True)
        gap_before = pl.col(_TS) - pl.col(_TS).shift(1)
        if keys:
            gap_before = gap_before.over(keys)
        new_session = gap_before.is_null() | (gap_before >= gap)
        with_ids = ordered.with_columns(new_session.cum_sum().alias("__session"))
        bounds = with_ids.with_columns(
            pl.col(_TS).min().over("__session").alias("__start"),
            (pl.col(_TS).max().over("__session") + gap).alias("__end"),
        )
        closed = bounds.filter(pl.col("__end") <= watermark)
        parts = [self._aggregate(closed, final=True, by=["__session"])]
        if self._early and touched is not None:
            touched_ids = bounds.filter(pl.col("__end") > watermark).join(
                touched.lazy().select(*keys, _TS).unique(), on=[*keys, _TS], how="semi", nulls_equal=True
            )
            open_sessions = bounds.join(touched_ids.select("__session").unique(), on="__session", how="semi")
            parts.append(self._aggregate(open_sessions, final=False, by=["__session"]))
        result = pl.concat(pl.collect_all(parts), how="vertical_relaxed")
        keep = bounds.filter(pl.col("__end") > watermark).drop("__session", "__start", "__end")
        return result, keep.collect()

    # -- shared ----------------------------------------------------------------------------------
    def _aggregate(self, rows: pl.LazyFrame, final: bool, by: Sequence[str] = ()) -> pl.LazyFrame:
        group = ["__start", "__end", *self._keys, *by]
        out = (
            rows.group_by(group, maintain_order=True)
            .agg(*self._aggs)
            .sort(["__start", *self._keys, "__end"], maintain_order=True, nulls_last=True)
            .drop(*by)
            .with_columns(_bound("__start", self._out_dtype), _bound("__end", self._out_dtype))
            .rename({"__start": "window_start", "__end": "window_end"})
        )
        if self._early:
            out = out.with_columns(pl.lit(final).alias("final"))
        return out

    def _state_snapshot(self) -> StateSnapshot | None:
        """The rows of the windows still open (Arrow, with their event time in ``__event_ms``)."""
        from .state import StateSnapshot

        if self._state_time is None or self._buffer is None:
            return None
        table = self._buffer.to_arrow(compat_level=_NEWEST)
        metadata = {"kind": f"event_time.{self._kind}", "emitted_upto_ms": self._emitted_upto}
        return StateSnapshot(self._state_time, {"open_rows": table}, metadata)

    def _state_restore(self, snapshot: StateSnapshot) -> None:
        self._buffer = pl.from_arrow(snapshot.tables["open_rows"])  # type: ignore[assignment]
        self._emitted_upto = snapshot.metadata.get("emitted_upto_ms", _NO_WATERMARK)
        self._state_time = snapshot.batch_time


def _bound_dtype(dtype: pl.DataType) -> pl.DataType:
    """``window_start``/``window_end`` type: the event column's Datetime type, else Datetime(ms)."""
    if isinstance(dtype, pl.Datetime):
        return dtype
    return pl.Datetime("ms")


def _bound(name: str, dtype: pl.DataType) -> pl.Expr:
    """Epoch milliseconds back to the event column's Datetime type (same unit and time zone)."""
    moment = pl.from_epoch(name, time_unit="ms")
    zone = getattr(dtype, "time_zone", None)
    if zone is not None:
        moment = moment.dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    return moment.cast(dtype).alias(name)
