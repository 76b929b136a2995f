"""Shared fixtures: a context on a manual clock, and running a test on both execution paths.

Modules marked ``pytestmark = pytest.mark.partitions`` run every test that uses ``ssc`` (or
``partitions``) on 1, 2 and 3 partitions (``local[1]``, ``local[2]``, ``local[3]``); elsewhere the
context has one partition. With several partitions PySpark's order is only defined within a
partition, so such tests compare batches with :func:`same_batches`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from dstreams import BatchError, ManualClock, SparkContext, StreamingContext
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


PARTITION_COUNTS = (1, 2, 3)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "partitions: run the module's context-based tests on 1, 2 and 3 partitions"
    )


def pytest_generate_tests(metafunc):
    if "partitions" in metafunc.fixturenames and metafunc.definition.get_closest_marker("partitions"):
        metafunc.parametrize("partitions", PARTITION_COUNTS, ids=[f"local[{n}]" for n in PARTITION_COUNTS])


@pytest.fixture
def partitions() -> int:
    """The context's default parallelism (1 unless the module is marked ``partitions``)."""
    return 1


@pytest.fixture
def ssc(clock, partitions):
    """A 1-second-batch context on a manual clock on ``local[partitions]``."""
    sc = SparkContext(f"local[{partitions}]", "test")
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
        try:
            clock.advance(1)
        except BatchError:
            pass  # every batch runs; tests check the error with ssc.awaitTermination*, which raises it again
    ssc.stop(stopSparkContext=False)
    return out


def _multiset(elements: Sequence[Any]) -> Counter:
    return Counter(repr(e) for e in elements)  # repr: elements may be unhashable (lists, dicts)


def same_batches(got: Sequence[Sequence[Any]], want: Sequence[Sequence[Any]], partitions: int) -> bool:
    """``got == want`` on one partition; with more, the same elements per batch in any order.

    PySpark's order across partitions depends on its hash of each key, which dstreams does not
    reproduce; within one partition (and for ``glom``, ``sortByKey``...) tests compare exactly.
    """
    if partitions == 1:
        return list(got) == list(want)
    return len(got) == len(want) and all(_multiset(g) == _multiset(w) for g, w in zip(got, want))
