"""The builtins and str methods PySpark programs use, compiled exactly or not at all.

Each case is a function, its element type, a data strategy and ``may_trap(x)``: whether the
compiled form may refuse element ``x`` (a tripwire: the engine re-runs that batch in Python).  A
compiled result must equal Python's in value and type; where Python raises, the compiled form
must trip; and it may trip on nothing else than ``may_trap`` says, so a case cannot pass by
always falling back.  The same cases then run through whole ``queueStream`` pipelines on both
paths (compiled and Python) over 1, 2 and 3 partitions.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstreams import BatchError, ManualClock, SparkContext, StreamingContext
from dstreams.batch import set_compilation
from dstreams.tracing import Column, trace_filter, trace_map

STR, INT, FLOAT, BOOL = pl.String(), pl.Int64(), pl.Float64(), pl.Boolean()
MIN, MAX = -(2**63), 2**63 - 1
RAISES = "<raises>"

# ---------------------------------------------------------------------------- data

_SPECIAL_INTS = [0, 1, -1, 7, MAX, MAX - 1, MIN, MIN + 1, 2**53 + 1, 10**15]
ints = st.one_of(st.integers(-1000, 1000), st.integers(MIN, MAX), st.sampled_from(_SPECIAL_INTS))
_SPECIAL_FLOATS = [0.0, -0.0, math.nan, math.inf, -math.inf, 0.5, 1.5, 2.5, -2.5, 0.125, 2.675, 1e16,
                   1e-5, 1e-4, 0.1, 1.005, 2.0**52 + 0.5, 2.0**63, -(2.0**63), 5e-324, 1e308]  # fmt: skip
floats = st.one_of(st.floats(), st.sampled_from(_SPECIAL_FLOATS), st.integers(-999, 999).map(lambda i: i / 8))
_ODD = ["", " ", "ß", "İ", "🎉", "e\u0301", "\r\n", "ǅ", "ﬃ", "Σ", "\x1c", "\u3000", "a", "b", "B"]
_joined = st.lists(st.sampled_from([*_ODD, *"abAB ,"]), max_size=6).map("".join)
texts = st.one_of(st.sampled_from(_ODD), _joined, st.text(max_size=6))
# Strings int() and float() may see: plain numbers and every spelling Python has an opinion on.
_NUMBER_ODDITIES = [" 5", "5 ", "\t-3\n", "1_000", "1__0", "_1", "٣", "１２", "+5", "-0", "007",
                    "0" * 25 + "1", str(MAX), str(MIN), str(MAX + 1), str(MIN - 1), "9" * 30, "", "+",
                    "-", "0x10", "1e3", "5.", ".5", "-.5e-3", "1E400", "1e-400", "inf", "-Infinity",
                    "nan", "NaN", "1.5.5", "1e", "e1", " 1.5 ", "1_0.5", "2.675", "0.1", "١.٥",
                    "\u00a01"]  # fmt: skip
number_texts = st.one_of(
    st.sampled_from(_NUMBER_ODDITIES),
    ints.map(str),
    floats.map(repr),
    st.text(st.sampled_from("0123456789+-_. eE٣"), max_size=8),
)
DATA = {STR: texts, INT: ints, FLOAT: floats, BOOL: st.booleans()}

# ---------------------------------------------------------------------------- comparing


def _same(a: object, b: object) -> bool:
    """Equal in value and type; 0.0 and -0.0 differ; nan equals nan."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def _python(fn, xs):
    try:
        return [fn(x) for x in xs]
    except Exception:
        return RAISES


def _compiled_map(fn, xs, dtype):
    traced = trace_map(fn, Column("value", dtype))
    assert traced is not None, "not compiled"
    frame = pl.DataFrame({"value": xs}, schema={"value": dtype}).lazy()
    try:
        out = frame.select(e.alias(f"c{i}") for i, e in enumerate(traced.exprs)).collect()
    except pl.exceptions.PolarsError:
        return RAISES
    columns = [out[name].to_list() for name in out.columns]
    return columns[0] if len(columns) == 1 else [tuple(row) for row in zip(*columns)]


def _check(fn, xs, dtype, may_trap) -> None:
    expected, got = _python(fn, xs), _compiled_map(fn, xs, dtype)
    if expected is RAISES:
        assert got is RAISES, f"Python raised on {xs!r}, compiled gave {got!r}"
    elif got is RAISES:
        assert any(may_trap(x) for x in xs), f"compiled tripped on {xs!r}, Python gave {expected!r}"
    else:
        assert _same(expected, got), f"{xs!r}: Python {expected!r}, compiled {got!r}"


# ---------------------------------------------------------------------------- when a trap is allowed

_PLAIN_INT = re.compile(r"[+-]?[0-9]{1,19}")
_PLAIN_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _fits(n: int) -> bool:
    return MIN <= n <= MAX


def _int_text_traps(s: str) -> bool:
    return not (_PLAIN_INT.fullmatch(s) and _fits(int(s)))


def _float_text_traps(s: str) -> bool:
    return not _PLAIN_FLOAT.fullmatch(s)


def _float_str_traps(x: float) -> bool:
    return math.isnan(x) or (x != 0 and abs(x) < 1e-4)


def _round_traps(x: float) -> bool:
    return not math.isfinite(x) or not _fits(round(x))


def _round_n_traps(n: int):
    """Rows where x * 10**n is within a few ulps of a .5, or too large to hold a fraction."""

    def traps(x: float) -> bool:
        if not math.isfinite(x) or abs(x) >= 2.0**52:
            return False
        scaled = x * 10.0**n
        if abs(scaled) >= 2.0**52:
            return True
        exact = Fraction(x) * 10**n
        half = math.floor(exact) + Fraction(1, 2)
        return (
            abs(exact - half) <= abs(Fraction(scaled)) * Fraction(1, 2**49)
            or scaled - math.floor(scaled) == 0.5
        )

    return traps


def _non_ascii(s: str) -> bool:
    return not s.isascii()


def never(x) -> bool:
    return False


# ---------------------------------------------------------------------------- cases


def _parse_record(line):
    """A PySpark-style parser: an if statement guards the index and the int() parse."""
    parts = line.split(",")
    if len(parts) < 2 or not parts[1]:
        return ("bad", 0)
    return (parts[0], int(parts[1]))


def _grade(x):
    if x >= 90:
        return "A"
    elif x >= 80:
        return "B"
    return "C"


MAP_CASES = [
    # int() and float() of strings
    (lambda s: int(s), STR, number_texts, _int_text_traps),
    (lambda s: float(s), STR, number_texts, _float_text_traps),
    (lambda s: int(s) + 1, STR, number_texts, lambda s: _int_text_traps(s) or int(s) == MAX),
    (
        lambda kv: (kv.split(" ")[0], int(kv.split(" ")[-1])),
        STR,
        number_texts.map(lambda v: "k1 " + v),
        lambda s: _int_text_traps(s[3:]),
    ),
    # conversions of numbers
    (lambda x: int(x), INT, ints, never),
    (lambda x: int(x), BOOL, st.booleans(), never),
    (lambda x: int(x), FLOAT, floats, lambda x: not math.isfinite(x) or not _fits(int(x))),
    (lambda x: float(x), INT, ints, never),
    (lambda x: float(x), BOOL, st.booleans(), never),
    (lambda x: str(x), INT, ints, never),
    (lambda x: str(x), FLOAT, floats, _float_str_traps),
    (lambda x: str(x), BOOL, st.booleans(), never),
    (lambda x: bool(x), FLOAT, floats, never),
    (lambda s: bool(s), STR, texts, never),
    (lambda x: abs(x), INT, ints, lambda x: x == MIN),
    (lambda x: abs(x), FLOAT, floats, never),
    # round
    (lambda x: round(x), INT, ints, never),
    (lambda x: round(x, 3), INT, ints, never),
    (lambda x: round(x), FLOAT, floats, _round_traps),
    (lambda x: round(x, 0), FLOAT, floats, _round_n_traps(0)),
    (lambda x: round(x, 2), FLOAT, floats, _round_n_traps(2)),
    (lambda x: round(x, 5), FLOAT, floats, _round_n_traps(5)),
    # lengths, reversal, str methods
    (lambda s: len(s), STR, texts, never),
    (lambda s: len(s.split()), STR, texts, never),
    (lambda s: s[::-1], STR, texts, never),
    (lambda s: s.split(" ")[::-1], STR, texts, never),
    (lambda s: s.casefold(), STR, texts, _non_ascii),
    (lambda s: s.startswith("a"), STR, texts, never),
    (lambda s: s.endswith(("b", "ß")), STR, texts, never),
    (lambda s: s.find("a"), STR, texts, never),
    (lambda s: s.find(""), STR, texts, never),
    (lambda s: s.find("ß"), STR, texts, never),
    (lambda s: s.count("a"), STR, texts, never),
    (lambda s: s.count(""), STR, texts, never),
    # membership in a constant tuple
    (lambda s: s in ("a", "b", ""), STR, texts, never),
    (lambda x: x in (1, 2, MAX), INT, ints, never),
    (lambda x: x in (0.0, 1.5), FLOAT, floats, never),
    (lambda x: x not in (0, 7), INT, ints, never),
    # f-strings
    (lambda x: f"{x}!", INT, ints, never),
    (lambda s: f"<{s}>", STR, texts, never),
    (lambda x: (f"k{x}", x), INT, ints, never),
    (lambda b: f"{b}", BOOL, st.booleans(), never),
    (lambda x: f"x={x}", FLOAT, floats, _float_str_traps),
    (lambda s: f"{s.split(' ')[0]}:{len(s)}", STR, texts, never),
    # conditional expressions, and/or
    (lambda x: "pos" if x > 0 else "neg", INT, ints, never),
    (lambda x: x if x >= 0 else -x, INT, ints, lambda x: x == MIN),
    (lambda x: 1000 // x if x != 0 else 0, INT, ints, never),
    (lambda s: len(s) if s else -1, STR, texts, never),
    (lambda s: s and s[0], STR, texts, never),
    (lambda s: s or "empty", STR, texts, never),
    (lambda x: x > 0 and x < 10, INT, ints, never),
    (lambda x: 0 < x < 10, INT, ints, never),
    (lambda x: 0.0 if x != x else x, FLOAT, floats, never),
    (lambda x: not x, FLOAT, floats, never),
    (
        _parse_record,
        STR,
        st.tuples(texts, number_texts).map(",".join),
        lambda s: len(s.split(",")) >= 2 and s.split(",")[1] != "" and _int_text_traps(s.split(",")[1]),
    ),
    (_grade, INT, ints, never),
    # min/max of several arguments
    (lambda x: max(x, 0, -x), INT, ints, lambda x: x == MIN),
    (lambda x: min(x, 10, 5), INT, ints, never),
    (lambda x: min(x, -x, 0.0), FLOAT, floats, never),
    (lambda x: max(0.0, x, -0.0), FLOAT, floats, never),
    (lambda s: max(s, "m", s.upper()), STR, texts, _non_ascii),
]


def _ids(cases) -> list[str]:
    return [f"{case[1]}-{i}" for i, case in enumerate(cases)]


@pytest.mark.parametrize("fn, dtype, values, may_trap", MAP_CASES, ids=_ids(MAP_CASES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_compiled_matches_python(fn, dtype, values, may_trap, data):
    xs = data.draw(st.lists(values, max_size=6))
    _check(fn, xs, dtype, may_trap)
    for x in xs:  # one row at a time too: a trap must not hide behind another row's trap
        _check(fn, [x], dtype, may_trap)


FILTER_CASES = [
    (lambda s: s in ("a", "b"), STR, texts),
    (lambda x: 0 < x < 10, INT, ints),
    (lambda s: s.startswith("a") or s.endswith("b"), STR, texts),
    (lambda x: round(x) % 2 == 0 if abs(x) < 1e15 else False, FLOAT, floats),
    (lambda s: f"{s}", STR, texts),
    (lambda s: s[::-1] == s, STR, texts),
]


@pytest.mark.parametrize("fn, dtype, values", FILTER_CASES, ids=_ids(FILTER_CASES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_filter_matches_python(fn, dtype, values, data):
    xs = data.draw(st.lists(values, max_size=6))
    predicate = trace_filter(fn, Column("value", dtype))
    assert predicate is not None
    expected = [x for x in xs if fn(x)]
    got = pl.DataFrame({"value": xs}, schema={"value": dtype}).filter(predicate)["value"].to_list()
    assert _same(expected, got)


# ---------------------------------------------------------------------------- exact traps


def test_int_of_text_traps_on_what_python_reads_differently():
    parse = trace_map(lambda s: int(s), Column("value", STR)).exprs[0]

    def run(xs):
        return pl.DataFrame({"value": xs}).select(parse).to_series().to_list()

    assert run(["1", "-0", "+5", "007", str(MAX), str(MIN)]) == [1, 0, 5, 7, MAX, MIN]
    for odd in [" 1", "1_0", "٣", str(MAX + 1), "0" * 21 + "1", "x", ""]:
        with pytest.raises(pl.exceptions.InvalidOperationError):
            run(["1", odd])


def test_round_to_digits_traps_near_ties():
    traced = trace_map(lambda x: round(x, 2), Column("value", FLOAT)).exprs[0]

    def run(xs):
        return pl.DataFrame({"value": xs}).select(traced).to_series().to_list()

    assert run([0.1234, -0.001, 1.006]) == [0.12, -0.0, 1.01]
    for near_tie in [2.675, 0.125, 1.005]:  # Python: 2.67, 0.12, 1.0 (the binary value decides)
        with pytest.raises(pl.exceptions.InvalidOperationError):
            run([near_tie])


def test_format_only_for_fstring_fields():
    refused = [
        lambda s: "{}".format(s),  # noqa: UP032
        lambda s: f"{s}".upper(),
        lambda s: len(f"{s}"),
        lambda s: f"{s}" == "a",
        lambda s: f"{s:>4}",
        lambda s: f"{s!r}",
        lambda s: f"{s}"[0],
        lambda s: [f"{s}"],
        lambda s: "\U0010fffe0\U0010ffff" + s,
    ]
    for fn in refused:
        assert trace_map(fn, Column("value", STR)) is None, fn


def test_reverse_is_by_code_point():
    reverse = trace_map(lambda s: s[::-1], Column("value", STR)).exprs[0]
    xs = ["e\u0301x", "a\r\nb", "🇫🇷", ""]
    assert pl.DataFrame({"value": xs}).select(reverse).to_series().to_list() == [x[::-1] for x in xs]


def test_branches_are_bounded():
    many = lambda x: x in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
    assert trace_map(many, Column("value", INT)) is None
    nine = lambda x: x in (1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert trace_map(nine, Column("value", INT)) is not None


# ---------------------------------------------------------------------------- whole pipelines


def _root(error: BaseException) -> BaseException:
    while isinstance(error, BatchError) and error.__cause__ is not None:
        error = error.__cause__
    return error


def _pipeline(build, batches: list[list], nparts: int, compiled: bool):
    """Per batch: the collected elements, or the type of the exception the batch raised."""
    old = set_compilation(compiled)
    sc = SparkContext(f"local[{nparts}]", "builtins")
    clock = ManualClock()
    ssc = StreamingContext(sc, 1, clock=clock)
    out: list = []
    try:
        queue = [sc.parallelize(batch, nparts) for batch in batches]
        stream = build(ssc.queueStream(queue, oneAtATime=True))

        def collect(rdd):
            out.append(rdd.collect())

        stream.foreachRDD(collect)
        ssc.start()
        for i in range(len(batches)):
            failure = None
            try:
                clock.advance(1)
                ssc.awaitTerminationOrTimeout(0)
            except BatchError as error:
                failure = error
            if len(out) == i:  # the batch failed: no output, an error
                assert failure is not None
                out.append(type(_root(failure)))
    finally:
        try:
            ssc.stop()
        except BatchError:
            pass  # already recorded above
        set_compilation(old)
    return out


def _reference(fn, batches):
    """What Python gives per batch: the mapped list, or the exception type."""
    out = []
    for batch in batches:
        try:
            out.append([fn(x) for x in batch])
        except Exception as exc:
            out.append(type(exc))
    return out


PIPELINE_CASES = [case for case in MAP_CASES if case[1] in (STR, INT, FLOAT)][::3]


@pytest.mark.parametrize("fn, dtype, values, may_trap", PIPELINE_CASES, ids=_ids(PIPELINE_CASES))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_map_pipelines_match_python_on_both_paths(fn, dtype, values, may_trap, data):
    batches = [data.draw(st.lists(values, max_size=5)) for _ in range(2)]
    batches[0] = batches[0] or [data.draw(values)]
    expected = _reference(fn, batches)
    for compiled in (True, False):
        for nparts in (1, 2, 3):
            got = _pipeline(lambda s: s.map(fn), batches, nparts, compiled)
            assert len(got) == len(expected)
            for e, g in zip(expected, got):
                assert (e is g) if isinstance(e, type) else _same(e, g), (compiled, nparts, batches, e, g)


def test_spark_style_parse_compiles_and_raises_like_python():
    lines = [["k1 10", "k2 -3", "k1 5"], ["k3 ٣", "k1 1_0"], ["k1 x"]]

    def build(s):
        return (
            s.map(lambda line: line.split(" "))
            .map(lambda kv: (kv[0], int(kv[1])))
            .reduceByKey(lambda a, b: a + b)
        )

    for compiled in (True, False):
        for nparts in (1, 2, 3):
            got = _pipeline(build, lines, nparts, compiled)
            assert sorted(got[0]) == [("k1", 15), ("k2", -3)]
            assert sorted(got[1]) == [("k1", 10), ("k3", 3)]
            assert got[2] is ValueError
    parse = trace_map(lambda kv: (kv[0], int(kv[1])), Column("value", pl.List(STR)))
    assert parse is not None and parse.dtypes == (STR, INT)
