"""``Batch``: one micro-batch flowing through the graph.

A batch is an Arrow table plus the operators still to apply to it. Nothing runs until someone asks
for the rows (an output, a Python-only operator, ``cache()``); then consecutive compilable operators
become one Polars lazy plan, collected once. An operator that only has a Python form ends the plan:
its input is collected, it runs row-wise, and the next plan starts from its output.

A compiled plan must give exactly what the Python functions give. Operators compile only over
columns without nulls (Python would raise on ``None.split``), and if collecting a compiled plan
raises (an int64 overflow that Python's ints would not have) or a step's check finds a row its
compiled form gets wrong (a division by zero Python raises on), that stretch is re-run in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from . import codec, executor
from .codec import PARTITION, Layout
from .errors import BatchError, DStreamsError, SchemaError

_compile_enabled = True


def set_compilation(enabled: bool) -> bool:
    """Turn compiled plans on or off process-wide (tests run operators both ways); returns the old value."""
    global _compile_enabled
    old, _compile_enabled = _compile_enabled, enabled
    return old


def compilation_enabled() -> bool:
    """Whether operators may use their compiled form (see ``set_compilation``)."""
    return _compile_enabled


@dataclass
class Shape:
    """What an operator knows about its input before running: columns, layout, partitions."""

    schema: dict[str, pl.DataType]
    layout: Layout
    num_partitions: int
    pickled: frozenset[str]
    maybe_null: frozenset[str]

    def null_free(self, *names: str) -> bool:
        return not any(n in self.maybe_null or n in self.pickled for n in names)

    @property
    def data_columns(self) -> list[str]:
        return [n for n in self.schema if n != PARTITION]


@dataclass
class Step:
    """A compiled operator: a LazyFrame -> LazyFrame function and the shape it produces."""

    apply: Callable[[pl.LazyFrame], pl.LazyFrame]
    layout: Layout
    num_partitions: int
    schema: dict[str, pl.DataType] | None = None  # None: ask Polars (collect_schema)
    maybe_null: frozenset[str] | None = None  # None: every column may hold nulls
    # Rows of the input where ``apply`` would not give the Python form's result (a division by
    # zero, an index out of range...); None: there are none. See ``_run``.
    check: pl.Expr | None = None


class Op:
    """A per-batch operator. Subclasses give a compiled form (``plan``) and/or a Python form (``run``)."""

    name: str = "op"
    python_only = False  # no compiled form at all: skip planning

    def plan(self, shape: Shape) -> Step | None:
        """The compiled form for this input shape, or None to run in Python."""
        return None

    def run(self, table: pa.Table, layout: Layout, num_partitions: int) -> tuple[pa.Table, Layout, int]:
        """The Python form."""
        raise DStreamsError(f"{self.name} has no Python form for this input")


@dataclass
class _State:
    table: pa.Table | None
    lf: pl.LazyFrame | None
    shape: Shape
    ops_in_plan: list[Op] = field(default_factory=list)
    plan_start: tuple[pa.Table, Layout, int] | None = None


class Batch:
    """A micro-batch: ``table`` (pyarrow), its element ``layout`` and partition count."""

    __slots__ = ("_base", "_pending", "_result")

    def __init__(self, table: pa.Table, layout: Layout | None = None, num_partitions: int | None = None):
        if layout is None:
            layout = codec.layout_of(table)
        if num_partitions is None:
            num_partitions = _count_partitions(table)
        self._base = (table, layout, num_partitions)
        self._pending: tuple[Op, ...] = ()
        self._result: tuple[pa.Table, Layout, int] | None = (table, layout, num_partitions)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_elements(cls, elements: Sequence[Any], num_partitions: int = 1) -> Batch:
        """Spark's ``parallelize``: split ``elements`` into ``num_partitions`` contiguous slices."""
        elements = list(elements)
        n = len(elements)
        sizes = [(i + 1) * n // num_partitions - i * n // num_partitions for i in range(num_partitions)]
        table, layout = codec.from_elements(elements, sizes)
        return cls(table, layout, num_partitions)

    @classmethod
    def from_partitions(cls, partitions: Sequence[Sequence[Any]]) -> Batch:
        elements = [e for part in partitions for e in part]
        table, layout = codec.from_elements(elements, [len(p) for p in partitions])
        return cls(table, layout, max(1, len(partitions)))

    @classmethod
    def empty(cls, num_partitions: int = 0) -> Batch:
        table, layout = codec.from_elements([])
        return cls(table, layout, num_partitions)

    def then(self, op: Op) -> Batch:
        """A new batch: this one with ``op`` applied (lazily)."""
        out = Batch.__new__(Batch)
        out._base = self._base
        out._pending = (*self._pending, op) if self._result is None else (op,)
        if self._result is not None:
            out._base = self._result
        out._result = None
        return out

    # -- results -----------------------------------------------------------------------------
    @property
    def table(self) -> pa.Table:
        """The rows as an Arrow table (includes the hidden partition column when there are several)."""
        return self._evaluate()[0]

    @property
    def layout(self) -> Layout:
        return self._evaluate()[1]

    @property
    def num_partitions(self) -> int:
        return self._evaluate()[2]

    def elements(self) -> list[Any]:
        table, layout, _ = self._evaluate()
        return codec.to_elements(table, layout)

    def partitions(self) -> list[list[Any]]:
        """Elements grouped by partition (``glom``)."""
        table, layout, n = self._evaluate()
        return split_partitions(table, layout, n)

    def count(self) -> int:
        return self.table.num_rows

    def lazy(self) -> pl.LazyFrame:
        """The rows as a Polars LazyFrame (native columns only)."""
        table = self.table
        require_native(table, "this operation")
        return pl.from_arrow(table).lazy()  # type: ignore[union-attr]

    def __repr__(self) -> str:
        state = "pending" if self._result is None else f"{self._result[0].num_rows} rows"
        return f"<Batch {state}>"

    # -- evaluation --------------------------------------------------------------------------
    def _evaluate(self) -> tuple[pa.Table, Layout, int]:
        if self._result is None:
            self._result = _run(self._base, self._pending)
            self._base, self._pending = self._result, ()
        return self._result


def _count_partitions(table: pa.Table) -> int:
    if PARTITION not in table.column_names or table.num_rows == 0:
        return 1
    import pyarrow.compute as pc

    return int(pc.max(table.column(PARTITION)).as_py()) + 1


def _polars_schema(schema: pa.Schema, _cache: dict = {}) -> dict[str, pl.DataType]:  # noqa: B006
    # Converting an empty table costs ~0.2 ms; batches of one stream share their schema.
    found = _cache.get(schema)
    if found is None:
        if len(_cache) > 256:
            _cache.clear()
        found = _cache[schema] = dict(pl.from_arrow(schema.empty_table()).schema)  # type: ignore[union-attr]
    return found


def shape_of(table: pa.Table, layout: Layout, num_partitions: int) -> Shape:
    return Shape(
        schema=dict(_polars_schema(table.schema)),
        layout=layout,
        num_partitions=num_partitions,
        pickled=frozenset(f.name for f in table.schema if codec.is_pickled(f)),
        maybe_null=frozenset(c for c in table.column_names if table.column(c).null_count),
    )


def require_native(table: pa.Table, what: str) -> None:
    for f in table.schema:
        if codec.is_pickled(f):
            raise SchemaError(
                f"column {f.name!r} holds Python objects that have no single Arrow type (mixed types, "
                f"tuples, very large ints...), so {what} cannot use it; make the values one type first, "
                f"e.g. .map(str) or .map(lambda x: (x[0], int(x[1])))"
            )


def _run(base: tuple[pa.Table, Layout, int], ops: Sequence[Op]) -> tuple[pa.Table, Layout, int]:
    """Apply ``ops`` to ``base``: compiled stretches as one Polars plan, the rest in Python."""
    table, layout, nparts = base
    i = 0
    while i < len(ops):
        shape = shape_of(table, layout, nparts)
        lf: pl.LazyFrame | None = None
        # One frame per step check, over that step's input: collected with the plan, so what
        # later steps read or filter (projection and predicate pushdown) cannot skip a bad row.
        checks: list[pl.LazyFrame] = []
        checked: list[Op] = []
        culprits: list[Op] | None = None  # the ops whose check failed: the only ones to blame
        j = i
        while j < len(ops):
            op = ops[j]
            try:
                step = None if op.python_only or not _compiling(op) else _plan(op, shape)
            except BatchError:
                if table.num_rows:
                    raise
                step = _EMPTY  # see _EMPTY
            if step is None:
                break
            if lf is None:
                lf = pl.from_arrow(table).lazy()  # type: ignore[union-attr]
            if step.check is not None:
                checks.append(lf.select(step.check.any()))
                checked.append(op)
            lf = step.apply(lf)
            schema = step.schema if step.schema is not None else dict(lf.collect_schema())
            shape = Shape(
                schema=schema,
                layout=step.layout,
                num_partitions=step.num_partitions,
                pickled=frozenset(),
                maybe_null=frozenset(schema) if step.maybe_null is None else step.maybe_null,
            )
            j += 1
        if lf is not None:
            failure: Exception | None = None
            try:
                out, *flags = executor.current().collect([lf, *checks])
                culprits = [op for op, flag in zip(checked, flags) if flag.column(0)[0].as_py()]
            except Exception as error:
                failure = error
            if failure is None and not culprits:
                table, layout, nparts = out, shape.layout, shape.num_partitions
                i = j
                continue
            if not table.num_rows and not any(getattr(op, "has_python_form", False) for op in ops[i:j]):
                table, layout, nparts = _EMPTY_TABLE, "value", 1
                i = j
                continue
            if failure is not None and j - i == 1 and not getattr(ops[i], "has_python_form", False):
                raise _as_batch_error(ops[i], failure) from failure
            # Redo the stretch one operator at a time: traced Python functions as written
            # (Python's ints do not overflow; Python raises on a row a check found), Polars
            # expressions alone (to name the culprit). Outside the `except`, so a user's error
            # carries no trace of the compiled attempt: the same report as on the Python path.
            for op in ops[i:j]:
                if getattr(op, "has_python_form", False):
                    note = getattr(op, "note_compiled_failure", None)
                    if note is not None and (not culprits or op in culprits):
                        note()
                    table, layout, nparts = _run_python(op, table, layout, nparts)
                else:
                    table, layout, nparts = _run((table, layout, nparts), [op])
            i = j
            continue
        table, layout, nparts = _run_python(ops[i], table, layout, nparts)
        i += 1
    return table, layout, nparts


# A Polars expression that cannot type-check on an empty batch of unknown column type (e.g.
# str.split on the null-typed column of an empty queue item) has no rows to act on: the batch
# stays empty instead of failing. Errors in user expressions still surface on the first rows.
_EMPTY_TABLE = pa.table({"value": pa.nulls(0)})
_EMPTY = Step(lambda lf: pl.from_arrow(_EMPTY_TABLE).lazy(), "value", 1, {"value": pl.Null}, frozenset())


def _compiling(op: Op) -> bool:
    # Native operators have no Python form, so they always compile.
    return _compile_enabled or not getattr(op, "has_python_form", False)


def _plan(op: Op, shape: Shape) -> Step | None:
    try:
        return op.plan(shape)
    except DStreamsError:
        raise
    except Exception as error:
        if not getattr(op, "has_python_form", False):
            raise _as_batch_error(op, error) from error  # the user's expression is wrong
        return None  # a planning problem only means "no compiled form": run it in Python


def _run_python(op: Op, table: pa.Table, layout: Layout, nparts: int) -> tuple[pa.Table, Layout, int]:
    try:
        return op.run(table, layout, nparts)
    except DStreamsError:
        raise
    except Exception as error:
        raise _as_batch_error(op, error) from error


def _as_batch_error(op: Op, error: Exception) -> BatchError:
    return BatchError(f"{op.name} failed: {type(error).__name__}: {error}", operator=op.name)


@contextmanager
def failures_named(operator: str) -> Iterator[None]:
    """Report an unexpected error inside the block as ``operator``'s :class:`BatchError`.

    Stateful streams compute their batch themselves (not as an ``Op``); without this, an error
    there would be blamed on the output that asked for the batch. dstreams' own errors, which
    already name their operator, pass through unchanged.

    >>> from dstreams.batch import failures_named
    >>> from dstreams.errors import BatchError
    >>> try:
    ...     with failures_named("updateStateByKey(f)"):
    ...         raise KeyError("k")
    ... except BatchError as error:
    ...     print(error.operator, "|", error)
    updateStateByKey(f) | updateStateByKey(f) failed: KeyError: 'k'
    """
    try:
        yield
    except DStreamsError:
        raise
    except Exception as error:
        message = f"{operator} failed: {type(error).__name__}: {error}"
        raise BatchError(message, operator=operator) from error


def split_partitions(table: pa.Table, layout: Layout, num_partitions: int) -> list[list[Any]]:
    elements = codec.to_elements(table, layout)
    if num_partitions <= 1:
        return [elements] if num_partitions == 1 else []
    parts: list[list[Any]] = [[] for _ in range(num_partitions)]
    if PARTITION in table.column_names:
        for element, p in zip(elements, table.column(PARTITION).to_pylist()):
            parts[p].append(element)
    else:
        parts[0] = elements
    return parts


def from_partitions(partitions: Sequence[Sequence[Any]]) -> tuple[pa.Table, Layout, int]:
    b = Batch.from_partitions(partitions)
    return b._base
