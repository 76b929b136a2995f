"""``StreamingContext``: the entry point, with PySpark's signatures.

>>> from dstreams import StreamingContext
>>> ssc = StreamingContext(batchDuration=1)          # no SparkContext needed
>>> ssc.queueStream([[1, 2], [3]]).count().pprint()
>>> ssc.start()                                       # returns at once; batches run on a thread
>>> ssc.awaitTerminationOrTimeout(2.5)
False
>>> ssc.stop()
"""

from __future__ import annotations

import logging
import threading
import time
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from . import ops
from .clock import Clock, SystemClock
from .dstream import DStream, _TransformedDStream, _UnionDStream
from .errors import BatchError, ConfigurationError, DStreamsError
from .executor import Executor, LocalExecutor
from .fallback import CONF_KEY as FALLBACK_KEY
from .fallback import check_mode as check_fallback_mode
from .graph import DStreamGraph
from .listener import BatchInfo, ListenerBus, StreamingListener
from .privatefiles import make_private_dirs
from .scheduler import Scheduler
from .spark import SparkContext

INITIALIZED, ACTIVE, STOPPED = "INITIALIZED", "ACTIVE", "STOPPED"

log = logging.getLogger("dstreams")

# awaitTermination waits in slices this long: importing polars leaves SIGINT to a native handler
# under which an untimed wait never wakes, so Ctrl-C is seen between two slices.
_WAIT_SLICE = 0.1


class StreamingContext:
    """Main entry point: create input streams, define the graph, then ``start()``.

    ``StreamingContext(sparkContext, batchDuration)`` as in PySpark, or
    ``StreamingContext(batchDuration=0.5)`` without one. Durations are float seconds.
    ``clock=ManualClock()`` makes time move only when a test says so; ``executor=`` chooses where
    batch plans run (default: :class:`~dstreams.executor.LocalExecutor`, in this process);
    ``fallback=`` is ``"ignore"``, ``"warn"`` or ``"error"`` for operators that run row-wise in Python
    (default: the SparkConf's ``spark.dstreams.fallback``, else ``dstreams.set_fallback``'s; see
    :mod:`dstreams.fallback`).

    Sources report receiver events through ``ssc._listeners.post_receiver(kind, ReceiverInfo(...))``
    (see :class:`~dstreams.listener.ListenerBus`).
    """

    _activeContext: StreamingContext | None = None
    _lock = threading.RLock()

    def __init__(
        self,
        sparkContext: SparkContext | float | None = None,
        batchDuration: float | None = None,
        jssc: Any = None,
        *,
        clock: Clock | None = None,
        executor: Executor | None = None,
        fallback: str | None = None,
    ):
        if isinstance(sparkContext, (int, float)) and batchDuration is None:
            sparkContext, batchDuration = None, sparkContext
        if batchDuration is None:
            raise ConfigurationError(
                "StreamingContext needs batchDuration (seconds), e.g. StreamingContext(sc, 1)"
            )
        self._batch_ms = round(float(batchDuration) * 1000)
        if self._batch_ms <= 0:
            raise ConfigurationError(f"batchDuration must be positive, got {batchDuration!r}")
        self._sc = sparkContext if sparkContext is not None else SparkContext.getOrCreate()
        self.clock = clock if clock is not None else SystemClock()
        self._executor = executor if executor is not None else LocalExecutor()
        if fallback is None:
            get_conf = getattr(self._sc, "getConf", None)
            fallback = get_conf().get(FALLBACK_KEY) if get_conf is not None else None
        self.fallback_mode: str | None = None if fallback is None else check_fallback_mode(fallback)
        self._graph = DStreamGraph(self._batch_ms)
        self._listeners = ListenerBus()
        self._scheduler: Scheduler | None = None
        self._state = INITIALIZED
        # awaitTermination* wake on stop or on a batch error (Spark's ContextWaiter)
        self._termination = threading.Condition()
        self._terminated = False
        self._error: BaseException | None = None
        # batch errors not yet raised to the program (by clock.advance, awaitTermination* or stop)
        self._unraised: list[BaseException] = []
        self._checkpoint_dir: str | None = None
        # called once by stop(), after the batches ended (e.g. a sink closes its database file)
        self._stop_callbacks: list[Callable[[], None]] = []

    # -- properties ------------------------------------------------------------------------------
    @property
    def sparkContext(self) -> SparkContext:
        """The (stand-in) SparkContext."""
        return self._sc

    def getState(self) -> str:
        """``"INITIALIZED"``, ``"ACTIVE"`` or ``"STOPPED"``."""
        return self._state

    @property
    def batch_infos(self) -> list[BatchInfo]:
        """BatchInfo of the last completed batches (up to 1000), oldest first: the objects listeners
        get, so ``info.batchTime()`` is Spark's ``Time`` (``.milliseconds()``, ``.datetime()``)."""
        return list(self._scheduler.completed) if self._scheduler else []

    # -- class methods ---------------------------------------------------------------------------
    @classmethod
    def getActive(cls) -> StreamingContext | None:
        """The started and not yet stopped context, or None."""
        with cls._lock:
            return cls._activeContext

    @classmethod
    def getActiveOrCreate(
        cls, checkpointPath: str | None, setupFunc: Callable[[], StreamingContext], *, upgrade: bool = False
    ) -> StreamingContext:
        """The active context if there is one; else ``getOrCreate(checkpointPath, setupFunc)``."""
        if not callable(setupFunc):
            raise TypeError("setupFunc should be callable.")
        active = cls.getActive()
        if active is not None:
            return active
        if checkpointPath is not None:
            return cls.getOrCreate(checkpointPath, setupFunc, upgrade=upgrade)
        return setupFunc()

    @classmethod
    def getOrCreate(
        cls, checkpointPath: str, setupFunc: Callable[[], StreamingContext], *, upgrade: bool = False
    ) -> StreamingContext:
        """The context saved in ``checkpointPath`` (not started); without one, ``setupFunc()`` with
        ``checkpointPath`` as its checkpoint directory.

        As Spark, a restored context runs the graph saved in the checkpoint (``setupFunc`` is not
        called; loading it trusts the directory) and re-runs the batches after the checkpoint and
        those of the down time. ``upgrade=True`` builds the graph with ``setupFunc`` from the new
        code and gives the saved state back to streams of the same names (``stream.setName``);
        see ``dstreams.checkpoint``.

        >>> ssc = StreamingContext.getOrCreate("/data/app-checkpoint", create_context)
        >>> ssc.start(); ssc.awaitTermination()
        """
        from dstreams.checkpoint.recovery import get_or_create

        return get_or_create(cls, checkpointPath, setupFunc, upgrade=upgrade)

    # -- graph building --------------------------------------------------------------------------
    def remember(self, duration: float) -> None:
        """Keep every stream's batches for at least ``duration`` seconds (for ``slice``)."""
        self._graph.remember(round(duration * 1000))

    def checkpoint(self, directory: str) -> None:
        """Set the checkpoint directory (used by stateful operators and recovery) and create it at once,
        as Spark does, private to this user (mode 0700; an existing directory keeps its mode).

        >>> import tempfile, os
        >>> ssc = StreamingContext(batchDuration=1)
        >>> path = os.path.join(tempfile.mkdtemp(), "ck")
        >>> ssc.checkpoint(path); os.path.isdir(path)
        True
        """
        if directory is not None and "://" not in str(directory):
            try:
                make_private_dirs(str(directory))
            except OSError:
                pass  # e.g. a file in the way: start() reports the unwritable directory with advice
        self._checkpoint_dir = directory
        self._sc.setCheckpointDir(directory)

    def union(self, *dstreams: DStream) -> DStream:
        """Union of several streams with the same slide: ``ssc.union(a, b, c)``."""
        if not dstreams:
            raise ValueError("should have at least one DStream to union")
        for stream in dstreams:
            if not isinstance(stream, DStream):
                raise TypeError(f"union: every argument must be a DStream, got {type(stream).__name__}")
        if len(dstreams) == 1:
            return dstreams[0]
        if len({s._slide_ms for s in dstreams}) > 1:
            raise ValueError("All DStreams should have same slide duration")
        return _UnionDStream(self, list(dstreams))

    def transform(self, dstreams: Iterable[DStream], transformFunc: Callable[..., Any]) -> DStream:
        """``transformFunc(rdds)`` per batch, ``rdds`` a tuple in the order of ``dstreams``.

        A stream with no batch at that time is passed as an empty RDD.

        >>> ssc.transform([a, b], lambda rdds: rdds[0].union(rdds[1]))
        """
        streams = list(dstreams)
        if not streams:
            raise ValueError("transform: the list of DStreams to transform is empty")
        for stream in streams:
            if not isinstance(stream, DStream):
                raise TypeError(f"transform: every stream must be a DStream, got {type(stream).__name__}")
        if len({s._slide_ms for s in streams}) > 1:
            raise ValueError("transform: some of the DStreams have different slide durations")
        return _TransformedDStream(
            self,
            streams,
            lambda t, *rdds: transformFunc(rdds),
            "transform",
            empty_for_missing=True,
            label=ops.describe(transformFunc),
        )

    def addStreamingListener(self, streamingListener: StreamingListener) -> None:
        """Receive batch, output-operation and receiver events (see :class:`StreamingListener`)."""
        self._listeners.add(streamingListener)

    def removeStreamingListener(self, streamingListener: StreamingListener) -> None:
        """Stop sending events to ``streamingListener`` (Scala API)."""
        self._listeners.remove(streamingListener)

    # -- sources ---------------------------------------------------------------------------------
    def queueStream(self, rdds: Iterable[Any], oneAtATime: bool = True, default: Any = None) -> DStream:
        """One batch per item of ``rdds`` (lists, RDDs, Arrow tables or Polars frames).

        With ``oneAtATime=False`` the first batch takes them all. Once the queue is empty, each batch
        is ``default`` if given, else empty.

        >>> ssc.queueStream([[1, 2], [3]]).pprint()
        """
        from dstreams.receivers.queue import QueueInputDStream

        return QueueInputDStream(self, rdds, oneAtATime, default)

    def generatorStream(self, kind: str = "words", rate: int = 1000, **options: Any) -> DStream:
        """A built-in source that needs no server: ``kind="words"`` gives lines of Zipf words.

        ``rate`` is lines (or rows) per second of batch time; see ``dstreams.receivers.generator``.
        """
        from dstreams.receivers.generator import GeneratorInputDStream

        return GeneratorInputDStream(self, kind, rate, **options)

    def socketTextStream(self, hostname: str, port: int, storageLevel: Any = None, **options: Any) -> DStream:
        """UTF-8 ``\\n``-delimited lines from a TCP server (this side connects as a client), each in the
        batch whose interval it arrives in. Reconnects with backoff; a line that is not UTF-8 or is
        longer than ``maxLineLength`` is reported and kept in a quarantine file
        (``dstreams.receivers.socket``).

        >>> ssc.socketTextStream("localhost", 9999).flatMap(lambda line: line.split(" ")).pprint()
        """
        from dstreams.receivers.socket import socket_text_stream

        return socket_text_stream(self, hostname, port, storageLevel, **options)

    def textFileStream(self, directory: str, **options: Any) -> DStream:
        """Lines of the new text files in ``directory`` (a path or glob), by modification time.

        >>> ssc.textFileStream("incoming/").pprint()      # move files in atomically
        """
        from dstreams.receivers.files import FileInputDStream

        return FileInputDStream(self, directory, "text", **options)

    def binaryRecordsStream(self, directory: str, recordLength: int, **options: Any) -> DStream:
        """Fixed-length ``bytes`` records of the new files in ``directory``.

        >>> ssc.binaryRecordsStream("incoming/", recordLength=16).count().pprint()
        """
        from dstreams.receivers.files import FileInputDStream

        return FileInputDStream(self, directory, "binary", recordLength=recordLength, **options)

    def fileStream(self, directory: str, format: str = "text", schema: Any = None, **options: Any) -> DStream:
        """New files read straight into Arrow: ``format`` is ``"csv"``, ``"json"`` (lines),
        ``"parquet"``, ``"arrow"`` or ``"text"``; malformed records go to ``badRecordsPath`` or fail
        the batch naming file and line (``dstreams.receivers.files``).

        >>> ssc.fileStream("in/", "csv", schema={"id": pa.int64()}, header=True).pprint()
        """
        from dstreams.receivers.files import FileInputDStream

        return FileInputDStream(self, directory, format, schema=schema, **options)

    def receiverStream(self, receiver: Any, **options: Any) -> DStream:
        """A stream fed by a custom :class:`dstreams.receivers.Receiver` running on its own thread.

        >>> ssc.receiverStream(MyReceiver()).pprint()
        """
        from dstreams.receivers.receiver import ReceiverInputDStream

        return ReceiverInputDStream(self, receiver, **options)

    # -- SQL (implemented in dstreams.sql) ------------------------------------------------------
    def sql(self, query: str, **streams: DStream) -> DStream:
        """One DuckDB SQL query per batch over several named streams; returns a DStream.

        >>> ssc.sql("SELECT * FROM clicks JOIN views USING (id)", clicks=clicks, views=views)
        """
        from dstreams.sql.stream import context_sql

        return context_sql(self, query, streams)

    def register_table(self, name: str, source: Any, refresh: float | str | None = None) -> None:
        """A static table for stream SQL and ``spark.sql``: a Parquet path, Arrow table, Polars frame,
        DuckDB relation or a function returning one. ``refresh``: seconds between reloads, or
        ``"on_change"`` (a Parquet path whose files changed); swapped atomically between batches.

        >>> ssc.register_table("users", "users.parquet", refresh="on_change")
        """
        from dstreams.sql.tables import register_table

        register_table(self, name, source, refresh=refresh)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start processing; returns at once (the scheduler runs on background threads).

        Raises ``ConfigurationError`` when the graph has no output operation, when this context was
        already started or stopped, or when another context is active.
        """
        with StreamingContext._lock:
            if self._state == ACTIVE:
                raise ConfigurationError("StreamingContext has already been started; call start() once")
            if self._state == STOPPED:
                raise ConfigurationError(
                    "StreamingContext has already been stopped and cannot be restarted; create a new one"
                )
            active = StreamingContext._activeContext
            if active is not None and active is not self:
                raise ConfigurationError(
                    "Only one StreamingContext may be started at a time; stop the active one first "
                    "(StreamingContext.getActive().stop(stopSparkContext=False))"
                )
            self._graph.validate()
            sc_dir = getattr(self._sc, "_checkpoint_dir", None)  # sc.setCheckpointDir counts too
            if self._has_state() and self._checkpoint_dir is None and sc_dir is None:
                warnings.warn(
                    "stateful operators keep their state in memory only: call ssc.checkpoint(dir) "
                    "so that it survives a restart",
                    stacklevel=2,
                )
            # checkpoint hook: journal, state checkpoints, recovery, SIGTERM (dstreams.checkpoint.manager)
            from dstreams.checkpoint.manager import attach

            self._checkpointer = attach(self)
            self._scheduler = Scheduler(self)
            self._state = ACTIVE
            StreamingContext._activeContext = self
        try:
            self._listeners.start()
            self._scheduler.start()
        except BaseException:
            # As Spark: a context that failed to start is stopped, and the error is raised.
            self._stop(stopSparkContext=False)
            raise

    def _has_state(self) -> bool:
        return any(getattr(s, "_stateful", False) for s in self._graph.streams)

    def awaitTermination(self, timeout: float | None = None) -> None:
        """Wait for ``stop()`` (at most ``timeout`` seconds); re-raises the error of a failed batch.

        Ctrl-C (SIGINT) while waiting stops the receivers and the context, as Spark's shutdown hook
        does, then raises ``KeyboardInterrupt``.
        """
        self._await(timeout)

    def awaitTerminationOrTimeout(self, timeout: float) -> bool:
        """True if the context stopped within ``timeout`` seconds, False otherwise; re-raises batch errors.

        >>> ssc.awaitTerminationOrTimeout(2.5)
        False
        """
        return self._await(timeout)

    def _await(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with self._termination:
                while not (self._terminated or self._error is not None):
                    remaining = _WAIT_SLICE if deadline is None else deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._termination.wait(min(remaining, _WAIT_SLICE))
                terminated = self._terminated
        except KeyboardInterrupt:
            self._interrupted()
            raise
        self._raise_error()
        return terminated

    def _interrupted(self) -> None:
        """Ctrl-C while waiting: stop as Spark's shutdown hook does (receivers, then the context;
        the batch being processed completes, so the checkpoints stay consistent)."""
        if self._state == STOPPED:
            return
        graceful = (
            str(self._sc.getConf().get("spark.streaming.stopGracefullyOnShutdown", "false")).lower() == "true"
        )
        log.warning("interrupted (Ctrl-C): stopping the streaming context%s", " gracefully" * graceful)
        self._stop(stopSparkContext=True, stopGraceFully=graceful)

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:
        """Stop processing (idempotent). ``stopGraceFully`` first processes the batches already generated.

        A non-graceful stop finishes the batch being processed and drops the queued ones. Calling
        ``stop()`` from inside a batch (e.g. in ``foreachRDD``) or a listener is safe: it returns
        without waiting for the batch it is called from.

        Once stopped, ``stop()`` raises the first batch error that nothing raised to the program yet
        (neither ``awaitTermination*`` nor ``clock.advance()``): a program whose batches failed does
        not end as if they had succeeded. The error was logged when it happened.
        """
        self._stop(stopSparkContext, stopGraceFully)
        if not self._on_engine_thread():
            with self._termination:
                unraised, self._unraised = self._unraised, []
            if unraised:
                raise unraised[0]

    def _stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:
        with StreamingContext._lock:
            stopping_elsewhere = self._state == STOPPED
            was_active = self._state == ACTIVE
            self._state = STOPPED
            self._graph.stopped = True
            if StreamingContext._activeContext is self:
                StreamingContext._activeContext = None
        if stopping_elsewhere:
            if not self._on_engine_thread():
                with self._termination:  # another thread is stopping: return once it has
                    self._termination.wait_for(lambda: self._terminated)
                # stop() called from inside a batch cannot join the runner it runs on: the
                # batch finishes after that stop returned. A stop from outside waits for it.
                if self._scheduler is not None:
                    self._scheduler.join()
            return
        try:
            if was_active and self._scheduler is not None:
                self._scheduler.stop(graceful=stopGraceFully)
            self._listeners.stop()
        finally:
            for callback in self._stop_callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("a stop callback failed")
            if stopSparkContext:
                self._sc.stop()
            with self._termination:
                self._terminated = True
                self._termination.notify_all()

    def _on_engine_thread(self) -> bool:
        scheduler = self._scheduler
        return (scheduler is not None and scheduler.owns_current_thread()) or self._listeners.is_bus_thread()

    # -- errors ----------------------------------------------------------------------------------
    def _report_error(self, error: DStreamsError, cause: BaseException) -> None:
        """Record a batch error: logged once now (one traceback: the cause's), raised later by
        ``clock.advance()``, ``awaitTermination*`` or ``stop()`` without being logged again. The stream
        goes on."""
        root = _root_cause(cause)
        error.__cause__ = root  # the wrappers in between repeat what the message already says
        error.__suppress_context__ = True
        if _is_internal(root.__context__):
            root.__suppress_context__ = True  # e.g. the compiled plan's failure before the Python re-run
        if not log.isEnabledFor(logging.DEBUG):  # at DEBUG, dstreams' own frames stay for engine bugs
            # shown twice otherwise (in the log, then when the program gets the error): keep yours
            root.__traceback__ = _user_frames(root.__traceback__)
        log.error("%s", error, exc_info=(type(root), root, root.__traceback__))
        with self._termination:
            self._error = error
            self._unraised.append(error)
            self._termination.notify_all()

    def _take_unraised(self) -> list[BaseException]:
        """The batch errors not raised to the program yet, oldest first; they count as raised now."""
        with self._termination:
            unraised, self._unraised = self._unraised, []
        return unraised

    def _raise_error(self) -> None:
        if self._error is not None:
            with self._termination:
                self._unraised.clear()  # the program is told now
            raise self._error

    # -- explain ---------------------------------------------------------------------------------
    def explain(self) -> str:
        """Print (and return) how every output's batches run: each operator, compiled into a Polars
        plan or row-wise in Python, with the reason and the faster form (see ``DStream.explain``).

        >>> ssc = StreamingContext(batchDuration=1)
        >>> ssc.queueStream([["a b"]]).flatMap(lambda line: line.split(" ")).pprint()
        >>> "compiled" in ssc.explain()  # doctest: +ELLIPSIS
        source queueStream <QueueInputDStream #0>...
        True
        """
        from .explain import explain_streams

        return explain_streams(self._graph.outputs)


def _is_internal(error: BaseException | None) -> bool:
    return (
        error is not None
        and type(error).__module__.startswith("dstreams.")
        and not isinstance(error, DStreamsError)
    )


def _user_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """``tb`` without dstreams' own frames (the last frame stays when all are dstreams')."""
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    kept = [f for f in frames if not _is_internal_module(f.tb_frame.f_globals.get("__name__"))]
    if not kept and frames:
        kept = frames[-1:]
    out = None
    for frame in reversed(kept):
        out = types.TracebackType(out, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return out


def _is_internal_module(name: str | None) -> bool:
    return name is not None and (name == "dstreams" or name.startswith("dstreams."))


def _root_cause(error: BaseException) -> BaseException:
    """The first exception in ``error``'s chain that is not one of dstreams' BatchError wrappers."""
    seen = set()
    while isinstance(error, BatchError) and error.__cause__ is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__
    return error
