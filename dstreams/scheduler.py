"""The batch scheduler: a timer that generates batches on the grid and a runner that processes them.

Two threads, as Spark's JobGenerator and JobScheduler:

* the **timer** wakes at every batch time ``zero + k * interval`` (on the context's clock), asks each
  source for the data of the interval that just ended and queues the batch;
* the **runner** processes queued batches one at a time, in order: every output operation in the
  order it was defined. A failing output marks the batch failed (listener + ``awaitTermination``)
  and the next batches still run.

With a :class:`ManualClock`, ``clock.advance()`` returns once every batch it made due is processed.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from typing import TYPE_CHECKING

from . import executor as _executor
from .errors import BatchError, DStreamsError
from .listener import (
    BatchEvent,
    BatchInfo,
    OutputOperationEvent,
    OutputOperationInfo,
    StreamingStarted,
    StreamInputInfo,
)
from .outputs import to_datetime

if TYPE_CHECKING:
    from .context import StreamingContext

log = logging.getLogger("dstreams")


class Scheduler:
    def __init__(self, ssc: StreamingContext):
        self._ssc = ssc
        self._clock = ssc.clock
        self._graph = ssc._graph
        self._interval = ssc._batch_ms
        self._queue: queue.Queue[tuple[int, BatchInfo] | None] = queue.Queue()
        self._stop_timer = threading.Event()
        self._stop_runner = threading.Event()
        self._progress = threading.Condition()
        self._last_generated: int | None = None
        self._last_processed: int | None = None
        self._timer: threading.Thread | None = None
        self._runner: threading.Thread | None = None
        self.completed: list[BatchInfo] = []  # last batches, newest last (kept bounded)
        self.retained = 1000
        self.executor = ssc._executor

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        now = self._clock.now_ms()
        # As Spark: the first batch is the next multiple of the interval after now.
        first = (now // self._interval + 1) * self._interval
        self._graph.start(first - self._interval)
        for source in self._graph.inputs:
            source._start()
        self._next_time = first
        self._ssc._listeners.post("onStreamingStarted", StreamingStarted(now))
        subscribe = getattr(self._clock, "_subscribe", None)
        if subscribe is not None:
            subscribe(self._wait_for_time)
        self._timer = threading.Thread(target=self._timer_loop, name="dstreams-timer", daemon=True)
        self._runner = threading.Thread(target=self._runner_loop, name="dstreams-runner", daemon=True)
        self._runner.start()
        self._timer.start()

    def stop(self, graceful: bool) -> None:
        self._stop_timer.set()
        self._clock.wake()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        for source in self._graph.inputs:
            try:
                source._stop()
            except Exception:
                log.exception("stopping source %r failed", source)
        if not graceful:
            self._stop_runner.set()
        self._queue.put(None)
        if self._runner is not None and self._runner is not threading.current_thread():
            self._runner.join()
        unsubscribe = getattr(self._clock, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._wait_for_time)
        self.executor.shutdown()
        with self._progress:
            self._progress.notify_all()

    # -- timer -----------------------------------------------------------------------------------
    def _timer_loop(self) -> None:
        while not self._stop_timer.is_set():
            t = self._next_time
            if not self._clock.wait_until(t, self._stop_timer):
                return
            try:
                self._generate(t)
            except Exception as error:
                self._ssc._report_error(
                    BatchError(f"generating batch {to_datetime(t)} ({t} ms) failed: {error}", batch_time=t),
                    error,
                )
            self._next_time = t + self._interval

    def _generate(self, t: int) -> None:
        info = BatchInfo(batch_time=t, submission_time=self._clock.now_ms())
        for source in self._graph.inputs:
            batch = source._allocate(t)
            source._allocated[t] = batch
            records = 0 if batch is None else batch.count()
            info.stream_inputs[source._id] = StreamInputInfo(source._id, records)
        with self._progress:
            self._last_generated = t
        self._ssc._listeners.post("onBatchSubmitted", BatchEvent(info))
        self._queue.put((t, info))

    # -- runner ----------------------------------------------------------------------------------
    def _runner_loop(self) -> None:
        token = _executor.use(self.executor)
        try:
            while True:
                item = self._queue.get()
                if item is None or self._stop_runner.is_set():
                    if item is None and self._queue.empty():
                        return
                    if self._stop_runner.is_set():
                        return
                    continue
                self._process(*item)
        finally:
            _executor._current.reset(token)

    def _process(self, t: int, info: BatchInfo) -> None:
        bus = self._ssc._listeners
        info.processing_start_time = self._clock.now_ms()
        bus.post("onBatchStarted", BatchEvent(info))
        for index, output in enumerate(self._graph.outputs):
            op = OutputOperationInfo(t, index, output.name, output.name, start_time=self._clock.now_ms())
            info.output_operations[index] = op
            bus.post("onOutputOperationStarted", OutputOperationEvent(op))
            try:
                output._run(t)
            except Exception as error:
                wrapped = _batch_error(error, output.name, t)
                op.failure_reason = "".join(traceback.format_exception(wrapped)).strip()
                self._ssc._report_error(wrapped, error)
            op.end_time = self._clock.now_ms()
            bus.post("onOutputOperationCompleted", OutputOperationEvent(op))
        info.processing_end_time = self._clock.now_ms()
        self._graph.forget_before(t)
        for source in self._graph.inputs:
            source._allocated.pop(t, None)
        self.completed.append(info)
        if len(self.completed) > self.retained:
            del self.completed[: len(self.completed) - self.retained]
        bus.post("onBatchCompleted", BatchEvent(info))
        with self._progress:
            self._last_processed = t
            self._progress.notify_all()

    # -- manual clock support --------------------------------------------------------------------
    def _wait_for_time(self, now_ms: int) -> None:
        """Block until every batch due at ``now_ms`` has been processed (or the context stops)."""
        zero = self._graph.zero_ms
        if zero is None or now_ms < zero + self._interval:
            return
        due = zero + (now_ms - zero) // self._interval * self._interval
        with self._progress:
            while (self._last_processed is None or self._last_processed < due) and not (
                self._stop_timer.is_set() and self._queue.empty()
            ):
                if self._stop_runner.is_set():
                    return
                self._progress.wait(0.05)


def _batch_error(error: Exception, operator: str, t: int) -> BatchError:
    if isinstance(error, BatchError):
        op = error.operator or operator
        message = f"batch {to_datetime(t)} ({t} ms) failed in {op} (output {operator}): {error}"
        return BatchError(message, operator=op, batch_time=t)
    if isinstance(error, DStreamsError):
        message = f"batch {to_datetime(t)} ({t} ms) failed in {operator}: {error}"
    else:
        message = f"batch {to_datetime(t)} ({t} ms) failed in {operator}: {type(error).__name__}: {error}"
    return BatchError(message, operator=operator, batch_time=t)
