"""Compiled plans give exactly what the Python functions give, or Python's exception.

Regression tests for four ways the compiled path once differed from Python (issue 10): identity
tests (`is`) folded to a constant, signed zeros lost by Polars' ``x + 0.0`` and ``0.0 - x``,
float sums that cannot give -0.0, and tripwires that later operators optimised away (a column
nobody reads, a filter pushed below the map), so that a row Python raises on went through.
Each runs on both paths (``both_paths``) and on 1 and 2 partitions; values compare by ``repr``,
which tells -0.0 from 0.0 and True from 1.
"""

from __future__ import annotations

import math
import operator
import warnings

import polars as pl
import pytest
from conftest import same_batches

from dstreams import BatchError, ManualClock, SparkContext, StreamingContext
from dstreams.batch import set_compilation
from dstreams.tracing import Column, trace_map, trace_predicate, trace_reduce

F64, I64, BOOL, STR = pl.Float64(), pl.Int64(), pl.Boolean(), pl.String()
NAN = math.nan

with warnings.catch_warnings():  # `x is 1` is what users write; the warning is the point
    warnings.simplefilter("ignore", SyntaxWarning)
    IS_ONE = eval("lambda x: x is 1")


@pytest.fixture(params=[1, 2], ids=["local[1]", "local[2]"])
def partitions(request) -> int:
    return request.param


def run(ssc, clock, stream, batches: int = 1) -> tuple[list, BatchError | None]:
    """Each batch's elements, and the batch error reported (None when every batch ran)."""
    out: list = []
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    errors: list[BatchError] = []
    ssc.start()
    for _ in range(batches):
        try:
            clock.advance(1)
        except BatchError as raised:  # a batch error surfaces here or in awaitTermination
            errors.append(raised)
    try:
        ssc.awaitTerminationOrTimeout(0)
    except BatchError as raised:
        errors.append(raised)
    ssc.stop(stopSparkContext=False)
    return out, (errors[0] if errors else None)


def root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


# ---------------------------------------------------------------------------- values

# (name, one batch, pipeline, expected batch)
VALUE_CASES = [
    ("is-True-map", [True, False], lambda s: s.map(lambda b: b is True), [True, False]),
    ("is-True-filter", [True, False], lambda s: s.filter(lambda b: b is True), [True]),
    ("is-not-False", [True, False], lambda s: s.map(lambda b: b is not False), [True, False]),
    ("is-1", [1, 2], lambda s: s.map(IS_ONE), [True, False]),  # CPython caches small ints
    ("operator.is_", [True, False], lambda s: s.map(lambda b: operator.is_(b, True)), [True, False]),
    ("is-None", [1, 2], lambda s: s.map(lambda x: x is None), [False, False]),
    ("x+0", [-0.0, 1.0, 2.0], lambda s: s.map(lambda x: x + 0), [0.0, 1.0, 2.0]),
    ("0.0+x", [-0.0, 1.0, 2.0], lambda s: s.map(lambda x: 0.0 + x), [0.0, 1.0, 2.0]),
    ("0-x", [0.0, 1.0, 2.0], lambda s: s.map(lambda x: 0 - x), [0.0, -1.0, -2.0]),
    ("0.0-int", [0, 1, 2], lambda s: s.map(lambda x: 0.0 - x), [0.0, -1.0, -2.0]),
    ("x--0.0", [-0.0, 0.0, 1.0], lambda s: s.map(lambda x: x - -0.0), [0.0, 0.0, 1.0]),
    ("x-0.0", [-0.0, 0.0, 1.0], lambda s: s.map(lambda x: x - 0.0), [-0.0, 0.0, 1.0]),
    ("-0.0+x", [-0.0, 0.0, 1.0], lambda s: s.map(lambda x: -0.0 + x), [-0.0, 0.0, 1.0]),
    ("-0.0-x", [0.0, -0.0, 1.0], lambda s: s.map(lambda x: -0.0 - x), [-0.0, 0.0, -1.0]),
    ("0-x-pair", [("a", 0.0), ("b", 1.0), ("c", 2.0)], lambda s: s.mapValues(lambda v: 0 - v),
     [("a", 0.0), ("b", -1.0), ("c", -2.0)]),
    ("reduce-3", [-0.0, -0.0, -0.0], lambda s: s.reduce(operator.add), [-0.0]),
    ("reduce-1", [-0.0], lambda s: s.reduce(lambda a, b: a + b), [-0.0]),
    ("reduce-mixed", [-0.0, 0.0, -0.0], lambda s: s.reduce(lambda a, b: a + b), [0.0]),
    ("reduce-nan", [-0.0, NAN], lambda s: s.reduce(lambda a, b: b + a).map(math.isnan), [True]),
    ("reduceByKey", [("a", -0.0), ("b", -0.0), ("a", -0.0), ("b", 0.0), ("c", -0.0)],
     lambda s: s.reduceByKey(lambda a, b: a + b), [("a", -0.0), ("b", 0.0), ("c", -0.0)]),
    ("reduceByKey-1", [("a", -0.0)], lambda s: s.reduceByKey(operator.add), [("a", -0.0)]),
]  # fmt: skip


@pytest.mark.parametrize(
    "data, build, expected", [c[1:] for c in VALUE_CASES], ids=[c[0] for c in VALUE_CASES]
)
def test_values_match_python(ssc, clock, both_paths, partitions, data, build, expected):
    out, error = run(ssc, clock, build(ssc.queueStream([data])))
    assert error is None
    assert same_batches([[repr(e) for e in b] for b in out], [[repr(e) for e in expected]], partitions)


def test_identity_compiles_only_against_none():
    """`is` has no dunder a proxy could answer, so only `is None` (never, on null-free columns)
    compiles; anything else runs in Python."""
    for fn, dtype in [
        (lambda b: b is True, BOOL),
        (lambda b: b is not False, BOOL),
        (IS_ONE, I64),
        (lambda x, y=None: x is y, I64),  # None, but not a literal: not worth proving
        (lambda x: operator.is_(x, True), BOOL),
        (lambda x: x is (None if x > 1 else 3), I64),  # None on one path only
    ]:
        assert trace_map(fn, Column("value", dtype)) is None, fn
    for fn in [lambda x: x is None, lambda x: None is not x, lambda x: 1 if x is None else x]:
        assert trace_map(fn, Column("value", I64)) is not None
    assert trace_map(lambda x: operator.is_not(x, None), Column("value", I64)) is not None


def test_signed_zero_forms_still_compile():
    for fn in [lambda x: x + 0, lambda x: 0 - x, lambda x: x - -0.0, lambda x: -0.0 - x, lambda x: x + 1]:
        assert trace_map(fn, Column("value", F64)) is not None
    assert trace_map(lambda x: 0.0 - x, Column("value", I64)) is not None
    assert trace_reduce(operator.add, F64) is not None


WINDOWED = {
    "reduceByKeyAndWindow": lambda s: s.reduceByKeyAndWindow(lambda a, b: a + b, None, 2, 1),
    "with-inverse": lambda s: s.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1),
    "reduceByWindow": lambda s: s.map(lambda kv: kv[1]).reduceByWindow(operator.add, None, 2, 1),
    "window-reduceByKey": lambda s: s.window(2, 1).reduceByKey(operator.add),
}


@pytest.mark.parametrize("build", list(WINDOWED.values()), ids=list(WINDOWED))
def test_windowed_float_sums_keep_negative_zero(ssc, clock, both_paths, partitions, tmp_path, build):
    ssc.checkpoint(str(tmp_path))
    batches = [[("a", -0.0), ("b", -0.0)], [("a", -0.0), ("b", 0.0)], [("a", -0.0)]]
    out, error = run(ssc, clock, build(ssc.queueStream(batches)), 3)
    assert error is None
    got = [sorted(map(repr, b)) for b in out]
    if build is WINDOWED["reduceByWindow"]:
        assert got == [["-0.0"], ["0.0"], ["0.0"]]
    else:
        pairs = ["('a', -0.0)", "('b', 0.0)"]  # b: -0.0 + 0.0, while it stays in the window
        assert got == [["('a', -0.0)", "('b', -0.0)"], pairs, pairs]


# ---------------------------------------------------------------------------- errors

# (name, one batch, pipeline, the exception Python raises)
ERROR_CASES = [
    ("count", [1, 0], lambda s: s.map(lambda x: 1 // x).count(), ZeroDivisionError),
    ("filter-False", [1, 0], lambda s: s.map(lambda x: 1 // x).filter(lambda v: False), ZeroDivisionError),
    ("index", ["abcd"] * 19 + ["ab"], lambda s: s.map(lambda v: v[3]).filter(lambda v: False), IndexError),
    ("index-count", ["abcd"] * 19 + ["ab"], lambda s: s.map(lambda v: v[3]).count(), IndexError),
    ("split-index", ["a,b"] * 19 + ["ab"],
     lambda s: s.map(lambda v: v.split(",")[1]).filter(lambda v: False), IndexError),
    ("int-nan", [1.5, NAN], lambda s: s.map(lambda v: int(v)).count(), ValueError),
    ("int-nan-filter", [1.5, NAN], lambda s: s.map(lambda v: int(v)).filter(lambda v: False), ValueError),
    ("mapValues-then-filter", [("a", 1), ("", 0)],
     lambda s: s.mapValues(lambda v: 1 // v).filter(lambda kv: kv[0] != ""), ZeroDivisionError),
    ("map-pair-then-key", [1, 0],
     lambda s: s.map(lambda x: (x, 1 // x)).map(lambda kv: kv[0]), ZeroDivisionError),
    ("filter-then-filter", [1, 0],
     lambda s: s.filter(lambda x: 1 // x > 0).filter(lambda x: False), ZeroDivisionError),
    ("filter-then-count", [1, 0], lambda s: s.filter(lambda x: 10 // x > 0).count(), ZeroDivisionError),
    ("flatMap-then-count", [1, 0], lambda s: s.flatMap(lambda x: [x, 1 // x]).count(), ZeroDivisionError),
    ("after-a-map", [2, 1],
     lambda s: s.map(lambda x: x - 1).map(lambda x: 1 // x).count(), ZeroDivisionError),
]  # fmt: skip


@pytest.mark.parametrize("data, build, raises", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_errors_match_python(ssc, clock, both_paths, partitions, data, build, raises):
    out, error = run(ssc, clock, build(ssc.queueStream([data])))
    assert out == []  # the batch failed, as in Python
    assert isinstance(error, BatchError)
    assert isinstance(root_cause(error), raises)
    assert root_cause(error).__context__ is None  # no trace of a compiled attempt in the report
    assert f"failed: {raises.__name__}:" in str(error)


@pytest.mark.parametrize("name", [c[0] for c in ERROR_CASES])
def test_error_reports_are_identical_on_both_paths(partitions, name):
    """The same error chain, message for message: the compiled path re-runs the batch in Python."""
    _, data, build, raises = next(c for c in ERROR_CASES if c[0] == name)
    reports = []
    for compiled in (True, False):
        old = set_compilation(compiled)
        try:
            clock = ManualClock()
            ssc = StreamingContext(SparkContext(f"local[{partitions}]", "exact"), 1, clock=clock)
            _, error = run(ssc, clock, build(ssc.queueStream([data])))
        finally:
            set_compilation(old)
        chain = []
        while error is not None:
            chain.append((type(error).__name__, str(error)))
            error = error.__cause__
        reports.append(chain)
    assert reports[0] == reports[1] and reports[0][-1][0] == raises.__name__


def test_rows_without_errors_stay_compiled(ssc, clock, partitions):
    """The checks cost a look at the input, not a fallback: good batches still compile."""
    old = set_compilation(True)
    try:
        stream = ssc.queueStream([[1, 2, 4], [5, 0], [8]]).map(lambda x: 8 // x)
        out, error = run(ssc, clock, stream.count(), 3)
    finally:
        set_compilation(old)
    assert out == [[3], [1]] and isinstance(root_cause(error), ZeroDivisionError)
    assert error.batch_time == 2000
    traced = trace_map(lambda x: 8 // x, Column("value", I64))
    assert traced is not None and traced.bad is not None and len(traced.unchecked) == 1


def test_checks_survive_pushdown_in_polars():
    """What the engine relies on: the check is its own output, over the operator's input."""
    traced = trace_predicate(lambda v: 1 // v > 0, Column("value", I64))
    frame = pl.LazyFrame({"value": [1, 0]})
    assert frame.filter(traced.unchecked[0]).filter(False).collect().height == 0
    later = frame.filter(traced.unchecked[0]).filter(False)
    _, flag = pl.collect_all([later, frame.select(traced.bad.any())])
    assert flag.item() is True
    mapped = trace_map(lambda v: (v, 1 // v), Column("value", I64))
    assert pl.LazyFrame({"value": [2]}).select(mapped.bad.any()).collect().item() is False
