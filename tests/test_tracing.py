"""Tests for dstreams.tracing: what compiles, what must not, and that compiled = Python.

The property tests run each representative function both ways on generated data (unicode text
with odd whitespace, ints near +-2**63, floats with nan/inf/-0.0).  The compiled path must give
exactly Python's result, raise where Python raises, and may raise otherwise only where the
function hits a documented limit (an Int64 overflow Python ints would survive, ...).
"""

import functools
import math
import operator
from operator import add

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstreams.tracing import (
    Column,
    Reducer,
    Traced,
    fallback_hint,
    trace_filter,
    trace_flat_map,
    trace_map,
    trace_reduce,
)

STR, INT, FLOAT, BOOL = pl.String(), pl.Int64(), pl.Float64(), pl.Boolean()
MIN, MAX = -(2**63), 2**63 - 1
RAISES = "<raises>"
SEP = ","  # a module-level constant a traced function may read

# ---------------------------------------------------------------------------- data


def _fits(n: int) -> bool:
    return MIN <= n <= MAX


_SPECIAL_INTS = [0, 1, -1, 2, -2, 3, -3, 7, 2**31, 2**53, 2**53 + 1, -(2**53) - 1, 2**62,
                 MAX, MAX - 1, MIN, MIN + 1, 3037000499, -3037000500]  # fmt: skip
ints = st.one_of(st.integers(-1000, 1000), st.integers(MIN, MAX), st.sampled_from(_SPECIAL_INTS))
_SPECIAL_FLOATS = [0.0, -0.0, math.nan, math.inf, -math.inf, 0.5, -2.5, 3.0, 2.0**53, 2.0**63,
                   -(2.0**63), 1e308, 5e-324]  # fmt: skip
floats = st.one_of(st.floats(), st.sampled_from(_SPECIAL_FLOATS))
_CHARS = list(" ,ab\t\n\x0b\x1c\x1f\x85\xa0\u1680\u2028\u3000\u200bAéΣßİ")
texts = st.text(st.one_of(st.sampled_from(_CHARS), st.characters(codec="utf-8")), max_size=10)
DATA = {STR: texts, INT: ints, FLOAT: floats, BOOL: st.booleans()}


def _same(a: object, b: object) -> bool:
    """Exact equality that tells 0.0 from -0.0, 1 from True, and treats nan as nan."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def _python(fn, data):
    try:
        return fn(data)
    except Exception:
        return RAISES


def _collect(lazy: pl.LazyFrame):
    try:
        return lazy.collect()
    except pl.exceptions.PolarsError:
        return RAISES


def _frame(data, dtype) -> pl.LazyFrame:
    return pl.DataFrame({"value": data}, schema={"value": dtype}).lazy()


def _rows(out: pl.DataFrame) -> list:
    columns = [out[name].to_list() for name in out.columns]
    return columns[0] if len(columns) == 1 else [tuple(row) for row in zip(*columns)]


def _check(expected, got, may_raise: bool) -> None:
    if expected is RAISES:
        assert got is RAISES, f"Python raised, compiled gave {got!r}"
    elif got is RAISES:
        assert may_raise, f"compiled raised, Python gave {expected!r}"
    else:
        assert _same(expected, got), f"{expected!r} != {got!r}"


def run_map(fn, data, dtype):
    traced = trace_map(fn, Column("value", dtype))
    assert traced is not None
    out = _collect(_frame(data, dtype).select(e.alias(f"c{i}") for i, e in enumerate(traced.exprs)))
    return out if out is RAISES else _rows(out)


def run_flat_map(fn, data, dtype):
    traced = trace_flat_map(fn, Column("value", dtype))
    assert traced is not None
    names = [f"c{i}" for i in range(len(traced.exprs))]
    lazy = _frame(data, dtype).select(e.alias(n) for n, e in zip(names, traced.exprs))
    out = _collect(lazy.explode(names))
    return out if out is RAISES else _rows(out)


def run_filter(fn, data, dtype):
    predicate = trace_filter(fn, Column("value", dtype))
    assert predicate is not None
    out = _collect(_frame(data, dtype).filter(predicate))
    return out if out is RAISES else out["value"].to_list()


# ---------------------------------------------------------------------------- property tests
# (function, element dtype, "may the compiled path raise for this element?" or None)

MAP_CASES = [
    (lambda x: x + 1, INT, lambda x: not _fits(x + 1)),
    (lambda x: 5 - x, INT, lambda x: not _fits(5 - x)),
    (lambda x: x * 3, INT, lambda x: not _fits(x * 3)),
    (lambda x: x * x, INT, lambda x: not _fits(x * x)),
    (lambda x: -x, INT, lambda x: not _fits(-x)),
    (lambda x: abs(x), INT, lambda x: not _fits(abs(x))),
    (lambda x: ~x, INT, None),
    (lambda x: x & 255 | 1024 ^ x, INT, None),
    (lambda x: x // 3, INT, None),
    (lambda x: x // -7, INT, None),
    (lambda x: x % 3, INT, None),
    (lambda x: x % -7, INT, None),
    (lambda x: 100 // x, INT, None),
    (lambda x: -(2**63) // x, INT, lambda x: not _fits(MIN // x)),
    (lambda x: 7 % x, INT, None),
    (lambda x: x / 3, INT, lambda x: abs(x) > 2**53),
    (lambda x: 1 / x, INT, lambda x: abs(x) > 2**53),
    (lambda x: x / 2.5, INT, None),
    (lambda x: x + 0.5, INT, None),
    (lambda x: x > 0, INT, None),
    (lambda x: 3 == x, INT, None),
    (lambda x: x <= -(2**62), INT, None),
    (lambda x: x < 2.5, INT, None),
    (lambda x: x >= -2.5, INT, None),
    (lambda x: x == 2.0**53, INT, None),
    (lambda x: x != 0.5, INT, None),
    (lambda x: x < 2**70, INT, None),
    (lambda x: x == "a", INT, None),
    (lambda x: max(x, 0), INT, None),
    (lambda x: min(x, 10, -x), INT, lambda x: not _fits(-x)),
    (lambda x: str(x), INT, None),
    (lambda x: float(x), INT, None),
    (lambda x: int(x), INT, None),
    (lambda x: bool(x), INT, None),
    (lambda x: (x % 10, x), INT, None),
    (lambda x: (str(x), 1), INT, None),
    (lambda x: [x, 1], INT, None),
    (lambda x: 7, INT, None),
    (lambda x: x + 1, FLOAT, None),
    (lambda x: x + 3**40, FLOAT, None),
    (lambda x: x * 2.5 - x, FLOAT, None),
    (lambda x: x / 3, FLOAT, None),
    (lambda x: 1 / x, FLOAT, None),
    (lambda x: -x, FLOAT, None),
    (lambda x: abs(x), FLOAT, None),
    (lambda x: x > 1.0, FLOAT, None),
    (lambda x: x == x, FLOAT, None),
    (lambda x: x != x, FLOAT, None),
    (lambda x: x < 0, FLOAT, None),
    (lambda x: x >= -0.0, FLOAT, None),
    (lambda x: x == 3, FLOAT, None),
    (lambda x: max(x, 0.0), FLOAT, None),
    (lambda x: min(0.0, x), FLOAT, None),
    (lambda x: max(x, -x), FLOAT, None),
    (lambda x: int(x), FLOAT, lambda x: math.isfinite(x) and not _fits(int(x))),
    (lambda x: float(x), FLOAT, None),
    (lambda x: bool(x), FLOAT, None),
    (lambda x: x + 0, FLOAT, None),  # signed zeros: -0.0 + 0 is 0.0
    (lambda x: 0.0 + x, FLOAT, None),
    (lambda x: x + -0.0, FLOAT, None),
    (lambda x: 0 - x, FLOAT, None),  # 0 - 0.0 is 0.0, not -0.0
    (lambda x: -0.0 - x, FLOAT, None),
    (lambda x: x - -0.0, FLOAT, None),
    (lambda x: x - 0, FLOAT, None),
    (lambda x: 0.0 - x, INT, None),
    (lambda s: s.strip(), STR, None),
    (lambda s: s.lstrip(), STR, None),
    (lambda s: s.rstrip(" a"), STR, None),
    (lambda s: s.strip(""), STR, None),
    (lambda s: s.strip("\x1cé,"), STR, None),
    (lambda s: s.split(" ")[0], STR, None),
    (lambda s: s.split(SEP)[-1], STR, None),
    (lambda s: s.split(",")[1], STR, None),
    (lambda s: s.split()[0], STR, None),
    (lambda s: s.split(), STR, None),
    (lambda s: s.split(" ")[1:], STR, None),
    (lambda s: s.split("aa"), STR, None),
    (lambda s: s.split(sep=", "), STR, None),
    (lambda s: s.replace("aa", "a"), STR, None),
    (lambda s: s.split()[-2:], STR, None),
    (lambda s: len(s), STR, None),
    (lambda s: len(s.split()), STR, None),
    (lambda s: s + "!", STR, None),
    (lambda s: "<" + s + s.strip() + ">", STR, None),
    (lambda s: s[0], STR, None),
    (lambda s: s[-1], STR, None),
    (lambda s: s[1:3], STR, None),
    (lambda s: s[-3:], STR, None),
    (lambda s: s[:-2], STR, None),
    (lambda s: s[-5:-1], STR, None),
    (lambda s: s[2:], STR, None),
    (lambda s: s.startswith("a"), STR, None),
    (lambda s: s.endswith(("b", " ")), STR, None),
    (lambda s: s.replace("a", "x$1\\"), STR, None),
    (lambda s: s.replace(" ", ""), STR, None),
    (lambda s: s.count("a"), STR, None),
    (lambda s: s.count(""), STR, None),
    (lambda s: s.count("aa"), STR, None),
    (lambda s: s.lower(), STR, lambda s: not s.isascii()),
    (lambda s: s.upper(), STR, lambda s: not s.isascii()),
    (lambda s: s == "a", STR, None),
    (lambda s: s < "b", STR, None),
    (lambda s: max(s, "m"), STR, None),
    (lambda s: min(s, s.strip()), STR, None),
    (lambda s: str(s), STR, None),
    (lambda s: bool(s), STR, None),
    (lambda s: "a" in s, STR, None),
    (lambda s: 1 if " " in s else 2, STR, None),
    (lambda s: s.strip() if "a" not in s else s + "?", STR, None),
    (lambda s: "a" in s.split(), STR, None),
    (lambda s: (s, len(s)), STR, None),
    (lambda s: (s.split(",")[0], 1), STR, None),
    (lambda b: str(b), BOOL, None),
    (lambda b: int(b), BOOL, None),
    (lambda b: b == False, BOOL, None),  # noqa: E712
    (lambda b: (b, 1.5), BOOL, None),
    (lambda b: b & True, BOOL, None),
]


def _ids(cases) -> list[str]:
    return [f"{case[1]}-{i}" for i, case in enumerate(cases)]


@pytest.mark.parametrize("fn, dtype, may_raise", MAP_CASES, ids=_ids(MAP_CASES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_map_matches_python(fn, dtype, may_raise, data):
    values = data.draw(st.lists(DATA[dtype], max_size=6))
    expected = _python(lambda xs: [fn(x) for x in xs], values)
    limit = may_raise is not None and any(_python(may_raise, x) is True for x in values)
    _check(expected, run_map(fn, values, dtype), limit)


FLAT_MAP_CASES = [
    (lambda s: s.split(" "), STR),
    (lambda s: s.split(), STR),
    (lambda s: s.split(","), STR),
    (lambda s: [s, s.strip()], STR),
    (lambda s: (s, "x"), STR),
    (lambda s: s.split() + ["END"], STR),  # noqa: RUF005
    (lambda s: [s] + s.split("a"), STR),  # noqa: RUF005
    (lambda s: [(s, 1), (s.strip(), 2)], STR),
    (lambda s: [len(s), 1], STR),
    (lambda s: s.split()[1:], STR),
    (lambda s: s.split(" ") if "a" in s else [s], STR),
    (lambda x: [x, x // 2], INT),
    (lambda x: (x, -x), INT),
    (lambda x: [(x, 1), (x % 3, 2)], INT),
]


@pytest.mark.parametrize("fn, dtype", FLAT_MAP_CASES, ids=_ids(FLAT_MAP_CASES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_flat_map_matches_python(fn, dtype, data):
    values = data.draw(st.lists(DATA[dtype], max_size=6))
    expected = _python(lambda xs: [y for x in xs for y in fn(x)], values)
    limit = any(not _fits(-x) for x in values if isinstance(x, int))
    _check(expected, run_flat_map(fn, values, dtype), limit)


FILTER_CASES = [
    (lambda s: "a" in s, STR),
    (lambda s: "a" not in s, STR),
    (lambda s: "a" in s or ", " in s, STR),
    (lambda s: "a" in s and "b" not in s, STR),
    (lambda s: s, STR),
    (lambda s: s.strip(), STR),
    (lambda s: s.split(), STR),
    (lambda s: s.startswith(("a", "\x1c")), STR),
    (lambda s: len(s) > 2, STR),
    (lambda s: operator.not_(s.strip()), STR),
    (lambda s: s.split(",")[1] == "b", STR),
    (lambda x: x > 0, INT),
    (lambda x: x % 2 == 0, INT),
    (lambda x: x, INT),
    (lambda x: x - 3, INT),
    (lambda x: 10 // x, INT),
    (lambda x: x, FLOAT),
    (lambda x: x > 0.5, FLOAT),
    (lambda x: x != x, FLOAT),
    (lambda x: x == 0, FLOAT),
    (lambda x: True, FLOAT),
    (lambda b: b, BOOL),
    (lambda b: operator.not_(b), BOOL),
]


@pytest.mark.parametrize("fn, dtype", FILTER_CASES, ids=_ids(FILTER_CASES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_filter_matches_python(fn, dtype, data):
    values = data.draw(st.lists(DATA[dtype], max_size=6))
    expected = _python(lambda xs: [x for x in xs if fn(x)], values)
    limit = any(isinstance(x, int) and not _fits(x - 3) for x in values)
    _check(expected, run_filter(fn, values, dtype), limit)


def _product_limit(xs) -> bool:
    return sum(math.log2(abs(x)) for x in xs if x) > 125 or not _fits(math.prod(xs))


moderate = st.floats(-1e100, 1e100)
REDUCE_CASES = [
    (lambda a, b: a + b, INT, ints, "sum"),
    (lambda a, b: b + a, INT, ints, "sum"),
    (operator.add, INT, ints, "sum"),
    (lambda a, b: a * b, INT, st.integers(-(2**40), 2**40), "product"),
    (max, INT, ints, "max"),
    (lambda a, b: min(b, a), INT, ints, "min"),
    (lambda a, b: a + b, FLOAT, st.one_of(moderate, st.just(math.nan)), "sum"),
    (lambda a, b: a * b, FLOAT, st.floats(-10, 10), "product"),
    (max, FLOAT, floats, "max"),
    (lambda a, b: max(a, b), FLOAT, floats, "max"),
    (min, FLOAT, floats, "min"),
    (lambda a, b: a + b, STR, texts, "concat"),
    (add, STR, texts, "concat"),
    (lambda a, b: max(a, b), STR, texts, "max"),
    (min, STR, texts, "min"),
    (lambda a, b: a | b, BOOL, st.booleans(), "max"),
    (lambda a, b: min(a, b), BOOL, st.booleans(), "min"),
]


def _close(expected, got) -> bool:
    if isinstance(expected, float) and not math.isnan(expected):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-300)
    return _same(expected, got)


@pytest.mark.parametrize("fn, dtype, values, name", REDUCE_CASES, ids=_ids(REDUCE_CASES))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_reduce_matches_python(fn, dtype, values, name, data):
    reducer = trace_reduce(fn, dtype)
    assert reducer is not None and reducer.name == name
    xs = data.draw(st.lists(values, min_size=1, max_size=8))
    ks = data.draw(st.lists(st.sampled_from("ab"), min_size=len(xs), max_size=len(xs)))
    groups: dict[str, list] = {}
    for k, x in zip(ks, xs):
        groups.setdefault(k, []).append(x)
    limit = dtype == INT and any(not _fits(sum(g)) or _product_limit(g) for g in [xs, *groups.values()])
    whole = _collect(_frame(xs, dtype).select(reducer.agg(pl.col("value"))))
    by_key = _collect(
        pl.LazyFrame({"key": ks, "value": xs}, schema={"key": STR, "value": dtype})
        .group_by("key", maintain_order=True)
        .agg(reducer.agg(pl.col("value")))
    )
    if whole is RAISES or by_key is RAISES:
        assert limit
        return
    compare = _close if name in ("sum", "product") else _same
    assert compare(functools.reduce(fn, xs), whole.item())
    for k, v in by_key.rows():
        assert compare(functools.reduce(fn, groups[k]), v), (k, groups[k], v)


# ---------------------------------------------------------------------------- unit tests


def test_word_count_pipeline():
    lines = _frame(["to be or", "not to be", ""], STR)
    words = trace_flat_map(lambda line: line.split(" "), Column("value", STR))
    pairs = trace_map(lambda w: (w, 1), Column("value", STR))
    total = trace_reduce(lambda a, b: a + b, INT)
    assert words.dtypes == (pl.List(STR),)
    assert pairs.dtypes == (STR, INT)
    assert total == Reducer("sum", INT)
    exploded = lines.select(words.exprs[0].alias("value")).explode("value")
    counted = (
        exploded.select(pairs.exprs[0].alias("key"), pairs.exprs[1].alias("value"))
        .group_by("key")
        .agg(total.agg(pl.col("value")))
        .collect()
    )
    assert dict(counted.rows()) == {"to": 2, "be": 2, "or": 1, "not": 1, "": 1}


def test_pairs():
    pair = (Column("key", STR), Column("value", INT))
    frame = pl.LazyFrame({"key": ["a", "b"], "value": [1, -5]})

    def run(fn):
        traced = trace_map(fn, pair)
        assert isinstance(traced, Traced)
        return traced, _rows(frame.select(e.alias(f"c{i}") for i, e in enumerate(traced.exprs)).collect())

    swapped, rows = run(lambda kv: (kv[1], kv[0]))
    assert swapped.dtypes == (INT, STR) and rows == [(1, "a"), (-5, "b")]
    assert run(lambda kv: kv[1] * 2)[1] == [2, -10]
    assert run(operator.itemgetter(0))[1] == ["a", "b"]

    def unpack(kv):
        k, v = kv
        return (k + "!", max(v, 0))

    assert run(unpack)[1] == [("a!", 1), ("b!", 0)]


def test_known_callables_and_globals():
    def ok(fn, element=STR):
        return trace_map(fn, Column("value", element)) is not None

    assert ok(str.strip) and ok(len) and ok(str.upper) and ok(lambda s: str.lower(s))
    assert ok(str, INT) and ok(abs, INT) and ok(operator.neg, INT) and ok(float, INT)
    assert ok(lambda s: s.split(SEP))
    assert trace_flat_map(str.split, Column("value", STR)) is not None
    assert trace_reduce(lambda a, b: operator.add(a, b), INT).name == "sum"
    assert trace_reduce(lambda a, b: add(a, b), FLOAT).name == "sum"
    assert trace_reduce(operator.mul, INT).name == "product"

    def make(sep, n):
        return lambda s: s.split(sep)[n]

    assert ok(make(";", -1))


def test_reduce_not_recognised():
    for fn, dtype in [
        (lambda a, b: a - b, INT),
        (lambda a, b: a + b + 1, INT),
        (lambda a, b: b + a, STR),  # reversed concatenation
        (lambda a, b: max(b, a), FLOAT),  # keeps the last of equal values
        (lambda a, b: a if a > b else b, INT),
        (lambda a, b: a + b, BOOL),
        (operator.add, pl.Datetime()),
        (lambda a, b: print(a) or a, INT),
    ]:
        assert trace_reduce(fn, dtype) is None


LOG: list = []
COUNTER = 0


def helper(x):
    LOG.append(x)
    return x


def test_not_compiled(capsys):
    closed_over = []
    allowed = ["a", "b"]

    def loop(s):
        n = 0
        for _ in s:
            n += 1
        return n

    def spin(x):
        while True:
            pass

    def bump(x):
        global COUNTER
        COUNTER += 1
        return x

    def set_attr(x):
        x.seen = True
        return x

    def gen(x):
        yield x

    def guarded(x):
        try:
            return x + 1
        except TypeError:
            return 0

    def default_list(x, acc=[]):
        acc.append(x)
        return x

    def counter():
        n = 0

        def inc(x):
            nonlocal n
            n += 1
            return x

        return inc

    refused_str = [
        lambda s: [w for w in s.split()],
        loop,
        lambda s: print(s) or s,
        lambda s: helper(s),
        lambda s: LOG.append(s),
        lambda s: closed_over.append(s),
        lambda s: s in allowed,
        lambda s: s.title(),
        lambda s: s.split(",", 1),
        lambda s: s.split(""),
        lambda s: f"<{s}>".upper(),
        lambda s: "%s!" % s,  # noqa: UP031
        lambda s: "{}".format(s),  # noqa: UP032
        lambda s: hash(s),
        lambda s: list(s),
        lambda s: s.__class__,
        lambda s: s[::2],
        lambda s: s * 2,
        lambda s: s.isdigit(),
        lambda s: {s: 1},
        lambda s: (lambda: s)(),
        bump,
        set_attr,
        gen,
        counter(),
        default_list,
        str.title,
    ]
    refused_int = [
        lambda x: [1, 2][x > 0],
        lambda x: x**2,
        lambda x: x // 0,
        lambda x: x + 2**64,
        lambda x: math.sqrt(x),
        spin,
        guarded,
    ]
    refused_float = [lambda x: f"{x:.2f}", lambda x: x // 2, lambda x: x % 2.0, lambda x: x > 2**60]
    for fn in refused_str:
        assert trace_map(fn, Column("value", STR)) is None, fn
        assert trace_filter(fn, Column("value", STR)) is None, fn
    for fn in refused_int:
        assert trace_map(fn, Column("value", INT)) is None, fn
    for fn in refused_float:
        assert trace_map(fn, Column("value", FLOAT)) is None, fn
    assert trace_flat_map(lambda s: s, Column("value", STR)) is None  # iterates characters
    assert trace_flat_map(lambda s: [], Column("value", STR)) is None
    assert trace_map(lambda s: (s, s, s), Column("value", STR)) is None
    assert trace_map(lambda s: None, Column("value", STR)) is None
    # Nothing ran for real while tracing.
    assert LOG == [] and closed_over == [] and COUNTER == 0
    assert capsys.readouterr().out == ""


def test_proxies_never_become_plain_values():
    from dstreams.tracing import _Sym, _Trace, _Unsupported

    proxy = _Sym(pl.col("value"), STR, _Trace(()))
    probes = [iter, len, hash, operator.index, str, repr, int, float, "{}".format, format, reversed]
    for probe in probes:
        with pytest.raises(_Unsupported):
            probe(proxy)

    def unpack(s):
        a, _b = s
        return a

    assert trace_map(unpack, Column("value", STR)) is None


def test_branch_results_must_agree():
    assert trace_map(lambda s: 1 if "a" in s else "one", Column("value", STR)) is None
    assert trace_map(lambda s: 1 if "a" in s else 1.0, Column("value", STR)) is None
    six = " ".join("abcdef")
    many = lambda s: ("a" in s) + ("b" in s) + ("c" in s) + ("d" in s) + ("e" in s) + ("f" in s)
    assert many(six) == 6 and trace_map(many, Column("value", STR)) is None


def test_in_test_branches_give_one_predicate():
    predicate = trace_filter(lambda s: "ERROR" in s, Column("value", STR))
    assert predicate.meta.eq(pl.col("value").str.contains("ERROR", literal=True))


def test_overflow_raises_instead_of_wrapping():
    traced = trace_map(lambda x: x + 1, Column("value", INT))
    with pytest.raises(pl.exceptions.InvalidOperationError):
        _frame([1, MAX], INT).select(traced.exprs[0]).collect()
    assert _frame([1, MAX - 1], INT).select(traced.exprs[0]).collect().item(1, 0) == MAX
    total = trace_reduce(operator.add, INT)
    with pytest.raises(pl.exceptions.PolarsError):
        _frame([MAX, 1], INT).select(total.agg(pl.col("value"))).collect()
    assert _frame([MAX, 1, -2], INT).select(total.agg(pl.col("value"))).collect().item() == MAX - 1


def test_signed_zeros_survive_polars_shortcuts():
    # Polars returns x for x + 0.0 and -x for 0.0 - x from a few rows on: not IEEE for zeros.
    rows = [-0.0, 0.0, 1.0, -0.0]
    assert _same(run_map(lambda x: x + 0, rows, FLOAT), [0.0, 0.0, 1.0, 0.0])
    assert _same(run_map(lambda x: 0 - x, rows, FLOAT), [0.0, 0.0, -1.0, 0.0])
    assert _same(run_map(lambda x: 0.0 - x, [0, 1, 0], INT), [0.0, -1.0, 0.0])
    total = trace_reduce(add, FLOAT)  # Polars' sum starts from +0.0; Python's reduce does not
    for xs, want in [([-0.0], -0.0), ([-0.0] * 3, -0.0), ([-0.0, 0.0], 0.0), ([1.0, -1.0], 0.0)]:
        assert _same(_frame(xs, FLOAT).select(total.agg(pl.col("value"))).collect().item(), want)


def test_checks_are_kept_apart_for_the_engine():
    traced = trace_map(lambda x: 10 // x, Column("value", INT))
    assert traced.bad is not None and len(traced.unchecked) == 1
    assert _frame([1, 0], INT).select(traced.bad.any()).collect().item() is True
    assert _frame([1, 2], INT).select(traced.unchecked[0]).collect().to_series().to_list() == [10, 5]
    assert trace_map(lambda x: x * 2.5, Column("value", FLOAT)).bad is None


def test_untaken_branch_does_not_raise():
    # s.split(",")[1] is out of range only where the branch that uses it is not taken.
    fn = lambda s: s.split(",")[1] if "," in s else s
    assert run_map(fn, ["a,b", "c"], STR) == ["b", "c"]
    assert run_map(lambda s: s.split(",")[1], ["a,b", "c"], STR) is RAISES


def test_narrow_input_types_widen():
    traced = trace_map(lambda x: x * 2, Column("value", pl.Int32()))
    assert traced.dtypes == (INT,)
    out = pl.LazyFrame({"value": [2**31 - 1]}, schema={"value": pl.Int32}).select(traced.exprs[0])
    assert out.collect().item() == 2**32 - 2
    other = trace_map(lambda kv: (kv[1], kv[0]), (Column("key", pl.Date()), Column("value", STR)))
    assert other.dtypes == (STR, pl.Date())


def test_constant_results_fill_every_row():
    traced = trace_map(lambda x: 1, Column("value", STR))
    assert _frame(["a", "b", "c"], STR).select(traced.exprs[0]).collect().height == 3
    both = trace_flat_map(lambda x: [1, 2], Column("value", STR))
    assert run_flat_map(lambda x: [1, 2], ["a", "b"], STR) == [1, 2, 1, 2] and both is not None


def test_fallback_hint():
    expected = 'use .with_columns(pl.col("value").str.to_lowercase())'
    assert fallback_hint(lambda w: w.lower(), "map") == expected
    assert "pl.when" in fallback_hint(lambda x: 1 if x > 0 else 2, "map")
    assert "str.to_titlecase" in fallback_hint(lambda s: s.strip().title(), "filter")
    assert fallback_hint(print, "flatMap")
    assert "max(a, b)" in fallback_hint(lambda a, b: a - b, "reduceByKey")
    generic = fallback_hint(lambda x: helper(x), "map")
    assert "loops" in generic and "\n" not in generic
