"""``StreamingListener`` and the batch metrics it receives, with Spark's names.

Callbacks get event objects as in PySpark: ``onBatchCompleted(batchCompleted)`` then
``batchCompleted.batchInfo().processingDelay()``. The same data is there as plain attributes:
``info.processing_delay`` (milliseconds, None while unknown; the camelCase accessors give -1).

>>> class Printer(StreamingListener):
...     def onBatchCompleted(self, batchCompleted):
...         info = batchCompleted.batchInfo()
...         print(info.batchTime().milliseconds(), info.numRecords())
"""

from __future__ import annotations

import collections
import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError
from .outputs import to_datetime as _to_datetime

log = logging.getLogger("dstreams")


class Time(int):
    """A batch time: milliseconds since the epoch (Spark's ``Time``), an int with ``milliseconds()``,
    and ``datetime()``: the naive local datetime that ``foreachRDD``/``transform`` functions get.

    >>> t = Time(1000)
    >>> t.milliseconds(), t == 1000, t.datetime() == _to_datetime(1000)
    (1000, True, True)
    """

    def milliseconds(self) -> int:
        return int(self)

    def datetime(self) -> _dt.datetime:
        """The batch time as PySpark hands it to functions (naive local time)."""
        return _to_datetime(int(self))


# PySpark's listener objects are py4j proxies, so every field is read with a call: ``info.name()``.
# These wrappers let one attribute serve both styles: ``info.name == info.name() == "pprint"``.
class _IntField(int):
    def __call__(self) -> int:
        return int(self)


class _StrField(str):
    def __call__(self) -> str:
        return str(self)


class _FlagField(int):
    """A bool that can be called (``bool`` cannot be subclassed)."""

    def __call__(self) -> bool:
        return bool(self)

    def __repr__(self) -> str:
        return repr(bool(self))

    __str__ = __repr__


class _DictField(dict):
    def __call__(self) -> dict:
        return self


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else value


@dataclass
class StreamInputInfo:
    """What one input stream contributed to a batch (``metadata`` is also callable, as in PySpark)."""

    input_stream_id: int
    num_records: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.metadata = _DictField(self.metadata)

    def inputStreamId(self) -> int:
        return self.input_stream_id

    def numRecords(self) -> int:
        return self.num_records

    def metadataDescription(self) -> str | None:
        return self.metadata.get("Description")


@dataclass
class OutputOperationInfo:
    """One output operation of one batch; ``failure_reason`` is None on success.

    ``id``, ``name`` and ``description`` are plain values that can also be called (``info.name()``),
    as PySpark's py4j objects are.
    """

    batch_time: int
    id: int
    name: str
    description: str
    start_time: int | None = None
    end_time: int | None = None
    failure_reason: str | None = None

    def __post_init__(self) -> None:
        self.batch_time = Time(self.batch_time)
        self.id = _IntField(self.id)
        self.name = _StrField(self.name)
        self.description = _StrField(self.description)

    def batchTime(self) -> Time:
        return Time(self.batch_time)

    def startTime(self) -> int:
        return _or_minus_one(self.start_time)

    def endTime(self) -> int:
        return _or_minus_one(self.end_time)

    def failureReason(self) -> str | None:
        return self.failure_reason

    @property
    def duration(self) -> int | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass
class BatchInfo:
    """Times are epoch milliseconds; delays are milliseconds (None while not yet known)."""

    batch_time: int
    submission_time: int
    stream_inputs: dict[int, StreamInputInfo] = field(default_factory=dict)
    processing_start_time: int | None = None
    processing_end_time: int | None = None
    output_operations: dict[int, OutputOperationInfo] = field(default_factory=dict)
    late_rows: int = 0

    def __post_init__(self) -> None:
        self.batch_time = Time(self.batch_time)  # one convention: Spark's Time (ms, .datetime())

    @property
    def num_records(self) -> int:
        return sum(i.num_records for i in self.stream_inputs.values())

    @property
    def scheduling_delay(self) -> int | None:
        if self.processing_start_time is None:
            return None
        return self.processing_start_time - self.submission_time

    @property
    def processing_delay(self) -> int | None:
        if self.processing_start_time is None or self.processing_end_time is None:
            return None
        return self.processing_end_time - self.processing_start_time

    @property
    def total_delay(self) -> int | None:
        if self.scheduling_delay is None or self.processing_delay is None:
            return None
        return self.scheduling_delay + self.processing_delay

    @property
    def failed(self) -> bool:
        return any(o.failure_reason is not None for o in self.output_operations.values())

    # Spark's accessor names (-1 = not yet known)
    def batchTime(self) -> Time:
        return Time(self.batch_time)

    def submissionTime(self) -> int:
        return self.submission_time

    def processingStartTime(self) -> int:
        return _or_minus_one(self.processing_start_time)

    def processingEndTime(self) -> int:
        return _or_minus_one(self.processing_end_time)

    def schedulingDelay(self) -> int:
        return _or_minus_one(self.scheduling_delay)

    def processingDelay(self) -> int:
        return _or_minus_one(self.processing_delay)

    def totalDelay(self) -> int:
        return _or_minus_one(self.total_delay)

    def numRecords(self) -> int:
        return self.num_records

    def streamIdToInputInfo(self) -> dict[int, StreamInputInfo]:
        return self.stream_inputs

    def outputOperationInfos(self) -> dict[int, OutputOperationInfo]:
        return self.output_operations


@dataclass
class ReceiverInfo:
    """A source's receiver, as reported in ``onReceiverStarted/Error/Stopped``.

    ``name``, ``active`` and ``location`` can also be called (``info.active()``), as in PySpark.
    """

    stream_id: int
    name: str
    active: bool = True
    location: str = "localhost"
    executor_id: str = "driver"
    last_error_message: str = ""
    last_error: str = ""
    last_error_time: int = -1

    def __post_init__(self) -> None:
        self.name = _StrField(self.name)
        self.active = _FlagField(bool(self.active))  # type: ignore[assignment]
        self.location = _StrField(self.location)

    def streamId(self) -> int:
        return self.stream_id

    def executorId(self) -> str:
        return self.executor_id

    def lastErrorMessage(self) -> str:
        return self.last_error_message

    def lastError(self) -> str:
        return self.last_error

    def lastErrorTime(self) -> int:
        return self.last_error_time


# Events: PySpark hands wrappers whose accessor returns the info.
@dataclass
class StreamingStarted:
    """``time`` is epoch ms; ``streamingStarted.time()`` also works, as in PySpark."""

    time: int

    def __post_init__(self) -> None:
        self.time = _IntField(self.time)


@dataclass
class BatchEvent:
    batch_info: BatchInfo

    def batchInfo(self) -> BatchInfo:
        return self.batch_info


@dataclass
class OutputOperationEvent:
    output_operation_info: OutputOperationInfo

    def outputOperationInfo(self) -> OutputOperationInfo:
        return self.output_operation_info


@dataclass
class ReceiverEvent:
    receiver_info: ReceiverInfo

    def receiverInfo(self) -> ReceiverInfo:
        return self.receiver_info


class StreamingListener:
    """Override the callbacks you need; all default to doing nothing.

    Callbacks run one at a time on the ``dstreams-listener`` thread, in the order the events happened.
    """

    def onStreamingStarted(self, streamingStarted: StreamingStarted) -> None: ...

    def onReceiverStarted(self, receiverStarted: ReceiverEvent) -> None: ...

    def onReceiverError(self, receiverError: ReceiverEvent) -> None: ...

    def onReceiverStopped(self, receiverStopped: ReceiverEvent) -> None: ...

    def onBatchSubmitted(self, batchSubmitted: BatchEvent) -> None: ...

    def onBatchStarted(self, batchStarted: BatchEvent) -> None: ...

    def onBatchCompleted(self, batchCompleted: BatchEvent) -> None: ...

    def onOutputOperationStarted(self, outputOperationStarted: OutputOperationEvent) -> None: ...

    def onOutputOperationCompleted(self, outputOperationCompleted: OutputOperationEvent) -> None: ...


_RECEIVER_CALLBACKS = {
    "started": "onReceiverStarted",
    "error": "onReceiverError",
    "stopped": "onReceiverStopped",
}


class ListenerBus:
    """Delivers events to every listener on one thread, in posting order, as Spark's listener bus.

    Posting never blocks the scheduler and a slow listener never delays a batch. A listener that
    raises is logged and the stream goes on. While the bus is not running (before ``start()``, after
    ``stop()``) events are delivered on the posting thread.

    Sources report their receivers with :meth:`post_receiver`::

        ssc._listeners.post_receiver("started", ReceiverInfo(stream_id=self._id, name="SocketReceiver"))
    """

    def __init__(self) -> None:
        self.listeners: list[StreamingListener] = []
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._posted = 0
        self._delivered = 0

    def add(self, listener: StreamingListener) -> None:
        self.listeners.append(listener)

    def remove(self, listener: StreamingListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def post(self, callback: str, event: Any) -> None:
        """Queue ``listener.<callback>(event)`` for every listener."""
        if not self.listeners:
            return  # nothing to deliver: skip the queue and the thread wake-up
        with self._cond:
            if self._thread is not None and not self._stopping:
                self._queue.append((callback, event))
                self._posted += 1
                self._cond.notify_all()
                return
        self._deliver(callback, event)

    def post_receiver(self, kind: str, info: ReceiverInfo) -> None:
        """For sources: ``kind`` is ``"started"``, ``"error"`` or ``"stopped"``."""
        try:
            callback = _RECEIVER_CALLBACKS[kind]
        except KeyError:
            raise ConfigurationError(
                f"post_receiver: kind must be one of {sorted(_RECEIVER_CALLBACKS)}, got {kind!r}"
            ) from None
        self.post(callback, ReceiverEvent(info))

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="dstreams-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Deliver the queued events, then end the thread (when called from a callback: no wait)."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
            with self._cond:
                if self._thread is thread:
                    self._thread = None

    def wait_until_empty(self, timeout: float | None = None) -> bool:
        """Block until every event posted so far was delivered (at once on the bus thread itself)."""
        if threading.current_thread() is self._thread:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._posted
            while self._delivered < target:
                thread = self._thread
                if thread is None or not thread.is_alive():
                    return True  # nothing left to deliver them
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
            return True

    def is_bus_thread(self) -> bool:
        return threading.current_thread() is self._thread

    # -- delivery --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    self._cond.notify_all()
                    return
                callback, event = self._queue.popleft()
            self._deliver(callback, event)
            with self._cond:
                self._delivered += 1
                self._cond.notify_all()

    def _deliver(self, callback: str, event: Any) -> None:
        for listener in list(self.listeners):
            method = getattr(listener, callback, None)  # duck-typed listeners may skip callbacks
            if method is None:
                continue
            try:
                method(event)
            except Exception:
                log.exception("StreamingListener %r raised in %s; the stream goes on", listener, callback)
