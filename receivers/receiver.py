"""Custom receivers: Spark's ``Receiver`` API, and the engine side that turns stored records into batches.

Write a source by subclassing :class:`Receiver`, then attach it with ``ssc.receiverStream(r)``::

    class Counter(Receiver):
        def onStart(self):                       # runs on the receiver's own thread
            n = 0
            while not self.isStopped():          # a receive loop may run right here...
                self.store(n)                    # ...or in threads that onStart starts
                n += 1

        def onStop(self):                        # called from another thread: unblock the loop
            pass

    ssc.receiverStream(Counter()).count().pprint()

The contract, as Spark's (``Receiver.scala``):

* ``onStart()`` is called on a thread of its own (``dstreams-receiver-<stream id>``). It may run the
  receive loop itself until ``isStopped()``, or start its own threads and return.
* ``onStop()`` is called, on a separate thread, when the receiver is stopped or restarted; it must
  release what ``onStart`` acquired so that a blocked loop returns (close the socket, ...).
* ``store(record)`` adds one record to the block being filled (**unreliable**: a record is in the
  engine's memory only, so a crash of the process loses it). ``store(list | iterator | pa.Table |
  pa.RecordBatch | pa.Array | pl.DataFrame)`` stores many records at once and returns only once they
  are in the engine's block queue (**reliable**: acknowledge the source after it returns). A list is
  always several records; store a list as one record with ``store([the_list])``.
* ``store`` blocks while the stream is over its rate (``spark.streaming.receiver.maxRate``, or the
  backpressure estimate) or while the received-but-unprocessed records of the stream are at their
  bound (``maxBufferedRecords``). Nothing is ever dropped: the producer is slowed down instead.
  After the context stopped, ``store`` raises :class:`ReceiverStoppedError`.
* ``restart(message, error=None)`` stops the receiver (``onStop``), waits, and starts it again
  (``onStart``); the wait grows (x2, up to x16 the restart delay) while restarts store nothing,
  so a source that is down is retried with backoff. ``stop(message)`` stops it for good (the
  stream goes on, with empty batches). ``reportError(message, error)`` only reports.
* An exception escaping ``onStart`` stops the receiver with that error (as Spark); call
  ``restart`` yourself to retry.

Listeners see it all: ``onReceiverStarted`` at every (re)start, ``onReceiverError`` for
``reportError`` and for each restart, ``onReceiverStopped`` at the end; each with a
:class:`~dstreams.listener.ReceiverInfo` carrying the last error.

Engine side (:class:`ReceiverInputDStream`): records are cut into blocks every
``spark.streaming.blockInterval`` (200 ms) and converted to Arrow on the receiver's thread; when
batch ``t`` is generated, every record stored so far goes into it (so what a receiver stores before
``clock.advance()`` on a manual clock is in the next batch), one partition per block.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from dstreams import codec, ops
from dstreams.batch import Batch
from dstreams.codec import PARTITION, Layout
from dstreams.dstream import InputDStream
from dstreams.errors import ConfigurationError, DStreamsError
from dstreams.listener import ReceiverInfo

from .ratecontrol import PIDRateEstimator, RateController, RateLimiter, duration_ms, rate_settings

if TYPE_CHECKING:
    from dstreams.context import StreamingContext

log = logging.getLogger("dstreams")

BLOCK_INTERVAL = "spark.streaming.blockInterval"
RESTART_DELAY = "spark.streaming.receiverRestartDelay"
MAX_BUFFERED = "dstreams.receiver.maxBufferedRecords"
DEFAULT_MAX_BUFFERED = 1_000_000
_MAX_BACKOFF = 16  # restart delay grows up to 16x while restarts store nothing
_JOIN_TIMEOUT_S = 10.0
_WAL_ENABLE = "spark.streaming.receiver.writeAheadLog.enable"  # as dstreams.checkpoint.receiver_log


class ReceiverStoppedError(DStreamsError):
    """``store()`` was called after the stream stopped (or before it started): nothing was stored."""


# -- the user-facing API --------------------------------------------------------------------------
class Receiver:
    """Base class of custom receivers (Spark's ``Receiver``); see the module docstring.

    >>> class Lines(Receiver):
    ...     def __init__(self, path):
    ...         super().__init__()
    ...         self.path = path
    ...     def onStart(self):
    ...         with open(self.path) as f:
    ...             self.store([line.rstrip("\\n") for line in f])   # reliable: returns when stored
    ...     def onStop(self):
    ...         pass
    >>> ssc.receiverStream(Lines("words.txt")).pprint()
    """

    def __init__(self, storageLevel: Any = None):
        self.storageLevel = storageLevel  # accepted for compatibility; batches live in memory
        self._stream: ReceiverInputDStream | None = None
        self._counters: collections.Counter[str] = collections.Counter()

    # -- to override -----------------------------------------------------------------------------
    def onStart(self) -> None:
        """Start receiving: run the receive loop here until ``isStopped()``, or start threads."""
        raise NotImplementedError(f"{type(self).__name__} must implement onStart()")

    def onStop(self) -> None:
        """Release what ``onStart`` acquired, so that its loop ends (called from another thread)."""

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def streamId(self) -> int:
        """The id of the input stream this receiver feeds (as reported to listeners)."""
        return self._attached().id

    def store(self, data: Any) -> None:
        """Store one record (buffered), or many (a list, iterator, Arrow table/array or Polars
        frame: returns once they are in the engine). Blocks while over the rate or buffer bound.

        >>> self.store("one line")
        >>> self.store(["a", "b", "c"])            # reliable
        >>> self.store(pa.table({"id": [1, 2]}))   # columns as they are (row layout)
        """
        stream = self._attached()
        if _is_many(data):
            stream._blocks.add_many(data)
        else:
            stream._blocks.add(data)

    def restart(self, message: str, error: BaseException | None = None, delay: float | None = None) -> None:
        """Stop the receiver and start it again after ``delay`` seconds (default: the restart
        delay, doubled after each restart that stored nothing). Returns at once."""
        self._attached()._supervisor.request("restart", message, error, delay)

    def stop(self, message: str, error: BaseException | None = None) -> None:
        """Stop the receiver for good (the stream goes on, with empty batches). Returns at once."""
        self._attached()._supervisor.request("stop", message, error)

    def reportError(self, message: str, error: BaseException | None = None) -> None:
        """Report an error to listeners (``onReceiverError``) and the log; the receiver goes on."""
        self._attached()._supervisor.report_error(message, error)

    def isStopped(self) -> bool:
        """True once ``stop``/``restart`` was requested or the context stopped; a loop should end."""
        stream = self._stream
        return stream is None or stream._supervisor.state != _STARTED

    def isStarted(self) -> bool:
        """True while started (between ``onStart`` and the next stop or restart)."""
        return not self.isStopped()

    def currentRateLimit(self) -> float | None:
        """Records per second the stream accepts now (None: unlimited): a polling receiver can
        ask its source for fewer records instead of blocking in ``store``."""
        return self._attached()._limiter.rate

    def _count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a counter reported per batch in the stream's input metadata."""
        self._counters[name] += n

    def _attached(self) -> ReceiverInputDStream:
        if self._stream is None:
            raise ConfigurationError(
                f"{type(self).__name__} is not attached to a stream: use ssc.receiverStream(receiver)"
            )
        return self._stream

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _is_many(data: Any) -> bool:
    return isinstance(
        data, (list, Iterator, pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray, pl.DataFrame)
    )


# -- blocks: stored records on their way into batches ----------------------------------------------
class _Blocks:
    """The block being filled, sealed blocks waiting for a batch, and the bound on
    received-but-unprocessed records (``in_flight``: stored, until the batch holding them completes).
    """

    def __init__(self, block_ms: int, max_records: int, limiter: RateLimiter):
        self.block_s = block_ms / 1000.0
        self.max_records = max_records
        self.limiter = limiter
        self._cond = threading.Condition()
        self._records: list[Any] = []  # single records of the block being filled
        self._pieces: list[tuple[pa.Table, Layout]] = []  # converted parts of that block
        self._block_started: float | None = None
        self._sealed: list[tuple[pa.Table, Layout]] = []
        self._sealed_sizes: list[int] = []  # pieces per sealed block, for the write-ahead log's marks
        # The receiver write-ahead log (dstreams.checkpoint.receiver_log), when it is on: every piece
        # is in it before it joins a block, and every batch marks which pieces it took.
        self.log: Any = None
        self.position: dict[str, Any] = {"wal": 0, "batch": None}  # after the last take
        self._planned: dict[int, tuple[list[tuple[pa.Table, Layout]], int]] = {}  # re-run batches
        self._pending = 0  # stored, not yet in a batch
        self._in_batches: dict[int, int] = {}  # batch time -> records, until it completes
        self.in_flight = 0
        self.max_in_flight = 0  # high-water mark, for metrics and tests
        self.total = 0
        self.closed = threading.Event()
        self.closed.set()  # open() when the stream starts
        self._now = time.monotonic  # tests replace it to cut blocks deterministically

    def open(self) -> None:
        self.closed.clear()

    def close(self) -> int:
        """Refuse further stores (blocked ones raise); returns the records never put in a batch."""
        with self._cond:
            self.closed.set()
            self._cond.notify_all()
            return self._pending

    def add(self, record: Any) -> None:
        self._check_open()
        self.limiter.acquire(1, self.closed)
        with self._cond:
            self._wait_for_room(1)
            self._seal_if_old()
            self._records.append(record)
            self._added(1)

    def add_many(self, data: Any) -> None:
        self._check_open()
        table, layout = _to_table(data)  # on the caller's thread, outside the lock
        n = table.num_rows
        if n == 0:
            return
        self.limiter.acquire(n, self.closed)
        done = 0
        while done < n:  # as much as the bound allows at a time, so it is never exceeded
            with self._cond:
                self._wait_for_room(1)
                take = min(n - done, self.max_records - self.in_flight)
                self._seal_if_old()
                self._flush_records()
                piece = table.slice(done, take) if take < n else table
                if self.log is not None:
                    self.log.stored(piece, layout)  # durable before store() returns
                self._pieces.append((piece, layout))
                self._added(take)
            done += take

    def take(self, t: int) -> tuple[list[tuple[pa.Table, Layout]], int]:
        """Everything stored so far, for batch ``t``: the sealed blocks and their record count."""
        with self._cond:
            if self._planned and t <= max(self._planned):
                return self._take_planned(t)
            self._seal()
            blocks, self._sealed = self._sealed, []
            sizes, self._sealed_sizes = self._sealed_sizes, []
            n, self._pending = self._pending, 0
            if n:
                self._in_batches[t] = n
            if self.log is not None:
                self.position = {"wal": self.log.taken(t, sizes), "batch": t}
            return blocks, n

    def restore(
        self, planned: dict[int, tuple[list[list[tuple[pa.Table, Layout]]], int]], pending: list
    ) -> None:
        """Recovery with the write-ahead log: the batches after the checkpoint get the blocks they
        had (``planned``: batch time -> (blocks of pieces, log position)); ``pending`` pieces, stored
        after the last batch, go into the next one. All count as received and unprocessed."""
        with self._cond:
            self._planned = {
                t: ([_merge(b) for b in blocks if b], seq) for t, (blocks, seq) in planned.items()
            }
            if pending:
                self._sealed.append(_merge(pending))
                self._sealed_sizes.append(len(pending))
            n = sum(table.num_rows for blocks, _ in self._planned.values() for table, _ in blocks)
            n += sum(table.num_rows for table, _ in pending)
            self._pending += n
            self.in_flight += n
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _take_planned(self, t: int) -> tuple[list[tuple[pa.Table, Layout]], int]:
        blocks, seq = self._planned.pop(t, ([], self.position["wal"]))
        n = sum(table.num_rows for table, _ in blocks)
        self._pending -= n
        if n:
            self._in_batches[t] = n
        self.position = {"wal": seq, "batch": t}
        return blocks, n

    def release(self, t: int) -> None:
        """Batch ``t`` completed: its records (and any older batch's) no longer count as in flight."""
        with self._cond:
            done = [k for k in self._in_batches if k <= t]
            for k in done:
                self.in_flight -= self._in_batches.pop(k)
            if done:
                self._cond.notify_all()

    # -- internals (called with the lock held) -----------------------------------------------------
    def _check_open(self) -> None:
        if self.closed.is_set():
            raise ReceiverStoppedError(
                "store() was called while the stream is not running (before ssc.start() or after "
                "ssc.stop()): the data was not stored; end the receive loop when isStopped() is true"
            )

    def _wait_for_room(self, n: int) -> None:
        while not self.closed.is_set() and self.in_flight + n > self.max_records:
            self._cond.wait()
        self._check_open()

    def _added(self, n: int) -> None:
        self._pending += n
        self.in_flight += n
        self.total += n
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self._block_started is None:
            self._block_started = self._now()

    def _seal_if_old(self) -> None:
        started = self._block_started
        if started is not None and self._now() - started >= self.block_s:
            self._seal()

    def _flush_records(self) -> None:
        if self._records:
            table, layout = codec.from_elements(self._records)
            if self.log is not None:
                self.log.stored(table, layout)
            self._pieces.append((table, layout))
            self._records = []

    def _seal(self) -> None:
        self._flush_records()
        if self._pieces:
            self._sealed.append(_merge(self._pieces))
            self._sealed_sizes.append(len(self._pieces))
            self._pieces = []
        self._block_started = None


def _to_table(data: Any) -> tuple[pa.Table, Layout]:
    """Many records as one Arrow table and its layout (see ``Receiver.store``)."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif isinstance(data, (pa.Array, pa.ChunkedArray)):
        data = pa.table({"value": data})
    elif isinstance(data, pl.DataFrame):
        data = data.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(data, pa.Table):
        if PARTITION in data.column_names:
            data = data.drop_columns([PARTITION])
        return data, codec.layout_of(data)
    return codec.from_elements(list(data))


def _merge(pieces: list[tuple[pa.Table, Layout]]) -> tuple[pa.Table, Layout]:
    """Parts of one block as one table (one partition)."""
    if len(pieces) == 1:
        return pieces[0]
    layouts = {layout for _, layout in pieces}
    if len(layouts) == 1 and not any(codec.is_pickled(f) for t, _ in pieces for f in t.schema):
        try:
            return codec.concat([t for t, _ in pieces]), layouts.pop()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # different column types: fall back to elements (pickled where mixed)
    elements = [e for table, layout in pieces for e in codec.to_elements(table, layout)]
    return codec.from_elements(elements)


# -- the receiver's life cycle ----------------------------------------------------------------------
_INITIALIZED, _STARTED, _STOPPING, _STOPPED = "INITIALIZED", "STARTED", "STOPPING", "STOPPED"


class _Supervisor:
    """Runs one receiver on its own thread: start, stop, restart with backoff, report to listeners.

    Spark's ``ReceiverSupervisor``. ``onStop`` runs on a short-lived thread of its own, so that a
    receive loop that calls ``restart()`` or ``stop()`` never waits for itself.
    """

    def __init__(self, stream: ReceiverInputDStream, receiver: Receiver, restart_ms: int):
        self._stream = stream
        self._receiver = receiver
        self._restart_s = restart_ms / 1000.0
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a stop or restart was requested
        self._final = threading.Event()  # stop for good
        self._request: tuple[str, str, BaseException | None, float | None] | None = None
        self._stopper: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self.state = _INITIALIZED
        self._stop_message = "Stopped by driver"
        self.restarts = 0
        self.last_error_message = ""
        self.last_error = ""
        self.last_error_time = -1

    @property
    def name(self) -> str:
        return type(self._receiver).__name__

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"dstreams-receiver-{self._stream.id}", daemon=True
        )
        self._thread.start()

    def stop(self, message: str) -> None:
        """Stop for good and wait (bounded) for the receiver's thread to end."""
        self._stop_message = message
        self.request("stop", message, None)
        self._final.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning(
                    "receiver %s of stream %d did not end within %.0f s after stop: its onStart() "
                    "should return once isStopped() is true, and onStop() should unblock it",
                    self.name,
                    self._stream.id,
                    _JOIN_TIMEOUT_S,
                )

    def request(
        self, kind: str, message: str, error: BaseException | None, delay: float | None = None
    ) -> None:
        with self._lock:
            if kind == "stop":
                self._final.set()
            if self.state != _STARTED:
                return  # already stopping or restarting; _final makes a pending restart a stop
            self.state = _STOPPING
            self._request = (kind, message, error, delay)
            self._stopper = threading.Thread(
                target=self._call_on_stop, name=f"dstreams-receiver-{self._stream.id}-stop", daemon=True
            )
            stopper = self._stopper
        stopper.start()

    def report_error(self, message: str, error: BaseException | None) -> None:
        self._note_error(message, error)
        log.warning("receiver %s of stream %d: %s", self.name, self._stream.id, message, exc_info=error)
        self._post("error", active=self.state == _STARTED)

    # -- the receiver thread ---------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while True:
            with self._lock:
                if self._final.is_set():
                    break
                self.state = _STARTED
                self._request = None
                self._wake.clear()
            stored_before = self._stream._blocks.total
            self._post("started", active=True)
            try:
                self._receiver.onStart()
            except ReceiverStoppedError:
                pass  # the context stopped while the loop was storing
            except Exception as error:
                message = f"error starting receiver {self.name}: {type(error).__name__}: {error}"
                log.error("stream %d: %s", self._stream.id, message, exc_info=error)
                self._note_error(message, error)
                self.request("stop", message, error)
            self._wake.wait()
            stopper = self._stopper
            if stopper is not None:
                stopper.join()
            with self._lock:
                kind, message, error, delay = self._request or ("stop", "stopped", None, None)
                self.state = _STOPPED
            if kind == "stop":
                self._note_error(message, error)  # as Spark: the stop message is the last "error"
                break
            if self._final.is_set():
                break
            # restart: back off while restarts store nothing (a server that is down)
            failures = 0 if self._stream._blocks.total > stored_before else failures + 1
            if delay is None:
                delay = self._restart_s * min(_MAX_BACKOFF, 2 ** max(0, failures - 1))
            self.restarts += 1
            self._note_error(f"{message}; restarting in {delay:g} s", error)
            log.warning("receiver %s of stream %d: %s", self.name, self._stream.id, self.last_error_message)
            self._post("error", active=False)
            self._final.wait(delay)
        with self._lock:
            self.state = _STOPPED
            if self._request is None or self._request[0] != "stop":
                self._note_error(self._stop_message, None)
        self._post("stopped", active=False)

    @property
    def status(self) -> str:
        """``ACTIVE``, ``RESTARTING``, ``STOPPED`` (for good) or ``INITIALIZED``."""
        if self.state == _STARTED:
            return "ACTIVE"
        if self.state == _INITIALIZED:
            return "INITIALIZED"
        return "STOPPED" if self._final.is_set() else "RESTARTING"

    def _call_on_stop(self) -> None:
        try:
            self._receiver.onStop()
        except Exception as error:
            self.report_error(f"onStop() of {self.name} raised {type(error).__name__}: {error}", error)
        finally:
            self._wake.set()

    # -- reporting -------------------------------------------------------------------------------
    def _note_error(self, message: str, error: BaseException | None) -> None:
        self.last_error_message = message
        self.last_error = "".join(traceback.format_exception(error)).strip() if error is not None else ""
        self.last_error_time = int(time.time() * 1000)

    def info(self, active: bool) -> ReceiverInfo:
        return ReceiverInfo(
            stream_id=self._stream.id,
            name=self.name,
            active=active,
            last_error_message=self.last_error_message,
            last_error=self.last_error,
            last_error_time=self.last_error_time,
        )

    def _post(self, kind: str, active: bool) -> None:
        self._stream._ssc._listeners.post_receiver(kind, self.info(active))


# -- the input stream -------------------------------------------------------------------------------
class ReceiverInputDStream(InputDStream):
    """A stream fed by a :class:`Receiver` (``ssc.receiverStream``, ``socketTextStream``).

    Keywords (each overrides its SparkConf key): ``maxRate`` records/s
    (``spark.streaming.receiver.maxRate``), ``blockInterval`` seconds
    (``spark.streaming.blockInterval``, 200 ms), ``maxBufferedRecords``
    (``dstreams.receiver.maxBufferedRecords``, 1,000,000: the most records stored but not yet
    processed; ``store`` blocks there until batches holding them complete), ``restartDelay`` seconds
    (``spark.streaming.receiverRestartDelay``, 2 s).
    Backpressure (``spark.streaming.backpressure.enabled``) is read from the SparkConf.

    With ``spark.streaming.receiver.writeAheadLog.enable`` (and a checkpoint directory), every piece
    a receiver stores is in the write-ahead log before ``store(many)`` returns, and every batch marks
    in it which pieces it took; after a crash the batches after the checkpoint get the same blocks
    again from the log, and what was stored after the last batch goes into the next one (see
    ``dstreams.checkpoint.receiver_log``). The input journal then keeps only the log position.
    """

    _uses_write_ahead_log = True  # the checkpointer sets _write_ahead_log when the log is on

    def __init__(
        self,
        ssc: StreamingContext,
        receiver: Receiver,
        *,
        maxRate: float | None = None,
        blockInterval: float | None = None,
        maxBufferedRecords: int | None = None,
        restartDelay: float | None = None,
    ):
        if not isinstance(receiver, Receiver):
            raise ConfigurationError(
                f"receiverStream needs a dstreams.receivers.Receiver subclass instance, "
                f"got {type(receiver).__name__}"
            )
        if not hasattr(receiver, "_counters"):
            raise ConfigurationError(
                f"{type(receiver).__name__}.__init__ must call super().__init__() (Receiver's own setup)"
            )
        if receiver._stream is not None:
            raise ConfigurationError(f"{receiver!r} already feeds a stream; create one receiver per stream")
        super().__init__(ssc)
        conf = ssc.sparkContext.getConf()
        block_ms = (
            duration_ms(blockInterval, "blockInterval", "s")
            if blockInterval is not None
            else duration_ms(conf.get(BLOCK_INTERVAL, "200ms"), BLOCK_INTERVAL)
        )
        if block_ms <= 0:
            raise ConfigurationError(f"{BLOCK_INTERVAL} must be positive, got {block_ms} ms")
        restart_ms = (
            duration_ms(restartDelay, "restartDelay", "s")
            if restartDelay is not None
            else duration_ms(conf.get(RESTART_DELAY, "2000"), RESTART_DELAY)
        )
        max_buffered = maxBufferedRecords if maxBufferedRecords is not None else conf.get(MAX_BUFFERED)
        try:
            max_buffered = int(max_buffered) if max_buffered is not None else DEFAULT_MAX_BUFFERED
        except ValueError:
            raise ConfigurationError(f"{MAX_BUFFERED} must be an integer, got {max_buffered!r}") from None
        if max_buffered <= 0:
            raise ConfigurationError(f"maxBufferedRecords must be positive, got {max_buffered}")
        self.max_rate, backpressure, initial_rate = rate_settings(conf, maxRate)
        self._limiter = RateLimiter(initial_rate)
        self._rate_controller = (
            RateController(
                self._id,
                PIDRateEstimator.from_conf(conf, ssc._batch_ms),
                self._limiter.set_rate,
                self.max_rate,
            )
            if backpressure
            else None
        )
        self._blocks = _Blocks(block_ms, max_buffered, self._limiter)
        self._receiving_stopped = False
        self._supervisor = _Supervisor(self, receiver, restart_ms)
        self._receiver = receiver
        self._metadata: dict[int, dict[str, Any]] = {}
        self._write_ahead_log: Any = None  # a ReceiverLog, set by the checkpointer before _start
        self._wal_on = str(conf.get(_WAL_ENABLE, "false")).lower() == "true"
        self._reported_counters: collections.Counter[str] = collections.Counter()
        receiver._stream = self

    @property
    def id(self) -> int:
        """The input stream id (``StreamInputInfo.inputStreamId``)."""
        return self._id

    @property
    def receiver(self) -> Receiver:
        return self._receiver

    def __repr__(self) -> str:
        return f"<receiverStream #{self._id} {self._receiver!r}>"

    # -- engine hooks ------------------------------------------------------------------------------
    @property
    def _replayable(self) -> bool:
        """With the write-ahead log on, the log gives the batches after a checkpoint again: the input
        journal keeps only this stream's position, not its data (see dstreams.checkpoint.sources)."""
        return self._wal_on

    def _checkpoint_state(self) -> dict[str, Any] | None:
        """The write-ahead log position after the last batch (None without the log)."""
        if self._write_ahead_log is None:
            return None
        return dict(self._blocks.position)

    def _restore_state(self, state: dict[str, Any]) -> None:
        """Recovery: the batches after the checkpoint at ``state`` get their blocks from the log."""
        log_ = self._write_ahead_log
        if log_ is None or not isinstance(state, dict) or not isinstance(state.get("wal"), int):
            return
        found = log_.replay_batches(after=state["wal"], after_batch=state.get("batch"))
        self._blocks.position = {"wal": state["wal"], "batch": state.get("batch")}
        self._blocks.restore(found.batches, found.pending)
        self._restored = True

    def _start(self) -> None:
        log_ = self._write_ahead_log
        if log_ is not None:
            if not getattr(self, "_restored", False):
                self._blocks.position = {"wal": log_.position(), "batch": None}
            self._blocks.log = log_
        self._blocks.open()
        self._ssc._listeners.add(self)
        self._supervisor.start()

    def _stop_receiving(self) -> None:
        """Graceful stop, first step: the receiver ends; what it stored waits for one last batch."""
        if not self._receiving_stopped:
            self._receiving_stopped = True
            self._supervisor.stop("Stopped by driver (graceful)")

    def _has_pending(self) -> bool:
        """Records stored but not yet put in a batch."""
        return self._blocks._pending > 0

    def _stop(self) -> None:
        lost = self._blocks.close()
        try:
            if not self._receiving_stopped:
                self._receiving_stopped = True
                self._supervisor.stop("Stopped by driver")
        finally:
            self._ssc._listeners.remove(self)
        if lost and self._blocks.log is not None:
            log.info(
                "%r: %d records received after the last batch are in the write-ahead log; a restart "
                "from the checkpoint processes them",
                self,
                lost,
            )
        elif lost:
            log.warning(
                "%r: %d records received after the last batch was generated were not processed "
                "(the context stopped)",
                self,
                lost,
            )

    def _allocate(self, t: int) -> Batch:
        blocks, n = self._blocks.take(t)
        self._metadata[t] = self._batch_metadata(n)
        while len(self._metadata) > 100:  # not collected: the scheduler does not read them
            self._metadata.pop(next(iter(self._metadata)))
        if not blocks:
            return Batch.empty(0)  # as Spark's BlockRDD with no blocks: 0 partitions
        table, layout, parts = ops.union([(table, layout, 1) for table, layout in blocks])
        return Batch(table, layout, parts)

    def _input_metadata(self, t: int) -> dict[str, Any]:
        """What this stream adds to ``StreamInputInfo.metadata`` of batch ``t``."""
        return self._metadata.pop(t, {})

    def _batch_metadata(self, records: int) -> dict[str, Any]:
        sup = self._supervisor
        counters = collections.Counter(self._receiver._counters)
        delta = counters - self._reported_counters
        self._reported_counters = counters
        meta: dict[str, Any] = {
            "Description": f"{sup.name} (stream {self._id})",
            "receiver": sup.name,
            "status": sup.status,
            "records": records,
            "rateLimit": self._limiter.rate,
            "bufferedRecords": self._blocks.in_flight,
            "restarts": sup.restarts,
            "lastError": sup.last_error_message or None,
            "lastErrorTime": sup.last_error_time if sup.last_error_time >= 0 else None,
        }
        meta.update(delta)
        return meta

    # -- StreamingListener: a completed batch frees its records and feeds backpressure -------------
    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()
        self._blocks.release(info.batch_time)
        if self._rate_controller is not None:
            self._rate_controller.onBatchCompleted(batchCompleted)
