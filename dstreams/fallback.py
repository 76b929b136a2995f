"""What to do when an operator's function runs row-wise in Python instead of as a Polars plan.

Running in Python is a performance detail, not an error: the results are the same. So by default
nothing is said about it (``"ignore"``); ``stream.explain()`` shows which operators compile and why the
others do not. To be told while the program runs, choose a mode:

* ``"warn"``: a :class:`FallbackWarning` once per operator, pointing at the line where your function
  was defined (for a builtin such as ``int``: the line that added the operator);
* ``"error"``: a :class:`~dstreams.errors.FallbackError` when the operator plans its first batch (the
  column types it compiles for are only known then), which fails that batch;
* ``"ignore"``: nothing (the default).

Set it with ``SparkConf().set("spark.dstreams.fallback", mode)``, ``StreamingContext(...,
fallback=mode)`` or, for the whole process, ``dstreams.set_fallback(mode)``. A context's own setting wins
over the process-wide one; it applies to the context's batches, while RDDs used outside a running
context (``sc.parallelize(...).map(f).collect()``) follow the process-wide one.

>>> old = set_fallback("warn")
>>> current_mode()
'warn'
>>> _ = set_fallback(old)
"""

from __future__ import annotations

import builtins
import contextvars
import dis
import inspect
import os
import sys
import types
import warnings
from collections.abc import Callable
from typing import Any

from .errors import ConfigurationError, FallbackError

CONF_KEY = "spark.dstreams.fallback"
MODES = ("ignore", "warn", "error")


class FallbackWarning(UserWarning):
    """A Python function runs row-wise because it could not be compiled to a Polars expression."""


_process_mode = "ignore"
_context_mode: contextvars.ContextVar[str | None] = contextvars.ContextVar("dstreams_fallback", default=None)


def check_mode(mode: Any) -> str:
    """``mode`` in lower case if it is one of ``ignore``, ``warn``, ``error``; else ConfigurationError.

    >>> check_mode("WARN")
    'warn'
    """
    value = str(mode).strip().lower()
    if value not in MODES:
        raise ConfigurationError(
            f"{CONF_KEY} must be one of {', '.join(MODES)}, got {mode!r}"
            " (e.g. SparkConf().set('spark.dstreams.fallback', 'warn'))"
        )
    return value


def set_fallback(mode: str) -> str:
    """Set the process-wide mode (``"ignore"``, ``"warn"`` or ``"error"``); returns the previous one.

    >>> previous = set_fallback("error"); _ = set_fallback(previous)
    """
    global _process_mode
    old, _process_mode = _process_mode, check_mode(mode)
    return old


def current_mode() -> str:
    """The mode that applies here: the running context's setting, else the process-wide one.

    >>> current_mode() in MODES
    True
    """
    return _context_mode.get() or _process_mode


def use(mode: str | None) -> contextvars.Token:
    """Make ``mode`` apply on this thread (None: the process-wide mode); the scheduler calls it on
    its threads. Undo with ``reset(token)``.

    >>> reset(use("warn"))
    """
    return _context_mode.set(None if mode is None else check_mode(mode))


def reset(token: contextvars.Token) -> None:
    """Undo :func:`use`."""
    _context_mode.reset(token)


# ---------------------------------------------------------------------------------------------
# Naming the user's function


def _is_internal(module: str | None) -> bool:
    return module is not None and (module == "dstreams" or module.startswith("dstreams."))


def call_site() -> tuple[str, int, str] | None:
    """``(file, line, module)`` of the innermost frame outside dstreams: the user's line that is
    defining an operator. Cheap: a few frames are walked.

    >>> call_site()[0].endswith(".py") or call_site()[0].startswith("<")
    True
    """
    frame = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_globals.get("__name__")):
        frame = frame.f_back
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_globals.get("__name__", "")


def defined_at(fn: Callable[..., Any]) -> tuple[str, int] | None:
    """``(file, first line)`` of a function written in Python, None for builtins and classes.

    >>> def double(x):
    ...     return 2 * x
    >>> defined_at(double)[1] > 0, defined_at(int)
    (True, None)
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return code.co_filename, code.co_firstlineno


def function_name(fn: Callable[..., Any]) -> str:
    """The user's function as its qualname and, when written in Python, ``file:line``.

    >>> def parse(line):
    ...     return line.split(",")
    >>> function_name(parse).split(" ")[0]
    'parse'
    >>> function_name(int)
    'int'
    """
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    place = defined_at(fn)
    if place is None:
        return name
    return f"{name} ({os.path.basename(place[0])}:{place[1]})"


class Site:
    """Where a fallback is reported: the user's function and the line that added the operator."""

    __slots__ = ("file", "function", "line", "module")

    def __init__(self, function: Callable[..., Any]):
        self.function = function
        place = defined_at(function)
        module = getattr(function, "__module__", None)
        if place is not None and not _is_internal(module):
            self.file, self.line = place
            self.module = module or ""
        else:  # a builtin, a class or a bound method: blame the line that added the operator
            site = call_site()
            self.file, self.line, self.module = site if site is not None else ("<unknown>", 0, "")


def report(operator: str, site: Site, reason: str, faster: str = "") -> None:
    """Say that ``operator`` runs row-wise in Python, as the current mode asks (see the module doc)."""
    mode = current_mode()
    if mode == "ignore":
        return
    message = f"{operator} runs row-wise in Python: {reason}."
    if faster:
        message += f" Faster: {faster}."
    where = function_name(site.function)
    if defined_at(site.function) is None:
        where += f", added at {os.path.basename(site.file)}:{site.line}"
    if mode == "error":
        raise FallbackError(
            f"{message} [{where}] (spark.dstreams.fallback is 'error'; set it to 'warn' or 'ignore' to "
            "let it run in Python)"
        )
    warnings.warn_explicit(message, FallbackWarning, site.file, site.line, module=site.module)


# ---------------------------------------------------------------------------------------------
# Why a function runs in Python, and its faster form

# Faster forms for builtins and classes commonly passed straight to map/mapValues.
_BUILTIN_FORMS = {
    "int": 'select(pl.col("value").str.strip_chars().cast(pl.Int64)) on text, or .cast(pl.Int64)',
    "float": 'select(pl.col("value").str.strip_chars().cast(pl.Float64)) on text, or .cast(pl.Float64)',
    "str": 'select(pl.col("value").cast(pl.String))',
    "len": 'select(pl.col("value").str.len_chars()) on text, .list.len() on lists',
    "Row": 'select(pl.col("value").alias("word")), or to_rows() on pairs: rows are already columns',
}


def _codes(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _codes(const)
    return found


def _code_reason(fn: types.FunctionType) -> str:
    """A best-effort reading of the bytecode: the construct that most likely stopped the tracer."""
    codes = _codes(fn.__code__)
    if fn.__code__.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR):
        return "it is a generator"
    if any(getattr(c, "co_exceptiontable", b"") for c in codes):
        return "it has a try block"
    instructions = [i for c in codes for i in dis.get_instructions(c)]
    if any(i.opname == "FOR_ITER" for i in instructions):
        return "it has a loop or a comprehension"
    called = []
    for i in instructions:
        if i.opname == "LOAD_GLOBAL":
            value = fn.__globals__.get(i.argval, getattr(builtins, str(i.argval), None))
            if callable(value) and not (
                getattr(value, "__module__", None) == "builtins" and i.argval in _BUILTIN_OK
            ):
                called.append(str(i.argval))
    if called:
        return f"it calls {', '.join(dict.fromkeys(called))}, which the tracer does not look into"
    if any("JUMP_IF" in i.opname for i in instructions):
        return "it branches (if/else, and/or) on values"
    return "it uses an operation the tracer does not compile for this input type"


_BUILTIN_OK = frozenset({"abs", "len", "max", "min", "str", "int", "float", "bool", "round"})


def why_python(fn: Callable[..., Any], kind: str, input_types: dict[str, Any]) -> tuple[str, str]:
    """``(reason, faster form or "")`` for ``fn`` running in Python in a ``kind`` operator whose input
    columns have ``input_types``.

    >>> reason, faster = why_python(lambda v: [x for x in v], "map", {"value": "String"})
    >>> reason.endswith("for String input: it has a loop or a comprehension")
    True
    """
    columns = ", ".join(str(t) for t in input_types.values())
    name = function_name(fn)
    if isinstance(fn, types.FunctionType):
        reason = f"the tracer could not compile {name} for {columns} input: {_code_reason(fn)}"
        faster = ""
        try:
            from . import tracing

            hint = tracing.fallback_hint(fn, kind)
        except Exception:  # the hint is a courtesy: never let it break a report
            hint = ""
        if hint.startswith("use "):
            faster = hint[4:]
        elif hint.startswith("write it as"):
            faster = hint
        if not faster and "Row" in fn.__code__.co_names:
            faster = "." + _BUILTIN_FORMS["Row"]
    else:
        reason = f"{name} is not a Python function the tracer can read (a builtin, class or method)"
        reason += f" for {columns} input" if columns else ""
        short = getattr(fn, "__name__", "")
        faster = _BUILTIN_FORMS.get(short, "")
        if faster:
            faster = f".{faster}" if not faster.startswith(".") else faster
    return reason, faster
