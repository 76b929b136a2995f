"""Where batch plans run. The scheduler hands plans to an executor; operators never see it.

The default :class:`LocalExecutor` runs Polars plans in-process (Polars and DuckDB use every core).
A distributed executor (Ray, see ``docs``) implements the same two methods.
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
_current: contextvars.ContextVar[Executor] = contextvars.ContextVar(
    "executor", default=_DEFAULT
)


def current() -> Executor:
    """The executor of the batch being computed on this thread."""
    return _current.get()


def use(executor: Executor) -> contextvars.Token:
    """Make ``executor`` current for this thread (the scheduler calls this)."""
    return _current.set(executor)
