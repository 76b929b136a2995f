"""Recovery with getOrCreate on a manual clock: the outputs of a run stopped and recovered, possibly
several times, equal those of an uninterrupted run, batch by batch, each written once.

The output functions and the graph builders live at module level so that the pickled graph refers
to them by name: after a restore, they still append to this module's ``OUT``.
"""

from __future__ import annotations

import logging
import operator

import polars as pl
import pyarrow as pa
import pytest

from dstreams import ManualClock, SparkConf, SparkContext, StateSpec, StreamingContext
from dstreams.checkpoint import GraphMismatchError

OUT: list[tuple[str, int, list]] = []


class record:
    """An output that appends ``(tag, second, sorted elements)`` to ``OUT`` (pickled by reference)."""

    def __init__(self, tag: str):
        self.tag = tag

    def __call__(self, t, rdd):
        OUT.append((self.tag, t.second, sorted(rdd.collect(), key=repr)))


class Stopper:
    """Stops the context from inside batch ``STOP_AT[0]`` (seconds), as a crash would: the batches
    generated after it are dropped, not processed."""

    def __call__(self, t, rdd):
        if STOP_AT[0] == t.second:
            StreamingContext.getActive().stop(stopSparkContext=False)


STOP_AT: list[int | None] = [None]

WORDS = [["a b", "a"], ["b c"], [], ["a"], ["c c b"], ["a d"], ["d"], [], ["b"], ["a a"], ["e"], ["b e"]]


# (user, event time in seconds): in order, late, out of order, and gaps for the sessions
EVENTS = [
    pa.table({"user": users, "ts": pa.array(stamps, pa.float64())})
    for users, stamps in [
        (["u1", "u2"], [0.5, 0.7]),
        (["u1"], [1.2]),
        (["u2", "u1"], [3.1, 0.2]),
        ([], []),
        (["u1", "u1"], [4.5, 4.0]),
        (["u2"], [7.0]),
        (["u2", "u1"], [6.9, 9.5]),
        (["u1"], [10.0]),
        ([], []),
        (["u2"], [13.0]),
        (["u1"], [14.5]),
        (["u2"], [16.0]),
    ]
]


def track(key, value, state):
    total = (state.get() if state.exists() else 0) + value
    state.update(total)
    return (key, total)


def build(ssc: StreamingContext) -> None:
    """One graph with every kind of state: running totals, windows (plain, incremental, pane merge),
    mapWithState and a native windowed aggregation."""
    lines = ssc.queueStream(WORDS)
    pairs = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
    pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).foreachRDD(record("totals"))
    pairs.window(3, 1).foreachRDD(record("window"))
    pairs.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1).foreachRDD(record("incremental"))
    pairs.reduceByKeyAndWindow(lambda a, b: a + b, None, 4, 2).foreachRDD(record("panes"))
    pairs.mapWithState(StateSpec.function(track)).foreachRDD(record("mapWithState"))
    words = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, len(w))).to_rows()
    windowed = words.rename({"key": "word", "value": "n"}).window(4, 2).group_by("word").agg(pl.len())
    windowed.foreachRDD(record("group_by"))
    native = StateSpec.native(
        agg={"n": pl.len()}, update={"count": pl.col("count").fill_null(0) + pl.col("n")}
    )
    words.mapWithState(native).stateSnapshots().foreachRDD(record("native"))
    events = ssc.queueStream(EVENTS).event_time("ts", watermark=1.5)
    events.window(2).group_by("user").agg(pl.len()).foreachRDD(record("event_time"))
    events.session(1).group_by("user").agg(pl.len()).foreachRDD(record("sessions"))
    lines.foreachRDD(Stopper())


def new_context() -> StreamingContext:
    conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
    ssc = StreamingContext(SparkContext("local[1]", "recovery", conf=conf), 1, clock=ManualClock())
    build(ssc)
    return ssc


def uninterrupted(n: int) -> list:
    OUT.clear()
    ssc = new_context()
    with pytest.warns(UserWarning, match="in memory only"):
        ssc.start()
    for _ in range(n):
        ssc.clock.advance(1)
    ssc.stop()
    return sorted(OUT, key=repr)


def with_restarts(directory, runs: list[int], *, graceful: bool = False, upgrade: bool = False) -> list:
    """Run ``runs[i]`` batches, stop, recover with getOrCreate, and so on."""
    OUT.clear()
    calls = []

    def setup():
        calls.append(1)
        return new_context()

    for n in runs:
        ssc = StreamingContext.getOrCreate(str(directory), setup, upgrade=upgrade)
        ssc.start()
        for _ in range(n):
            ssc.clock.advance(1)
        ssc.stop(stopGraceFully=graceful)
    if not upgrade:
        assert calls == [1], "setupFunc runs once; later contexts come from the checkpoint"
    return sorted(OUT, key=repr)


@pytest.fixture(autouse=True)
def _stop_leftovers():
    yield
    active = StreamingContext.getActive()
    if active is not None:
        active.stop()


def test_recovered_run_equals_uninterrupted_run(tmp_path):
    expected = uninterrupted(12)
    assert with_restarts(tmp_path / "cp", [3, 1, 4, 4]) == expected


def test_batches_pending_when_the_context_died_run_again(tmp_path):
    expected = uninterrupted(12)
    OUT.clear()
    STOP_AT[0] = 4
    try:
        ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), new_context)
        ssc.start()
        ssc.clock.advance(8)  # batches 5.. are generated, then dropped by the stop in batch 4
        ssc.stop()
        ssc._scheduler._runner.join()  # stop() from a batch returns before the batch has finished
    finally:
        STOP_AT[0] = None
    assert max(t for _, t, _ in OUT) == 4
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), new_context)
    ssc.start()
    ssc.clock.advance(4)
    ssc.stop()
    assert sorted(OUT, key=repr) == expected


def test_checkpoint_every_two_batches_then_recover(tmp_path):
    expected = uninterrupted(12)
    conf_interval = tmp_path / "cp"

    def setup_with_interval():
        ssc = new_context()
        for stream in ssc._graph.streams:
            if getattr(stream, "_stateful", False):
                stream.checkpoint(2)
        return ssc

    OUT.clear()
    for n in [5, 2, 5]:
        ssc = StreamingContext.getOrCreate(str(conf_interval), setup_with_interval)
        ssc.start()
        for _ in range(n):
            ssc.clock.advance(1)
        ssc.stop()
    assert sorted(OUT, key=repr) == expected
    manifests = list((conf_interval / "manifests").iterdir())
    assert len(manifests) >= 5  # the first one at start, then every 2 batches


def test_graceful_stop_writes_a_final_checkpoint(tmp_path, caplog):
    expected = uninterrupted(12)
    assert with_restarts(tmp_path / "cp", [5, 7], graceful=True) == expected
    newest = sorted((tmp_path / "cp" / "manifests").iterdir())[-1].name
    assert "-0000000012000-" in newest  # after the last batch: nothing left to re-run


def test_upgrade_mode_calls_setup_and_reattaches_state(tmp_path):
    expected = uninterrupted(12)
    calls = []

    def setup():
        calls.append(1)
        return new_context()

    OUT.clear()
    for n in [4, 3, 5]:  # the state goes through final checkpoints (graceful stops) by name
        ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup, upgrade=True)
        ssc.start()
        for _ in range(n):
            ssc.clock.advance(1)
        ssc.stop(stopGraceFully=True)
    assert calls == [1, 1, 1]
    assert sorted(OUT, key=repr) == expected


def test_upgrade_mode_with_a_different_graph_names_what_does_not_match(tmp_path):
    def setup():
        return new_context()

    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    ssc.start()
    ssc.clock.advance(2)
    ssc.stop(stopGraceFully=True)

    def changed():  # the running totals are gone, a new mapWithState took their place
        conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
        ssc = StreamingContext(SparkContext("local[1]", "x", conf=conf), 1, clock=ManualClock())
        pairs = ssc.queueStream(WORDS).map(lambda w: (w, 1))
        pairs.mapWithState(StateSpec.function(track)).pprint()
        return ssc

    with pytest.raises(GraphMismatchError) as info:
        StreamingContext.getOrCreate(str(tmp_path / "cp"), changed, upgrade=True)
    message = str(info.value)
    assert "updateStateByKey#0" in message and "setName" in message
    assert "stateful streams of the new graph: mapWithState#0" in message


def test_set_name_keeps_state_when_operators_are_reordered(tmp_path):
    def graph(order):
        def setup():
            conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
            ssc = StreamingContext(SparkContext("local[1]", "x", conf=conf), 1, clock=ManualClock())
            pairs = ssc.queueStream([[("k", 1)], [("k", 10)], [("k", 100)]])
            streams = {
                "sum": pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).setName("sum"),
                "count": pairs.updateStateByKey(lambda new, old: len(new) + (old or 0)).setName("count"),
            }
            for tag in order:
                streams[tag].foreachRDD(record(tag))
            return ssc

        return setup

    OUT.clear()
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), graph(["sum", "count"]))
    ssc.start()
    ssc.clock.advance(2)
    ssc.stop(stopGraceFully=True)
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), graph(["count", "sum"]), upgrade=True)
    ssc.start()
    ssc.clock.advance(1)
    ssc.stop()
    assert sorted(OUT) == [
        ("count", 1, [("k", 1)]),
        ("count", 2, [("k", 2)]),
        ("count", 3, [("k", 3)]),
        ("sum", 1, [("k", 1)]),
        ("sum", 2, [("k", 11)]),
        ("sum", 3, [("k", 111)]),
    ]


def test_get_active_or_create_flow(tmp_path):
    calls = []

    def setup():
        calls.append(1)
        return new_context()

    OUT.clear()
    ssc = StreamingContext.getActiveOrCreate(str(tmp_path / "cp"), setup)
    ssc.start()
    assert StreamingContext.getActiveOrCreate(str(tmp_path / "cp"), setup) is ssc  # the active one
    ssc.clock.advance(2)
    ssc.stop()
    restored = StreamingContext.getActiveOrCreate(str(tmp_path / "cp"), setup)
    assert restored is not ssc and calls == [1]
    restored.start()
    restored.clock.advance(1)
    restored.stop()
    totals = [out for out in OUT if out[0] == "totals"]
    assert totals[-1] == ("totals", 3, [("a", 2), ("b", 2), ("c", 1)])


def test_a_graph_that_cannot_be_pickled_is_rebuilt_with_setup(tmp_path, caplog):
    import threading

    calls = []
    handle = open(tmp_path / "log.txt", "a")  # an open file cannot be pickled

    def setup():
        calls.append(1)
        ssc = new_context()
        ssc.queueStream([[1]]).foreachRDD(lambda rdd: handle.write(str(rdd.collect())))
        return ssc

    del threading
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
        ssc.start()
        ssc.clock.advance(2)
        ssc.stop()
        assert "cannot be saved in the checkpoint" in caplog.text
        ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    assert calls == [1, 1]
    ssc.start()
    ssc.clock.advance(1)
    ssc.stop()
    handle.close()
    assert [out for out in OUT if out[0] == "totals"][-1] == ("totals", 3, [("a", 2), ("b", 2), ("c", 1)])
