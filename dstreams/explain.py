"""``stream.explain()`` and ``ssc.explain()``: which operators compile into Polars plans, which run
row-wise in Python, why, and the faster form.

Whether an operator compiles depends on the column types of its input, so explain follows a sample
batch from the source through the operators: the source's next queued batch for ``queueStream``
(the operators run on it once, as they would in the first batch). Without a sample (sockets, files,
Kafka before their first batch) it lists the operators and says that the types are not known yet.

>>> from dstreams import StreamingContext
>>> ssc = StreamingContext(batchDuration=1)
>>> pairs = ssc.queueStream([["a b a"]]).flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))
>>> text = explain_streams([pairs])  # doctest: +ELLIPSIS
source queueStream <QueueInputDStream #0>...
>>> "compiled" in text
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from . import fallback
from .batch import Batch, Op, shape_of

_INDENT = "  "


def explain_streams(streams: Sequence[Any], *, title: str | None = None) -> str:
    """Print and return the explanation of ``streams`` (DStreams; outputs included)."""
    lines: list[str] = [title] if title else []
    token = fallback.use("ignore")  # explaining must not warn or raise about what it explains
    try:
        for i, stream in enumerate(streams):
            if i:
                lines.append("")
            _Explainer(lines).stream(stream, depth=0)
    finally:
        fallback.reset(token)
    text = "\n".join(lines)
    print(text)
    return text


class _Explainer:
    def __init__(self, lines: list[str]):
        self.lines = lines

    def say(self, depth: int, text: str) -> None:
        self.lines.append(_INDENT * depth + text)

    def stream(self, stream: Any, depth: int) -> Batch | None:
        """Explain ``stream`` and what it reads; returns its sample batch (None when unknown)."""
        chain = []  # this stream and its single-parent operator ancestors, newest first
        node = stream
        while node.operator is not None:
            chain.append(node)
            node = node.parents[0]
        sample = self.base(node, depth)
        ops = [s.operator for s in reversed(chain)]
        sample = self.operators(ops, sample, depth)
        return sample

    def base(self, node: Any, depth: int) -> Batch | None:
        """A stream that is not a per-batch operator: a source, an output, a window, a join..."""
        parents = node.parents
        if not parents:
            make_sample = getattr(node, "explain_sample", None)
            sample = make_sample() if make_sample is not None else None
            known = "" if sample is not None else "  (column types unknown until its first batch)"
            self.say(depth, f"source {_name(node)}{known}")
            return sample
        passes = _passes_batches(node)
        if len(parents) == 1:
            sample = self.stream(parents[0], depth)
            if passes:
                self.say(depth, f"{_name(node)}  (the elements of several batches: types unchanged)")
                return sample
            self.say(depth, f"{_name(node)}  {_describe_stream(node)}")
            return None
        self.say(depth, f"{_name(node)}  {_describe_stream(node)}, of:")
        samples = []
        for i, parent in enumerate(parents, 1):
            self.say(depth + 1, f"input {i}:")
            samples.append(self.stream(parent, depth + 2))
        return samples[0] if passes else None

    def operators(self, ops: list[Op], sample: Batch | None, depth: int) -> Batch | None:
        if not ops:
            return sample
        width = max(len(op.name) for op in ops)
        if sample is None:
            for op in ops:
                kind = "Python (no compiled form)" if op.python_only else "compiles if its input types allow"
                self.say(depth, f"{op.name:<{width}}  {kind}")
            return None
        stretch: list[str] = []
        plan_start: pl.LazyFrame | None = None
        lf: pl.LazyFrame | None = None
        for op in ops:
            shape = shape_of(sample.table, sample.layout, sample.num_partitions)
            step = None
            if not op.python_only:
                try:
                    step = op.plan(shape)
                except Exception as error:  # e.g. a native expression that cannot apply: say so
                    self.say(depth, f"{op.name:<{width}}  fails on this input: {error}")
                    return None
            if step is not None:
                if lf is None:
                    plan_start = pl.from_arrow(sample.table).lazy()  # type: ignore[union-attr]
                    lf = plan_start
                lf = step.apply(lf)
                stretch.append(op.name)
                self.say(depth, f"{op.name:<{width}}  compiled")
            else:
                self.plan_text(lf, stretch, depth)
                lf, stretch = None, []
                self.say(depth, f"{op.name:<{width}}  Python: {_reason(op, shape)}")
            try:
                sample = Batch(sample.table, sample.layout, sample.num_partitions).then(op)
                sample.table  # noqa: B018 - run it on the sample for the next operator's input types
            except Exception as error:
                self.say(depth, f"(the sample batch fails here: {type(error).__name__}: {error})")
                return None
        self.plan_text(lf, stretch, depth)
        return sample

    def plan_text(self, lf: pl.LazyFrame | None, stretch: list[str], depth: int) -> None:
        if lf is None or not stretch:
            return
        self.say(depth, f"Polars plan of {', '.join(stretch)}:")
        try:
            plan = lf.explain()
        except Exception as error:  # the plan text is a courtesy
            plan = f"(not available: {error})"
        for line in plan.splitlines():
            self.say(depth + 1, line)


def _reason(op: Op, shape: Any) -> str:
    if op.python_only:
        return "it has no compiled form: it works on whole partitions in Python"
    why = getattr(op, "why_python", None)
    if why is None:
        return "it has no compiled form for this input"
    try:
        reason, faster = why(shape) if not hasattr(op, "keyed") else why(shape.schema.get("value"))
    except Exception as error:  # never let the explanation fail on a reason
        return f"(reason unknown: {error})"
    if getattr(op, "compile", True) is False:
        reason = "its compiled form gave inexact results on earlier batches, so it was switched off"
    return f"{reason}. Faster: {faster}" if faster else reason


# Streams whose batch is the union of other batches: the sample's column types carry through.
_PASSING = {"_WindowedDStream": "window", "_UnionDStream": "union"}
_SOURCES = {"QueueInputDStream": "queueStream"}


def _passes_batches(node: Any) -> bool:
    return type(node).__name__ in _PASSING


def _name(node: Any) -> str:
    kind = type(node).__name__
    if kind in _PASSING:
        return _PASSING[kind]
    if kind in _SOURCES:
        return f"{_SOURCES[kind]} {node.label}"
    return node.label


def _describe_stream(node: Any) -> str:
    kind = type(node).__name__
    if kind == "_ForEachDStream":
        return "(output)"
    if kind in _PASSING:
        return "(the elements of its inputs' batches: types unchanged)"
    if kind == "_TransformedDStream":
        if node.label.startswith(("transform", "foreachRDD")):
            return "(Python: your function runs on each batch's RDD)"
        return "(combines the batches of its inputs)"
    return "(keeps state or windows across batches)"
