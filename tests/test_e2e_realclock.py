"""End to end on the real clock: queueStream -> word count -> foreachRDD with SystemClock."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest

from dstreams import SparkContext, StreamingContext, SystemClock


@pytest.mark.slow
def test_word_count_on_the_system_clock():
    interval_ms = 200
    ssc = StreamingContext(SparkContext("local[1]", "e2e"), interval_ms / 1000, clock=SystemClock())
    lines = ssc.queueStream([["a b a"], ["b c"], []])
    counts = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    start_returned = threading.Event()
    four_batches = threading.Event()
    batches = []

    def collect(time, rdd):
        # If start() blocked until batches ran, this wait would time out and record False.
        batches.append((time, sorted(rdd.collect()), start_returned.wait(5)))
        if len(batches) == 4:
            four_batches.set()

    counts.foreachRDD(collect)
    try:
        ssc.start()
        start_returned.set()
        assert ssc.getState() == "ACTIVE"
        assert four_batches.wait(10), "four batches did not run within 10 s"
        assert ssc.awaitTerminationOrTimeout(0.01) is False
    finally:
        ssc.stop(stopSparkContext=True, stopGraceFully=True)

    assert ssc.awaitTerminationOrTimeout(0) is True
    times = [t for t, _, _ in batches]
    assert all(type(t) is dt.datetime for t in times)
    ms = [round(t.timestamp() * 1000) for t in times]
    assert all(m % interval_ms == 0 for m in ms), ms  # on the grid
    assert [b - a for a, b in itertools.pairwise(ms)] == [interval_ms] * (
        len(ms) - 1
    )  # consecutive, in order
    assert [words for _, words, _ in batches[:4]] == [[("a", 2), ("b", 1)], [("b", 1), ("c", 1)], [], []]
    assert all(returned for _, _, returned in batches)
    assert [t.name for t in threading.enumerate() if t.name.startswith("dstreams-")] == []
