"""Scheduler and clock: the batch-time grid, ordering, failures, graceful stop, threads, executors."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest

from dstreams import BatchError, LocalExecutor, ManualClock, SparkContext, StreamingContext
from dstreams.batch import Batch
from dstreams.dstream import InputDStream


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000.0)


def _engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("dstreams-")]


def _context(seconds: float, clock: ManualClock) -> StreamingContext:
    return StreamingContext(SparkContext("local[1]", "sched"), seconds, clock=clock)


def _wait_for(condition, what: str) -> None:
    """Wait (bounded) for another thread to reach a state; fails the test instead of hanging."""
    event = threading.Event()
    for _ in range(1000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# -- the grid ----------------------------------------------------------------------------------------------


def test_first_batch_is_the_next_multiple_of_the_interval():
    clock = ManualClock(start_ms=1234)
    ssc = _context(0.5, clock)
    times = []
    ssc.queueStream([[1]]).foreachRDD(lambda t, rdd: times.append(t))
    try:
        ssc.start()
        clock.advance(0.25)  # 1484: nothing due yet
        assert times == []
        clock.advance(0.016)  # 1500
        clock.advance(1.0)  # 2500
        assert times == [_at(1500), _at(2000), _at(2500)]
        assert [i.batch_time for i in ssc.batch_infos] == [1500, 2000, 2500]
    finally:
        ssc.stop()


def test_advance_by_n_intervals_processes_n_batches(ssc, clock):
    seen = []
    ssc.queueStream([[1], [2], [3], [4]]).foreachRDD(lambda t, rdd: seen.append((t, rdd.collect())))
    ssc.start()
    clock.advance(3)
    assert seen == [(_at(1000), [1]), (_at(2000), [2]), (_at(3000), [3])]
    clock.advance(1)
    assert seen[-1] == (_at(4000), [4])


@pytest.mark.parametrize(("seconds", "step_ms"), [(0.5, 500), (0.1, 100), (0.3, 300)])
def test_sub_second_intervals_stay_on_an_exact_grid(seconds, step_ms):
    clock = ManualClock()
    ssc = _context(seconds, clock)
    ms = []
    ssc.queueStream([]).foreachRDD(lambda t, rdd: ms.append(t))
    try:
        ssc.start()
        for _ in range(10):
            clock.advance(seconds)  # float steps: no drift, each lands on the grid
        clock.advance(5 * seconds)
        assert [i.batch_time for i in ssc.batch_infos] == [k * step_ms for k in range(1, 16)]
        assert ms == [_at(k * step_ms) for k in range(1, 16)]
    finally:
        ssc.stop()


def test_batches_run_in_order_and_outputs_in_definition_order(ssc, clock):
    log = []
    s = ssc.queueStream([["a"], ["b"], ["c"]])
    s.foreachRDD(lambda rdd: log.append(("first", rdd.collect())))
    s.map(str.upper).foreachRDD(lambda rdd: log.append(("second", rdd.collect())))
    s.count().foreachRDD(lambda rdd: log.append(("third", rdd.collect())))
    ssc.start()
    clock.advance(3)
    assert log == [
        ("first", ["a"]),
        ("second", ["A"]),
        ("third", [1]),
        ("first", ["b"]),
        ("second", ["B"]),
        ("third", [1]),
        ("first", ["c"]),
        ("second", ["C"]),
        ("third", [1]),
    ]


def test_one_batch_at_a_time(ssc, clock):
    running, overlaps = [], []

    def out(rdd):
        if running:
            overlaps.append(rdd.collect())
        running.append(1)
        rdd.count()
        running.pop()

    ssc.queueStream([[1], [2], [3], [4], [5]]).foreachRDD(out)
    ssc.start()
    clock.advance(5)
    assert overlaps == []
    assert len(ssc.batch_infos) == 5


# -- failures ----------------------------------------------------------------------------------------------


def test_failed_output_is_reported_and_later_batches_run(ssc, clock):
    seen = []
    s = ssc.queueStream([[1], [0], [2]])
    s.map(lambda x: 10 // x).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    s.foreachRDD(lambda rdd: seen.append(("second output", rdd.collect())))
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(3)
    # batch 2 failed in the first output; its second output still ran, and so did batch 3
    assert seen == [[10], ("second output", [1]), ("second output", [0]), [5], ("second output", [2])]
    failed = ssc.batch_infos[1]
    assert failed.failed and not ssc.batch_infos[0].failed and not ssc.batch_infos[2].failed
    reason = failed.outputOperationInfos()[0].failureReason()
    assert "ZeroDivisionError" in reason and "map(" in reason and "(2000 ms)" in reason
    assert failed.outputOperationInfos()[1].failureReason() is None
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(1)
    message = str(info.value)
    assert "map(" in message and "foreachRDD(" in message and str(_at(2000)) in message
    assert "ZeroDivisionError" in message


class _FailingSource(InputDStream):
    """Batch 2 cannot be read."""

    def _allocate(self, t):
        if t == 2000:
            raise OSError("source unavailable")
        return Batch.from_elements([t])


def test_a_batch_that_cannot_be_generated_is_skipped_and_reported(ssc, clock):
    seen = []
    _FailingSource(ssc).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(3)  # does not hang on the missing batch
    assert seen == [[1000], [3000]]
    assert [i.batch_time for i in ssc.batch_infos] == [1000, 3000]
    with pytest.raises(BatchError, match=r"generating batch .*source unavailable"):
        ssc.awaitTermination(1)


# -- stopping ----------------------------------------------------------------------------------------------


def _blocked_context(ssc, clock, gate: threading.Event, seen: list):
    """Batch 1 waits for ``gate`` while the timer queues batches 2 and 3."""

    def out(rdd):
        seen.append(rdd.collect())
        if rdd.collect() == [1]:
            assert gate.wait(10)

    ssc.queueStream([[1], [2], [3], [4]]).foreachRDD(out)
    ssc.start()
    advancing = threading.Thread(target=clock.advance, args=(3,))
    advancing.start()
    _wait_for(lambda: ssc._scheduler._last_generated == 3000 and seen == [[1]], "3 generated batches")
    return advancing


@pytest.mark.parametrize("graceful", [True, False])
def test_stop_processes_or_drops_generated_batches(ssc, clock, graceful):
    gate, seen = threading.Event(), []
    advancing = _blocked_context(ssc, clock, gate, seen)
    stopper = threading.Thread(target=ssc.stop, kwargs={"stopGraceFully": graceful})
    stopper.start()
    _wait_for(lambda: ssc._scheduler._stop_timer.is_set(), "stop to begin")
    gate.set()
    stopper.join(10)
    advancing.join(10)
    assert not stopper.is_alive() and not advancing.is_alive()
    assert seen == ([[1], [2], [3]] if graceful else [[1]])
    assert _engine_threads() == []


def test_no_thread_leaks_over_many_contexts():
    for _ in range(5):
        clock = ManualClock()
        ssc = _context(1, clock)
        ssc.queueStream([[1]]).pprint()
        ssc.start()
        clock.advance(1)
        ssc.stop()
    assert _engine_threads() == []


# -- executor ----------------------------------------------------------------------------------------------


class _RecordingExecutor(LocalExecutor):
    def __init__(self):
        self.plans = 0
        self.threads = set()
        self.shut_down = False

    def collect(self, plans):
        self.plans += len(plans)
        self.threads.add(threading.current_thread().name)
        return super().collect(plans)

    def shutdown(self):
        self.shut_down = True


def test_custom_executor_runs_the_plans():
    executor = _RecordingExecutor()
    clock = ManualClock()
    ssc = StreamingContext(SparkContext("local[1]", "exec"), 1, clock=clock, executor=executor)
    seen = []
    s = ssc.queueStream([[1, 2, 3], [4]])
    s.filter(pl.col("value") > 1).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    try:
        ssc.start()
        clock.advance(2)
    finally:
        ssc.stop()
    assert seen == [[2, 3], [4]]
    assert executor.plans == 2
    assert executor.threads == {"dstreams-runner"}
    assert executor.shut_down
