"""Event-time windows with watermarks: tumbling, sliding, sessions, late rows, bad input."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstreams import BatchError, ConfigurationError, ManualClock, SparkContext, StreamingContext

pytestmark = pytest.mark.filterwarnings("ignore:stateful operators keep their state in memory")

START = dt.datetime(2024, 1, 1)


def at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def events(*rows) -> pa.Table:
    """(user, event second, amount) rows as an Arrow table with a timestamp column."""
    return pa.table(
        {
            "user": [r[0] for r in rows],
            "ts": pa.array([at(r[1]) for r in rows], pa.timestamp("us")),
            "x": [r[2] for r in rows],
        }
    )


BATCHES = [
    events(("u", 1, 1), ("v", 5, 2), ("u", 12, 3)),  # watermark after: 12 - 5 = 7
    events(("u", 3, 10), ("u", 25, 4)),  # 3 < 7: late; watermark 20
    events(("u", 2, 100), ("v", 40, 1)),  # 2 < 20: late; watermark 35
    events(("u", 70, 0)),  # watermark 65
]


def collect(ssc, clock, streams: dict, n: int) -> dict:
    """Run ``n`` batches; each stream's batches as lists of row tuples (None for a missing batch)."""
    got: dict = {name: [] for name in streams}
    for name, stream in streams.items():
        stream.foreach_batch(
            lambda t, table, name=name: got[name].append([tuple(r.values()) for r in table.to_pylist()])
        )
    ssc.start()
    for _ in range(n):
        try:
            clock.advance(1)
        except BatchError:
            pass  # the test checks it through ssc.awaitTermination*, which raises it again
    ssc.stop(stopSparkContext=False)
    return got


def test_tumbling_windows_emit_once_when_the_watermark_passes(ssc, clock):
    ev = ssc.queueStream(BATCHES).event_time("ts", watermark=5)
    per_user = ev.window(10).group_by("user").agg(pl.len().alias("n"), pl.col("x").sum())
    got = collect(ssc, clock, {"w": per_user, "late": ev.late_rows()}, 5)
    assert got["w"] == [
        [],
        [(at(0), at(10), "u", 1, 1), (at(0), at(10), "v", 1, 2), (at(10), at(20), "u", 1, 3)],
        [(at(20), at(30), "u", 1, 4)],
        [(at(40), at(50), "v", 1, 1)],
        [],  # [70, 80) stays open: the watermark is 65
    ]
    assert got["late"][:4] == [[], [("u", at(3), 10)], [("u", at(2), 100)], []]


def test_late_rows_are_counted_per_batch(ssc, clock):
    ev = ssc.queueStream(BATCHES).event_time("ts", watermark=5)
    counts = []
    ev.foreachRDD(lambda t, rdd: counts.append(ev.late_count(int(t.timestamp() * 1000))))
    ssc.start()
    for _ in range(4):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert counts == [0, 1, 1, 0]


def test_sliding_windows_with_early_results(ssc, clock):
    ev = ssc.queueStream(BATCHES[:2]).event_time("ts", watermark=5)
    sliding = ev.window(10, 5, early=True).agg(pl.len().alias("n"))
    got = collect(ssc, clock, {"s": sliding}, 2)
    assert got["s"] == [
        [
            (at(-5), at(5), 1, True),  # closed: watermark 7 >= 5
            (at(0), at(10), 2, False),  # open windows touched by the batch: partial results
            (at(5), at(15), 2, False),
            (at(10), at(20), 1, False),
        ],
        [
            (at(0), at(10), 2, True),
            (at(5), at(15), 2, True),
            (at(10), at(20), 1, True),
            (at(20), at(30), 1, False),
            (at(25), at(35), 1, False),
        ],
    ]


def test_session_windows_per_key(ssc, clock):
    ev = ssc.queueStream(BATCHES).event_time("ts", watermark=5)
    sessions = ev.session(gap=8).group_by("user").agg(pl.col("x").sum())
    got = collect(ssc, clock, {"s": sessions}, 4)
    assert got["s"] == [
        [],
        [(at(1), at(9), "u", 1), (at(5), at(13), "v", 2), (at(12), at(20), "u", 3)],
        [(at(25), at(33), "u", 4)],
        [(at(40), at(48), "v", 1)],
    ]


def test_session_grows_while_rows_keep_coming(ssc, clock):
    batches = [events(("u", 0, 1)), events(("u", 6, 1)), events(("u", 12, 1)), events(("u", 40, 1))]
    ev = ssc.queueStream(batches).event_time("ts", watermark=0)
    got = collect(ssc, clock, {"s": ev.session(gap=8).group_by("user").agg(pl.len().alias("n"))}, 4)
    assert got["s"] == [[], [], [], [(at(0), at(20), "u", 3)]]


def test_window_closes_exactly_at_its_end(ssc, clock):
    batches = [events(("u", 1, 1)), events(("u", 10, 1))]  # watermark 10 = end of [0, 10)
    ev = ssc.queueStream(batches).event_time("ts", watermark=0)
    got = collect(ssc, clock, {"w": ev.window(10).agg(pl.len().alias("n"))}, 2)
    assert got["w"] == [[], [(at(0), at(10), 1)]]


def test_numeric_seconds_dates_and_time_zones(ssc, clock):
    numeric = pa.table({"t": [1.5, 12.0], "k": ["a", "a"]})
    dates = pa.table({"d": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 3)], pa.date32())})
    zoned = pl.DataFrame({"z": [at(1), at(30)]}).with_columns(
        pl.col("z").dt.replace_time_zone("Europe/Paris")
    )
    s1 = ssc.queueStream([numeric]).event_time("t").window(10).agg(pl.len().alias("n"))
    s2 = ssc.queueStream([dates]).event_time("d").window(86400).agg(pl.len().alias("n"))
    s3 = ssc.queueStream([zoned]).event_time("z").window(10).agg(pl.len().alias("n"))
    tables: dict = {}
    for name, s in (("num", s1), ("date", s2), ("zone", s3)):
        s.foreach_batch(lambda t, table, name=name: tables.setdefault(name, table))
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert pl.from_arrow(tables["num"]).rows() == [
        (dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1, 0, 0, 10), 1)
    ]
    assert pl.from_arrow(tables["date"]).rows() == [(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2), 1)]
    zone = pl.from_arrow(tables["zone"])
    assert zone.schema["window_start"] == pl.Datetime("us", "Europe/Paris")
    assert zone["window_start"].dt.replace_time_zone(None).to_list() == [at(0)]


def test_null_event_times_fail_the_batch_and_keep_the_watermark(ssc, clock):
    bad = pa.table({"user": ["u"], "ts": pa.array([None], pa.timestamp("us")), "x": [1]})
    batches = [events(("u", 20, 1)), bad, events(("u", 16, 2))]  # 16 >= 20 - 5: on time
    ev = ssc.queueStream(batches).event_time("ts", watermark=5)
    got = collect(ssc, clock, {"w": ev.window(10).agg(pl.len().alias("n")), "late": ev.late_rows()}, 3)
    # batch 2 failed in both outputs; the row at 16 s is not late: the watermark (15) did not move
    assert got == {"w": [[], []], "late": [[], []]}
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    message = str(info.value)
    assert "event_time('ts')" in message and "null" in message and "(2000 ms)" in message


@pytest.mark.parametrize(
    "table, match",
    [
        (pa.table({"ts": ["2024-01-01"]}), "must be a Datetime, a Date or seconds"),
        (pa.table({"other": [1]}), "no column 'ts'"),
    ],
)
def test_wrong_event_time_column(ssc, clock, table, match):
    ev = ssc.queueStream([table]).event_time("ts")
    collect(ssc, clock, {"w": ev.window(10).agg(pl.len())}, 1)
    with pytest.raises(BatchError, match=match):
        ssc.awaitTerminationOrTimeout(0)


def test_bad_durations(ssc):
    s = ssc.queueStream([events(("u", 1, 1))])
    with pytest.raises(ConfigurationError, match="zero or more seconds"):
        s.event_time("ts", watermark=-1)
    with pytest.raises(ConfigurationError, match="must be positive"):
        s.event_time("ts").window(0)
    with pytest.raises(ConfigurationError, match="gap must be positive"):
        s.event_time("ts").session(-3)


def test_aggregation_error_names_the_operator(ssc, clock):
    ev = ssc.queueStream([events(("u", 1, 1)), events(("u", 30, 2))]).event_time("ts")
    collect(ssc, clock, {"w": ev.window(10).agg(pl.col("user").cast(pl.Int64, strict=True))}, 2)
    with pytest.raises(
        BatchError, match=r"event_time\('ts'\)\.window: the aggregation failed at batch .*2000 ms"
    ):
        ssc.awaitTerminationOrTimeout(0)


def test_open_windows_survive_a_snapshot(ssc, clock):
    ev = ssc.queueStream([events(("u", 1, 1), ("u", 3, 2))]).event_time("ts")
    windows = ev.window(10).agg(pl.col("x").sum())
    collect(ssc, clock, {"w": windows}, 1)
    snapshot = windows._state_snapshot()
    assert snapshot.tables["open_rows"].num_rows == 2
    clock2 = ManualClock()
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        ev2 = ssc2.queueStream([events(("u", 12, 5))]).event_time("ts")
        ev2._state_restore(ev._state_snapshot())
        windows2 = ev2.window(10).agg(pl.col("x").sum())
        windows2._state_restore(snapshot)
        got = collect(ssc2, clock2, {"w": windows2}, 1)
        assert got["w"] == [[(at(0), at(10), 3)]]
    finally:
        ssc2.stop(stopSparkContext=False)


# -- property: each window once, with exactly the rows that were not late ----------------------------

_event_batches = st.lists(
    st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 60)), max_size=5), min_size=1, max_size=6
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_event_batches, delay=st.integers(0, 15), length=st.integers(1, 20), slide=st.integers(1, 20))
def test_windows_hold_exactly_the_rows_that_were_not_late(batches, delay, length, slide):
    slide = min(slide, length)
    tables = [events(*[(k, s, 1) for k, s in b]) if b else events(("a", 0, 1)).slice(0, 0) for b in batches]
    ssc = StreamingContext(SparkContext("local[1]", "prop"), 1, clock=(clock := ManualClock()))
    try:
        ev = ssc.queueStream(tables).event_time("ts", watermark=delay)
        out = ev.window(length, slide).group_by("user").agg(pl.len().alias("n"))
        got = collect(ssc, clock, {"w": out, "late": ev.late_rows()}, len(batches))
    finally:
        ssc.stop()
    # reference: replay the watermark rule row by row
    watermark, newest, on_time, late = None, None, [], []
    for b in batches:
        kept = [(k, s) for k, s in b if watermark is None or s >= watermark]
        late.append(len(b) - len(kept))
        on_time += kept
        if kept:
            newest = max(s for _, s in kept) if newest is None else max(newest, *(s for _, s in kept))
            watermark = newest - delay
    assert [len(x) for x in got["late"]] == late
    emitted = [row for batch in got["w"] for row in batch]
    keys = [(r[0], r[2]) for r in emitted]
    assert len(keys) == len(set(keys))  # each window and user once
    for start, end, user, n in emitted:
        s, e = (start - START).total_seconds(), (end - START).total_seconds()
        assert e - s == length and e <= watermark
        assert n == sum(1 for k, x in on_time if k == user and s <= x < e)


def test_sessions_with_early_results(ssc, clock):
    batches = [events(("u", 0, 1)), events(("u", 6, 1)), events(("u", 40, 1))]
    ev = ssc.queueStream(batches).event_time("ts", watermark=0)
    sessions = ev.session(gap=8, early=True).group_by("user").agg(pl.len().alias("n"))
    got = collect(ssc, clock, {"s": sessions}, 3)
    assert got["s"] == [
        [(at(0), at(8), "u", 1, False)],
        [(at(0), at(14), "u", 2, False)],
        [(at(0), at(14), "u", 2, True), (at(40), at(48), "u", 1, False)],
    ]
