"""updateStateByKey and mapWithState: Spark's semantics batch by batch, on both execution paths."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
from conftest import run_batches, same_batches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstreams import (
    BatchError,
    ConfigurationError,
    ManualClock,
    SchemaError,
    SparkContext,
    StreamingContext,
    nativestate,
)
from dstreams import state as state_module
from dstreams.mapstate import State, StateNotSetError, StateSpec, StateUsageError
from dstreams.state import recognise_update

pytestmark = [
    pytest.mark.partitions,
    pytest.mark.filterwarnings(
        "ignore:stateful operators keep their state in memory", "ignore::dstreams.FallbackWarning"
    ),
]

PAIRS = [[("a", 1), ("b", 2), ("a", 1)], [("a", 3)], [], [("c", 1), ("b", 1)]]


def running_sum(new, old):
    return sum(new) + (old or 0)


# -- updateStateByKey --------------------------------------------------------------------------------


def test_running_sum_emits_the_whole_state_every_batch(ssc, clock, both_paths):
    s = ssc.queueStream(PAIRS).updateStateByKey(running_sum)
    assert run_batches(ssc, clock, s, 5) == [
        [("a", 2), ("b", 2)],
        [("a", 5), ("b", 2)],
        [("a", 5), ("b", 2)],
        [("a", 5), ("b", 3), ("c", 1)],
        [("a", 5), ("b", 3), ("c", 1)],
    ]


def test_function_sees_every_key_every_batch_and_none_removes(ssc, clock, both_paths):
    calls = []

    def update(new, old):
        calls.append((new, old))
        total = sum(new) + (old or 0)
        return None if total >= 5 else total  # keys reaching 5 are removed

    s = ssc.queueStream(PAIRS).updateStateByKey(update)
    out = run_batches(ssc, clock, s, 4)
    assert out == [[("a", 2), ("b", 2)], [("b", 2)], [("b", 2)], [("b", 3), ("c", 1)]]
    assert calls == [
        ([1, 1], None),
        ([2], None),
        ([3], 2),
        ([], 2),  # a was removed in batch 2
        ([], 2),
        ([1], 2),
        ([1], None),
    ]


def test_missing_parent_batch_carries_the_state_forward(ssc, clock, both_paths):
    calls = []

    def update(new, old):
        calls.append(new)
        return sum(new) + (old or 0)

    src = ssc.queueStream([[("a", 1)], [("a", 2)], [("a", 4)]])
    gappy = src.transform(lambda t, rdd: None if t.second == 2 else rdd)  # no batch at 2 s
    out = run_batches(ssc, clock, gappy.updateStateByKey(update), 3)
    assert out == [[("a", 1)], [("a", 1)], [("a", 5)]]
    assert calls == [[1], [4]]


def test_initial_state_is_cogrouped_with_the_first_batch(ssc, clock, both_paths, partitions):
    seen = []

    def update(new, old):
        seen.append((new, old))
        return sum(new) + (old or 0)

    initial = [("z", 10), ("a", 100), ("z", 99)]  # the first state of a key wins, as in cogroup
    s = ssc.queueStream([[("a", 1), ("b", 2)], []]).updateStateByKey(update, initialRDD=initial)
    want = [[("z", 10), ("a", 101), ("b", 2)], [("z", 10), ("a", 101), ("b", 2)]]
    assert same_batches(run_batches(ssc, clock, s, 2), want, partitions)
    assert sorted(seen[:3], key=repr) == sorted([([], 10), ([1], 100), ([2], None)], key=repr)


def test_initial_state_as_rdd_with_a_recognised_count(ssc, clock, both_paths):
    initial = ssc.sparkContext.parallelize([("a", 10)])
    s = (
        ssc.queueStream([["a", "b", "a"]])
        .map(lambda w: (w, 1))
        .updateStateByKey(lambda vs, n: len(vs) + (n or 0), initialRDD=initial)
    )
    assert run_batches(ssc, clock, s, 2) == [[("a", 12), ("b", 1)], [("a", 12), ("b", 1)]]


@pytest.mark.parametrize(
    "update",
    [
        lambda new, old: sum(new) + (old or 0),
        lambda values, total: (total or 0) + sum(values),
        lambda vs, s: sum(vs, s or 0),
        running_sum,
        state_module._sum_update_def,
    ],
)
def test_recognised_running_sums_never_call_python_per_key(ssc, clock, monkeypatch, update):
    def refuse(*args):
        raise AssertionError("ran per key in Python")

    monkeypatch.setattr(state_module.StateDStream, "_python", refuse)
    s = ssc.queueStream(PAIRS).updateStateByKey(update)
    assert run_batches(ssc, clock, s, 4)[-1] == [("a", 5), ("b", 3), ("c", 1)]


def test_recognition_is_exact():
    assert recognise_update(lambda new, old: sum(new) + (old or 0)) == "sum"
    assert recognise_update(lambda new, old: len(new) + (old or 0)) == "count"
    assert recognise_update(lambda new, old: sum(new) + (old or 1)) is None
    assert recognise_update(lambda new, old: sum(new) - (old or 0)) is None
    assert recognise_update(lambda new, old: max(new) + (old or 0)) is None
    k = 0
    assert recognise_update(lambda new, old: sum(new) + (old or k)) is None  # a closure
    assert recognise_update(sum) is None


def test_shadowed_builtin_is_not_recognised():
    namespace: dict = {"sum": lambda xs: 42}
    exec("f = lambda new, old: sum(new) + (old or 0)", namespace)
    assert recognise_update(namespace["f"]) is None


def test_lookalike_function_runs_as_written(ssc, clock, both_paths):
    s = ssc.queueStream(PAIRS).updateStateByKey(lambda new, old: sum(new) + (old or 1))
    assert run_batches(ssc, clock, s, 2) == [[("a", 3), ("b", 3)], [("a", 6), ("b", 3)]]


def test_total_beyond_int64_falls_back_to_python_ints(ssc, clock, both_paths):
    big = 2**62
    s = ssc.queueStream([[("k", big)], [("k", big)], [("k", big)]]).updateStateByKey(running_sum)
    assert run_batches(ssc, clock, s, 3) == [[("k", big)], [("k", 2 * big)], [("k", 3 * big)]]


def test_float_and_mixed_values(ssc, clock, both_paths):
    s = ssc.queueStream([[("k", 1.5)], [("k", 2)], [("j", "x")]]).updateStateByKey(
        lambda new, old: (old or []) + new
    )
    assert run_batches(ssc, clock, s, 3)[-1] == [("k", [1.5, 2]), ("j", ["x"])]


def test_update_error_names_key_and_batch_and_keeps_the_state(ssc, clock, both_paths):
    def update(new, old):
        if "boom" in new:
            raise ValueError("bad value")
        return (old or 0) + len(new)

    batches = [[("a", 1), ("b", 2)], [("b", "boom")], [("a", 5)]]
    out = run_batches(ssc, clock, ssc.queueStream(batches).updateStateByKey(update), 3)
    assert out == [[("a", 1), ("b", 1)], [("a", 2), ("b", 1)]]  # batch 2 failed, batch 3 builds on 1
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    message = str(info.value)
    assert "updateStateByKey" in message and "key 'b'" in message and "(2000 ms)" in message
    assert "ValueError: bad value" in message


def test_num_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([[(1, 1), (2, 1), (3, 1)]]).updateStateByKey(running_sum, numPartitions=2)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.glom().collect()))
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert out == [[[(2, 1)], [(1, 1), (3, 1)]]]


def test_needs_pairs(ssc, clock):
    s = ssc.queueStream([[1, 2]]).updateStateByKey(running_sum)
    run_batches(ssc, clock, s, 1)
    with pytest.raises(BatchError, match=r"updateStateByKey.* needs \(key, value\) pairs"):
        ssc.awaitTerminationOrTimeout(0)


def test_unhashable_keys_are_a_schema_error(ssc, clock):
    s = ssc.queueStream([[([1], 1)]]).updateStateByKey(lambda new, old: 1)
    run_batches(ssc, clock, s, 1)
    with pytest.raises(BatchError, match="is not hashable"):
        ssc.awaitTerminationOrTimeout(0)
    assert issubclass(SchemaError, TypeError)


def test_state_snapshot_restores_into_a_new_stream(ssc, clock, both_paths):
    first = ssc.queueStream([[("a", 1)], [("b", 2)]]).updateStateByKey(running_sum)
    run_batches(ssc, clock, first, 2)
    snapshot = first._state_snapshot()
    assert snapshot.batch_time == 2000 and snapshot.tables["state"].num_rows == 2
    from dstreams import ManualClock, StreamingContext

    clock2 = ManualClock()
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        second = ssc2.queueStream([[("a", 5)]]).updateStateByKey(running_sum)
        second._state_restore(snapshot)
        assert run_batches(ssc2, clock2, second, 1) == [[("a", 6), ("b", 2)]]
    finally:
        ssc2.stop(stopSparkContext=False)


# -- mapWithState ------------------------------------------------------------------------------------


def _run_with_snapshots(ssc, clock, stream, n):
    snaps: list = []
    stream.stateSnapshots().foreachRDD(lambda rdd: snaps.append(sorted(rdd.collect(), key=repr)))
    return run_batches(ssc, clock, stream, n), snaps


def track(key, value, state):
    if state.isTimingOut():
        return (key, "timed out", state.get())
    total = (state.getOption() or 0) + value
    state.update(total)
    return (key, total)


def test_map_with_state_per_record_with_timeouts_on_time(ssc, clock, both_paths, partitions):
    batches = [[("a", 1), ("b", 2), ("a", 1)], [("a", 3)], [], [("c", 1)], [], [], []]
    s = ssc.queueStream(batches).mapWithState(StateSpec.function(track).timeout(2))
    out, snaps = _run_with_snapshots(ssc, clock, s, 7)
    assert same_batches(
        out,
        [
            [("a", 1), ("b", 2), ("a", 2)],  # each record sees the previous one's update
            [("a", 5)],
            [],
            [("c", 1), ("b", "timed out", 2)],  # b idle since 1 s: more than 2 s at 4 s
            [("a", "timed out", 5)],
            [],
            [("c", "timed out", 1)],
        ],
        partitions,
    )
    assert snaps == [
        [("a", 2), ("b", 2)],
        [("a", 5), ("b", 2)],
        [("a", 5), ("b", 2)],
        [("a", 5), ("c", 1)],
        [("c", 1)],
        [("c", 1)],
        [],
    ]


def test_map_with_state_calls_only_keys_with_data(ssc, clock):
    calls = []

    def fn(key, value, state):
        calls.append((key, value, state.getOption()))
        state.update(value)

    s = ssc.queueStream([[("a", 1), ("b", 2)], [("b", 3)], []]).mapWithState(StateSpec.function(fn))
    out = run_batches(ssc, clock, s, 3)
    assert out == [[None, None], [None], []]  # fn's results, None included, as Spark's function(...)
    assert calls == [("a", 1, None), ("b", 2, None), ("b", 3, 2)]


def test_touching_a_key_without_update_refreshes_its_timeout(ssc, clock):
    def fn(key, value, state):
        if state.isTimingOut():
            return "timeout"
        if not state.exists():
            state.update(value)
        return state.get()

    batches = [[("k", 1)], [], [("k", 9)], [], [], [], []]
    s = ssc.queueStream(batches).mapWithState(StateSpec.function(fn).timeout(2))
    assert run_batches(ssc, clock, s, 7) == [[1], [], [1], [], [], ["timeout"], []]


def test_remove_and_state_errors(ssc, clock):
    def fn(key, value, state):
        if value == "drop":
            state.remove()
            return "removed"
        state.update(value)
        return value

    s = ssc.queueStream([[("a", 1), ("b", 2)], [("a", "drop")], [("a", 5)]]).mapWithState(
        StateSpec.function(fn)
    )
    out, snaps = _run_with_snapshots(ssc, clock, s, 3)
    assert out == [[1, 2], ["removed"], [5]]
    assert snaps == [[("a", 1), ("b", 2)], [("b", 2)], [("a", 5), ("b", 2)]]


def test_state_object_rules():
    state = State()
    assert not state.exists() and state.getOption() is None
    with pytest.raises(StateNotSetError, match="State is not set"):
        state.get()
    state.update(3)
    assert state.get() == 3 and state.exists()
    state.remove()
    with pytest.raises(StateUsageError, match="after it has been removed"):
        state.update(1)
    with pytest.raises(StateUsageError, match="already been removed"):
        state.remove()
    state._wrap(7, timing_out=True)
    assert state.isTimingOut() and state.get() == 7
    with pytest.raises(StateUsageError, match="timing out"):
        state.update(1)
    with pytest.raises(StateUsageError, match="timing out"):
        state.remove()


def test_initial_state_and_time_function(ssc, clock):
    def fn(time, key, value, state):
        total = (state.getOption() or 0) + value
        state.update(total)
        return (time.second, key, total) if total > 10 else None  # None: nothing emitted

    spec = StateSpec.function(fn).initialState([("a", 10), ("a", 99)])
    s = ssc.queueStream([[("a", 1), ("b", 1)], [("b", 20)]]).mapWithState(spec)
    out, snaps = _run_with_snapshots(ssc, clock, s, 2)
    assert out == [[(1, "a", 11)], [(2, "b", 21)]]
    assert snaps[-1] == [("a", 11), ("b", 21)]


def test_function_error_names_key_and_keeps_the_state(ssc, clock):
    def fn(key, value, state):
        state.update((state.getOption() or 0) + value)  # fails for strings
        return state.get()

    batches = [[("a", 1)], [("a", 2), ("b", "x")], [("a", 4)]]
    s = ssc.queueStream(batches).mapWithState(StateSpec.function(fn))
    out, snaps = _run_with_snapshots(ssc, clock, s, 3)
    assert out == [[1], [5]]  # batch 2 failed as a whole: a's update in it is not kept
    assert snaps == [[("a", 1)], [("a", 5)]]
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    message = str(info.value)
    assert "mapWithState" in message and "key 'b'" in message and "(2000 ms)" in message


def test_map_with_state_partitions_and_missing_parent_batches(ssc, clock):
    src = ssc.queueStream([[(1, 1), (2, 1), (3, 1)], [], []])
    gappy = src.transform(lambda t, rdd: None if t.second == 2 else rdd)
    s = gappy.mapWithState(StateSpec.function(track).numPartitions(2).timeout(1))
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.glom().collect()))
    ssc.start()
    for _ in range(3):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    # no parent batch at 2 s: timeouts still fire at 3 s
    assert out == [
        [[(2, 1)], [(1, 1), (3, 1)]],
        [[], []],
        [[(2, "timed out", 1)], [(1, "timed out", 1), (3, "timed out", 1)]],
    ]


def test_map_with_state_spec_validation(ssc):
    with pytest.raises(ConfigurationError, match="takes 2 arguments"):
        StateSpec.function(lambda k, v: v)
    with pytest.raises(ConfigurationError, match="timeout must be positive"):
        StateSpec.function(track).timeout(0)
    with pytest.raises(TypeError, match="needs a StateSpec"):
        ssc.queueStream([[("a", 1)]]).mapWithState(track)


def test_map_with_state_snapshot_restore(ssc, clock):
    first = ssc.queueStream([[("a", 1)], [("b", 2)]]).mapWithState(StateSpec.function(track).timeout(5))
    run_batches(ssc, clock, first, 2)
    snapshot = first._state_snapshot()
    assert snapshot.tables["state"].column_names == ["key", "value", "touched_ms"]
    from dstreams import ManualClock, StreamingContext

    clock2 = ManualClock(2000)
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        second = ssc2.queueStream([[("a", 5)]]).mapWithState(StateSpec.function(track).timeout(5))
        second._state_restore(snapshot)
        out, snaps = _run_with_snapshots(ssc2, clock2, second, 6)  # batches at 3 s ... 8 s
        assert out[0] == [("a", 6)] and snaps[0] == [("a", 6), ("b", 2)]
        assert out[4:] == [[], [("b", "timed out", 2)]]  # b's touch time (2 s) survived the restore
    finally:
        ssc2.stop(stopSparkContext=False)


# -- native mapWithState -----------------------------------------------------------------------------

COUNT = {"count": pl.col("count").fill_null(0) + pl.col("n")}


def _words(ssc, batches):
    return ssc.queueStream(batches).select(pl.col("value").alias("word"))


def test_native_word_count_with_timeouts(ssc, clock):
    spec = StateSpec.native(key="word", agg={"n": pl.len()}, update=COUNT).timeout(2)
    s = _words(ssc, [["a", "b", "a"], ["a"], [], ["c"], [], [], []]).mapWithState(spec)
    out, snaps = _run_with_snapshots(ssc, clock, s, 7)
    rows = [[tuple(r) for r in batch] for batch in out]
    assert rows == [
        [("a", 2, False), ("b", 1, False)],
        [("a", 3, False)],
        [],
        [("c", 1, False), ("b", 1, True)],
        [("a", 3, True)],
        [],
        [("c", 1, True)],
    ]
    assert [[tuple(r) for r in s] for s in snaps][3] == [("a", 3), ("c", 1)]


def test_native_remove_multi_key_and_initial_state(ssc, clock):
    initial = pl.DataFrame({"user": ["u1"], "day": [1], "total": [100]})
    spec = StateSpec.native(
        key=["user", "day"],
        agg={"spent": pl.col("amount").sum()},
        update={"total": pl.col("total").fill_null(0) + pl.col("spent")},
        remove=pl.col("total") > 150,
    ).initialState(initial)
    events = [
        pa.table({"user": ["u1", "u2", "u1"], "day": [1, 1, 2], "amount": [30, 5, 7]}),
        pa.table({"user": ["u1"], "day": [1], "amount": [40]}),
        pa.table({"user": ["u1"], "day": [1], "amount": [1]}),
    ]
    s = ssc.queueStream(events).mapWithState(spec)
    out, snaps = _run_with_snapshots(ssc, clock, s, 3)
    assert [[tuple(r) for r in b] for b in out] == [
        [("u1", 1, 130, False), ("u1", 2, 7, False), ("u2", 1, 5, False)],
        [("u1", 1, 170, False)],  # removed after this update (total > 150)
        [("u1", 1, 1, False)],  # a fresh state
    ]
    assert [tuple(r) for r in snaps[1]] == [("u1", 2, 7), ("u2", 1, 5)]


def test_native_merges_new_keys_into_the_sorted_store(ssc, clock, monkeypatch):
    monkeypatch.setattr(nativestate, "_MIN_MERGE", 3)
    batches = [["d", "a"], ["c", "b", "a"], ["e", "f", "g", "h"], ["a", "h", "z"]]
    spec = StateSpec.native(key="word", agg={"n": pl.len()}, update=COUNT)
    s = _words(ssc, batches).mapWithState(spec)
    out, snaps = _run_with_snapshots(ssc, clock, s, 4)
    assert [tuple(r) for r in out[3]] == [("a", 3, False), ("h", 2, False), ("z", 1, False)]
    expected = {"a": 3, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 2, "z": 1}
    assert [tuple(r) for r in snaps[3]] == sorted(expected.items())


def test_native_expression_error_keeps_the_state(ssc, clock):
    spec = StateSpec.native(
        key="k", agg={"x": pl.col("v").sum()}, update={"s": pl.col("s").fill_null(0) + pl.col("x")}
    )
    events = [
        pa.table({"k": ["a"], "v": [1]}),
        pa.table({"k": ["a"], "v": ["oops"]}),
        pa.table({"k": ["a"], "v": [2]}),
    ]
    s = ssc.queueStream(events).mapWithState(spec)
    out = run_batches(ssc, clock, s, 3)
    assert [[tuple(r) for r in b] for b in out] == [[("a", 1, False)], [("a", 3, False)]]
    with pytest.raises(BatchError, match=r"mapWithState\(native.*\(2000 ms\)"):
        ssc.awaitTerminationOrTimeout(0)


def test_native_spec_validation():
    with pytest.raises(ConfigurationError, match="needs update="):
        StateSpec.native(update={})
    with pytest.raises(ConfigurationError, match="used twice"):
        StateSpec.native(agg={"count": pl.len()}, update={"count": pl.col("count")})


_words_batches = st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=6), min_size=1, max_size=8)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=_words_batches, timeout=st.integers(1, 3))
def test_native_matches_the_python_function(batches, timeout):
    def count(key, value, state):
        if state.isTimingOut():
            return (key, state.get(), True)
        state.update((state.getOption() or 0) + 1)
        return None

    sc = SparkContext("local[1]", "prop")
    clock = ManualClock()
    ssc = StreamingContext(sc, 1, clock=clock)
    try:
        src = ssc.queueStream(batches)
        python = src.map(lambda w: (w, 1)).mapWithState(StateSpec.function(count).timeout(timeout))
        spec = StateSpec.native(key="word", agg={"n": pl.len()}, update=COUNT).timeout(timeout)
        native = src.select(pl.col("value").alias("word")).mapWithState(spec)
        got: dict = {"py": [], "native": [], "py_out": [], "native_out": []}
        python.stateSnapshots().foreachRDD(lambda rdd: got["py"].append(sorted(rdd.collect())))
        native.stateSnapshots().foreachRDD(
            lambda rdd: got["native"].append([tuple(r) for r in rdd.collect()])
        )
        python.foreachRDD(lambda rdd: got["py_out"].append(sorted(x for x in rdd.collect() if x)))
        native.foreachRDD(
            lambda rdd: got["native_out"].append([tuple(r) for r in rdd.collect() if r.timed_out])
        )
        ssc.start()
        for _ in range(len(batches) + timeout + 2):
            clock.advance(1)
    finally:
        ssc.stop()
    assert got["py"] == got["native"]
    assert got["py_out"] == got["native_out"]


@settings(max_examples=30, deadline=None)
@given(
    keys=st.lists(st.integers(-50, 50), unique=True, max_size=300),
    query=st.lists(st.integers(-60, 60), unique=True, max_size=40),
)
def test_fenced_search_finds_what_search_sorted_finds(keys, query):
    sorted_keys = pl.Series(sorted(keys), dtype=pl.Int64).set_sorted()
    q = pl.Series(query, dtype=pl.Int64)
    fence = sorted_keys.gather_every(nativestate._FENCE_STEP).set_sorted()
    found, pos = nativestate._find(sorted_keys, q, fence if len(sorted_keys) else None)
    assert found.to_list() == [x in set(keys) for x in query]
    hits = [p for p, f in zip(pos.to_list(), found.to_list()) if f]
    assert [sorted_keys[p] for p in hits] == [x for x in query if x in set(keys)]


def test_native_state_with_a_fence(ssc, clock, monkeypatch):
    monkeypatch.setattr(nativestate, "_FENCE_MIN", 1)
    monkeypatch.setattr(nativestate, "_FENCE_STEP", 2)
    words = [[f"w{i}" for i in range(9)], ["w3", "w8", "zz", "a"], ["w3"]]
    spec = StateSpec.native(key="word", agg={"n": pl.len()}, update=COUNT)
    s = _words(ssc, words).mapWithState(spec)
    out, snaps = _run_with_snapshots(ssc, clock, s, 3)
    assert [tuple(r) for r in out[2]] == [("w3", 3, False)]
    assert dict(tuple(r) for r in snaps[2]) == {
        **{f"w{i}": 1 for i in range(9)},
        "w3": 3,
        "w8": 2,
        "zz": 1,
        "a": 1,
    }


def test_snapshots_round_trip_through_parquet(ssc, clock, tmp_path):
    import json

    import pyarrow.parquet as pq

    # tuple states are pickled Python objects: the codec's field metadata must survive Parquet
    s = ssc.queueStream([[("a", 1)], [("b", 2)]]).updateStateByKey(lambda new, old: (*(old or ()), *new))
    run_batches(ssc, clock, s, 2)
    snapshot = s._state_snapshot()
    for name, table in snapshot.tables.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    (tmp_path / "meta.json").write_text(json.dumps({"time": snapshot.batch_time, **snapshot.metadata}))
    meta = json.loads((tmp_path / "meta.json").read_text())
    restored = state_module.StateSnapshot(
        meta.pop("time"), {"state": pq.read_table(tmp_path / "state.parquet")}, meta
    )
    clock2 = ManualClock(2000)
    ssc2 = StreamingContext(ssc.sparkContext, 1, clock=clock2)
    try:
        again = ssc2.queueStream([[("a", 3)]]).updateStateByKey(lambda new, old: (*(old or ()), *new))
        again._state_restore(restored)
        assert run_batches(ssc2, clock2, again, 1) == [[("a", (1, 3)), ("b", (2,))]]
    finally:
        ssc2.stop(stopSparkContext=False)
