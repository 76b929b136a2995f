"""Static tables for enrichment: ``ssc.register_table(name, source, refresh=...)``.

A registered table is an Arrow table registered (not copied) in the SparkSession's DuckDB
connection, so stream SQL and ``spark.sql`` inside ``foreachRDD`` can join it by name::

    ssc.register_table("users", "users.parquet", refresh="on_change")
    events.sql("SELECT e.*, u.country FROM batch e JOIN users u USING (user_id)")

Sources: a Parquet path (file, directory or glob), an Arrow table, a Polars DataFrame or
LazyFrame, a DuckDB relation, a ``dstreams.sql`` DataFrame, or a function returning one of those.

``refresh``: ``None`` (load once), seconds of batch time between reloads (a path, LazyFrame,
relation or function is read again), or ``"on_change"`` for a path: reloaded when its files'
size or modification time change. Reloads happen between batches (after every output of one
batch ran, before the next starts), so every query of one batch sees the same version; a change
is picked up at the end of the first batch that sees it. A reload that fails (a file being
rewritten, a function raising) keeps the previous version and is logged; it is tried again after
the next batch.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pyarrow as pa

from dstreams.dstream import DStream
from dstreams.errors import ConfigurationError

from .session import SparkSession

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

log = logging.getLogger("dstreams")

ON_CHANGE = "on_change"


@dataclass
class _Registered:
    name: str
    load: Callable[[], pa.Table]
    refresh: float | str | None
    signature: Callable[[], Any] | None  # files' (path, size, mtime) for "on_change"
    table: pa.Table = field(default_factory=lambda: pa.table({}))
    loaded_at: int | None = None  # first batch time (ms) the current version serves; None: before start
    seen: Any = None  # signature at the last load
    version: int = 0


class _Registry:
    """The registered tables of one context."""

    def __init__(self) -> None:
        self.tables: dict[str, _Registered] = {}
        self.session: SparkSession | None = None
        self.lock = threading.Lock()

    def add(self, entry: _Registered) -> None:
        with self.lock:
            session = self._current_session()
            entry.seen = entry.signature() if entry.signature else None
            entry.table = _load(session, entry)
            _publish(session, entry)
            self.tables[entry.name] = entry

    def between_batches(self, next_t: int) -> None:
        """Reload what is due for batch ``next_t`` (runs after one batch, before the next)."""
        with self.lock:
            session = self._current_session()
            for entry in self.tables.values():
                if _due(entry, next_t):
                    _reload(session, entry, next_t)

    def _current_session(self) -> SparkSession:
        session = SparkSession.active()
        if session is not self.session:  # first use, or the session was stopped and replaced
            self.session = session
            for entry in self.tables.values():
                _publish(session, entry)
        return session


class _Refresher(DStream):
    """A stream with no data whose only job is the graph's between-batches hook.

    The scheduler calls ``_forget_before(t)`` on every stream on the runner thread once all
    outputs of batch ``t`` have run and before batch ``t + interval`` starts: the one moment when
    swapping a table cannot split a batch between two versions.
    """

    def __init__(self, ssc: StreamingContext, reg: _Registry):
        super().__init__(ssc, [], ssc._batch_ms)
        self._registry = reg

    def _compute(self, t: int) -> None:
        return None

    def _forget_before(self, t: int) -> None:
        super()._forget_before(t)
        for entry in self._registry.tables.values():
            if entry.loaded_at is None:  # loaded at registration: serves from the start
                entry.loaded_at = self._ssc._graph.zero_ms
        try:
            self._registry.between_batches(t + self._slide_ms)
        except Exception:  # never let a refresh break the scheduler; _reload already logs its own
            log.exception("refreshing registered tables failed")


_registries: weakref.WeakKeyDictionary[Any, _Registry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def registry(ssc: StreamingContext) -> _Registry | None:
    """The context's registered tables, if it has any."""
    with _registries_lock:
        return _registries.get(ssc)


def registered_names(ssc: StreamingContext) -> set[str]:
    found = registry(ssc)
    return set(found.tables) if found is not None else set()


def current(ssc: StreamingContext, name: str) -> pa.Table:
    """The version of table ``name`` that the running batch sees (for use outside SQL)."""
    found = registry(ssc)
    if found is None or name not in found.tables:
        raise ConfigurationError(f"no table {name!r} registered with ssc.register_table")
    return found.tables[name].table


def register_table(ssc: StreamingContext, name: str, source: Any, refresh: float | str | None = None) -> None:
    """See the module docstring; loads the table now, so a bad source fails here."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigurationError(f"register_table: the name must be a plain identifier, got {name!r}")
    _check_not_a_stream_name(ssc, name)
    load, signature = _loader(source, name)
    if refresh is not None:
        if refresh == ON_CHANGE:
            if signature is None:
                raise ConfigurationError(
                    f"register_table({name!r}): refresh='on_change' watches files; give a Parquet path "
                    "(or use refresh=<seconds> with a function that loads the table)"
                )
        elif isinstance(refresh, (int, float)) and not isinstance(refresh, bool) and refresh > 0:
            if getattr(load, "static", False):
                raise ConfigurationError(
                    f"register_table({name!r}): a table given as data cannot change; to refresh it pass "
                    "a path, a Polars LazyFrame, a DuckDB relation or a function returning the table"
                )
        else:
            raise ConfigurationError(
                f"register_table({name!r}): refresh must be None, seconds > 0 or 'on_change', got {refresh!r}"
            )
    if ssc._graph.zero_ms is not None:
        raise ConfigurationError(
            "register_table: register tables before ssc.start() (use refresh= to change them later)"
        )
    with _registries_lock:
        reg = _registries.get(ssc)
        if reg is None:
            reg = _registries[ssc] = _Registry()
            _Refresher(ssc, reg)
    reg.add(_Registered(name, load, refresh, signature if refresh == ON_CHANGE else None))


def _check_not_a_stream_name(ssc: StreamingContext, name: str) -> None:
    from .stream import SqlDStream

    for stream in ssc._graph.streams:
        if isinstance(stream, SqlDStream) and name in stream._names:
            raise ConfigurationError(
                f"register_table: {name!r} already names a stream in {stream._label}; pick another name"
            )


# -- sources -------------------------------------------------------------------------------------
def _loader(source: Any, name: str) -> tuple[Callable[[], Any], Callable[[], Any] | None]:
    """``(load, signature)`` for a source; ``load.static`` marks data that cannot change."""
    from .dataframe import DataFrame

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return (lambda: _read_parquet(path, name)), (lambda: _files_signature(path))
    if isinstance(source, (pa.Table, pl.DataFrame)):
        table = _as_table(source, name)

        def static() -> pa.Table:
            return table

        static.static = True  # type: ignore[attr-defined]
        return static, None
    if isinstance(source, (pl.LazyFrame, duckdb.DuckDBPyRelation, DataFrame)):
        return (lambda: source), None
    if callable(source):
        return source, None
    raise ConfigurationError(
        f"register_table({name!r}): the source must be a Parquet path, an Arrow table, a Polars frame, "
        f"a DuckDB relation or a function returning one; got {type(source).__name__}"
    )


def _as_table(value: Any, name: str) -> pa.Table:
    from .dataframe import DataFrame

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pl.LazyFrame):
        value = value.collect()
    if isinstance(value, pl.DataFrame):
        return value.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(value, duckdb.DuckDBPyRelation):
        return value.to_arrow_table()
    if isinstance(value, DataFrame):
        return value.toArrow()
    raise ConfigurationError(
        f"register_table({name!r}): the loader returned {type(value).__name__}; return an Arrow table, "
        "a Polars frame or a DuckDB relation"
    )


def _parquet_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
    if glob.has_magic(path):
        return sorted(glob.glob(path, recursive=True))
    return [path]


def _read_parquet(path: str, name: str) -> pa.Table:
    files = _parquet_files(path)
    if not files or not all(os.path.exists(f) for f in files):
        raise ConfigurationError(f"register_table({name!r}): no Parquet file at {path!r}")
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in files]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


def _files_signature(path: str) -> tuple:
    out = []
    for f in _parquet_files(path):
        try:
            st = os.stat(f)
        except FileNotFoundError:
            out.append((f, None))
            continue
        out.append((f, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


# -- refreshing ----------------------------------------------------------------------------------
def _due(entry: _Registered, t: int) -> bool:
    if entry.refresh is None:
        return False
    if entry.refresh == ON_CHANGE:
        return entry.signature is not None and entry.signature() != entry.seen
    return t - (entry.loaded_at or 0) >= round(float(entry.refresh) * 1000)  # type: ignore[arg-type]


def _reload(session: SparkSession, entry: _Registered, t: int) -> None:
    seen = entry.signature() if entry.signature else None
    try:
        table = _load(session, entry)
    except Exception as error:
        log.warning("register_table(%r): reload failed, keeping the previous version: %s", entry.name, error)
        return
    entry.table, entry.seen, entry.loaded_at = table, seen, t
    entry.version += 1
    _publish(session, entry)


def _load(session: SparkSession, entry: _Registered) -> pa.Table:
    # Under the session's lock: a DuckDB relation source may run on the session's connection.
    with session._connection():
        return _as_table(entry.load(), entry.name)


def _publish(session: SparkSession, entry: _Registered) -> None:
    with session._connection() as con:
        con.register(entry.name, entry.table)
