"""The batch scheduler: a timer that generates batches on the grid and a runner that processes them.

Two threads, as Spark's JobGenerator and JobScheduler:

* the **timer** (``dstreams-timer``) wakes at every batch time ``zero + k * interval`` on the
  context's clock, asks each source for the data of the interval that just ended and queues the
  batch;
* the **runner** (``dstreams-runner``) processes queued batches one at a time, in order: every output
  operation in the order it was defined. A failing output marks the batch failed (listener +
  ``awaitTermination``) and the next batches still run.

Work that computes batches runs with the context's :class:`~dstreams.executor.Executor` made current
on both threads. Listener events go through the context's :class:`~dstreams.listener.ListenerBus`.

With a :class:`ManualClock`, ``clock.advance()`` returns once every batch it made due is processed
and its listener events are delivered, and then raises the first error of the batches that failed
meanwhile (a failed batch never goes unnoticed in a test or a script).

Input streams that set ``reports_input_info = False`` (``queueStream``, as Spark's) are left out of
``BatchInfo.streamIdToInputInfo()``.

Difference from Spark: every output operation is listed in every batch's ``BatchInfo`` (an output
whose parent has no batch at that time, e.g. a window between slides, completes without running);
Spark lists only the outputs that generated a job.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import traceback
from typing import TYPE_CHECKING

from . import executor as _executor
from . import fallback
from .errors import BatchError, DStreamsError
from .listener import (
    BatchEvent,
    BatchInfo,
    OutputOperationEvent,
    OutputOperationInfo,
    StreamingStarted,
    StreamInputInfo,
)
from .outputs import batch_label

if TYPE_CHECKING:
    from .context import StreamingContext

log = logging.getLogger("dstreams")

_STOP = object()  # queued last by stop(): the runner ends after the batches before it


class Scheduler:
    """Runs the batches of one started context; created by ``ssc.start()``, ended by ``ssc.stop()``."""

    def __init__(self, ssc: StreamingContext):
        self._ssc = ssc
        self._clock = ssc.clock
        self._graph = ssc._graph
        self._bus = ssc._listeners
        self._interval = ssc._batch_ms
        self._queue: queue.Queue = queue.Queue()
        self._stop_timer = threading.Event()
        self._stop_runner = threading.Event()
        self._progress = threading.Condition()
        self._last_generated: int | None = None
        self._last_processed: int | None = None
        self._next_time = 0
        self._timer: threading.Thread | None = None
        self._runner: threading.Thread | None = None
        self._shutdown_on_exit = False
        self.completed: list[BatchInfo] = []  # last batches, newest last (kept bounded)
        self.retained = 1000  # as spark.streaming.ui.retainedBatches
        self.executor = ssc._executor
        # checkpoint hook: journal, state checkpoints and recovery (dstreams.checkpoint.manager)
        self._checkpointer = getattr(ssc, "_checkpointer", None)

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        now = self._clock.now_ms()
        # As Spark's RecurringTimer: the first batch is the next multiple of the interval after now.
        first = (now // self._interval + 1) * self._interval
        zero = first - self._interval
        cp = self._checkpointer
        if cp is not None:  # checkpoint hook: a recovered context resumes its grid at the checkpoint
            zero = cp.starting(zero)
            first = zero + self._interval
        self._graph.start(zero)
        for source in self._graph.inputs:
            source._start()
        if cp is not None:  # checkpoint hook: restored source positions; the first checkpoint
            cp.sources_started()
        self._next_time = first
        self._bus.post("onStreamingStarted", StreamingStarted(now))
        self._timer = threading.Thread(target=self._timer_loop, name="dstreams-timer", daemon=True)
        self._runner = threading.Thread(target=self._runner_loop, name="dstreams-runner", daemon=True)
        self._runner.start()
        self._timer.start()
        subscribe = getattr(self._clock, "_subscribe", None)
        if subscribe is not None:
            subscribe(self._wait_for_time)

    def stop(self, graceful: bool) -> None:
        """Stop the timer, then process the queued batches (``graceful``) or drop them.

        Safe from inside a batch (e.g. ``ssc.stop()`` in ``foreachRDD``): the runner is then not
        joined; it finishes the current batch and ends.
        """
        if not graceful:
            self._stop_runner.set()  # first: the batch being processed is the last one
        else:
            # As Spark: stop receiving first, so what the receivers stored since the last batch
            # can go into one final batch instead of being lost.
            for source in self._graph.inputs:
                stop_receiving = getattr(source, "_stop_receiving", None)
                if stop_receiving is not None:
                    stop_receiving()
        self._stop_timer.set()
        self._clock.wake()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        if graceful and any(getattr(s, "_has_pending", lambda: False)() for s in self._graph.inputs):
            # The final batch takes the next grid time at once rather than waiting for it.
            self._generate(self._next_time)
            self._next_time += self._interval
        for source in self._graph.inputs:
            try:
                source._stop()
            except Exception:
                log.exception("stopping source %r failed", source)
        self._queue.put(_STOP)
        on_runner = self._runner is threading.current_thread()
        if self._runner is not None and not on_runner:
            self._runner.join()
        unsubscribe = getattr(self._clock, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe(self._wait_for_time)
        if on_runner:
            self._shutdown_on_exit = True  # the current batch may still use the executor
        else:
            self.executor.shutdown()
        with self._progress:
            self._progress.notify_all()

    def join(self) -> None:
        """Wait until the runner thread has ended (after ``stop``); no-op on the runner itself."""
        runner = self._runner
        if runner is not None and runner is not threading.current_thread():
            runner.join()

    def owns_current_thread(self) -> bool:
        """True on the timer or runner thread (where waiting for batches would deadlock)."""
        return threading.current_thread() in (self._timer, self._runner)

    # -- timer -----------------------------------------------------------------------------------
    def _timer_loop(self) -> None:
        token = _executor.use(self.executor)
        fallback_token = fallback.use(self._ssc.fallback_mode)
        try:
            while not self._stop_timer.is_set():
                t = self._next_time
                if not self._clock.wait_until(t, self._stop_timer):
                    return
                self._generate(t)
                self._next_time = t + self._interval
        finally:
            fallback.reset(fallback_token)
            _executor._current.reset(token)

    def _generate(self, t: int) -> None:
        info = BatchInfo(batch_time=t, submission_time=self._clock.now_ms())
        cp = self._checkpointer
        try:
            for source in self._graph.inputs:
                # checkpoint hook: a batch re-run after a crash gets its data from the journal
                batch = source._allocate(t) if cp is None else cp.allocate(source, t)
                source._allocated[t] = batch
                if not getattr(source, "reports_input_info", True):
                    continue  # as Spark's queue stream: no input info, no records counted
                records = 0 if batch is None else batch.count()
                meta = getattr(source, "_input_metadata", None)  # e.g. Kafka offsets, receiver rate
                info.stream_inputs[source._id] = StreamInputInfo(source._id, records, meta(t) if meta else {})
            if cp is not None:  # checkpoint hook: the batch's data is durable before it runs
                source = "the checkpoint's input journal"  # a failure here is not the source's
                cp.generated(t, {s: s._allocated[t] for s in self._graph.inputs})
        except Exception as error:
            # As Spark's "Error generating jobs for time t": report it, skip the batch, go on.
            culprit = source if isinstance(source, str) else repr(source)
            wrapped = BatchError(
                f"generating {batch_label(t)} failed in {culprit}: {type(error).__name__}: {error}",
                operator=culprit,
                batch_time=t,
            )
            self._ssc._report_error(wrapped, error)
            info = None
        else:
            for index, output in enumerate(self._graph.outputs):
                info.output_operations[index] = OutputOperationInfo(t, index, output.name, output.name)
        with self._progress:
            self._last_generated = t
        if info is not None and not (cp is not None and cp.replays(t)):  # checkpoint hook: replays are silent
            self._bus.post("onBatchSubmitted", BatchEvent(_snapshot(info)))
        self._queue.put((t, info))

    # -- runner ----------------------------------------------------------------------------------
    def _runner_loop(self) -> None:
        token = _executor.use(self.executor)
        fallback_token = fallback.use(self._ssc.fallback_mode)
        try:
            while True:
                item = self._queue.get()
                if item is _STOP or self._stop_runner.is_set():
                    return
                self._process(*item)
        finally:
            fallback.reset(fallback_token)
            _executor._current.reset(token)
            if self._checkpointer is not None:  # checkpoint hook: final checkpoint, flush, close
                try:
                    self._checkpointer.runner_finished(graceful=not self._stop_runner.is_set())
                except Exception:
                    log.exception("finishing the checkpoints failed")
            if self._shutdown_on_exit:
                self.executor.shutdown()
            with self._progress:
                self._progress.notify_all()

    def _process(self, t: int, info: BatchInfo | None) -> None:
        cp = self._checkpointer
        try:
            if cp is not None and cp.replays(t):  # checkpoint hook: completed before a crash
                cp.replay(t)  # rebuild the state; the outputs of t already ran
            elif info is not None:  # None: generating the batch failed (already reported)
                self._run_outputs(t, info)
        except Exception as error:  # an engine bug must not kill the runner
            self._ssc._report_error(BatchError(f"{batch_label(t)} failed: {error}", batch_time=t), error)
        finally:
            try:
                if cp is not None:  # checkpoint hook: completion marker, state checkpoints (never raises)
                    cp.processed(t)
                self._graph.forget_before(t)  # sources drop their allocated data here too
            finally:
                with self._progress:
                    self._last_processed = t
                    self._progress.notify_all()

    def _run_outputs(self, t: int, info: BatchInfo) -> None:
        bus = self._bus
        info.processing_start_time = self._clock.now_ms()
        bus.post("onBatchStarted", BatchEvent(_snapshot(info)))
        for index, output in enumerate(self._graph.outputs):
            op = info.output_operations[index]
            op.start_time = self._clock.now_ms()
            bus.post("onOutputOperationStarted", OutputOperationEvent(dataclasses.replace(op)))
            try:
                output._run(t)
            except Exception as error:
                wrapped = _batch_error(error, output.name, t)
                wrapped.__cause__ = error
                op.failure_reason = "".join(traceback.format_exception(wrapped)).strip()
                self._ssc._report_error(wrapped, error)
            op.end_time = self._clock.now_ms()
            bus.post("onOutputOperationCompleted", OutputOperationEvent(dataclasses.replace(op)))
        # Event-time streams count rows that came after the watermark had passed their window.
        info.late_rows = sum(s._late_rows_at(t) for s in self._graph.streams if hasattr(s, "_late_rows_at"))
        info.processing_end_time = self._clock.now_ms()
        self.completed.append(info)
        if len(self.completed) > self.retained:
            del self.completed[: len(self.completed) - self.retained]
        bus.post("onBatchCompleted", BatchEvent(_snapshot(info)))

    # -- manual clock support --------------------------------------------------------------------
    def _wait_for_time(self, now_ms: int) -> None:
        """Block until every batch due at ``now_ms`` was processed and its events delivered, then
        raise the first batch error not yet raised to the program.

        Returns at once on the engine's own threads (a batch or listener that moves the clock).
        """
        if self.owns_current_thread() or self._bus.is_bus_thread():
            return
        zero = self._graph.zero_ms
        if zero is not None and now_ms >= zero + self._interval:
            due = zero + (now_ms - zero) // self._interval * self._interval
            with self._progress:
                while not self._caught_up(due):
                    self._progress.wait(0.05)
            self._bus.wait_until_empty()
        unraised = self._ssc._take_unraised()
        if unraised:
            raise unraised[0].with_traceback(None)  # its frames on the runner say nothing

    def _caught_up(self, due: int) -> bool:
        processed = self._last_processed if self._last_processed is not None else -1
        if processed >= due or self._stop_runner.is_set():
            return True
        if self._runner is None or not self._runner.is_alive():
            return True
        # the timer has ended (stopped): nothing more will come once the generated batches are done
        generated = self._last_generated if self._last_generated is not None else -1
        return not self._timer_alive() and processed >= generated

    def _timer_alive(self) -> bool:
        return self._timer is not None and self._timer.is_alive()


def _snapshot(info: BatchInfo) -> BatchInfo:
    """A copy for listeners: events are delivered later, while the scheduler updates ``info``."""
    return dataclasses.replace(
        info,
        stream_inputs=dict(info.stream_inputs),
        output_operations={k: dataclasses.replace(v) for k, v in info.output_operations.items()},
    )


def _batch_error(error: Exception, operator: str, t: int) -> BatchError:
    if isinstance(error, BatchError):
        op = error.operator or operator
        # The operator's own message already starts with its name: "map(<lambda> ...) failed: ..."
        message = f"{batch_label(t)}, output {operator}: {error}"
        return BatchError(message, operator=op, batch_time=t)
    if isinstance(error, DStreamsError):
        message = f"{batch_label(t)} failed in {operator}: {error}"
    else:
        message = f"{batch_label(t)} failed in {operator}: {type(error).__name__}: {error}"
    return BatchError(message, operator=operator, batch_time=t)
