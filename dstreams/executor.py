"""Where batch plans run. The scheduler hands plans to an executor; operators never see it.

Every compiled stretch of operators becomes one Polars ``LazyFrame``; ``Batch`` evaluation passes it
to :func:`current` ``.collect([...])``. The scheduler makes the context's executor current on its
timer and runner threads (``StreamingContext(..., executor=MyExecutor())``) and calls
``shutdown()`` once when the context stops.

The default :class:`LocalExecutor` runs Polars plans in-process (Polars and DuckDB use every core).
A distributed executor (Ray, see ``shared/notes/distributed.md``) implements the same two methods:

>>> class CountingExecutor(LocalExecutor):
...     def __init__(self):
...         self.plans = 0
...     def collect(self, plans):
...         self.plans += len(plans)
...         return super().collect(plans)

Contract: ``collect`` may be called from the timer and the runner thread at once (a source's batch
is read while the previous batch is processed), so an executor must be thread-safe; it returns one
Arrow table per plan, in order, and raises the plan's error unchanged (the engine names the
operator and batch time).
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence

import polars as pl
import pyarrow as pa

_NEWEST = pl.CompatLevel.newest()


class Executor:
    """Runs the work of one batch."""

    def collect(self, plans: Sequence[pl.LazyFrame]) -> list[pa.Table]:
        """Run Polars plans and return Arrow tables (strings as ``string_view``, no copy)."""
        raise NotImplementedError

    def shutdown(self) -> None:
        """Release resources; called when the context stops."""


class LocalExecutor(Executor):
    """Runs plans in this process."""

    def collect(self, plans: Sequence[pl.LazyFrame]) -> list[pa.Table]:
        frames = pl.collect_all(list(plans)) if len(plans) > 1 else [plans[0].collect()]
        return [frame.to_arrow(compat_level=_NEWEST) for frame in frames]


_DEFAULT = LocalExecutor()
_current: contextvars.ContextVar[Executor] = contextvars.ContextVar("executor", default=_DEFAULT)


def current() -> Executor:
    """The executor of the batch being computed on this thread."""
    return _current.get()


def use(executor: Executor) -> contextvars.Token:
    """Make ``executor`` current for this thread (the scheduler calls this)."""
    return _current.set(executor)
