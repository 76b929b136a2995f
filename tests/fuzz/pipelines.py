"""Random whole pipelines, run on the compiled and the Python path, compared batch by batch.

A pipeline is Python source: a few lines that build streams from ``queueStream`` sources with
lambdas written as text, so that a failing case prints as a test one can paste. The generators
draw through a small ``Chooser`` interface: hypothesis drives it in the test suite (so failures
shrink), a seeded ``random.Random`` drives the long runs of ``make fuzz`` (fast, and every case is
reproducible from its seed).

Types are tracked while generating, so most lambdas are well typed; a few are not on purpose
(``leaf of the wrong kind``), and some well-typed ones raise on some rows (``1 // x``, ``s[3]``,
``int(s)``, ``int(nan)``). Floats in the data are mostly multiples of 1/4, whose sums are exact in
any order; the others (0.1, 2.675, 1e16...) test str/round/repr, and after a reduction the
comparison allows a difference in the last bits (``differential.compare_batch``), never more.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

SCALARS = ("int", "float", "str", "bool")
KEY_KINDS = ("int", "str", "bool", "int", "str")  # float keys are rare (never compiled)
SIZES = (0, 1, 2, 3, 20, 1000)

# --------------------------------------------------------------------------- choosers


class Chooser:
    """Where the random decisions come from (hypothesis data or a seeded Random)."""

    def pick(self, options: Sequence[Any]) -> Any:
        raise NotImplementedError

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def chance(self, p: float) -> bool:
        return self.integer(0, 999) < p * 1000


class RandomChooser(Chooser):
    """Decisions from ``random.Random(seed)``: fast, no shrinking."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)


class HypothesisChooser(Chooser):
    """Decisions drawn from hypothesis' ``st.data()``: failures shrink to simple pipelines."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def pick(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def chance(self, p: float) -> bool:
        # integers shrink towards lo: a shrunk case takes the "no" branch
        return self.data.draw(self.st.integers(0, 999)) >= 1000 - p * 1000


# --------------------------------------------------------------------------- values


_INT_VALUES = (0, 1, -1, 2, 3, 7, -5, 10, 42, 2**31, 2**63 - 1, -(2**63), 2**53 + 1)
_FLOAT_VALUES = (0.0, -0.0, 0.5, 1.0, -1.0, 2.25, -7.75, 3.0, math.nan, math.inf, -math.inf, 1e308, 5e-324,
                 2.5, -0.5, 0.125, 2.675, 0.1, 1e16, 1e-05, 123456.789, 2.5e-07,
                 2.0**53)  # fmt: skip
_STR_VALUES = ("", "a", "b", "ab", "a,b", "x,y,z", " a ", "A b", "ß", "İ", "😀", "Straße", "1", "-3", " 7 ",
               "1_000", "٣", "inf", "nan", "2.5", "a b  c", "\x1c", "ǅ", "+1", "1e3", "0x10", " -0 ", "1__0",
               "١٢", "Infinity", "-nan", "1.", ".5", "1 2", "9223372036854775808", "ﬁ")  # fmt: skip


def scalar_value(ch: Chooser, kind: str) -> Any:
    if kind == "int":
        return ch.integer(-3, 12) if ch.chance(0.5) else ch.pick(_INT_VALUES)
    if kind == "float":
        return ch.integer(-12, 12) / 4 if ch.chance(0.5) else ch.pick(_FLOAT_VALUES)
    if kind == "str":
        return ch.pick(_STR_VALUES)
    return ch.pick((True, False))


def element(ch: Chooser, t: Any) -> Any:
    if isinstance(t, str):
        return scalar_value(ch, t)
    if t[0] == "opt":  # a side of an outer join
        return None if ch.chance(0.3) else element(ch, t[1])
    return (element(ch, t[1]), element(ch, t[2]))  # keys may be pairs (after countByValue)


def _odd_value(ch: Chooser, t: Any) -> Any:
    other = scalar_value(ch, ch.pick(SCALARS))
    if isinstance(t, str):
        return ch.pick((None, other))
    return ch.pick((None, (element(ch, t)[0], None), (other, element(ch, t)[1])))


def literal(value: Any) -> str:
    """Source text for a value (nan, inf and -0.0 included)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


@dataclass
class Source:
    """One queueStream: its element type and its batches, each given as source text."""

    name: str
    type: Any
    batches: list[str]  # Python expressions, each evaluating to a list


def gen_source(ch: Chooser, name: str, t: Any) -> Source:
    batches = []
    for _ in range(ch.integer(1, 4)):
        size = ch.pick(SIZES) if ch.chance(0.7) else ch.pick((0, 1, 2, 3))
        if size <= 3:
            values = [element(ch, t) for _ in range(size)]
            if values and ch.chance(0.05):  # None or another type: nullable or Python-object columns
                values[ch.integer(0, size - 1)] = _odd_value(ch, t)
            batches.append(literal(values))
        else:  # a palette cycled in a seeded order: short to print, many repeated keys
            palette = [element(ch, t) for _ in range(ch.integer(1, 5))]
            batches.append(f"random.Random({ch.integer(0, 9)}).choices({literal(palette)}, k={size})")
    return Source(name, t, batches)


# --------------------------------------------------------------------------- lambda grammar

_CONSTS = {
    "int": ("0", "1", "2", "3", "-1", "10", "9223372036854775807", "-9223372036854775808"),
    "float": ("0.0", "-0.0", "0.5", "1.5", "-2.25", "float('nan')", "float('inf')", "-float('inf')", "1e308"),
    "str": ('""', '"a"', '","', '" "', '"ß"', '"İ"', '"😀"', '"a,b"', '"1"'),
    "bool": ("True", "False"),
}
_SEPS = ('","', '" "', '"a"', '"ß"')


@dataclass
class Ctx:
    """What a lambda body can read: source text of each leaf, by kind."""

    leaves: dict[str, list[str]]


def leaf(ch: Chooser, ctx: Ctx, kind: str) -> str:
    if ch.chance(0.03):  # ill-typed on purpose: TypeError on both paths (or a surprise)
        others = [s for k, v in ctx.leaves.items() if k != kind for s in v]
        if others:
            return ch.pick(others)
    mine = ctx.leaves.get(kind, [])
    if mine and ch.chance(0.8):
        return ch.pick(mine)
    return ch.pick(_CONSTS[kind])


def expr(ch: Chooser, ctx: Ctx, kind: str, depth: int) -> str:
    if depth <= 0 or ch.chance(0.25):
        return leaf(ch, ctx, kind)
    producers = _PRODUCERS[kind]
    return ch.pick(producers)(ch, ctx, depth - 1)


def _p(template: str, *kinds: str) -> Callable[[Chooser, Ctx, int], str]:
    """A producer from a template: ``{0}``, ``{1}``... are sub-expressions of the given kinds;
    ``{c}`` a str constant, ``{s}`` a separator, ``{i}`` a small int, ``{o}`` an operator."""

    def produce(ch: Chooser, ctx: Ctx, depth: int) -> str:
        args = [expr(ch, ctx, k, depth) for k in kinds]
        return template.format(
            *args,
            c=ch.pick(_CONSTS["str"]),
            s=ch.pick(_SEPS),
            i=ch.pick(("0", "1", "-1", "2", "3")),
            j=ch.pick(("None", "0", "1", "-1", "2")),
        )

    return produce


def _op(ops: Sequence[str], a: str, b: str) -> Callable[[Chooser, Ctx, int], str]:
    def produce(ch: Chooser, ctx: Ctx, depth: int) -> str:
        return f"({expr(ch, ctx, a, depth)} {ch.pick(ops)} {expr(ch, ctx, b, depth)})"

    return produce


_CMP = ("<", "<=", ">", ">=", "==", "!=")
_PRODUCERS: dict[str, list[Callable[[Chooser, Ctx, int], str]]] = {
    "int": [
        _op(("+", "-", "*", "//", "%"), "int", "int"),
        _op(("+", "-", "*"), "int", "int"),
        _op(("+", "*"), "bool", "int"),
        _op(("&", "|", "^"), "int", "int"),
        _p("(-{0})", "int"), _p("abs({0})", "int"), _p("(~{0})", "int"),
        _p("len({0})", "str"), _p("len({0}.split({s}))", "str"), _p("{0}.count({c})", "str"),
        _p("{0}.find({c})", "str"),
        _p("int({0})", "float"), _p("int({0})", "str"), _p("int({0})", "bool"), _p("round({0})", "float"),
        _p("max({0}, {1})", "int", "int"), _p("min({0}, {1}, {2})", "int", "int", "int"),
        _p("({0} if {1} else {2})", "int", "bool", "int"),
        _p("(1 // {0})", "int"), _p("({0} % 3)", "int"), _p("({0} ** {i})", "int"),
        _p("({0} and {1})", "int", "int"), _p("len({0}.split())", "str"), _p("max({0}, {1})", "int", "float"),
    ],
    "float": [
        _op(("+", "-", "*", "/"), "float", "float"),
        _op(("+", "-", "*", "/"), "float", "int"),
        _op(("+", "-", "*", "/"), "int", "float"),
        _op(("/",), "int", "int"),
        _p("({0} + 0)", "float"), _p("(0 - {0})", "float"), _p("(0.0 - {0})", "int"),
        _p("({0} * 1.0)", "int"),
        _p("(-{0})", "float"), _p("abs({0})", "float"),
        _p("float({0})", "int"), _p("float({0})", "str"), _p("float({0})", "bool"),
        _p("round({0}, {i})", "float"),
        _p("max({0}, {1})", "float", "float"), _p("min({0}, {1})", "float", "int"),
        _p("({0} if {1} else {2})", "float", "bool", "float"), _p("({0} ** 2)", "float"),
    ],
    "str": [
        _p("{0}.upper()", "str"), _p("{0}.lower()", "str"), _p("{0}.strip()", "str"),
        _p("{0}.lstrip({c})", "str"), _p("{0}.casefold()", "str"), _p("{0}.replace({c}, {c})", "str"),
        _p("{0}[::-1]", "str"), _p("{0}[{i}]", "str"), _p("{0}[{j}:{j}]", "str"),
        _p("{0}.split({s})[{i}]", "str"), _p("{0}.split()[{j}:{j}]", "str"),
        _p("({0} + {1})", "str", "str"),
        _p("str({0})", "int"), _p("str({0})", "bool"), _p("str({0})", "float"),
        _p("f'''{{{0}}}-{{{1}}}'''", "str", "int"), _p("f'''{{{0}}}'''", "float"),
        _p("({0} if {1} else {2})", "str", "bool", "str"), _p("max({0}, {1})", "str", "str"),
        _p("{0}.title()", "str"), _p("({0} or {1})", "str", "str"), _p("({0} * {i})", "str"),
        _p("f'''{{{0}!r}}'''", "str"), _p("f'''{{{0}:>4}}'''", "int"), _p("{0}.split({s}, 1)[0]", "str"),
        _p("{0}.zfill(3)", "str"), _p("{0}.rstrip()", "str"),
    ],
    "bool": [
        _op(_CMP, "int", "int"), _op(_CMP, "float", "float"), _op(_CMP, "int", "float"),
        _op(_CMP, "str", "str"),
        _op(("==", "!="), "str", "int"),
        _p("({c} in {0})", "str"), _p("({0} in ({c}, {c}))", "str"), _p("({0} in (1, 2, 3))", "int"),
        _p("({0} is True)", "bool"), _p("({0} is False)", "bool"), _p("({0} is 1)", "int"),
        _p("{0}.startswith({c})", "str"), _p("{0}.endswith(({c}, {c}))", "str"), _p("{0}.isdigit()", "str"),
        _p("(not {0})", "bool"), _p("({0} and {1})", "bool", "bool"), _p("({0} or {1})", "bool", "bool"),
        _p("bool({0})", "int"), _p("bool({0})", "str"), _p("bool({0})", "float"),
        _p("({0} != {0})", "float"), _p("({0} < {1} <= {2})", "int", "int", "int"),
        _p("(not {0})", "str"), _p("{0}.isalpha()", "str"), _p("({0} in [1, 2])", "int"),
    ],
}  # fmt: skip


def pair_ctx(param: str, t: Any) -> Ctx:
    """Leaves of an element of type ``t`` bound to ``param``."""
    leaves: dict[str, list[str]] = {}

    def add(kind: str, src: str) -> None:
        leaves.setdefault(kind, []).append(src)

    def walk(src: str, t: Any) -> None:
        if isinstance(t, str):
            add(t, src)
        elif t[0] == "pair":
            walk(f"{src}[0]", t[1])
            walk(f"{src}[1]", t[2])
        elif t[0] == "opt":  # may be None (outer joins)
            add("bool", f"({src} is None)")
            add(t[1], f"({src} if {src} is not None else {_CONSTS[t[1]][1]})")

    walk(param, t)
    return Ctx(leaves)


def value_fn(ch: Chooser, t_in: Any, t_out: Any, param: str = "x") -> str:
    """A lambda source text from ``t_in`` to ``t_out`` (a scalar kind or a pair)."""
    ctx = pair_ctx(param, t_in)
    depth = ch.integer(0, 3)
    if isinstance(t_out, str):
        return f"lambda {param}: {expr(ch, ctx, t_out, depth)}"
    return f"lambda {param}: ({expr(ch, ctx, t_out[1], depth)}, {expr(ch, ctx, t_out[2], depth)})"


def list_fn(ch: Chooser, t_in: Any, t_out: Any, param: str = "x") -> str:
    """A lambda returning an iterable of ``t_out`` (for flatMap and flatMapValues)."""
    ctx = pair_ctx(param, t_in)
    depth = ch.integer(0, 2)

    def one() -> str:
        if isinstance(t_out, str):
            return expr(ch, ctx, t_out, depth)
        return f"({expr(ch, ctx, t_out[1], depth)}, {expr(ch, ctx, t_out[2], depth)})"

    if t_out == "str" and ch.chance(0.5):
        s = expr(ch, ctx, "str", depth)
        return f"lambda {param}: " + ch.pick((f"{s}.split({ch.pick(_SEPS)})", f"{s}.split()", s))
    form = ch.pick(("[{0}, {1}]", "({0}, {1})", "[{0}]", "[{0}] * 2", "[]"))
    return f"lambda {param}: " + form.format(one(), one())


_REDUCERS = {
    "int": ("lambda a, b: a + b", "lambda a, b: b + a", "lambda a, b: a * b", "lambda a, b: max(a, b)",
            "lambda a, b: min(b, a)", "lambda a, b: a - b", "lambda a, b: a", "operator.add",
            "lambda a, b: a if a > b else b", "lambda a, b: a // b"),
    "float": ("lambda a, b: a + b", "lambda a, b: a * b", "lambda a, b: max(a, b)", "lambda a, b: min(a, b)",
              "lambda a, b: max(b, a)", "lambda a, b: a - b", "operator.add", "lambda a, b: a / b"),
    "str": ("lambda a, b: a + b", "lambda a, b: max(a, b)", "lambda a, b: min(b, a)", "lambda a, b: b + a",
            'lambda a, b: a + "," + b'),
    "bool": ("lambda a, b: a or b", "lambda a, b: a and b", "lambda a, b: max(a, b)", "lambda a, b: a | b",
             "lambda a, b: a + b", "lambda a, b: min(a, b)"),
}  # fmt: skip
_INVERSES = ("lambda a, b: a - b", "operator.sub", "lambda a, b: b - a")
_UPDATES_NUMERIC = (
    "lambda new, old: sum(new) + (old or 0)",
    "lambda new, old: (old or 0) + sum(new)",
    "lambda new, old: sum(new, old or 0)",
)
_UPDATES_ANY = (
    "lambda new, old: len(new) + (old or 0)",
    "lambda new, old: (old or 0) + len(new)",
    "lambda new, old: new[-1] if new else old",
    "lambda new, old: None if not new else len(new)",
    "lambda new, old: max(new + ([old] if old is not None else []))",
)
_WINDOWS = ((1, 1), (2, 1), (3, 1), (2, 2), (5, 1), (6, 2), (6, 3))


# --------------------------------------------------------------------------- pipelines


@dataclass
class Pipeline:
    """Source lines building streams over ``sources``; ``out`` is the stream compared."""

    sources: list[Source] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    out: str = "s"
    shuffles: bool = False  # order after a shuffle on 2 partitions is compared as a multiset
    reduces: bool = False  # a float reduction may legitimately differ in the last bits
    extra_batches: int = 3  # batches past the queue, so windows and state slide out
    slide: int = 1  # of the main stream, in batches (windows with a slide change it)

    @property
    def num_batches(self) -> int:
        return max(len(s.batches) for s in self.sources) + self.extra_batches

    def code(self, indent: str = "") -> str:
        body = [f"{s.name} = ssc.queueStream([{', '.join(s.batches)}])" for s in self.sources] + self.lines
        return "\n".join(indent + line for line in body)


def _new_source(ch: Chooser, p: Pipeline, t: Any) -> str:
    """A new queueStream of type ``t``, windowed to the main stream's slide when that is not 1."""
    name = f"q{len(p.sources)}"
    p.sources.append(gen_source(ch, name, t))
    return name if p.slide == 1 else f"{name}.window({p.slide}, {p.slide})"


def _window(ch: Chooser, p: Pipeline) -> tuple[int, int]:
    """(window, slide) in seconds, multiples of the main stream's slide; the slide becomes its own."""
    w, sl = ch.pick(_WINDOWS) if p.slide <= 3 else (1, 1)  # keeps runs short
    w, sl = w * p.slide, sl * p.slide
    p.slide = sl
    if p.num_batches < 2 * w:
        p.extra_batches += 2 * w - p.num_batches
    return w, sl


def _random_type(ch: Chooser, pair_chance: float = 0.5) -> Any:
    if ch.chance(pair_chance):
        key = "float" if ch.chance(0.05) else ch.pick(KEY_KINDS)
        return ("pair", key, ch.pick(SCALARS))
    return ch.pick(SCALARS)


def _is_pair(t: Any) -> bool:
    return isinstance(t, tuple) and t[0] == "pair"


def _plain(t: Any) -> bool:
    """A scalar or a pair of scalars (what sources, unions and reductions take)."""
    return isinstance(t, str) or (_is_pair(t) and isinstance(t[1], str) and isinstance(t[2], str))


def _num_partitions(ch: Chooser) -> str:
    return f", {ch.integer(1, 3)}" if ch.chance(0.15) else ""


def gen_step(ch: Chooser, p: Pipeline, t: Any) -> Any:
    """Append one operator to the main stream ``s`` of type ``t``; return the new type."""
    pair, plain = _is_pair(t), _plain(t)
    kinds = ["map", "map", "filter", "flatMap", "count", "countByValue", "window", "countByWindow"]
    if plain:
        kinds += ["union"]
    if plain:
        kinds += ["unionSelf", "countByValueAndWindow"]
    if isinstance(t, str):
        kinds += ["reduce", "reduce", "reduceByWindow"]
    if pair:
        kinds += ["mapValues", "mapValues", "flatMapValues", "filter", "join"]
        if isinstance(t[2], str):
            kinds += ["reduceByKey", "reduceByKey", "reduceByKeyAndWindow", "updateStateByKey"]
    kind = ch.pick(kinds)
    param = "kv" if pair else "x"
    if kind == "map":
        out = _random_type(ch)
        p.lines.append(f"s = s.map({value_fn(ch, t, out, param)})")
        return out
    if kind == "filter":
        p.lines.append(f"s = s.filter({value_fn(ch, t, 'bool', param)})")
        return t
    if kind == "flatMap":
        out = _random_type(ch, 0.4)
        p.lines.append(f"s = s.flatMap({list_fn(ch, t, out, param)})")
        return out
    if kind == "mapValues":
        out = ch.pick(SCALARS)
        p.lines.append(f"s = s.mapValues({value_fn(ch, t[2], out, 'v')})")
        return ("pair", t[1], out)
    if kind == "flatMapValues":
        out = ch.pick(SCALARS)
        p.lines.append(f"s = s.flatMapValues({list_fn(ch, t[2], out, 'v')})")
        return ("pair", t[1], out)
    if kind == "count":
        p.lines.append("s = s.count()")
        return "int"
    if kind == "countByValue":
        p.lines.append("s = s.countByValue()")
        p.shuffles = True
        return ("pair", t, "int")
    if kind == "window":
        w, sl = _window(ch, p)
        p.lines.append(f"s = s.window({w}, {sl})")
        return t
    if kind == "countByWindow":
        w, sl = _window(ch, p)
        p.lines.append(f"s = s.countByWindow({w}, {sl})")
        return "int"
    if kind == "reduce":
        p.lines.append(f"s = s.reduce({ch.pick(_REDUCERS[t])})")
        p.reduces = True
        return t
    if kind == "reduceByWindow":
        w, sl = _window(ch, p)
        inv = ch.pick(_INVERSES) if t in ("int", "float") and ch.chance(0.6) else "None"
        p.lines.append(f"s = s.reduceByWindow({ch.pick(_REDUCERS[t])}, {inv}, {w}, {sl})")
        p.reduces = True
        return t
    if kind == "countByValueAndWindow":
        w, sl = _window(ch, p)
        p.lines.append(f"s = s.countByValueAndWindow({w}, {sl})")
        p.shuffles = True
        return ("pair", t, "int")
    if kind == "unionSelf":  # both sides from the same batch: a shared parent, two plans
        p.lines.append(f"s = s.union(s.filter({value_fn(ch, t, 'bool', param)}))")
        return t
    if kind == "reduceByKey":
        p.lines.append(f"s = s.reduceByKey({ch.pick(_REDUCERS[t[2]])}{_num_partitions(ch)})")
        p.shuffles = p.reduces = True
        return t
    if kind == "reduceByKeyAndWindow":
        w, sl = _window(ch, p)
        inv = ch.pick(_INVERSES) if t[2] in ("int", "float") and ch.chance(0.6) else "None"
        p.lines.append(f"s = s.reduceByKeyAndWindow({ch.pick(_REDUCERS[t[2]])}, {inv}, {w}, {sl})")
        p.shuffles = p.reduces = True
        return t
    if kind == "updateStateByKey":
        numeric = t[2] in ("int", "float", "bool")
        fn = ch.pick(_UPDATES_NUMERIC + _UPDATES_ANY if numeric else _UPDATES_ANY)
        p.lines.append(f"s = s.updateStateByKey({fn})")
        p.shuffles = p.reduces = True
        if "sum(" in fn:
            return ("pair", t[1], "float" if t[2] == "float" else "int")
        return ("pair", t[1], t[2] if "new[-1]" in fn or "max(" in fn else "int")
    if kind == "union":
        other = _new_source(ch, p, t)
        if ch.chance(0.5):
            p.lines.append(f"s = s.union({other})")
        else:
            p.lines.append(f"s = {other}.union(s)")
        return t
    # joins: the other side is a fresh source of pairs with the same key type
    other_t = ("pair", t[1], ch.pick(SCALARS))
    other = _new_source(ch, p, other_t)
    if ch.chance(0.5):
        kind = ch.pick(SCALARS)
        other = f"{other}.mapValues({value_fn(ch, other_t[2], kind, 'v')})"
        other_t = ("pair", t[1], kind)
    how = ch.pick(("join", "leftOuterJoin", "rightOuterJoin", "fullOuterJoin"))
    p.lines.append(f"s = s.{how}({other}{_num_partitions(ch)})")
    p.shuffles = True
    left, right = t[2], other_t[2]
    if how in ("rightOuterJoin", "fullOuterJoin"):
        left = ("opt", left) if isinstance(left, str) else left
    if how in ("leftOuterJoin", "fullOuterJoin"):
        right = ("opt", right) if isinstance(right, str) else right
    return ("pair", t[1], ("pair", left, right))


def gen_pipeline(ch: Chooser, max_steps: int = 5) -> Pipeline:
    p = Pipeline()
    t = _random_type(ch)
    first = _new_source(ch, p, t)
    p.lines.append(f"s = {first}")
    for _ in range(ch.integer(1, max_steps)):
        t = gen_step(ch, p, t)
    return p
