"""Compile small Python functions into Polars expressions.

Spark-style operators (``map``, ``flatMap``, ``filter``, ``reduceByKey``...) take plain Python
functions.  Running them row by row is slow, so this module tries to turn such a function into a
Polars expression once per operator; when it cannot, it returns None and the engine runs the
function in Python.

How it works
------------
1. **Bytecode whitelist.**  Before the function is ever called, its bytecode is read with
   :mod:`dis`.  Only side-effect-free instructions are allowed: loads of arguments, locals,
   constants and closure cells holding simple constants, attribute loads and method calls,
   operators, constant subscripts, tuple/list building, forward jumps and returns.  Globals must be
   whitelisted builtins (``max``, ``len``, ``str``...), the :mod:`operator` module or one of its
   arithmetic functions, or simple constants.  Loops, comprehensions, stores to globals or
   attributes, ``try`` and calls to arbitrary globals are refused.
2. **Trace by calling.**  The function is called with proxies (:class:`_Sym`): each wraps a
   ``pl.Expr`` and its Polars dtype, and its operators build new expressions.  Globals are swapped
   for proxy-aware versions by calling a copy of the function made with ``types.FunctionType`` and
   patched globals.  Anything unsupported raises inside the trace and the function is refused.
   A proxy never turns into a plain Python value: ``__iter__``, ``__len__``, ``__hash__``,
   ``__index__``, ``__str__``... raise, so ``for c in s`` or ``len(str(x))`` fall back.  An
   f-string field is the one exception: ``__format__`` hands ``BUILD_STRING`` a placeholder, and
   the bytecode check makes sure the joined string can only become (part of) the result, where
   it is turned back into ``pl.concat_str``.
3. **Branches.**  Python converts the result of ``__contains__`` and ``__bool__`` to a bool
   itself, so a proxy cannot come back from ``"x" in s``, ``a if c else b``, ``x > 0 and y``
   or ``s in ("a", "b")``.  Instead the trace stops there, the function is re-run once assuming
   True and once assuming False (at most ``_MAX_TRACE_RUNS`` runs in all), and the results are
   joined with ``pl.when(cond).then(...).otherwise(...)``; a branch not taken cannot trip.
4. **Exactness.**  A compiled function must give exactly what Python gives on every row.  Where
   the Polars form can differ for some rows (Int64 overflow where Python ints grow, division by
   zero, an index out of range, ``lower()`` on non-ASCII text...) the operation records a "bad row"
   predicate.  The final expressions carry a tripwire that makes ``collect()`` raise
   ``pl.exceptions.InvalidOperationError`` when any row is bad; the engine instead evaluates the
   predicate (``Traced.bad``) over the operator's input as an output of its own, which no later
   operator can optimise away, and re-runs the batch in Python when any row is bad.  So
   ``int(s)`` is Polars' strict cast, and a row it cannot parse (``" 1"``, ``"1_0"``, ``"٣"``, a
   big int, or text Python rejects with ValueError) sends the batch to Python; likewise
   ``float(s)``, ``str(float)`` (``nan``, exponents below 1e-4) and ``round(x, n)`` near a tie.
   Forms whose exactness cannot be checked cheaply (float ``//`` and ``%``, ``isdigit``...)
   are refused outright, and so is ``is`` against anything but a literal None: identity runs no
   method a proxy could answer.
"""

from __future__ import annotations

import builtins
import dis
import functools
import inspect
import logging
import math
import operator
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["Column", "Reducer", "Traced", "fallback_hint", "trace_filter", "trace_flat_map",
           "trace_map", "trace_predicate", "trace_reduce"]  # fmt: skip

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- public data types


@dataclass(frozen=True)
class Column:
    """A typed input column of the batch table."""

    name: str
    dtype: pl.DataType


@dataclass(frozen=True)
class Traced:
    """A compiled function: one expr for a scalar result, two for a (key, value) pair.

    ``exprs`` carry a tripwire: collecting them raises ``InvalidOperationError`` when a row would
    not give Python's result.  That only holds if the plan computes them for every row, which
    the optimiser does not promise (a later operator that does not read them, or that filters
    rows first, drops the tripwire with them).  An engine therefore uses ``unchecked`` (the same
    exprs without tripwire) and evaluates ``bad`` (those rows; None when there can be none) over
    the function's input as an output of its own.
    """

    exprs: tuple[pl.Expr, ...]
    dtypes: tuple[pl.DataType, ...]
    unchecked: tuple[pl.Expr, ...] = ()
    bad: pl.Expr | None = None


@dataclass(frozen=True)
class Reducer:
    """A recognised reduce function, usable in ``group_by().agg()`` and ``select()``."""

    name: str  # "sum" | "product" | "min" | "max" | "concat"
    dtype: pl.DataType  # the Python-side type the values are reduced in (Int64, Float64, ...)

    def agg(self, expr: pl.Expr) -> pl.Expr:
        """Aggregate ``expr`` the way ``functools.reduce(fn, values)`` would, in row order."""
        x = expr.cast(self.dtype)
        kind = _kind_of_dtype(self.dtype)
        if self.name == "sum" and kind == "int":
            # Python ints never overflow: sum in Int128 (cannot overflow for < 2**64 rows) and
            # let the strict cast raise when the total does not fit Int64.
            return x.cast(pl.Int128).sum().cast(pl.Int64, strict=True)
        if self.name == "product" and kind == "int":
            # Int128 wraps silently, so only multiply when |product| <= ~2**125 (the float
            # log-sum is accurate to far below one bit); otherwise raise via the strict cast.
            log2 = pl.when(x == 0).then(0.0).otherwise(x.cast(pl.Float64).abs().log(2)).sum()
            product = pl.when(log2 <= 125).then(x.cast(pl.Int128).product())
            return product.otherwise(pl.lit(2**100, pl.Int128)).cast(pl.Int64, strict=True)
        if self.name == "sum" and kind == "float":
            return _float_sum(x)
        if self.name in ("max", "min") and kind == "float":
            return _float_extreme(x, self.name == "max")
        if self.name == "concat":
            return x.str.join("")
        return getattr(x, self.name)()


# --------------------------------------------------------------------------- constants

_INT, _FLOAT, _STR, _BOOL = pl.Int64(), pl.Float64(), pl.String(), pl.Boolean()
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_EXACT_FLOAT_INT = 2**53  # ints up to this magnitude convert to float without rounding
_MAX_IN_TESTS = 10  # nested `in` tests / branches on one path (x in a 10-tuple: 10 tests)
_NOT_CONST = object()  # marks an output expr that is not a Python constant

_NON_ASCII = r"[^\x00-\x7f]"
# Private-use code points around an f-string field's number (see _Sym.__format__); a function
# whose constants contain them is not traced, so they cannot come from anywhere else.
_FIELD_OPEN, _FIELD_CLOSE = "\U0010fffe", "\U0010ffff"
# What both float() and Polars' cast parse to the same value (correctly rounded); Python also
# takes whitespace, "_", non-ASCII digits, inf/nan spellings: those rows go back to Python.
_PLAIN_FLOAT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_MAX_TRACE_RUNS = 32  # calls of the function while exploring `in` tests and branches


@functools.cache
def _whitespace() -> str:
    """Python's whitespace set (str.split()/strip() use it).  Rust's char::is_whitespace differs
    (e.g. "\\x1c".."\\x1f" are whitespace only in Python), so Polars' defaults cannot be used.
    Built on first use: scanning all code points takes ~0.1 s."""
    return "".join(c for c in map(chr, range(0x110000)) if c.isspace())


class _Unsupported(Exception):
    """The function (or one operation in it) cannot be compiled exactly."""


class _Branch(Exception):
    """The trace reached an `in` test whose outcome has not been fixed yet."""

    def __init__(self, cond: pl.Expr) -> None:
        super().__init__("branch")
        self.cond = cond


def _instance(dtype: Any) -> pl.DataType:
    """Polars accepts both ``pl.Int64`` and ``pl.Int64()``; work with instances."""
    return dtype() if isinstance(dtype, type) else dtype


def _kind_of_dtype(dtype: pl.DataType) -> str:
    """The Python type a value of this (normalised) dtype stands for."""
    if isinstance(dtype, pl.List):
        return "list"
    for kind, known in (("int", _INT), ("float", _FLOAT), ("str", _STR), ("bool", _BOOL)):
        if dtype == known:
            return kind
    return "other"


# --------------------------------------------------------------------------- trace state


class _Trace:
    """One run of the traced function: the forced `in` outcomes and the bad-row predicates."""

    def __init__(self, forced: tuple[bool, ...]) -> None:
        self.forced = forced
        self.taken = 0
        self.checks: list[pl.Expr] = []
        self.fields: list[_Sym] = []  # f-string fields, by placeholder number

    def placeholder(self, field: _Sym) -> str:
        """A stand-in string for an f-string field; :func:`_unmark` turns it back into ``field``."""
        self.fields.append(field)
        return f"{_FIELD_OPEN}{len(self.fields) - 1}{_FIELD_CLOSE}"

    def check(self, bad: pl.Expr) -> None:
        """Record rows where the compiled form would differ from Python (collect must raise)."""
        self.checks.append(bad)

    def decide(self, cond: pl.Expr) -> bool:
        """Outcome of an `in` test: replay a forced one or stop so both can be explored."""
        if self.taken == len(self.forced):
            raise _Branch(cond)
        self.taken += 1
        return self.forced[self.taken - 1]


def _binary(op: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Forward and reflected dunder methods for a binary operator."""
    return (lambda self, other: _arith(op, self, other)), (lambda self, other: _arith(op, other, self))


def _comparison(op: str) -> Callable[..., Any]:
    return lambda self, other: _compare(op, self, other)


def _unary_method(op: str) -> Callable[..., Any]:
    return lambda self: _unary(op, self)


class _Sym:
    """A symbolic Python value: a Polars expression for it, its dtype and the trace it is in."""

    __slots__ = ("_dtype", "_expr", "_kind", "_trace")

    def __init__(self, expr: pl.Expr, dtype: pl.DataType, trace: _Trace) -> None:
        self._expr = expr
        self._dtype = dtype
        self._kind = _kind_of_dtype(dtype)
        self._trace = trace

    # Operators build expressions; reflected forms keep Python's operand order.
    __add__, __radd__ = _binary("+")
    __sub__, __rsub__ = _binary("-")
    __mul__, __rmul__ = _binary("*")
    __truediv__, __rtruediv__ = _binary("/")
    __floordiv__, __rfloordiv__ = _binary("//")
    __mod__, __rmod__ = _binary("%")
    __and__, __rand__ = _binary("&")
    __or__, __ror__ = _binary("|")
    __xor__, __rxor__ = _binary("^")
    __lt__, __le__, __gt__, __ge__ = (_comparison(op) for op in ("<", "<=", ">", ">="))
    __eq__, __ne__ = _comparison("=="), _comparison("!=")  # type: ignore[assignment]
    __neg__, __pos__, __abs__, __invert__ = (_unary_method(op) for op in ("-", "+", "abs", "~"))

    def __contains__(self, item: object) -> bool:
        return self._trace.decide(_contains(self, item))

    def __getitem__(self, key: object) -> _Sym:
        return _getitem(self, key)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):  # also keeps copy/pickle probes from looping
            raise AttributeError(name)
        method = _METHODS.get(self._kind, {}).get(name)
        if method is None:
            raise _Unsupported(f".{name}() on {self._dtype}")
        return functools.partial(method, self)

    def __bool__(self) -> bool:
        # `a if c else b`, `if`, `and`/`or`, `x in ("a", "b")`: like an `in` test, the trace
        # stops here and both outcomes are explored, then joined with when/then/otherwise.
        truth = _truth(self)
        return self._trace.decide(truth._expr) if isinstance(truth, _Sym) else truth

    def __format__(self, spec: str) -> str:
        # An f-string field: hand BUILD_STRING a placeholder; the output shapers turn the joined
        # string back into an expression (the bytecode check only lets it flow to a return).
        # Only for the f-string instruction itself: "{}".format(x).upper() would be wrong.
        caller = sys._getframe(1)
        if spec or dis.opname[caller.f_code.co_code[caller.f_lasti]] not in _FSTRING_OPS:
            raise _Unsupported("format() other than a plain f-string field")
        return self._trace.placeholder(_StrBuiltin()(self))

    def _escape(self, *args: object) -> Any:
        raise _Unsupported("a traced value cannot turn into a plain Python value")

    # Each of these would hand Python a concrete value computed from a proxy (a string baked
    # into the result, an iteration count...), so they must stop the trace.
    __iter__ = __len__ = __hash__ = __index__ = __int__ = __float__ = _escape
    __complex__ = __str__ = __repr__ = __bytes__ = __reversed__ = _escape
    __round__ = __trunc__ = __floor__ = __ceil__ = _escape


# --------------------------------------------------------------------------- value helpers


def _kind(value: object) -> str | None:
    """Python-level kind of a proxy or constant (bool before int: bool is an int subclass)."""
    if isinstance(value, _Sym):
        return value._kind
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(type(value))


def _lit(value: object) -> tuple[pl.Expr, pl.DataType]:
    """A Python constant as a literal typed like Python would (1 -> Int64, not Int32)."""
    kind = _kind(value)
    if kind == "int" and not _I64_MIN <= value <= _I64_MAX:  # type: ignore[operator]
        raise _Unsupported("int constant outside Int64")
    dtype = {"bool": _BOOL, "int": _INT, "float": _FLOAT, "str": _STR}.get(kind or "")
    if dtype is None:
        raise _Unsupported(f"constant of type {type(value).__name__}")
    return pl.lit(value, dtype), dtype


def _expr(value: object) -> pl.Expr:
    return value._expr if isinstance(value, _Sym) else _lit(value)[0]


def _dtype(value: object) -> pl.DataType:
    return value._dtype if isinstance(value, _Sym) else _lit(value)[1]


def _trace_of(*values: object) -> _Trace:
    return next(v._trace for v in values if isinstance(v, _Sym))


def _checked_int(wide: pl.Expr, trace: _Trace) -> _Sym:
    """An Int128 result back to Int64; rows that do not fit are bad (Python ints would grow)."""
    trace.check((wide < _I64_MIN) | (wide > _I64_MAX))
    return _Sym(wide.cast(_INT, strict=False), _INT, trace)


def _length(value: _Sym) -> pl.Expr:
    if value._kind == "str":
        return value._expr.str.len_chars().cast(_INT)  # code points, like Python's len()
    return value._expr.list.len().cast(_INT)


# --------------------------------------------------------------------------- operators

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _arith(op: str, a: object, b: object) -> _Sym:
    """Binary operator with at least one proxy operand."""
    ka, kb = _kind(a), _kind(b)
    trace = _trace_of(a, b)
    if op == "+" and ka == kb == "str":
        return _Sym(pl.concat_str([_expr(a), _expr(b)]), _STR, trace)
    if op == "+" and "list" in (ka, kb):
        return _concat_lists([a, b], trace)
    if op in ("&", "|", "^") and ka == kb and ka in ("bool", "int"):
        return _Sym(_OPS[op](_expr(a), _expr(b)), _dtype(a if isinstance(a, _Sym) else b), trace)
    if ka == kb == "int":
        return _int_arith(op, a, b, trace)
    if {ka, kb} <= {"int", "float"}:
        return _float_arith(op, a, b, trace)
    raise _Unsupported(f"{ka} {op} {kb}")


def _int_arith(op: str, a: object, b: object, trace: _Trace) -> _Sym:
    if op == "/":
        # Python divides big ints exactly rounded; Polars converts to float first.  Both agree
        # when the operands convert to float exactly.
        for v in (a, b):
            _exact_float(v, trace)
        return _float_arith(op, a, b, trace)
    if op not in ("+", "-", "*", "//", "%"):
        raise _Unsupported(f"int {op}")
    ea, eb = _expr(a), _expr(b)
    if op in ("//", "%"):  # Polars floors like Python (checked by the tests), but x // 0 is null
        _check_nonzero(b, eb, trace)
    # Int64 operands cannot overflow Int128 in +, -, *, // and %.
    wide = _OPS[op](ea.cast(pl.Int128), eb.cast(pl.Int128))
    if op == "%":  # |a % b| < |b|: always fits
        return _Sym(wide.cast(_INT), _INT, trace)
    return _checked_int(wide, trace)


def _float_arith(op: str, a: object, b: object, trace: _Trace) -> _Sym:
    if op not in ("+", "-", "*", "/"):
        raise _Unsupported(f"float {op}")  # Python's float // and % use fmod: not the same
    if op in ("+", "-") and not (isinstance(a, _Sym) and isinstance(b, _Sym)):
        zero = _add_zero(op, a, b)
        if zero is not None:
            return _Sym(zero, _FLOAT, trace)
    ea, eb = _as_float(a), _as_float(b)
    if op == "/":
        _check_nonzero(b, eb, trace)  # Python raises ZeroDivisionError, Polars gives inf/nan
        if not isinstance(b, _Sym):
            # Polars divides by a scalar as x * (1 / c), which is not correctly rounded: give it
            # a full-length column of c instead (x.is_null() is always False here).
            roots = ea.meta.root_names()
            if not roots:
                raise _Unsupported("constant / constant")
            eb = pl.col(roots[0]).is_null().cast(_FLOAT) + eb
    return _Sym(_OPS[op](ea, eb), _FLOAT, trace)


def _add_zero(op: str, a: object, b: object) -> pl.Expr | None:
    """``x + c``, ``c + x``, ``x - c`` or ``c - x`` with a constant zero ``c``, signed zeros kept.

    Polars' kernels return ``x`` itself for ``x + 0.0`` and ``-x`` for ``0.0 - x`` (from a few
    rows on), but IEEE gives ``-0.0 + 0.0 == 0.0`` and ``0.0 - 0.0 == 0.0``.  Every such form is
    ``y + z`` with ``y`` = ``x`` or ``-x`` and ``z`` a signed zero: ``y + -0.0`` is ``y`` exactly
    and ``y + 0.0`` is ``y`` with -0.0 turned into 0.0.  None when the constant is not zero.
    """
    x, const = (a, b) if isinstance(a, _Sym) else (b, a)
    c = float(const)  # type: ignore[arg-type]  # an int constant converts like Python does
    if c != 0:
        return None
    y = _as_float(x)
    if op == "-" and x is b:
        y = -y  # c - x == c + (-x)
    z = -c if op == "-" and x is a else c  # x - c == x + (-c)
    if math.copysign(1.0, z) < 0:
        return y
    return pl.when(y == 0).then(pl.lit(0.0, _FLOAT)).otherwise(y)


def _as_float(value: object) -> pl.Expr:
    """int -> float rounds to nearest-even in both Python and Polars, so a cast is exact."""
    if isinstance(value, _Sym):
        return value._expr if value._kind == "float" else value._expr.cast(_FLOAT)
    return pl.lit(float(value), _FLOAT)  # type: ignore[arg-type]  # OverflowError like Python


def _exact_float(value: object, trace: _Trace) -> pl.Expr:
    """``value`` as a float expr, bad where an int would be rounded on the way."""
    if isinstance(value, _Sym):
        if value._kind == "int":
            trace.check((value._expr > _EXACT_FLOAT_INT) | (value._expr < -_EXACT_FLOAT_INT))
        return _as_float(value)
    if _kind(value) == "int" and abs(value) > _EXACT_FLOAT_INT:  # type: ignore[arg-type]
        raise _Unsupported("int constant not exactly a float")
    return _as_float(value)


def _check_nonzero(divisor: object, expr: pl.Expr, trace: _Trace) -> None:
    if not isinstance(divisor, _Sym):
        if divisor == 0:
            raise _Unsupported("constant division by zero")  # Python raises on every row
        return
    trace.check(expr == 0)  # -0.0 == 0.0 is True in Polars too


def _unary(op: str, a: _Sym) -> _Sym:
    if a._kind == "int":
        if op == "+":
            return a
        if op == "~":  # -1 - x never leaves Int64
            return _Sym(pl.lit(-1, _INT) - a._expr, _INT, a._trace)
        wide = a._expr.cast(pl.Int128)  # -(-2**63) overflows Int64; Int128 has no negate
        return _checked_int(pl.lit(0, pl.Int128) - wide if op == "-" else wide.abs(), a._trace)
    if a._kind == "float" and op != "~":
        expr = {"+": a._expr, "-": -a._expr, "abs": a._expr.abs()}[op]
        return _Sym(expr, _FLOAT, a._trace)
    raise _Unsupported(f"unary {op} on {a._dtype}")


def _compare(op: str, a: object, b: object) -> _Sym | bool:
    """Python comparison semantics; may fold to a plain bool when the outcome is fixed."""
    if not isinstance(a, _Sym):
        return _compare(_MIRROR[op], b, a)  # keep the proxy on the left
    ka, kb = a._kind, _kind(b)
    if ka == kb == "int" and not isinstance(b, _Sym) and not _I64_MIN <= b <= _I64_MAX:  # type: ignore[operator]
        # An Int64 value against a constant outside Int64: compares like 0 against +-1.
        return _OPS[op](0, 1 if b > 0 else -1)  # type: ignore[operator]
    if ka == kb and ka in ("int", "str", "bool"):
        # Strings: UTF-8 byte order is code point order, so Polars orders them like Python.
        return _Sym(_OPS[op](a._expr, _expr(b)), _BOOL, a._trace)
    if {ka, kb} <= {"int", "float"}:
        return _float_compare(op, a, b)
    scalar = {"int", "float", "str", "bool"}
    if op in ("==", "!=") and ka in scalar and kb in scalar and "str" in (ka, kb):
        return op == "!="  # a str never equals a number in Python
    raise _Unsupported(f"{ka} {op} {kb}")


def _float_compare(op: str, a: _Sym, b: object) -> _Sym | bool:
    """Python compares int with float exactly and NaN unordered; Polars puts NaN last."""
    if a._kind == "int" and not isinstance(b, _Sym):
        return _int_vs_float(op, a, b)  # type: ignore[arg-type]
    if not isinstance(b, _Sym) and math.isnan(b):  # type: ignore[arg-type]
        return op == "!="
    ea, eb = _exact_float(a, a._trace), _exact_float(b, a._trace)
    nans = [e.is_nan() for v, e in ((a, ea), (b, eb)) if isinstance(v, _Sym) and v._kind == "float"]
    result = pl.when(pl.any_horizontal(nans)).then(pl.lit(op == "!=")).otherwise(_OPS[op](ea, eb))
    return _Sym(result, _BOOL, a._trace)


def _int_vs_float(op: str, a: _Sym, f: float) -> _Sym | bool:
    """Int column against a float constant, done exactly in ints."""
    if math.isnan(f):
        return op == "!="
    if math.isinf(f):
        return _OPS[op](0, f)
    if op in ("==", "!="):
        return _compare(op, a, int(f)) if f.is_integer() else op == "!="
    # x < 2.5 <=> x < 3 ; x <= 2.5 <=> x <= 2 ; x > 2.5 <=> x > 2 ; x >= 2.5 <=> x >= 3
    return _compare(op, a, math.ceil(f) if op in ("<", ">=") else math.floor(f))


def _truth(value: object) -> _Sym | bool:
    """Python truthiness: 0, 0.0, "" and [] are false; NaN is true."""
    if not isinstance(value, _Sym):
        if isinstance(value, (list, tuple)):
            return len(value) > 0  # never looks inside, so proxies in it stay untouched
        if value is None or _kind(value) is not None:
            return bool(value)
        raise _Unsupported(f"truth of {type(value).__name__}")
    if value._kind == "bool":
        return value
    if value._kind in ("int", "float"):
        return _compare("!=", value, 0)
    if value._kind == "str":
        return _Sym(value._expr.str.len_bytes() > 0, _BOOL, value._trace)
    if value._kind == "list":
        return _Sym(value._expr.list.len() > 0, _BOOL, value._trace)
    raise _Unsupported(f"truth of {value._dtype}")


def _not(value: object) -> _Sym | bool:
    truth = _truth(value)
    return _Sym(~truth._expr, _BOOL, truth._trace) if isinstance(truth, _Sym) else not truth


def _select(cond: _Sym, yes: object, no: object) -> _Sym:
    dtype = _dtype(yes if isinstance(yes, _Sym) else no)
    return _Sym(pl.when(cond._expr).then(_expr(yes)).otherwise(_expr(no)), dtype, cond._trace)


# --------------------------------------------------------------------------- containers


def _contains(container: _Sym, item: object) -> pl.Expr:
    """The condition behind `item in container` (the caller turns it into a branch)."""
    kind = _kind(item)
    if container._kind == "str" and kind == "str":
        return container._expr.str.contains(_expr(item), literal=True)
    inner = container._dtype.inner if container._kind == "list" else None  # type: ignore[attr-defined]
    if inner is not None and kind in ("str", "int", "bool") and _kind_of_dtype(inner) == kind:
        return container._expr.list.contains(_expr(item))
    raise _Unsupported(f"{kind} in {container._dtype}")


def _getitem(value: _Sym, key: object) -> _Sym:
    """s[i], s[a:b], parts[i], parts[a:b] with constant ints, exactly as Python indexes."""
    if value._kind not in ("str", "list"):
        raise _Unsupported(f"indexing {value._dtype}")
    n, trace = _length(value), value._trace
    if type(key) is int and abs(key) < 2**31:
        trace.check(n <= key if key >= 0 else n < -key)  # Python raises IndexError
        if value._kind == "str":
            return _Sym(value._expr.str.slice(key, 1), _STR, trace)
        inner = value._dtype.inner  # type: ignore[attr-defined]
        return _Sym(value._expr.list.get(key, null_on_oob=True), inner, trace)
    if isinstance(key, slice) and key.step in (None, 1):
        bounds = (key.start, key.stop)
        if not all(b is None or (type(b) is int and abs(b) < 2**31) for b in bounds):
            raise _Unsupported("slice bounds must be constant ints")
        offset, length = _slice_bounds(n, key.start, key.stop)
        sliced = value._expr.str.slice if value._kind == "str" else value._expr.list.slice
        return _Sym(sliced(offset, length), value._dtype, trace)
    if isinstance(key, slice) and (key.start, key.stop, key.step) == (None, None, -1):
        if value._kind == "list":
            return _Sym(value._expr.list.reverse(), value._dtype, trace)
        # str.reverse() reverses grapheme clusters ("e\u0301" stays together); Python reverses
        # code points, which split("") yields one by one.
        chars = value._expr.str.split("").list.reverse().list.join("")
        return _Sym(chars, _STR, trace)
    raise _Unsupported(f"index {key!r}")


def _slice_bounds(n: pl.Expr, start: int | None, stop: int | None) -> tuple[Any, Any]:
    """(offset, length) for Polars' slice giving Python's x[start:stop]."""
    if (start is None or start >= 0) and (stop is None or stop >= 0):
        offset = start or 0  # Polars clamps past-the-end offsets and lengths like Python
        return offset, None if stop is None else max(0, stop - offset)

    def clamp(bound: int | None, default: pl.Expr) -> pl.Expr:
        if bound is None:
            return default
        if bound >= 0:
            return pl.min_horizontal(n, bound)
        return pl.max_horizontal(n + bound, 0)

    lo, hi = clamp(start, pl.lit(0, _INT)), clamp(stop, n)
    return lo, pl.max_horizontal(hi - lo, 0)


def _concat_lists(items: list[object], trace: _Trace) -> _Sym:
    """Concatenate list proxies and Python lists of scalars into one list proxy."""
    parts: list[pl.Expr] = []
    inner: set[pl.DataType] = set()
    for item in items:
        if isinstance(item, _Sym):
            if item._kind != "list":
                raise _Unsupported(f"{item._dtype} + list")
            parts.append(item._expr)
            inner.add(item._dtype.inner)  # type: ignore[attr-defined]
        elif isinstance(item, list):
            for element in item:
                if _kind(element) in (None, "list", "other"):
                    raise _Unsupported("lists may hold only scalars")
                parts.append(_expr(element))
                inner.add(_dtype(element))
        else:
            raise _Unsupported(f"list + {type(item).__name__}")
    if len(inner) != 1:
        raise _Unsupported("list items of different types")
    return _Sym(pl.concat_list(parts), pl.List(inner.pop()), trace)


# --------------------------------------------------------------------------- str methods


def _str_split(s: _Sym, sep: object = None, maxsplit: object = -1) -> _Sym:
    if type(maxsplit) is not int or maxsplit != -1:
        raise _Unsupported("split with maxsplit")
    if sep is None:  # runs of Python whitespace; no empty strings at the ends
        non_space_run = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in _whitespace()) + "]+"
        expr = s._expr.str.extract_all(non_space_run)
    elif type(sep) is str and sep:  # "" raises ValueError in Python
        expr = s._expr.str.split(sep, literal=True)
    else:
        raise _Unsupported("split separator must be a non-empty constant")
    return _Sym(expr, pl.List(_STR), s._trace)


def _str_strip(side: str) -> Callable[..., _Sym]:
    def strip(s: _Sym, chars: object = None) -> _Sym:
        if chars is not None and type(chars) is not str:
            raise _Unsupported("strip chars must be a constant")
        chars = _whitespace() if chars is None else chars
        method = {"both": "strip_chars", "left": "strip_chars_start", "right": "strip_chars_end"}
        return _Sym(getattr(s._expr.str, method[side])(chars), _STR, s._trace)

    return strip


def _str_affix(method: str) -> Callable[..., _Sym]:
    def test(s: _Sym, affix: object, *bounds: object) -> _Sym:
        affixes = affix if type(affix) is tuple else (affix,)
        if bounds or not all(type(a) is str for a in affixes):
            raise _Unsupported(f"{method} takes constant strings only")
        tests = [getattr(s._expr.str, method)(pl.lit(a, _STR)) for a in affixes]
        return _Sym(pl.any_horizontal(tests) if tests else pl.lit(False), _BOOL, s._trace)

    return test


def _str_replace(s: _Sym, old: object, new: object, count: object = -1) -> _Sym:
    if type(old) is not str or type(new) is not str or not old or count != -1:
        raise _Unsupported("replace(old, new) with constant non-empty old only")
    return _Sym(s._expr.str.replace_all(old, new, literal=True), _STR, s._trace)


def _str_count(s: _Sym, sub: object, *bounds: object) -> _Sym:
    if bounds or type(sub) is not str:
        raise _Unsupported("count(sub) with a constant only")
    # Both count non-overlapping matches left to right; "" counts len + 1 in both.
    return _Sym(s._expr.str.count_matches(sub, literal=True).cast(_INT), _INT, s._trace)


def _str_find(s: _Sym, sub: object, *bounds: object) -> _Sym:
    if bounds or type(sub) is not str:
        raise _Unsupported("find(sub) with a constant only")
    # Polars counts code points like Python and gives null where Python gives -1.
    found = s._expr.str.find(pl.lit(sub, _STR), literal=True).cast(_INT).fill_null(-1)
    return _Sym(found, _INT, s._trace)


def _str_case(method: str) -> Callable[[_Sym], _Sym]:
    def convert(s: _Sym) -> _Sym:
        # Python and Rust disagree on some non-ASCII case mappings (Unicode versions, special
        # casing): ASCII-only rows are exact, any other row is bad.
        s._trace.check(s._expr.str.contains(_NON_ASCII))
        return _Sym(getattr(s._expr.str, method)(), _STR, s._trace)

    return convert


_METHODS: dict[str, dict[str, Callable[..., Any]]] = {"str": {
    "split": _str_split, "strip": _str_strip("both"), "lstrip": _str_strip("left"),
    "rstrip": _str_strip("right"), "startswith": _str_affix("starts_with"),
    "endswith": _str_affix("ends_with"), "replace": _str_replace, "count": _str_count,
    "lower": _str_case("to_lowercase"), "upper": _str_case("to_uppercase"), "find": _str_find,
    "casefold": _str_case("to_lowercase"),  # casefold() is lower() on ASCII, the only rows kept
}}  # fmt: skip


# --------------------------------------------------------------------------- builtins


def _len(value: object) -> object:
    if isinstance(value, _Sym):
        if value._kind not in ("str", "list"):
            raise _Unsupported(f"len of {value._dtype}")
        return _Sym(_length(value), _INT, value._trace)
    return len(value)  # type: ignore[arg-type]


def _to_int(value: object = 0, *base: object) -> object:
    if not isinstance(value, _Sym):
        return int(value, *base)  # type: ignore[call-overload]
    if value._kind == "str" and not base:
        # Polars' cast takes exactly [+-]?[0-9]+ (null otherwise or on overflow), which int()
        # parses to the same value.  Python also takes " 1 ", "1_0", non-ASCII digits and big
        # ints, and refuses over 4300 digits: any null or over-long row goes back to Python,
        # which then gives its value or its ValueError.
        parsed = value._expr.cast(_INT, strict=False)
        value._trace.check(parsed.is_null() | (value._expr.str.len_bytes() > 20))
        return _Sym(parsed, _INT, value._trace)
    if base or value._kind not in ("int", "float", "bool"):
        raise _Unsupported(f"int() of {value._dtype}")
    if value._kind == "float":
        # Truncates like Python; NaN/inf raise in Python, huge floats become big ints.
        x = value._expr
        value._trace.check(~x.is_finite() | (x >= 2.0**63) | (x < -(2.0**63)))
    return _Sym(value._expr.cast(_INT, strict=False), _INT, value._trace)


def _to_float(value: object = 0.0) -> object:
    if not isinstance(value, _Sym):
        return float(value)  # type: ignore[arg-type]
    if value._kind == "str":
        # Both parse plain decimal notation correctly rounded; anything else ("inf", " 1",
        # "1_0", non-ASCII digits... or a ValueError) is Python's to decide.
        value._trace.check(~value._expr.str.contains(_PLAIN_FLOAT))
        return _Sym(value._expr.cast(_FLOAT, strict=False), _FLOAT, value._trace)
    if value._kind not in ("int", "float", "bool"):
        raise _Unsupported(f"float() of {value._dtype}")
    return _Sym(value._expr.cast(_FLOAT), _FLOAT, value._trace)


class _StrBuiltin:
    """Proxy-aware ``str``: ``str(x)`` and unbound methods such as ``str.strip(x)``."""

    def __call__(self, value: object = "", *args: object) -> object:
        if not isinstance(value, _Sym):
            return str(value, *args)  # type: ignore[call-overload]
        if args:
            raise _Unsupported("str(x, encoding)")
        if value._kind == "str":
            return value
        if value._kind == "int":
            return _Sym(value._expr.cast(_STR), _STR, value._trace)
        if value._kind == "float":
            # Polars writes the shortest round-trip digits like repr(), but "NaN" for "nan" and
            # no exponent below 1e-4 ("0.00001" for "1e-05"): those rows go back to Python.
            x = value._expr
            value._trace.check(x.is_nan() | ((x != 0) & (x.abs() < 1e-4)))
            return _Sym(x.cast(_STR), _STR, value._trace)
        if value._kind == "bool":  # Polars spells it "true"
            return _Sym(pl.when(value._expr).then(pl.lit("True")).otherwise(pl.lit("False")),
                        _STR, value._trace)  # fmt: skip
        raise _Unsupported(f"str() of {value._dtype}")

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in _METHODS["str"]:
            raise _Unsupported(f"str.{name}")
        return lambda s, *args: getattr(s, name)(*args)


def _extreme(op: str, *args: object, **kwargs: object) -> object:
    """max/min with Python's rule: a later item replaces the best one only if strictly better."""
    items = list(args[0]) if len(args) == 1 else list(args)  # iterating a proxy raises
    if kwargs or not any(isinstance(v, _Sym) for v in items):
        return (max if op == ">" else min)(*args, **kwargs)  # type: ignore[call-overload]
    best = items[0]
    for item in items[1:]:
        if _kind(item) != _kind(best):
            raise _Unsupported("max/min of mixed types: result type depends on the data")
        better = _compare(op, item, best)  # a plain bool when both are constants
        best = _select(better, item, best) if isinstance(better, _Sym) else (item if better else best)
    return best


_max, _min = functools.partial(_extreme, ">"), functools.partial(_extreme, "<")


def _abs(value: object) -> object:
    return _unary("abs", value) if isinstance(value, _Sym) else abs(value)  # type: ignore[arg-type]


def _round(value: object, ndigits: object = None) -> object:
    """Python's round(): half to even, and for floats with ndigits, correctly rounded decimal."""
    if not isinstance(value, _Sym):
        if isinstance(ndigits, _Sym):
            raise _Unsupported("round() with a traced ndigits")
        return round(value, ndigits)  # type: ignore[call-overload]
    if ndigits is not None and type(ndigits) is not int:
        raise _Unsupported("round() with a non-constant ndigits")
    trace, x = value._trace, value._expr
    if value._kind == "int" and (ndigits is None or ndigits >= 0):
        return value  # an int rounded to >= 0 digits is itself
    if value._kind != "float":
        raise _Unsupported(f"round() of {value._dtype} to {ndigits} digits")
    if ndigits is None:  # an int; nan (ValueError), inf (OverflowError) and big ints are Python's
        trace.check(~x.is_finite() | (x >= 2.0**63) | (x < -(2.0**63)))
        return _Sym(x.round(0, mode="half_to_even").cast(_INT, strict=False), _INT, trace)
    if not 0 <= ndigits <= 15:
        raise _Unsupported("round(float, n) for n outside 0..15")
    # k = x * 10**n rounded half to even, then k / 10**n (one correctly rounded division of
    # exact values: the double nearest the decimal).  The product is rounded once, so k can
    # differ from Python's only when it lies within an ulp of a .5: those rows (2.675 * 100 is
    # 267.49999999999997 exactly but 267.5 in floats) go back to Python, and so do products too
    # large to hold fractions.  |x| >= 2**52 is already an integer: round() returns x.
    scale = 10.0**ndigits
    scaled = x * scale
    fraction = scaled - scaled.floor()
    near_half = (fraction - 0.5).abs() <= scaled.abs() * 2.0**-50
    large = x.abs() >= 2.0**52
    trace.check(x.is_finite() & ~large & ((scaled.abs() >= 2.0**52) | near_half))
    k = _Sym(scaled.round(0, mode="half_to_even"), _FLOAT, trace)
    rounded = _float_arith("/", k, scale, trace)._expr
    return _Sym(pl.when(large | ~x.is_finite()).then(x).otherwise(rounded), _FLOAT, trace)


def _is(a: object, b: object) -> bool:
    """``a is b``: only against None with a proxy (a row's value is never None: operators compile
    over null-free columns).  Identity against anything else depends on the row (``b is True``
    for a bool, ``x is 1`` for a cached small int...), which no expression can stand for."""
    if not isinstance(a, _Sym) and not isinstance(b, _Sym):
        return a is b
    if a is None or b is None:
        return False
    raise _Unsupported("`is` against anything but None")


_BUILTINS: dict[str, object] = {
    "max": _max, "min": _min, "abs": _abs, "len": _len, "str": _StrBuiltin(),
    "int": _to_int, "float": _to_float, "bool": _truth, "round": _round,
}  # fmt: skip

# operator functions that only call the operand's dunders (plus proxy-aware not_/truth, which
# would otherwise call __bool__).
_OPERATOR_NAMES = (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pos", "abs", "inv", "invert",
    "and_", "or_", "xor", "eq", "ne", "lt", "le", "gt", "ge", "contains", "getitem", "concat",
    "itemgetter",
)  # fmt: skip
_OPERATOR_OVERRIDES: dict[str, object] = {
    "not_": _not, "truth": _truth, "is_": _is, "is_not": lambda a, b: not _is(a, b),
}  # fmt: skip
_OPERATOR = types.SimpleNamespace(
    **{name: getattr(operator, name) for name in _OPERATOR_NAMES}, **_OPERATOR_OVERRIDES
)

# Callables recognised by identity (as the function itself or as a global it uses).
_KNOWN: dict[int, object] = {id(getattr(builtins, n)): f for n, f in _BUILTINS.items()}
_KNOWN.update({id(getattr(operator, n)): getattr(_OPERATOR, n) for n in vars(_OPERATOR)})


# --------------------------------------------------------------------------- bytecode whitelist

_SAFE_OPS = frozenset({
    "CACHE", "NOP", "RESUME", "EXTENDED_ARG", "COPY_FREE_VARS", "PUSH_NULL", "PRECALL", "CALL",
    "CALL_KW", "KW_NAMES", "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST",
    "LOAD_FAST_BORROW", "LOAD_FAST_BORROW_LOAD_FAST_BORROW", "STORE_FAST", "STORE_FAST_LOAD_FAST",
    "STORE_FAST_STORE_FAST", "LOAD_CONST", "LOAD_SMALL_INT", "RETURN_CONST", "RETURN_VALUE",
    "LOAD_DEREF", "LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "BINARY_OP", "BINARY_SUBSCR",
    "BINARY_SLICE", "BUILD_SLICE", "COMPARE_OP", "CONTAINS_OP", "IS_OP", "UNARY_NEGATIVE",
    "UNARY_POSITIVE", "UNARY_INVERT", "UNARY_NOT", "TO_BOOL", "NOT_TAKEN", "BUILD_TUPLE",
    "BUILD_LIST", "LIST_EXTEND", "POP_TOP", "COPY", "SWAP", "UNPACK_SEQUENCE",
    "FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE", "BUILD_STRING",
})  # fmt: skip
_INTRINSICS = frozenset({"INTRINSIC_UNARY_POSITIVE", "INTRINSIC_LIST_TO_TUPLE"})
_NOT_PLAIN = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _check_code(code: types.CodeType, globals_used: set[str]) -> None:
    """Raise unless every instruction is side-effect free; collect the global names read."""
    if code.co_flags & _NOT_PLAIN or getattr(code, "co_exceptiontable", b""):
        raise _Unsupported("generators, coroutines and try blocks are not traced")
    _check_fstrings(code)
    loads: list[dis.Instruction] = []  # up to two instructions run just before this one
    for ins in dis.get_instructions(code):
        if ins.is_jump_target:
            loads = []  # another path may arrive here with other values on the stack
        if ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            loads = []
            if not (isinstance(ins.argval, int) and ins.argval > ins.offset):
                raise _Unsupported("loops are not traced")  # a backward jump could spin forever
            continue
        if ins.opname == "CALL_INTRINSIC_1" and ins.argrepr in _INTRINSICS:
            loads = []  # replaces the value on top of the stack
            continue
        if ins.opname not in _SAFE_OPS:
            raise _Unsupported(f"instruction {ins.opname}")
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and str(ins.argval).startswith("_"):
            raise _Unsupported("dunder attributes")  # would reach type internals
        if ins.opname == "LOAD_GLOBAL":
            globals_used.add(ins.argval)
        if ins.opname == "IS_OP" and not _against_none(loads):
            # A proxy never runs for `is` (no dunder), so `b is True` would fold to False.
            raise _Unsupported("`is` against anything but a literal None")
        if ins.opname not in ("CACHE", "EXTENDED_ARG", "NOP"):
            loads = [*loads[-1:], ins]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _check_code(const, globals_used)


_ONE_VALUE_LOADS = frozenset({"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF",
                              "LOAD_CONST", "LOAD_SMALL_INT"})  # fmt: skip


def _against_none(before: list[dis.Instruction]) -> bool:
    """Whether one operand of the IS_OP that follows ``before`` is the constant None: loaded
    last, or loaded just before a single other value."""

    def is_none(ins: dis.Instruction) -> bool:
        return ins.opname == "LOAD_CONST" and ins.argval is None

    if before and is_none(before[-1]):
        return True
    return len(before) == 2 and before[-1].opname in _ONE_VALUE_LOADS and is_none(before[0])


_FSTRING_OPS = frozenset(
    {"FORMAT_VALUE", "FORMAT_SIMPLE", "FORMAT_WITH_SPEC", "CONVERT_VALUE", "BUILD_STRING"}
)


def _check_fstrings(code: types.CodeType) -> None:
    """An f-string's value is a placeholder string (see ``_Sym.__format__``), right only as a
    result: from each format instruction to the return, allow only loads, more f-string pieces,
    constant subscripts of loaded values (``kv[1]``) and the tuple being returned."""
    if any(isinstance(c, str) and (_FIELD_OPEN in c or _FIELD_CLOSE in c) for c in code.co_consts):
        raise _Unsupported("constants holding the f-string placeholder code points")
    instructions = list(dis.get_instructions(code))
    for index, ins in enumerate(instructions):
        if ins.opname in _FSTRING_OPS:
            _check_fstring_flow(instructions, index)


def _check_fstring_flow(instructions: list[dis.Instruction], index: int) -> None:
    """Follow the placeholder made at ``index`` along the stack of straight-line code until an
    instruction consumes it: another f-string piece (the result is followed in turn), the tuple
    being built (which may only be returned) or the return.  Anything else would compute on the
    placeholder's text (``f"{x}".upper()``, ``len(f"{x}")``, ``f"{x}" == "a"``) and is refused."""
    above, in_tuple = 0, False  # values pushed on top of the placeholder (or of its tuple)
    for ins in instructions[index + 1 :]:
        name = ins.opname
        if (ins.is_jump_target and name != "RETURN_VALUE") or ins.opcode in _JUMPS:
            break  # other paths join here, or the value travels along a branch
        if name in ("CACHE", "NOP", "EXTENDED_ARG"):
            continue
        if name in ("COPY", "SWAP"):
            if ins.arg > above:
                break
            above += name == "COPY"
            continue
        pushes = _PUSHES.get(name, 1)
        if name == "LOAD_GLOBAL" or (name == "LOAD_ATTR" and sys.version_info >= (3, 12)):
            pushes = 1 + (ins.arg & 1)  # the low bit asks for a NULL or self as well
        elif name == "UNPACK_SEQUENCE":
            pushes = ins.arg
        pops = pushes - dis.stack_effect(ins.opcode, ins.arg if ins.opcode >= dis.HAVE_ARGUMENT else None)
        if pops <= above:
            above += pushes - pops
            continue
        if name == "RETURN_VALUE":
            return
        if in_tuple:
            break
        if name == "BUILD_TUPLE":
            above, in_tuple = 0, True
        elif name in ("BUILD_STRING", "FORMAT_SIMPLE") or (name == "FORMAT_VALUE" and ins.arg == 0):
            above = 0  # the joined string holds the placeholder now
        else:
            break
    raise _Unsupported("an f-string used other than as (part of) the result")


_JUMPS = frozenset(dis.hasjrel + dis.hasjabs)
# Values an instruction pushes (default 1), to tell how many it pops from its stack effect.
_PUSHES = {"POP_TOP": 0, "RETURN_VALUE": 0, "RETURN_CONST": 0, "RESUME": 0, "KW_NAMES": 0,
           "PRECALL": 0, "NOT_TAKEN": 0, "COPY_FREE_VARS": 0, "STORE_FAST": 0,
           "STORE_FAST_STORE_FAST": 0, "LOAD_METHOD": 2, "LOAD_FAST_LOAD_FAST": 2,
           "LOAD_FAST_BORROW_LOAD_FAST_BORROW": 2}  # fmt: skip


def _is_simple_constant(value: object) -> bool:
    """Immutable values with side-effect-free methods (exact types: subclasses could override)."""
    if type(value) is tuple:
        return all(_is_simple_constant(v) for v in value)
    return type(value) in (int, float, str, bool, bytes, type(None))


def _patched_globals(fn: types.FunctionType, names: set[str]) -> dict[str, object]:
    patched: dict[str, object] = {"__builtins__": {}}
    for name in names:
        if name in fn.__globals__:
            value = fn.__globals__[name]
            if value is operator:
                patched[name] = _OPERATOR
            elif id(value) in _KNOWN:
                patched[name] = _KNOWN[id(value)]
            elif _is_simple_constant(value):
                patched[name] = value  # read once now, like closure cells
            else:
                raise _Unsupported(f"global {name!r}")
        elif name in _BUILTINS:
            patched[name] = _BUILTINS[name]
        else:
            raise _Unsupported(f"builtin {name!r}")
    return patched


def _prepare(fn: object) -> Callable[..., Any] | None:
    """A traceable stand-in for ``fn``, or None when ``fn`` may not be called with proxies."""
    if id(fn) in _KNOWN:
        return _KNOWN[id(fn)]  # type: ignore[return-value]
    if isinstance(fn, types.MethodDescriptorType) and fn.__objclass__ is str:
        if fn.__name__ in _METHODS["str"]:  # map(str.strip): the method on the proxy
            return lambda s, *args: getattr(s, fn.__name__)(*args)
        return None
    if isinstance(fn, operator.itemgetter):
        return fn  # only subscripts its argument
    if not isinstance(fn, types.FunctionType):
        return None
    try:
        names: set[str] = set()
        _check_code(fn.__code__, names)
        cells = [cell.cell_contents for cell in fn.__closure__ or ()]  # ValueError if empty
        defaults = [*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]
        if not all(_is_simple_constant(v) for v in cells + defaults):
            raise _Unsupported("closure cells and defaults must be simple constants")
        patched = _patched_globals(fn, names)
    except (_Unsupported, ValueError) as exc:
        _log.debug("not tracing %r: %s", fn, exc)
        return None
    clone = types.FunctionType(fn.__code__, patched, fn.__name__, fn.__defaults__, fn.__closure__)
    clone.__kwdefaults__ = fn.__kwdefaults__
    return clone


# --------------------------------------------------------------------------- running a trace


@dataclass(frozen=True)
class _Leaf:
    """Normalised outcome of one trace path (or of several joined by `in` conditions)."""

    exprs: tuple[pl.Expr, ...]
    dtypes: tuple[pl.DataType, ...]
    consts: tuple[object, ...]  # the Python constant behind each expr, or _NOT_CONST
    bad: pl.Expr | None


_Output = list[tuple[pl.Expr, pl.DataType, object]]  # (expr, dtype, constant or _NOT_CONST)


def _column_sym(column: Column, trace: _Trace) -> _Sym:
    """An input column as a proxy; narrow ints and Float32 widen to what Python would hold."""
    dtype, expr = _instance(column.dtype), pl.col(column.name)
    if dtype.is_integer() and dtype not in (_INT, pl.UInt64()):
        return _Sym(expr.cast(_INT), _INT, trace)
    if dtype == pl.Float32():
        return _Sym(expr.cast(_FLOAT), _FLOAT, trace)
    return _Sym(expr, dtype, trace)  # unknown dtypes pass through untouched (kind "other")


def _element(element: Column | tuple[Column, Column], trace: _Trace) -> object:
    if isinstance(element, Column):
        return _column_sym(element, trace)
    if isinstance(element, tuple) and len(element) == 2:
        return (_column_sym(element[0], trace), _column_sym(element[1], trace))
    raise _Unsupported(f"element description {element!r}")


def _explore(
    run: Callable[[_Trace], _Output], forced: tuple[bool, ...] = (), runs: list[int] | None = None
) -> _Leaf:
    """Run the function; at each new `in` test, explore both outcomes and join them."""
    runs = [_MAX_TRACE_RUNS] if runs is None else runs  # shared by the whole exploration
    runs[0] -= 1
    if runs[0] < 0:
        raise _Unsupported("too many branches")
    trace = _Trace(forced)
    try:
        output = run(trace)
    except _Branch as branch:
        if len(forced) >= _MAX_IN_TESTS:
            raise _Unsupported("too many `in` tests") from None
        yes, no = _explore(run, (*forced, True), runs), _explore(run, (*forced, False), runs)
        return _join(branch.cond, yes, no)
    bad = pl.any_horizontal(trace.checks) if trace.checks else None
    return _Leaf(tuple(o[0] for o in output), tuple(o[1] for o in output),
                 tuple(o[2] for o in output), bad)  # fmt: skip


def _join(cond: pl.Expr, yes: _Leaf, no: _Leaf) -> _Leaf:
    if yes.dtypes != no.dtypes:
        raise _Unsupported("the branches of an `in` test give different types")
    exprs, consts = [], []
    for y, n, cy, cn, dtype in zip(yes.exprs, no.exprs, yes.consts, no.consts, yes.dtypes):
        if cy is _NOT_CONST or cn is _NOT_CONST:
            same = cy is cn and y.meta.eq(n)
        else:  # repr tells 0.0 from -0.0 and True from 1
            same = type(cy) is type(cn) and repr(cy) == repr(cn)
        exprs.append(y if same else _when(cond, y, n, cy, cn, dtype))
        consts.append(cy if same else _NOT_CONST)
    if yes.bad is None and no.bad is None:
        bad = None
    else:  # a null cond only comes from a row already bad before the test: `no` has that check
        false = pl.lit(False)
        bad = pl.when(cond).then(yes.bad if yes.bad is not None else false)
        bad = bad.otherwise(no.bad if no.bad is not None else false)
    return _Leaf(tuple(exprs), yes.dtypes, tuple(consts), bad)


def _when(cond: pl.Expr, y: pl.Expr, n: pl.Expr, cy: object, cn: object, dtype: Any) -> pl.Expr:
    """``y if cond else n``, simplified for boolean constants (e.g. `return "x" in s`)."""
    if dtype == _BOOL:
        if cy is True:
            return cond if cn is False else cond | n
        if cy is False:
            return ~cond if cn is True else ~cond & n
        if cn is False:
            return cond & y
        if cn is True:
            return ~cond | y
    return pl.when(cond).then(y).otherwise(n)


def _trap(expr: pl.Expr, bad: pl.Expr) -> pl.Expr:
    """``expr``, but collecting it raises InvalidOperationError if any row is bad."""
    tripwire = pl.when(bad).then(pl.lit(256, _INT)).otherwise(pl.lit(0, _INT))
    return pl.when(tripwire.cast(pl.UInt8, strict=True) == 0).then(expr)


def _finish(leaf: _Leaf, broadcast: bool) -> Traced:
    exprs = []
    for expr in leaf.exprs:
        if broadcast and not expr.meta.root_names():
            expr = pl.repeat(expr, pl.len())  # a constant result still needs one value per row
        exprs.append(expr)
    trapped = exprs if leaf.bad is None else [_trap(expr, leaf.bad) for expr in exprs]
    return Traced(tuple(trapped), leaf.dtypes, tuple(exprs), leaf.bad)


# --------------------------------------------------------------------------- result shapes


def _unmark(value: object, trace: _Trace) -> object:
    """A string an f-string built over proxies, back as a str proxy; other values unchanged."""
    if type(value) is not str or _FIELD_OPEN not in value:
        return value
    parts: list[pl.Expr] = []
    for i, piece in enumerate(re.split(f"{_FIELD_OPEN}([0-9]+){_FIELD_CLOSE}", value)):
        if i % 2:
            parts.append(trace.fields[int(piece)]._expr)
        elif _FIELD_OPEN in piece or _FIELD_CLOSE in piece:
            raise _Unsupported("a cut f-string placeholder")
        elif piece:
            parts.append(pl.lit(piece, _STR))
    return _Sym(pl.concat_str(parts), _STR, trace)


def _scalar(value: object, trace: _Trace) -> tuple[pl.Expr, pl.DataType, object]:
    value = _unmark(value, trace)
    if isinstance(value, _Sym):
        return value._expr, value._dtype, _NOT_CONST
    if isinstance(value, list):  # map returning a list: one list-valued column
        merged = _concat_lists([value], trace)
        return merged._expr, merged._dtype, _NOT_CONST
    expr, dtype = _lit(value)
    return expr, dtype, value


def _map_output(value: object, trace: _Trace) -> _Output:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise _Unsupported("only (key, value) pairs may be returned as tuples")
        return [_scalar(value[0], trace), _scalar(value[1], trace)]
    return [_scalar(value, trace)]


def _flat_map_output(value: object, trace: _Trace) -> _Output:
    if isinstance(value, _Sym):
        if value._kind != "list":  # iterating a str gives characters: not supported
            raise _Unsupported(f"flatMap over {value._dtype}")
        return [(value._expr, value._dtype, _NOT_CONST)]
    if not isinstance(value, (list, tuple)) or not value:
        raise _Unsupported("flatMap must return a list proxy or a non-empty list/tuple")
    value = [tuple(_unmark(v, trace) for v in item) if type(item) is tuple else _unmark(item, trace)
             for item in value]  # fmt: skip
    if all(isinstance(item, tuple) and len(item) == 2 for item in value):
        keys = _concat_lists([[item[0] for item in value]], trace)
        values = _concat_lists([[item[1] for item in value]], trace)
        return [(keys._expr, keys._dtype, _NOT_CONST), (values._expr, values._dtype, _NOT_CONST)]
    merged = _concat_lists([list(value)], trace)
    return [(merged._expr, merged._dtype, _NOT_CONST)]


def _filter_output(value: object, trace: _Trace) -> _Output:
    truth = _truth(_unmark(value, trace))
    if isinstance(truth, _Sym):
        return [(truth._expr, _BOOL, _NOT_CONST)]
    return [(pl.lit(truth, _BOOL), _BOOL, truth)]


# --------------------------------------------------------------------------- public API


_Element = Column | tuple[Column, Column]


def trace_map(fn: Callable[[Any], Any], element: _Element) -> Traced | None:
    """Compile ``fn(element)``: 1 expr for a scalar result, 2 for a (key, value) pair."""
    return _traced("map", fn, element, _map_output)


def trace_flat_map(fn: Callable[[Any], Any], element: _Element) -> Traced | None:
    """Compile ``fn(element) -> iterable`` into list exprs of equal lengths (explode together)."""
    return _traced("flatMap", fn, element, _flat_map_output)


def trace_filter(fn: Callable[[Any], Any], element: _Element) -> pl.Expr | None:
    """Compile ``fn(element)`` into a boolean predicate with Python truthiness."""
    traced = trace_predicate(fn, element)
    return None if traced is None else traced.exprs[0]


def trace_predicate(fn: Callable[[Any], Any], element: _Element) -> Traced | None:
    """:func:`trace_filter` as a :class:`Traced`, whose ``bad`` rows an engine checks apart.

    >>> import polars as pl
    >>> from dstreams.tracing import Column, trace_predicate
    >>> traced = trace_predicate(lambda x: 10 // x > 1, Column("value", pl.Int64()))
    >>> frame = pl.LazyFrame({"value": [2, 0]})
    >>> frame.filter(traced.unchecked[0]).filter(False).collect().height  # the 0 row is gone...
    0
    >>> frame.select(traced.bad.any()).collect().item()  # ...but its check still sees it
    True
    """
    return _traced("filter", fn, element, _filter_output)


def _traced(op: str, fn: object, element: _Element, normalise: Callable[..., _Output]) -> Traced | None:
    """Trace ``fn`` on ``element``, shape its result with ``normalise``; None if impossible."""
    try:
        call = _prepare(fn)
        if call is None:
            return None
        leaf = _explore(lambda trace: normalise(call(_element(element, trace)), trace))
        return _finish(leaf, broadcast=op != "filter")
    except Exception as exc:  # anything at all: the engine runs fn in Python instead
        _log.debug("%s: %r not compiled: %r", op, fn, exc)
        return None


def trace_reduce(fn: Callable[[Any, Any], Any], dtype: pl.DataType) -> Reducer | None:
    """Recognise ``fn(a, b)`` as a sum, product, min, max or (str) concatenation."""
    try:
        a_col, b_col = Column("a", dtype), Column("b", dtype)
        trace = _Trace(())
        a, b = _column_sym(a_col, trace), _column_sym(b_col, trace)
        if a._kind not in ("int", "float", "str", "bool"):
            return None
        call = _prepare(fn)
        result = call(a, b) if call is not None else None
        if not isinstance(result, _Sym):
            return None
        for name, make in _REDUCE_FORMS[a._kind]:
            try:
                candidate = make(a, b)
            except _Unsupported:
                continue
            if isinstance(candidate, _Sym) and result._expr.meta.eq(candidate._expr):
                return Reducer(name, a._dtype)
        return None
    except Exception as exc:
        _log.debug("reduce: not compiled: %r", exc)
        return None


def _flip(f: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda a, b: f(b, a)


_ADD, _MUL = operator.add, operator.mul
# (name, the same function applied to proxies): a traced fn(a, b) matches a form when its
# expression is identical to the form's.
_REDUCE_FORMS: dict[str, list[tuple[str, Callable[[Any, Any], Any]]]] = {
    "int": [("sum", _ADD), ("sum", _flip(_ADD)), ("product", _MUL), ("product", _flip(_MUL)),
            ("max", _max), ("max", _flip(_max)), ("min", _min), ("min", _flip(_min))],
    # Float sums may differ from Python's left-to-right order in the last bits (allowed);
    # max(b, a) keeps the last of equal values and treats NaN differently: not recognised.
    "float": [("sum", _ADD), ("sum", _flip(_ADD)), ("product", _MUL), ("product", _flip(_MUL)),
              ("max", _max), ("min", _min)],
    "str": [("concat", _ADD), ("max", _max), ("max", _flip(_max)), ("min", _min),
            ("min", _flip(_min))],
    "bool": [("max", _max), ("max", _flip(_max)), ("max", operator.or_), ("min", _min),
             ("min", _flip(_min)), ("min", operator.and_)],
}  # fmt: skip


def _float_sum(x: pl.Expr) -> pl.Expr:
    """``reduce(add, xs)`` for floats, signed zero included: Polars' sum starts from +0.0, so it
    never gives -0.0, but Python's left-to-right sum is -0.0 exactly when every value is -0.0
    (one value is returned as is; -0.0 + -0.0 is -0.0; any +0.0 or opposite values give +0.0)."""
    negative_zero = (x == 0) & (pl.lit(1.0, _FLOAT) / x < 0)  # 1 / -0.0 is -inf
    all_negative_zero = negative_zero.all() & (x.len() > 0)
    return pl.when(~all_negative_zero).then(x.sum()).otherwise(pl.lit(-0.0, _FLOAT))  # keeps x's name


def _float_extreme(x: pl.Expr, is_max: bool) -> pl.Expr:
    """``reduce(max, xs)`` for floats exactly: NaN only wins when it comes first (nothing
    compares greater than NaN, and NaN never compares greater), and among equal values the first
    is kept (0.0 vs -0.0)."""
    first = x.first()
    clean = x.filter(x.is_not_nan())
    best = clean.max() if is_max else clean.min()
    return pl.when(first.is_nan()).then(first).otherwise(clean.filter(clean == best).first())


# --------------------------------------------------------------------------- fallback hint

# Faster Polars forms for methods that are not (or not always) compiled.
_HINTS = {
    "lower": "str.to_lowercase()", "upper": "str.to_uppercase()", "title": "str.to_titlecase()",
    "capitalize": "str.to_titlecase()", "find": "str.find(..., literal=True)",
    "zfill": "str.zfill(...)", "isdigit": 'str.contains(r"^[0-9]+$")', "join": "list.join(...)",
    "format": "pl.format(...)", "round": "round(...)", "loads": "str.json_decode()",
    "search": "str.contains(...)", "match": "str.contains(...)", "findall": "str.extract_all(...)",
    "split": "str.split(...)", "strip": "str.strip_chars(...)", "replace": "str.replace_all(...)",
}  # fmt: skip


def fallback_hint(fn: Callable[..., Any], op_name: str) -> str:
    """One sentence for the once-per-operator warning that ``fn`` runs row by row in Python."""
    try:
        return _hint(fn, op_name)
    except Exception:  # a hint must never break the engine
        return f"{op_name} runs this function per row in Python"


def _hint(fn: Callable[..., Any], op_name: str) -> str:
    if op_name in ("reduce", "reduceByKey"):
        return "write it as a + b, a * b, max(a, b) or min(a, b) so it runs as a Polars aggregation"
    codes, names, jumps = [getattr(fn, "__code__", None)], [], set()
    while codes:
        code = codes.pop()
        if isinstance(code, types.CodeType):
            names += [n for n in code.co_names if n not in names]
            codes += code.co_consts
            jumps |= {i.opname for i in dis.get_instructions(code) if i.opcode in dis.hasjrel}
    branches = jumps and "FOR_ITER" not in jumps  # if/else, not a loop
    known = [n for n in names if n in _HINTS]
    preferred = [n for n in known if n not in _METHODS["str"]] or known  # the likely culprit
    if preferred:
        hint = _HINTS[preferred[0]]
        form = hint if hint.startswith("pl.") else f'pl.col("value").{hint}'
    elif branches:
        form = "pl.when(...).then(...).otherwise(...)"
    else:
        return (
            "to compile, keep it to operators, comparisons, `in` and str methods such as "
            "split/strip/replace (no loops, if/else on values, or calls to other functions)"
        )
    if op_name == "filter":
        return f"use a Polars predicate such as {form}"
    if op_name in ("flatMap", "flatMapValues"):
        return f"use .with_columns({form}) and explode the list"
    return f"use .with_columns({form})"
