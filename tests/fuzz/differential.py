"""Run a generated pipeline on both paths and say how (and why) they differ.

``check(pipeline)`` runs it with ``set_compilation(True)`` and ``False`` on one and two
partitions, and compares every batch: values and their types (``repr`` tells 1 from 1.0 and True,
and -0.0 from 0.0), the order where it is defined, and which batches raise and with which
exception (the user's, under the ``BatchError`` that wraps it). ``classify`` names the cause of a
difference by re-running parts of the pipeline; ``as_test`` prints it as a pytest test.
"""

from __future__ import annotations

import logging
import math
import operator
import random
import re
import warnings
from dataclasses import dataclass, replace
from typing import Any

from dstreams import ManualClock, SparkContext, StreamingContext
from dstreams.batch import set_compilation
from dstreams.errors import DStreamsError
from dstreams.listener import StreamingListener

try:  # where fallbacks are reported, and whether they are (the default is to say nothing)
    from dstreams.fallback import FallbackWarning, set_fallback
except ImportError:  # pragma: no cover - before dstreams.fallback existed every fallback warned
    from dstreams.ops import FallbackWarning

    def set_fallback(mode: str) -> str:
        return mode


from dstreams.outputs import to_ms

from .pipelines import Pipeline

FILENAME = "<fuzz>"


@dataclass
class Run:
    """One run: per batch ``("ok", elements)`` or ``("raise", exception type, message)``."""

    batches: list[tuple]
    fallbacks: int  # FallbackWarnings: operators (or batches) that ran row-wise in Python


@dataclass
class Diff:
    nparts: int
    batch: int
    kind: str  # value | zero-sign | type | order | raises-only-python | raises-only-compiled | exception
    compiled: Any
    python: Any

    def describe(self) -> str:
        return (
            f"{self.kind} at batch {self.batch} on local[{self.nparts}]: "
            f"compiled {_short(self.compiled)} / python {_short(self.python)}"
        )


def show(value: Any) -> str:
    """``repr``, but ints of any size (``repr`` refuses beyond 4300 digits): they print in hex."""
    if type(value) is int and value.bit_length() > 4000:
        return hex(value)
    if type(value) is tuple:
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if type(value) is list:
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def _short(value: Any, limit: int = 300) -> str:
    text = show(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _Failures(StreamingListener):
    """Batch times of the output operations, and why they failed when the callback never ran."""

    def __init__(self) -> None:
        self.completed: list[tuple[int, str | None]] = []

    def onOutputOperationCompleted(self, outputOperationCompleted: Any) -> None:
        info = outputOperationCompleted.outputOperationInfo()
        self.completed.append((info.batchTime().milliseconds(), info.failureReason()))


_HEADER = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")
_CAUSE = "The above exception was the direct cause"
_CONTEXT = "During handling of the above exception"


def root_cause(error: BaseException) -> BaseException:
    """The user's exception under the ``BatchError``s that wrap it (explicit causes only)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _root_of_traceback(text: str) -> str:
    """``root_cause`` of a printed chain: from the last exception, go back over direct causes."""
    headers: list[str] = []
    links: list[bool] = []  # links[i]: exception i is the direct cause of exception i + 1
    pending = True  # a header is expected after "Traceback" or a separator
    for line in text.splitlines():
        if line.startswith(_CAUSE) or line.startswith(_CONTEXT):
            links.append(line.startswith(_CAUSE))
            pending = True
        elif line.startswith("Traceback"):
            continue
        elif pending and not line.startswith(" "):
            match = _HEADER.match(line)
            if match:
                headers.append(match.group(1).rsplit(".", 1)[-1])
                pending = False
    if not headers:
        return "?"
    i = len(headers) - 1
    while i > 0 and i - 1 < len(links) and links[i - 1]:
        i -= 1
    return headers[i]


def run(p: Pipeline, nparts: int, compiled: bool) -> Run:
    old, old_mode = set_compilation(compiled), set_fallback("warn")
    clock = ManualClock()
    ssc = StreamingContext(SparkContext(f"local[{nparts}]", "fuzz"), 1, clock=clock)
    listener = _Failures()
    ssc.addStreamingListener(listener)
    results: dict[int, tuple] = {}

    def collect(time: Any, rdd: Any) -> None:
        try:
            results[to_ms(time)] = ("ok", rdd.collect())
        except Exception as error:
            cause = root_cause(error)
            results[to_ms(time)] = ("raise", type(cause).__name__, str(error)[:500])

    env: dict[str, Any] = {"ssc": ssc, "random": random, "operator": operator}
    engine_log = logging.getLogger("dstreams")
    level = engine_log.level
    engine_log.setLevel(logging.CRITICAL)  # failing batches are expected: do not flood the output
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                exec(compile(p.code(), FILENAME, "exec"), env)
            except Exception as error:  # the same on both paths, or a difference worth seeing
                return Run([("build", type(error).__name__, str(error)[:500])], 0)
            env[p.out].foreachRDD(collect)
            ssc.start()
            for _ in range(p.num_batches):
                try:  # batch errors may be raised here; the listener has them all
                    clock.advance(1)
                except DStreamsError:
                    pass
        fallbacks = sum(1 for w in caught if issubclass(w.category, FallbackWarning))
    finally:
        try:
            ssc.stop()
        except DStreamsError:
            pass
        engine_log.setLevel(level)
        set_compilation(old)
        set_fallback(old_mode)
    batches = []
    for t, failure in sorted(listener.completed):
        if t in results:
            batches.append(results[t])
        elif failure is not None:
            batches.append(("raise", _root_of_traceback(failure), failure.strip().splitlines()[-1][:500]))
        else:
            batches.append(("missing",))
    return Run(batches, fallbacks)


# --------------------------------------------------------------------------- comparing


def _zero_blind(text: str) -> str:
    return re.sub(r"-0\.0\b", "0.0", text)


def _close(a: Any, b: Any) -> bool:
    """Equal but for the last bits of finite floats (sums in another order than Python's)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if show(a) == show(b):
            return True
        return math.isfinite(a) and math.isfinite(b) and a != 0 and math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return show(a) == show(b)


def _skeleton(value: Any) -> Any:
    """The types in a value: (int, float) for (1, 2.0)."""
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_skeleton(v) for v in value))
    return type(value).__name__


def compare_batch(
    p: Pipeline, nparts: int, index: int, a: tuple, b: tuple, strict_order: bool = False
) -> Diff | None:
    """``a`` from the compiled run, ``b`` from the Python one. ``strict_order``: also report a
    different order after a shuffle on several partitions (kind ``order-unspecified``), which
    Spark does not define but this engine means to keep the same on both paths."""
    if a[0] != "ok" or b[0] != "ok":
        if a[:2] == b[:2]:
            return None
        if a[0] == "ok":
            return Diff(nparts, index, "raises-only-python", a[1], b[1:])
        if b[0] == "ok":
            return Diff(nparts, index, "raises-only-compiled", a[1:], b[1])
        return Diff(nparts, index, "exception", a[1:], b[1:])
    xs, ys = a[1], b[1]
    rx, ry = [show(x) for x in xs], [show(y) for y in ys]
    if rx == ry:
        return None
    ordered = nparts == 1 or not p.shuffles
    if not ordered:
        order = sorted(range(len(xs)), key=lambda i: rx[i]), sorted(range(len(ys)), key=lambda i: ry[i])
        xs, ys = [xs[i] for i in order[0]], [ys[i] for i in order[1]]
        rx, ry = sorted(rx), sorted(ry)
        if rx == ry:
            return Diff(nparts, index, "order-unspecified", a[1], b[1]) if strict_order else None
    elif sorted(rx) == sorted(ry):
        return Diff(nparts, index, "order", a[1], b[1])
    if p.reduces and _close(xs, ys):
        return None  # documented: float sums may differ from Python's in the last bits
    if _zero_blind(show(xs)) == _zero_blind(show(ys)):
        return Diff(nparts, index, "zero-sign", a[1], b[1])
    if [_skeleton(x) for x in xs] != [_skeleton(y) for y in ys]:
        return Diff(nparts, index, "type", a[1], b[1])
    return Diff(nparts, index, "value", a[1], b[1])


def compare(p: Pipeline, nparts: int, compiled: Run, python: Run, strict_order: bool = False) -> Diff | None:
    n = max(len(compiled.batches), len(python.batches))
    for i in range(n):
        a = compiled.batches[i] if i < len(compiled.batches) else ("missing",)
        b = python.batches[i] if i < len(python.batches) else ("missing",)
        diff = compare_batch(p, nparts, i, a, b, strict_order)
        if diff is not None:
            return diff
    return None


@dataclass
class Outcome:
    diff: Diff | None
    fallbacks: int  # on the compiled runs: 0 means every stretch compiled
    runs: int


def check(p: Pipeline, partitions: tuple[int, ...] = (1, 2), strict_order: bool = False) -> Outcome:
    fallbacks = 0
    for n in partitions:
        compiled, python = run(p, n, True), run(p, n, False)
        fallbacks += compiled.fallbacks
        diff = compare(p, n, compiled, python, strict_order)
        if diff is not None:
            return Outcome(diff, fallbacks, 2)
    return Outcome(None, fallbacks, 2 * len(partitions))


# --------------------------------------------------------------------------- causes

KNOWN_CAUSES = {
    "is-constant": "known cause 1: `x is True` / `x is 1` folds to a constant",
    "signed-zero-arith": "known cause 2: Polars rewrites x + 0 / 0 - x and loses the sign of zero",
    "signed-zero-sum": "known cause 3: a float sum loses -0.0 (reduce, reduceByKey, windows, state)",
    "trap-lost": "known cause 4: a tripwire is optimized away by a later operator (pushdown)",
}
_REDUCING = ("reduce(", "reduceByKey(", "reduceByKeyAndWindow(", "updateStateByKey(", "reduceByWindow(")


def _prefix(p: Pipeline, k: int) -> Pipeline:
    """The pipeline up to its ``k``-th line (``s`` as it is after that line)."""
    return replace(p, lines=p.lines[:k])


def _diff_at(p: Pipeline, nparts: int) -> Diff | None:
    return compare(p, nparts, run(p, nparts, True), run(p, nparts, False), strict_order=True)


def culprit(p: Pipeline, diff: Diff) -> int:
    """Index of the first line whose prefix already differs (the operator that diverges alone)."""
    for k in range(1, len(p.lines)):
        d = _diff_at(_prefix(p, k), diff.nparts)
        if d is not None and d.kind == diff.kind:
            return k - 1
    return len(p.lines) - 1


def _operator_of(line: str) -> str:
    match = re.search(r"\.(\w+)\(", line)
    return match.group(1) if match else line.split("=", 1)[-1].strip()


def classify(p: Pipeline, diff: Diff) -> tuple[str, int]:
    """``(cause, culprit line index)``; a cause not in ``KNOWN_CAUSES`` is new."""
    line = culprit(p, diff)
    text = p.lines[line]
    if re.search(r"\bis (True|False|-?\d)", text):
        return "is-constant", line
    if diff.kind == "zero-sign":
        if any(r in text for r in _REDUCING) or text.strip().endswith(".window"):
            return "signed-zero-sum", line
        return "signed-zero-arith", line
    if diff.kind == "value" and any(r in text for r in _REDUCING) and "inf" in _short(diff, 10**6):
        # a float sum that overflows to inf in another order than Python's: nan vs +-inf
        return "float-sum-overflow-order", line
    if diff.kind == "raises-only-python":
        where = re.search(re.escape(FILENAME) + r":(\d+)", str(diff.python))
        if where:
            # the line (of the code) whose function raised in Python: alone, does the compiled
            # path raise too? Then the trap exists and a later operator lost it.
            raising = int(where.group(1)) - len(p.sources) - 1
            if 0 <= raising < len(p.lines) - 1:
                alone = run(_prefix(p, raising + 1), diff.nparts, True)
                if any(b[0] == "raise" for b in alone.batches):
                    return "trap-lost", raising
        return f"raises-only-python-{_operator_of(text)}", line
    return f"{diff.kind}-{_operator_of(text)}", line


def shrink(p: Pipeline, diff: Diff) -> tuple[Pipeline, Diff]:
    """A smaller pipeline with the same kind of difference: fewer lines, smaller batches."""
    for k in range(1, len(p.lines)):
        d = _diff_at(_prefix(p, k), diff.nparts)
        if d is not None and d.kind == diff.kind:
            p, diff = _prefix(p, k), d
            break
    for source in p.sources:
        for i in range(len(source.batches)):
            original = source.batches[i]
            for smaller in _smaller_batches(original):
                source.batches[i] = smaller
                d = _diff_at(p, diff.nparts)
                if d is not None and d.kind == diff.kind:
                    diff = d
                    break
                source.batches[i] = original
    if p.extra_batches:
        fewer = replace(p, extra_batches=0)
        d = _diff_at(fewer, diff.nparts)
        if d is not None and d.kind == diff.kind:
            p, diff = fewer, d
    return p, diff


def _smaller_batches(text: str) -> list[str]:
    if text == "[]":
        return []
    out = ["[]"]
    if "k=1000" in text:
        out += [text.replace("k=1000", "k=20"), text.replace("k=1000", "k=3")]
    elif "k=20" in text:
        out.append(text.replace("k=20", "k=3"))
    return out


# --------------------------------------------------------------------------- reports


def as_test(p: Pipeline, diff: Diff, cause: str, name: str) -> str:
    """A ready-to-paste pytest test that fails while the difference lasts."""
    ordered = diff.kind.startswith("order") or diff.nparts == 1 or not p.shuffles
    norm = "[repr(x) for x in batch]" if ordered else "sorted(repr(x) for x in batch)"
    return f'''import operator  # noqa: F401  (the pipeline may use operator.add)
import random  # noqa: F401  (large batches are seeded random choices)

from dstreams import ManualClock, SparkContext, StreamingContext
from dstreams.batch import set_compilation
from dstreams.errors import DStreamsError


def test_{name}():
    """Found by tests/fuzz ({cause}): {diff.describe()[:200]}"""

    def run(compiled):
        old = set_compilation(compiled)
        clock = ManualClock()
        ssc = StreamingContext(SparkContext("local[{diff.nparts}]", "fuzz"), 1, clock=clock)
        out = []

        def collect(rdd):
            try:
                out.append({norm.replace("batch", "rdd.collect()")})
            except Exception as error:
                while error.__cause__ is not None:
                    error = error.__cause__
                out.append(type(error).__name__)

        try:
{p.code(indent=" " * 12)}
            {p.out}.foreachRDD(collect)
            ssc.start()
            for _ in range({p.num_batches}):
                try:
                    clock.advance(1)
                except DStreamsError:  # the batch's error, also recorded by collect
                    pass
        finally:
            try:
                ssc.stop()
            except DStreamsError:
                pass
            set_compilation(old)
        return out

    assert run(True) == run(False)
'''
