"""Shared fixtures: a context on a manual clock, and running a test on both execution paths."""

from __future__ import annotations

import pytest

from dstreams import ManualClock, SparkContext, StreamingContext
from dstreams.batch import set_compilation


@pytest.fixture(autouse=True)
def _no_context_left_active():
    """Only one context may be active: a test that fails half-way must not break the next ones."""
    yield
    active = StreamingContext.getActive()
    if active is not None:
        active.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ssc(clock):
    """A 1-second-batch context on a manual clock (default parallelism 1, as PySpark's test harness)."""
    sc = SparkContext("local[1]", "test")
    context = StreamingContext(sc, 1, clock=clock)
    yield context
    context.stop()
    active = StreamingContext.getActive()
    if active is not None:
        active.stop()


@pytest.fixture(params=["compiled", "python"])
def both_paths(request):
    """Run the test once with compiled plans and once with every operator row-wise in Python."""
    old = set_compilation(request.param == "compiled")
    yield request.param
    set_compilation(old)


def run_batches(ssc, clock, stream, n: int) -> list:
    """Collect ``stream``'s elements for ``n`` batches: one list per batch."""
    out: list = []
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    for _ in range(n):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    return out
