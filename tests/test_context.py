"""StreamingContext: construction, life cycle, getActive*, remember/slice, union and transform."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from conftest import run_batches

from dstreams import ConfigurationError, ManualClock, SparkContext, StreamingContext
from dstreams.errors import BatchError


def _engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("dstreams-")]


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000.0)


# -- construction ------------------------------------------------------------------------------------


def test_constructor_forms():
    sc = SparkContext("local[1]", "ctor")
    assert StreamingContext(sc, 1)._batch_ms == 1000
    assert StreamingContext(sc, batchDuration=0.5)._batch_ms == 500
    ssc = StreamingContext(batchDuration=0.25)
    assert ssc._batch_ms == 250
    assert isinstance(ssc.sparkContext, SparkContext)
    assert StreamingContext(2)._batch_ms == 2000  # a bare duration is accepted as the first argument
    assert ssc.getState() == "INITIALIZED"


def test_constructor_rejects_missing_or_bad_duration():
    with pytest.raises(ConfigurationError, match="needs batchDuration"):
        StreamingContext(SparkContext.getOrCreate())
    with pytest.raises(ConfigurationError, match="must be positive"):
        StreamingContext(batchDuration=0)


# -- life cycle ----------------------------------------------------------------------------------------


def test_start_without_output_fails_clearly(ssc):
    ssc.queueStream([[1]]).map(lambda x: x)
    with pytest.raises(ConfigurationError, match="No output operations registered"):
        ssc.start()
    assert ssc.getState() == "INITIALIZED"
    assert StreamingContext.getActive() is None


def test_states_and_get_active(ssc, clock):
    ssc.queueStream([[1]]).pprint()
    assert StreamingContext.getActive() is None
    ssc.start()
    assert ssc.getState() == "ACTIVE"
    assert StreamingContext.getActive() is ssc
    ssc.stop(stopSparkContext=False)
    assert ssc.getState() == "STOPPED"
    assert StreamingContext.getActive() is None


def test_start_twice_and_restart_raise(ssc):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    with pytest.raises(ConfigurationError, match="already been started"):
        ssc.start()
    ssc.stop(stopSparkContext=False)
    with pytest.raises(ConfigurationError, match="cannot be restarted; create a new one"):
        ssc.start()


def test_only_one_active_context(ssc):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    other = StreamingContext(ssc.sparkContext, 1, clock=ManualClock())
    other.queueStream([[1]]).pprint()
    with pytest.raises(ConfigurationError, match="Only one StreamingContext may be started"):
        other.start()
    ssc.stop(stopSparkContext=False)
    other.start()  # fine once the first one stopped
    assert StreamingContext.getActive() is other
    other.stop(stopSparkContext=False)


def test_stop_is_idempotent_and_stops_spark_context_by_default(ssc):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    ssc.stop(stopSparkContext=False)
    assert not ssc.sparkContext._stopped
    ssc.stop()  # a no-op: already stopped
    ssc.stop(stopSparkContext=False, stopGraceFully=True)
    assert not ssc.sparkContext._stopped

    other = StreamingContext(SparkContext("local[1]", "x"), 1, clock=ManualClock())
    other.queueStream([[1]]).pprint()
    other.start()
    other.stop()
    assert other.sparkContext._stopped


def test_stop_before_start():
    ssc = StreamingContext(SparkContext("local[1]", "x"), 1, clock=ManualClock())
    ssc.stop(stopSparkContext=False)
    assert ssc.getState() == "STOPPED"
    assert ssc.awaitTerminationOrTimeout(0) is True


def test_graph_is_fixed_after_start_and_stop(ssc):
    s = ssc.queueStream([[1]])
    s.pprint()
    ssc.start()
    with pytest.raises(ConfigurationError, match="after starting a context is not supported"):
        s.map(lambda x: x)
    ssc.stop(stopSparkContext=False)
    with pytest.raises(ConfigurationError, match="after stopping a context is not supported"):
        s.map(lambda x: x)


def test_start_returns_at_once_and_threads_end_at_stop(ssc, clock):
    seen = []
    ssc.queueStream([[1], [2]]).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    ssc.start()
    assert seen == []  # no batch is due until the clock moves
    assert set(_engine_threads()) >= {"dstreams-timer", "dstreams-runner", "dstreams-listener"}
    clock.advance(2)
    assert seen == [[1], [2]]
    ssc.stop(stopSparkContext=False)
    assert _engine_threads() == []


# -- awaitTermination ------------------------------------------------------------------------------------


def test_await_termination_variants(ssc, clock):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    assert ssc.awaitTerminationOrTimeout(0.01) is False
    assert ssc.awaitTermination(0.01) is None
    stopper = threading.Timer(0.05, lambda: ssc.stop(stopSparkContext=False))
    stopper.start()
    assert ssc.awaitTermination() is None  # woken by the stop on another thread
    stopper.join()
    assert ssc.awaitTerminationOrTimeout(0) is True


def test_await_termination_reraises_batch_error_and_stream_goes_on(ssc, clock):
    seen = []

    def out(rdd):
        if rdd.collect() == [2]:
            raise RuntimeError("boom")
        seen.append(rdd.collect())

    ssc.queueStream([[1], [2], [3]]).foreachRDD(out)
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(3)
    assert seen == [[1], [3]]
    assert ssc.getState() == "ACTIVE"
    with pytest.raises(BatchError, match="boom") as info:
        ssc.awaitTerminationOrTimeout(5)
    assert info.value.batch_time == 2000
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(BatchError, match="boom"):
        ssc.awaitTermination()  # the error stays reported, as in Spark
    with pytest.raises(BatchError):
        ssc.awaitTermination(0.01)


def test_stop_from_inside_a_batch(ssc, clock):
    seen = []

    def out(rdd):
        seen.append(rdd.collect())
        if len(seen) == 2:
            ssc.stop(stopSparkContext=False)

    ssc.queueStream([[1], [2], [3], [4]]).foreachRDD(out)
    ssc.start()
    clock.advance(4)  # returns: the batches after the stop are dropped
    assert seen == [[1], [2]]
    assert ssc.awaitTerminationOrTimeout(5) is True
    assert ssc.getState() == "STOPPED"
    ssc._scheduler._runner.join(5)
    assert _engine_threads() == []


def test_graceful_stop_from_inside_a_batch(ssc, clock):
    seen = []

    def out(rdd):
        seen.append(rdd.collect())
        if len(seen) == 1:
            ssc.stop(stopSparkContext=False, stopGraceFully=True)

    ssc.queueStream([[1], [2]]).foreachRDD(out)
    ssc.start()
    clock.advance(1)
    assert seen == [[1]]
    assert ssc.awaitTerminationOrTimeout(5) is True


# -- getActiveOrCreate / getOrCreate ---------------------------------------------------------------------


def test_get_active_or_create(ssc, tmp_path):
    with pytest.raises(TypeError, match="setupFunc should be callable"):
        StreamingContext.getActiveOrCreate(None, "not a function")
    calls = []

    def setup():
        calls.append(1)
        return ssc

    assert StreamingContext.getActiveOrCreate(None, setup) is ssc
    assert calls == [1]
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    assert StreamingContext.getActiveOrCreate(None, setup) is ssc
    assert StreamingContext.getActiveOrCreate(str(tmp_path), setup) is ssc
    assert calls == [1]  # the active context is returned; setupFunc is not called again


def test_get_active_or_create_with_checkpoint_path_sets_the_directory(tmp_path):
    calls = []

    def setup():
        calls.append(1)
        return StreamingContext(SparkContext("local[1]", "x"), 1, clock=ManualClock())

    ssc = StreamingContext.getActiveOrCreate(str(tmp_path), setup)
    assert calls == [1]
    assert ssc._checkpoint_dir == str(tmp_path)
    ssc.stop()


# -- remember / slice --------------------------------------------------------------------------------------


def test_slice_returns_remembered_batches(ssc, clock):
    s = ssc.queueStream([[1], [2], [3], [4], [5]])
    s.pprint()
    ssc.remember(3)
    sliced = []

    def at_batch(t, rdd):
        if t == _at(5000):
            sliced.append([r.collect() for r in s.slice(_at(3000), t)])
            sliced.append([r.collect() for r in s.slice(3.0, 4.5)])  # unix seconds, end floored
            sliced.append([r.collect() for r in s.slice(_at(0), _at(1000))])  # forgotten already

    s.foreachRDD(at_batch)
    ssc.start()
    clock.advance(5)
    assert sliced == [[[3], [4], [5]], [[3], [4]], []]


def test_slice_without_remember_keeps_nothing_after_the_batch(ssc, clock):
    s = ssc.queueStream([[1], [2]])
    s.pprint()
    ssc.start()
    clock.advance(2)
    assert s.slice(_at(1000), _at(2000)) == []


def test_remember_after_start_applies_to_later_batches(ssc, clock):
    s = ssc.queueStream([[1], [2], [3]])
    s.pprint()
    ssc.start()
    clock.advance(1)
    ssc.remember(2)
    clock.advance(2)
    assert [r.collect() for r in s.slice(_at(1000), _at(3000))] == [[2], [3]]


def test_slice_before_start_fails(ssc):
    s = ssc.queueStream([[1]])
    with pytest.raises(ConfigurationError, match="started"):
        s.slice(0, 1)


# -- union / transform ---------------------------------------------------------------------------------------


def test_union_of_many_streams_keeps_stream_order(ssc, clock):
    a = ssc.queueStream([[1, 2], [3]])
    b = ssc.queueStream([["x"], []])
    c = ssc.queueStream([[10], [20, 30]])
    assert run_batches(ssc, clock, ssc.union(a, b, c), 2) == [[1, 2, "x", 10], [3, 20, 30]]


def test_union_validation(ssc):
    a = ssc.queueStream([[1]])
    assert ssc.union(a) is a
    with pytest.raises(ValueError, match="at least one DStream"):
        ssc.union()
    with pytest.raises(ValueError, match="same slide duration"):
        ssc.union(a, a.window(2, 2))
    with pytest.raises(TypeError, match="must be a DStream"):
        ssc.union(a, [1, 2])


def test_transform_gets_a_tuple_of_rdds_in_order(ssc, clock):
    a = ssc.queueStream([[1, 2], [3]])
    b = ssc.queueStream([[10], [20]])
    kinds = []

    def combine(rdds):
        kinds.append(type(rdds))
        first, second = rdds
        return first.union(second.map(lambda x: -x))

    out = ssc.transform([a, b], combine)
    assert run_batches(ssc, clock, out, 2) == [[1, 2, -10], [3, -20]]
    assert kinds == [tuple, tuple]


def test_transform_validation(ssc):
    a = ssc.queueStream([[1]])
    with pytest.raises(ValueError, match="empty"):
        ssc.transform([], lambda rdds: rdds[0])
    with pytest.raises(ValueError, match="different slide durations"):
        ssc.transform([a, a.window(2, 2)], lambda rdds: rdds[0])
