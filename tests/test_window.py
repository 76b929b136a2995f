"""Window operators: Spark's outputs batch by batch, incremental and pane-merge paths, both paths."""

from __future__ import annotations

import functools
import operator

import polars as pl
import pyarrow as pa
import pytest
from conftest import run_batches, same_batches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstreams import BatchError, ManualClock, SparkContext, StreamingContext, window
from dstreams.batch import set_compilation

pytestmark = [
    pytest.mark.partitions,
    pytest.mark.filterwarnings(
        "ignore:stateful operators keep their state in memory", "ignore::dstreams.FallbackWarning"
    ),
]

# a key that disappears (b), one that comes back (a), empty batches, a late newcomer (c)
PAIRS = [[("a", 1), ("b", 2)], [("a", 3)], [], [("c", 1)], [("a", 1)], [], [], [], []]


def _spark_reference(batches, func, inv, window, slide, filter_func=None):
    """PySpark's reduceByKeyAndWindow, transcribed from PythonReducedWindowedDStream.compute.

    Batch i of ``batches`` is at time i + 1 (seconds); returns {time: [(k, v)...]} per window time.
    """

    def reduce_by_key(pairs):
        acc: dict = {}
        for k, v in pairs:
            acc[k] = func(acc[k], v) if k in acc else v
        return list(acc.items())

    def panes(after, upto):
        return [
            reduce_by_key(batches[u - 1]) for u in range(max(after + 1, 1), upto + 1) if u <= len(batches)
        ]

    def flt(pairs):
        return [kv for kv in pairs if filter_func(kv)] if filter_func else pairs

    out, prev = {}, None
    for t in range(slide, len(batches) + 1, slide):
        if inv is not None and prev is not None and window >= 5 * slide:
            old = panes(t - slide - window, t - window)
            new = panes(t - slide, t)
            current = prev
            if old:
                gone = dict(reduce_by_key([kv for p in old for kv in p]))
                current = [(k, v if gone.get(k) is None else inv(v, gone[k])) for k, v in prev]
            if new:
                current = flt(reduce_by_key(current + reduce_by_key([kv for p in new for kv in p])))
        else:
            current = flt(reduce_by_key([kv for p in panes(t - window, t) for kv in p]))
        out[t] = prev = current
    return out


# -- reduceByKeyAndWindow ----------------------------------------------------------------------------


def test_incremental_window_keeps_keys_that_fall_to_zero(ssc, clock, both_paths):
    # window 5 >= 5 slides: previous window + new batch - batch that left
    s = ssc.queueStream(PAIRS).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
    assert run_batches(ssc, clock, s, 10) == [
        [("a", 1), ("b", 2)],
        [("a", 4), ("b", 2)],
        [("a", 4), ("b", 2)],
        [("a", 4), ("b", 2), ("c", 1)],
        [("a", 5), ("b", 2), ("c", 1)],
        [("a", 4), ("b", 0), ("c", 1)],  # batch 1 left: b falls to 0 and stays
        [("a", 1), ("b", 0), ("c", 1)],
        [("a", 1), ("b", 0), ("c", 1)],
        [("a", 1), ("b", 0), ("c", 0)],
        [("a", 0), ("b", 0), ("c", 0)],  # past the end of the queue: empty batches
    ]


def test_small_window_recomputes_and_drops_keys(ssc, clock, both_paths, partitions):
    # window 2 < 5 slides: Spark reduces the whole window, keys that left disappear
    s = ssc.queueStream(PAIRS).reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 2, 1)
    assert same_batches(
        run_batches(ssc, clock, s, 8),
        [
            [("a", 1), ("b", 2)],
            [("a", 4), ("b", 2)],
            [("a", 3)],
            [("c", 1)],
            [("c", 1), ("a", 1)],
            [("a", 1)],
            [],
            [],
        ],
        partitions,
    )


def test_without_inverse_panes_are_merged(ssc, clock, both_paths, partitions):
    s = ssc.queueStream(PAIRS).reduceByKeyAndWindow(operator.add, None, 5, 1)
    out = run_batches(ssc, clock, s, 10)
    assert same_batches(
        out, list(_spark_reference([*PAIRS, []], operator.add, None, 5, 1).values()), partitions
    )
    assert sorted(out[5]) == [("a", 4), ("c", 1)] and out[9] == []


def test_filter_func_drops_keys_in_the_incremental_path(ssc, clock, both_paths):
    s = ssc.queueStream(PAIRS).reduceByKeyAndWindow(
        operator.add, operator.sub, 5, 1, filterFunc=lambda kv: kv[1] > 0
    )
    out = run_batches(ssc, clock, s, 10)
    assert out[5] == [("a", 4), ("c", 1)]
    assert out[8:] == [[("a", 1)], []]


def test_filter_func_without_inverse_is_ignored_as_in_pyspark(ssc, clock):
    with pytest.warns(UserWarning, match="filterFunc is ignored"):
        s = ssc.queueStream([[("a", 1)]]).reduceByKeyAndWindow(
            operator.add, None, 2, 1, filterFunc=lambda kv: False
        )
    assert run_batches(ssc, clock, s, 2) == [[("a", 1)], [("a", 1)]]


def test_window_longer_than_the_stream_so_far(ssc, clock, both_paths):
    s = ssc.queueStream([[("x", 2)], [("x", 3)], [("y", 1)]]).reduceByKeyAndWindow(
        operator.add, operator.sub, 10, 1
    )
    assert run_batches(ssc, clock, s, 4) == [
        [("x", 2)],
        [("x", 5)],
        [("x", 5), ("y", 1)],
        [("x", 5), ("y", 1)],
    ]


def _touch_every_batch(stream):
    # See test_slide_longer_than_batch_without_other_consumer: until the engine keeps a source's
    # batches for the windows that read them later, something must consume every batch.
    stream.foreachRDD(lambda rdd: None)
    return stream


def test_slide_longer_than_batch(ssc, clock, both_paths):
    batches = [[("a", i)] for i in range(1, 13)]
    src = _touch_every_batch(ssc.queueStream(batches))
    s = src.reduceByKeyAndWindow(operator.add, operator.sub, 10, 2)  # 5 slides: incremental
    out = {}
    s.foreachRDD(lambda t, rdd: out.__setitem__(t.second, rdd.collect()))
    ssc.start()
    for _ in range(14):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    # windows every 2 s over the last 10 batches; sums of i for batches in (t - 10, t]
    assert out == {t: [("a", sum(range(max(1, t - 9), min(t, 12) + 1)))] for t in range(2, 15, 2)}


def test_slide_longer_than_batch_without_other_consumer(ssc, clock):
    s = ssc.queueStream([[1], [2], [3], [4]]).window(2, 2)
    assert run_batches(ssc, clock, s, 4) == [[1, 2], [3, 4]]


def test_num_partitions_spreads_keys(ssc, clock, both_paths):
    s = ssc.queueStream([[(1, 1), (2, 1), (3, 1)], [(2, 5)]]).reduceByKeyAndWindow(
        operator.add, operator.sub, 5, 1, numPartitions=2
    )
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.glom().collect()))
    ssc.start()
    clock.advance(1)
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert out == [[[(2, 1)], [(1, 1), (3, 1)]], [[(2, 6)], [(1, 1), (3, 1)]]]


@pytest.mark.parametrize(
    "func, inv",
    [(operator.add, operator.sub), (lambda a, b: a + b, lambda x, y: x - y)],
    ids=["operator", "lambda"],
)
def test_recognised_pairs_never_run_python_per_key(ssc, clock, monkeypatch, func, inv):
    def refuse(*args):
        raise AssertionError("ran per key in Python")

    monkeypatch.setattr(window._Combiner, "_python_reduce", refuse)
    monkeypatch.setattr(window._Combiner, "_python_subtract", refuse)
    batches = [[("a", 1), ("b", 2), ("a", 3)], [("b", 1), ("c", 7)], [("a", 1)], [], [], [], []]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(func, inv, 5, 1)
    out = run_batches(ssc, clock, s, 7)
    assert out[4:] == [
        [("a", 5), ("b", 3), ("c", 7)],
        [("a", 1), ("b", 1), ("c", 7)],
        [("a", 1), ("b", 0), ("c", 0)],
    ]


def test_python_functions_fall_back_per_key(ssc, clock, both_paths):
    # running (sum, count) pairs: tuples are Python objects, the functions run per key
    def add(a, b):
        return (a[0] + b[0], a[1] + b[1])

    def sub(a, b):
        return (a[0] - b[0], a[1] - b[1])

    batches = [[("k", (4, 1)), ("k", (6, 1))], [("k", (2, 1))], [], [], [], []]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(add, sub, 5, 1)
    assert run_batches(ssc, clock, s, 7) == [
        [("k", (10, 2))],
        [("k", (12, 3))],
        [("k", (12, 3))],
        [("k", (12, 3))],
        [("k", (12, 3))],
        [("k", (2, 1))],
        [("k", (0, 0))],
    ]


def test_string_concatenation_with_a_python_inverse(ssc, clock, both_paths):
    batches = [[("k", "ab")], [("k", "c")], [], [], [], [], []]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a[len(b) :], 5, 1)
    out = run_batches(ssc, clock, s, 7)
    assert [dict(o)["k"] for o in out] == ["ab", "abc", "abc", "abc", "abc", "c", ""]


def test_inverse_error_names_operator_key_and_batch_and_keeps_running(ssc, clock):
    # strings add (concatenate) but cannot be subtracted: the failure comes when batch 1 leaves
    batches = [[("w", "x")], [], [], [], [], [("v", "y")], []]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
    out = run_batches(ssc, clock, s, 7)
    assert out[:5] == [[("w", "x")]] * 5
    # batch 6 failed; batch 7 has no previous window, so it reduces its whole window again
    assert out[5:] == [[("v", "y")]]
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    message = str(info.value)
    assert "reduceByKeyAndWindow" in message and "invFunc" in message
    assert "key 'w'" in message and "(6000 ms)" in message and "TypeError" in message


def test_reduce_error_names_the_key(ssc, clock):
    batches = [[("k", 1)], [("k", None)]]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
    out = run_batches(ssc, clock, s, 2)
    assert out == [[("k", 1)]]
    with pytest.raises(BatchError, match=r"key 'k' at batch .*\(2000 ms\)"):
        ssc.awaitTerminationOrTimeout(0)


def test_window_must_be_a_multiple_of_the_batch(ssc):
    s = ssc.queueStream([[("a", 1)]])
    with pytest.raises(ValueError, match="windowDuration must be multiple of the parent dstream's slide"):
        s.reduceByKeyAndWindow(operator.add, operator.sub, 2.5, 1)
    with pytest.raises(ValueError, match="slideDuration must be multiple of the parent dstream's slide"):
        s.countByWindow(2, 1.5)
    with pytest.raises(ValueError, match="windowDuration must be multiple"):
        s.groupByKeyAndWindow(0.5, 1)


def test_incremental_window_is_stateful(ssc):
    s = ssc.queueStream([[("a", 1)]])
    assert getattr(s.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1), "_stateful", False)


# -- the other window operators ----------------------------------------------------------------------


def test_count_by_window_emits_zero_only_for_large_windows(ssc, clock, both_paths):
    batches = [[1, 2], [3], [], [], [], [], []]
    large = ssc.queueStream(batches).countByWindow(5, 1)
    small = ssc.queueStream(batches).countByWindow(2, 1)
    got_small: list = []
    small.foreachRDD(lambda rdd: got_small.append(rdd.collect()))
    assert run_batches(ssc, clock, large, 8) == [[2], [3], [3], [3], [3], [1], [0], [0]]
    assert got_small == [[2], [3], [1], [], [], [], [], []]


def test_reduce_by_window(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2], [10], [100]]).reduceByWindow(operator.add, None, 2, 1)
    assert run_batches(ssc, clock, s, 4) == [[3], [13], [110], [100]]


def test_reduce_by_window_max_without_inverse(ssc, clock, both_paths):
    s = ssc.queueStream([[5, 1], [3], [2], []]).reduceByWindow(max, None, 2, 1)
    assert run_batches(ssc, clock, s, 5) == [[5], [5], [3], [2], []]


def test_count_by_value_and_window_drops_counts_at_zero(ssc, clock, both_paths):
    words = [["a", "b", "a"], ["b"], [], [], [], ["c"], []]
    s = ssc.queueStream(words).countByValueAndWindow(5, 1)
    assert run_batches(ssc, clock, s, 8) == [
        [("a", 2), ("b", 1)],
        [("a", 2), ("b", 2)],
        [("a", 2), ("b", 2)],
        [("a", 2), ("b", 2)],
        [("a", 2), ("b", 2)],
        [("b", 1), ("c", 1)],  # a fell to 0: dropped
        [("c", 1)],
        [("c", 1)],
    ]


def test_group_by_key_and_window(ssc, clock, both_paths):
    batches = [[("a", 1), ("b", 2), ("a", 3)], [("a", 4)], [], [], [], []]
    large = ssc.queueStream(batches).groupByKeyAndWindow(5, 1)
    small = ssc.queueStream(batches).groupByKeyAndWindow(2, 1)
    got_small: list = []
    small.foreachRDD(lambda rdd: got_small.append(rdd.collect()))
    assert run_batches(ssc, clock, large, 7) == [
        [("a", [1, 3]), ("b", [2])],
        [("a", [1, 3, 4]), ("b", [2])],
        [("a", [1, 3, 4]), ("b", [2])],
        [("a", [1, 3, 4]), ("b", [2])],
        [("a", [1, 3, 4]), ("b", [2])],
        [("a", [4]), ("b", [])],  # as PySpark: a key whose values all left keeps an empty list
        [("a", []), ("b", [])],
    ]
    assert got_small == [
        [("a", [1, 3]), ("b", [2])],
        [("a", [1, 3, 4]), ("b", [2])],
        [("a", [4])],
        [],
        [],
        [],
        [],
    ]


def test_group_by_key_and_window_mixed_values_run_in_python(ssc, clock, both_paths):
    batches = [[("a", 1), ("a", "x")], [("a", (2, 3))], [], [], [], []]
    s = ssc.queueStream(batches).groupByKeyAndWindow(5, 1)
    out = run_batches(ssc, clock, s, 6)
    assert out[1] == [("a", [1, "x", (2, 3)])]
    assert out[5] == [("a", [(2, 3)])]


# -- property: incremental == pane merge == recomputation from raw rows -------------------------------

_batches = st.lists(
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-3, 5)), max_size=4), min_size=1, max_size=9
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_batches, window=st.integers(1, 7), slide=st.integers(1, 3), compiled=st.booleans())
def test_incremental_equals_pane_merge_equals_raw_recomputation(batches, window, slide, compiled):
    window = max(window, slide)
    old = set_compilation(compiled)
    sc = SparkContext("local[1]", "prop")
    clock = ManualClock()
    ssc = StreamingContext(sc, 1, clock=clock)
    try:
        src = _touch_every_batch(ssc.queueStream(batches))
        incremental = src.reduceByKeyAndWindow(operator.add, operator.sub, window, slide)
        merged = src.reduceByKeyAndWindow(operator.add, None, window, slide)
        got_inc: dict = {}
        got_merged: dict = {}
        incremental.foreachRDD(lambda t, rdd: got_inc.__setitem__(t.second, rdd.collect()))
        merged.foreachRDD(lambda t, rdd: got_merged.__setitem__(t.second, rdd.collect()))
        ssc.start()
        for _ in batches:
            clock.advance(1)
    finally:
        ssc.stop()
        set_compilation(old)
    raw = {
        t: functools.reduce(
            lambda acc, kv: {**acc, kv[0]: acc.get(kv[0], 0) + kv[1]},
            [kv for b in batches[max(0, t - window) : t] for kv in b],
            {},
        )
        for t in range(slide, len(batches) + 1, slide)
    }
    assert set(got_inc) == set(got_merged) == set(raw)
    for t, expected in raw.items():
        assert dict(got_merged[t]) == expected and [k for k, _ in got_merged[t]] == list(expected)
        inc = dict(got_inc[t])
        assert len(inc) == len(got_inc[t])  # one row per key
        # keys that left the window may stay at 0 (Spark's incremental path); the rest is exact
        assert {k: v for k, v in inc.items() if k in expected} == expected
        assert all(v == 0 for k, v in inc.items() if k not in expected)
    reference = _spark_reference(batches, operator.add, operator.sub, window, slide)
    assert got_inc == reference


def test_snapshot_keeps_the_panes_a_restored_window_still_needs(ssc, clock, both_paths, partitions):
    batches = [[("a", 1)], [("a", 2), ("b", 1)], [("b", 5)], [("a", 1)], [], [], [], []]
    first = ssc.queueStream(batches[:3]).reduceByKeyAndWindow(operator.add, operator.sub, 4, 1)
    assert sorted(run_batches(ssc, clock, first, 3)[-1]) == [("a", 3), ("b", 6)]
    snapshot = first._state_snapshot()
    assert sorted(snapshot.tables) == ["pane-1000", "pane-2000", "pane-3000", "window"]

    clock2 = ManualClock(3000)  # the new context's first batch is at 4 s
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        second = ssc2.queueStream(batches[3:]).reduceByKeyAndWindow(operator.add, operator.sub, 4, 1)
        second._state_restore(snapshot)
        out = run_batches(ssc2, clock2, second, 5)
    finally:
        ssc2.stop(stopSparkContext=False)
    # window 4 < 5 slides: recomputed from the restored panes, which leave on time
    want = [[("a", 4), ("b", 6)], [("a", 3), ("b", 6)], [("b", 5), ("a", 1)], [("a", 1)], []]
    assert same_batches(out, want, partitions)


def test_tuple_keys_run_in_python_and_spread_over_partitions(ssc, clock, both_paths):
    batches = [[((1, "x"), 1), ((2, "y"), 1)], [((1, "x"), 2)], [], [], [], []]
    s = ssc.queueStream(batches).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1, numPartitions=2)
    out = run_batches(ssc, clock, s, 6)
    assert sorted(out[1]) == [((1, "x"), 3), ((2, "y"), 1)]
    assert sorted(out[5]) == [((1, "x"), 2), ((2, "y"), 0)]


def test_restored_incremental_window_subtracts_the_restored_panes(ssc, clock):
    batches = [[("a", 1)], [("a", 2), ("b", 1)], [("b", 5)], [("a", 1)], [], [], [], []]
    first = ssc.queueStream(batches[:3]).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
    run_batches(ssc, clock, first, 3)
    clock2 = ManualClock(3000)
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        second = ssc2.queueStream(batches[3:]).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1)
        second._state_restore(first._state_snapshot())
        out = run_batches(ssc2, clock2, second, 5)
    finally:
        ssc2.stop(stopSparkContext=False)
    assert out == [
        [("a", 4), ("b", 6)],
        [("a", 4), ("b", 6)],
        [("a", 3), ("b", 6)],
        [("a", 1), ("b", 5)],
        [("a", 1), ("b", 0)],
    ]


# -- native windowed aggregation ---------------------------------------------------------------------
# (reached as stream.window(...).group_by(...) once _WindowedDStream.group_by returns a
# window.WindowedGroupBy; built directly here)


def _rows(*pairs):
    return pa.table(
        {"k": pa.array([k for k, _ in pairs], pa.string()), "x": pa.array([x for _, x in pairs], pa.int64())}
    )


NATIVE = [
    _rows(("a", 1), ("b", 2), ("a", 3)),
    _rows(("a", 4)),
    _rows(),
    _rows(("c", 5), ("b", -1)),
    _rows(),
    _rows(),
]


def _native_windows(ssc, clock, batches, length, slide, *aggs):
    """The incremental/pane-merge stream and the plain one (the window's rows, grouped), per batch."""
    src = _touch_every_batch(ssc.queueStream(batches))
    fast = window.WindowedGroupBy(src.window(length, slide), ["k"]).agg(*aggs)
    plain = src.window(length, slide).pipe(lambda lf: lf.group_by("k").agg(*aggs))  # the window's rows
    got: dict = {"fast": [], "plain": [], "kind": type(fast).__name__}
    fast.foreach_batch(lambda t, tb: got["fast"].append(pl.from_arrow(tb)))
    plain.foreach_batch(lambda t, tb: got["plain"].append(pl.from_arrow(tb).sort("k")))
    ssc.start()
    for _ in batches:
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    return got


def test_native_window_counts_and_sums_incrementally(ssc, clock):
    aggs = [pl.len().alias("n"), pl.col("x").sum().alias("s"), pl.col("x").mean().alias("m")]
    got = _native_windows(ssc, clock, NATIVE, 3, 1, *aggs)
    assert got["kind"] == "WindowedAggDStream"
    assert [f.rows() for f in got["fast"]] == [
        [("a", 2, 4, 2.0), ("b", 1, 2, 2.0)],
        [("a", 3, 8, 8 / 3), ("b", 1, 2, 2.0)],
        [("a", 3, 8, 8 / 3), ("b", 1, 2, 2.0)],
        [("a", 1, 4, 4.0), ("b", 1, -1, -1.0), ("c", 1, 5, 5.0)],  # batch 1 left
        [("b", 1, -1, -1.0), ("c", 1, 5, 5.0)],  # a left the window: its group is gone
        [("b", 1, -1, -1.0), ("c", 1, 5, 5.0)],
    ]
    for fast, plain in zip(got["fast"], got["plain"]):
        assert fast.rows() == plain.select(fast.columns).rows()


def test_native_window_min_max_first_last_unique_merge_panes(ssc, clock):
    aggs = [
        pl.col("x").min().alias("lo"),
        pl.col("x").max().alias("hi"),
        pl.col("x").first().alias("first"),
        pl.col("x").last().alias("last"),
        pl.col("x").n_unique().alias("u"),
    ]
    got = _native_windows(ssc, clock, NATIVE, 2, 1, *aggs)
    assert got["kind"] == "WindowedAggDStream"
    assert got["fast"][1].rows() == [("a", 1, 4, 1, 4, 3), ("b", 2, 2, 2, 2, 1)]
    for fast, plain in zip(got["fast"], got["plain"]):
        assert fast.rows() == plain.rows()


def test_native_window_other_expressions_aggregate_the_rows(ssc, clock):
    got = _native_windows(ssc, clock, NATIVE, 2, 1, (pl.col("x") * 2).sum().alias("d"))
    assert got["kind"] != "WindowedAggDStream"
    assert got["fast"][1].rows() == [("a", 16), ("b", 4)]


_native_batches = st.lists(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(-5, 5)), max_size=4), min_size=1, max_size=8
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_native_batches, length=st.integers(1, 5), slide=st.integers(1, 3))
def test_native_window_incremental_equals_recomputation(batches, length, slide):
    length = max(length, slide)
    ssc = StreamingContext(SparkContext("local[1]", "prop"), 1, clock=(clock := ManualClock()))
    try:
        aggs = [pl.len().alias("n"), pl.col("x").sum().alias("s"), pl.col("x").count().alias("c")]
        got = _native_windows(ssc, clock, [_rows(*b) for b in batches], length, slide, *aggs)
    finally:
        ssc.stop()
    assert len(got["fast"]) == len(got["plain"])
    for fast, plain in zip(got["fast"], got["plain"]):
        expected = plain.rows() if plain.width > 1 else []
        assert fast.rows() == expected


def test_native_window_snapshot_restores(ssc, clock):
    aggs = [pl.len().alias("n"), pl.col("x").sum().alias("s")]
    first = window.WindowedGroupBy(ssc.queueStream(NATIVE[:2]).window(3, 1), ["k"]).agg(*aggs)
    got1: list = []
    first.foreach_batch(lambda t, tb: got1.append(pl.from_arrow(tb).rows()))
    ssc.start()
    clock.advance(1)
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    snapshot = first._state_snapshot()
    assert sorted(snapshot.tables) == ["pane-1000", "pane-2000", "window"]
    clock2 = ManualClock(2000)
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        second = window.WindowedGroupBy(ssc2.queueStream(NATIVE[2:]).window(3, 1), ["k"]).agg(*aggs)
        second._state_restore(snapshot)
        got2: list = []
        second.foreach_batch(lambda t, tb: got2.append(pl.from_arrow(tb).rows()))
        ssc2.start()
        for _ in range(3):
            clock2.advance(1)
    finally:
        ssc2.stop(stopSparkContext=False)
    assert got1 + got2 == [
        [("a", 2, 4), ("b", 1, 2)],
        [("a", 3, 8), ("b", 1, 2)],
        [("a", 3, 8), ("b", 1, 2)],
        [("a", 1, 4), ("b", 1, -1), ("c", 1, 5)],
        [("b", 1, -1), ("c", 1, 5)],
    ]
