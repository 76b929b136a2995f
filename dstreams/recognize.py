"""Recognise user functions written exactly like a known template, by comparing bytecode.

Stateful operators run a user's function per key; when that function is one of a few well-known
shapes (``lambda a, b: a - b``, ``lambda new, old: sum(new) + (old or 0)``...) the engine runs
an equivalent Polars plan instead. Two functions with the same instructions, the same constants
and the same builtins compute the same thing, whatever their parameter names, so matching is
exact: a function that merely behaves alike on a few inputs is never mistaken for a template.

>>> from dstreams.recognize import matches
>>> matches(lambda x, y: x - y, [lambda a, b: a - b])
True
"""

from __future__ import annotations

import builtins
import dis
import types
from collections.abc import Callable, Sequence
from typing import Any

_Shape = tuple[tuple[str, Any], ...]


def _code(fn: Any) -> types.CodeType | None:
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType) or code.co_freevars or code.co_flags & 0x2C:
        return None  # closures, *args/**kwargs and generators/coroutines never match a template
    return code


def _shape(fn: Any) -> _Shape | None:
    """The instructions of ``fn`` with parameter names and constant slots abstracted away."""
    code = _code(fn)
    if code is None:
        return None
    glob = getattr(fn, "__globals__", {})
    out: list[tuple[str, Any]] = [("argcount", code.co_argcount)]
    for ins in dis.get_instructions(code):
        arg: Any = ins.argval
        if ins.opname in ("LOAD_FAST", "STORE_FAST", "DELETE_FAST", "LOAD_FAST_CHECK"):
            arg = code.co_varnames.index(ins.argval)
        elif ins.opname == "LOAD_GLOBAL":
            # Only builtins the user has not shadowed: ``sum`` must be the real sum.
            name = ins.argval
            if name in glob or not hasattr(builtins, name):
                return None
            arg = (name, ins.argrepr.startswith("NULL"))
        elif ins.opname == "LOAD_CONST":
            arg = (type(ins.argval).__name__, repr(ins.argval))
        elif ins.opname in ("LOAD_NAME", "LOAD_DEREF", "LOAD_CLOSURE", "STORE_GLOBAL", "IMPORT_NAME"):
            return None
        out.append((ins.opname, arg))
    return tuple(out)


def matches(fn: Callable[..., Any], templates: Sequence[Callable[..., Any]]) -> bool:
    """True when ``fn`` has exactly the bytecode of one of ``templates`` (names aside)."""
    shape = _shape(fn)
    if shape is None:
        return False
    return any(shape == _shape(t) for t in templates)
