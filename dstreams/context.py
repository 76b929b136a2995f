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

import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .clock import Clock, SystemClock
from .dstream import DStream, _TransformedDStream, _UnionDStream
from .errors import ConfigurationError, DStreamsError
from .executor import Executor, LocalExecutor
from .graph import DStreamGraph
from .listener import ListenerBus, StreamingListener
from .scheduler import Scheduler
from .spark import SparkContext

INITIALIZED, ACTIVE, STOPPED = "INITIALIZED", "ACTIVE", "STOPPED"


class StreamingContext:
    """Main entry point: create input streams, define the graph, then ``start()``.

    ``StreamingContext(sparkContext, batchDuration)`` as in PySpark, or
    ``StreamingContext(batchDuration=0.5)`` without one. Durations are float seconds.
    ``clock=ManualClock()`` makes time move only when a test says so.
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
        self._graph = DStreamGraph(self._batch_ms)
        self._listeners = ListenerBus()
        self._scheduler: Scheduler | None = None
        self._state = INITIALIZED
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._checkpoint_dir: str | None = None

    # -- properties ------------------------------------------------------------------------------
    @property
    def sparkContext(self) -> SparkContext:
        """The (stand-in) SparkContext."""
        return self._sc

    def getState(self) -> str:
        """``"INITIALIZED"``, ``"ACTIVE"`` or ``"STOPPED"``."""
        return self._state

    @property
    def batch_infos(self) -> list:
        """BatchInfo of the last completed batches (up to 1000), oldest first."""
        return list(self._scheduler.completed) if self._scheduler else []

    # -- class methods ---------------------------------------------------------------------------
    @classmethod
    def getActive(cls) -> StreamingContext | None:
        """The started and not yet stopped context, or None."""
        with cls._lock:
            return cls._activeContext

    @classmethod
    def getActiveOrCreate(
        cls, checkpointPath: str | None, setupFunc: Callable[[], StreamingContext]
    ) -> StreamingContext:
        """The active context if there is one; else ``getOrCreate(checkpointPath, setupFunc)``."""
        if not callable(setupFunc):
            raise TypeError("setupFunc should be callable.")
        active = cls.getActive()
        if active is not None:
            return active
        if checkpointPath is not None:
            return cls.getOrCreate(checkpointPath, setupFunc)
        return setupFunc()

    @classmethod
    def getOrCreate(cls, checkpointPath: str, setupFunc: Callable[[], StreamingContext]) -> StreamingContext:
        """Build the context with ``setupFunc()`` and set its checkpoint directory.

        Recovery from an existing checkpoint is part of the checkpoint work (not yet available).
        """
        ssc = setupFunc()
        if not isinstance(ssc, StreamingContext):
            raise TypeError(f"setupFunc must return a StreamingContext, got {type(ssc).__name__}")
        ssc.checkpoint(checkpointPath)
        return ssc

    # -- graph building --------------------------------------------------------------------------
    def remember(self, duration: float) -> None:
        """Keep every stream's batches for at least ``duration`` seconds (for ``slice``)."""
        self._graph.remember_ms = max(self._graph.remember_ms, round(duration * 1000))

    def checkpoint(self, directory: str) -> None:
        """Set the checkpoint directory (used by stateful operators and recovery)."""
        self._checkpoint_dir = directory
        self._sc.setCheckpointDir(directory)

    def union(self, *dstreams: DStream) -> DStream:
        """Union of several streams with the same slide: ``ssc.union(a, b, c)``."""
        if not dstreams:
            raise ValueError("should have at least one DStream to union")
        if len(dstreams) == 1:
            return dstreams[0]
        if len({s._slide_ms for s in dstreams}) > 1:
            raise ValueError("All DStreams should have same slide duration")
        return _UnionDStream(self, list(dstreams))

    def transform(self, dstreams: Iterable[DStream], transformFunc: Callable[..., Any]) -> DStream:
        """``transformFunc(list_of_rdds)`` per batch over several streams (a missing batch is empty)."""
        streams = list(dstreams)
        return _TransformedDStream(
            self, streams, lambda t, *rdds: transformFunc(list(rdds)), "transform", empty_for_missing=True
        )

    def addStreamingListener(self, streamingListener: StreamingListener) -> None:
        """Receive batch, output-operation and receiver events."""
        self._listeners.add(streamingListener)

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

    # -- SQL (implemented in dstreams.sql) ------------------------------------------------------

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start processing; returns at once (the scheduler runs on background threads)."""
        with StreamingContext._lock:
            if self._state == ACTIVE:
                raise ConfigurationError("StreamingContext has already been started")
            if self._state == STOPPED:
                raise ConfigurationError(
                    "StreamingContext has already been stopped and cannot be restarted; create a new one"
                )
            active = StreamingContext._activeContext
            if active is not None and active is not self:
                raise ConfigurationError(
                    "Only one StreamingContext may be started at a time; stop the active one first"
                )
            self._graph.validate()
            if self._has_state() and self._checkpoint_dir is None:
                warnings.warn(
                    "stateful operators keep their state in memory only: call ssc.checkpoint(dir) "
                    "so that it survives a restart",
                    stacklevel=2,
                )
            self._scheduler = Scheduler(self)
            self._state = ACTIVE
            StreamingContext._activeContext = self
        self._scheduler.start()

    def _has_state(self) -> bool:
        return any(getattr(s, "_stateful", False) for s in self._graph.streams)

    def awaitTermination(self, timeout: float | None = None) -> None:
        """Wait for ``stop()``; re-raises the error of a failed batch, as Spark does."""
        if timeout is None:
            while not self._stopped.wait(0.1):
                self._raise_error()
            self._raise_error()
        else:
            self.awaitTerminationOrTimeout(timeout)

    def awaitTerminationOrTimeout(self, timeout: float) -> bool:
        """True if the context stopped within ``timeout`` seconds, False otherwise; re-raises batch errors."""
        stopped = self._stopped.wait(timeout)
        self._raise_error()
        return stopped

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None:
        """Stop processing (idempotent). ``stopGraceFully`` first finishes the queued batches."""
        with StreamingContext._lock:
            if self._state == STOPPED:
                return
            was_active = self._state == ACTIVE
            self._state = STOPPED
            if StreamingContext._activeContext is self:
                StreamingContext._activeContext = None
        if was_active and self._scheduler is not None:
            self._scheduler.stop(graceful=stopGraceFully)
        if stopSparkContext:
            self._sc.stop()
        self._stopped.set()

    # -- errors ----------------------------------------------------------------------------------
    def _report_error(self, error: DStreamsError, cause: BaseException) -> None:
        error.__cause__ = cause
        import logging

        logging.getLogger("dstreams").error("%s", error)
        self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error
