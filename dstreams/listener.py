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

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("dstreams")


class Time(int):
    """Milliseconds since the epoch (Spark's ``Time``): an int with ``milliseconds()``."""

    def milliseconds(self) -> int:
        return int(self)


def _or_minus_one(value: int | None) -> int:
    return -1 if value is None else value


@dataclass
class StreamInputInfo:
    """What one input stream contributed to a batch."""

    input_stream_id: int
    num_records: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def inputStreamId(self) -> int:
        return self.input_stream_id

    def numRecords(self) -> int:
        return self.num_records

    def metadataDescription(self) -> str | None:
        return self.metadata.get("Description")


@dataclass
class OutputOperationInfo:
    """One output operation of one batch; ``failure_reason`` is None on success."""

    batch_time: int
    id: int
    name: str
    description: str
    start_time: int | None = None
    end_time: int | None = None
    failure_reason: str | None = None

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
    stream_id: int
    name: str
    active: bool = True
    location: str = "localhost"
    executor_id: str = "driver"
    last_error_message: str = ""
    last_error: str = ""
    last_error_time: int = -1

    def streamId(self) -> int:
        return self.stream_id

    def lastErrorMessage(self) -> str:
        return self.last_error_message

    def lastError(self) -> str:
        return self.last_error

    def lastErrorTime(self) -> int:
        return self.last_error_time


# Events: PySpark hands wrappers whose accessor returns the info.
@dataclass
class StreamingStarted:
    time: int


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
    """Override the callbacks you need; all default to doing nothing."""

    def onStreamingStarted(self, streamingStarted: StreamingStarted) -> None: ...

    def onReceiverStarted(self, receiverStarted: ReceiverEvent) -> None: ...

    def onReceiverError(self, receiverError: ReceiverEvent) -> None: ...

    def onReceiverStopped(self, receiverStopped: ReceiverEvent) -> None: ...

    def onBatchSubmitted(self, batchSubmitted: BatchEvent) -> None: ...

    def onBatchStarted(self, batchStarted: BatchEvent) -> None: ...

    def onBatchCompleted(self, batchCompleted: BatchEvent) -> None: ...

    def onOutputOperationStarted(self, outputOperationStarted: OutputOperationEvent) -> None: ...

    def onOutputOperationCompleted(self, outputOperationCompleted: OutputOperationEvent) -> None: ...


class ListenerBus:
    """Calls every listener in order; a listener that raises is logged, never stops the stream."""

    def __init__(self) -> None:
        self.listeners: list[StreamingListener] = []

    def add(self, listener: StreamingListener) -> None:
        self.listeners.append(listener)

    def post(self, callback: str, event: Any) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, callback)(event)
            except Exception:
                log.exception("StreamingListener %r raised in %s", listener, callback)
