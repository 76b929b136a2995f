"""The Receiver API on the manual clock: what is stored before ``clock.advance`` is in the next batch."""

from __future__ import annotations

import threading
import time

import polars as pl
import pyarrow as pa
import pytest

from dstreams import ConfigurationError, StreamingListener
from dstreams.receivers import Receiver, ReceiverStoppedError


class Passive(Receiver):
    """Does nothing by itself: the test stores through it."""

    def onStart(self):
        pass


class Events(StreamingListener):
    def __init__(self):
        self.events = []
        self.changed = threading.Condition()

    def _add(self, kind, event):
        info = event.receiverInfo()
        with self.changed:
            self.events.append((kind, info.active(), info.lastErrorMessage()))
            self.changed.notify_all()

    def onReceiverStarted(self, e):
        self._add("started", e)

    def onReceiverError(self, e):
        self._add("error", e)

    def onReceiverStopped(self, e):
        self._add("stopped", e)

    def wait_for(self, predicate, timeout=5.0):
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.events), timeout), self.events

    def kinds(self):
        return [k for k, _, _ in self.events]


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def collect(stream):
    out = []
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    return out


def test_records_stored_before_advance_land_in_the_next_batch(ssc, clock):
    r = Passive()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    r.store("a")
    r.store(["b", "c"])  # reliable: in the engine when it returns
    clock.advance(1)
    clock.advance(1)
    r.store(iter([1, 2]))
    r.store(3)
    clock.advance(1)
    assert out == [["a", "b", "c"], [], [1, 2, 3]]


def test_an_empty_batch_has_no_partitions_as_sparks_block_rdd(ssc, clock):
    r = Passive()
    s = ssc.receiverStream(r)
    counts = collect(s.count())
    parts = []
    s.foreachRDD(lambda rdd: parts.append(rdd.getNumPartitions()))
    ssc.start()
    clock.advance(1)
    r.store(["x"])
    clock.advance(1)
    assert counts == [[], [1]]
    assert parts == [0, 1]


def test_blocks_are_cut_every_block_interval_one_partition_each(ssc, clock):
    r = Passive()
    s = ssc.receiverStream(r, blockInterval=0.2)
    now = [0.0]
    s._blocks._now = lambda: now[0]
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.glom().collect()))
    ssc.start()
    r.store("a")
    r.store("b")
    now[0] = 0.25  # the block of a, b is older than 200 ms: the next record starts a new one
    r.store(["c", "d"])
    now[0] = 0.3
    r.store("e")
    clock.advance(1)  # the batch seals the open block
    assert out == [[["a", "b"], ["c", "d", "e"]]]


def test_store_accepts_arrow_polars_and_pairs(ssc, clock):
    r = Passive()
    s = ssc.receiverStream(r)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    r.store(pa.table({"id": [1, 2], "name": ["a", "b"]}))
    r.store(pl.DataFrame({"id": [3], "name": ["c"]}))
    clock.advance(1)
    r.store(pa.array(["x", "y"]))
    r.store(pa.record_batch({"value": ["z"]}))
    clock.advance(1)
    r.store(("k", 1))  # a tuple is one record
    r.store([("k", 2)])
    clock.advance(1)
    rows = [(row.id, row.name) for row in out[0]]
    assert rows == [(1, "a"), (2, "b"), (3, "c")]
    assert out[1:] == [["x", "y", "z"], [("k", 1), ("k", 2)]]


def test_mixed_types_within_a_block_read_back_exactly(ssc, clock):
    r = Passive()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    r.store(1)
    r.store(["two", 3.0])
    r.store({"four": 4})
    clock.advance(1)
    assert out == [[1, "two", 3.0, {"four": 4}]]


def test_a_receive_loop_on_the_receiver_thread_and_its_events(ssc, clock):
    class Counter(Receiver):
        def onStart(self):
            assert threading.current_thread().name == f"dstreams-receiver-{self.streamId}"
            for i in range(5):
                self.store(i)
            self.stop("counted to 5")

    events = Events()
    ssc.addStreamingListener(events)
    r = Counter()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    events.wait_for(lambda ev: ("stopped", False, "counted to 5") in ev)
    assert r.isStopped()
    clock.advance(1)
    clock.advance(1)
    assert out == [[0, 1, 2, 3, 4], []]  # the stream goes on without its receiver
    assert events.kinds() == ["started", "stopped"]


def test_a_receiver_that_starts_its_own_thread_and_stops_it(ssc, clock):
    class Threaded(Receiver):
        def onStart(self):
            self.thread = threading.Thread(target=self.loop, name="user-thread")
            self.go = threading.Event()
            self.thread.start()

        def loop(self):
            self.go.wait(5)
            self.store(["from", "thread"])
            while not self.isStopped():
                time.sleep(0.001)

        def onStop(self):
            self.go.set()
            self.thread.join(5)

    r = Threaded()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    wait_until(lambda: hasattr(r, "go"))
    r.go.set()
    wait_until(lambda: ssc._graph.inputs[0]._blocks.total == 2)
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    assert out == [["from", "thread"]]
    assert not r.thread.is_alive()
    assert not [t for t in threading.enumerate() if t.name.startswith("dstreams-")]


def test_restart_backs_off_while_restarts_store_nothing(ssc, clock):
    class Flaky(Receiver):
        starts = 0

        def onStart(self):
            Flaky.starts += 1
            if Flaky.starts <= 3:
                self.restart(f"source down ({Flaky.starts})")
            else:
                self.store("up")

    events = Events()
    ssc.addStreamingListener(events)
    out = collect(ssc.receiverStream(Flaky(), restartDelay=0.01))
    ssc.start()
    events.wait_for(lambda ev: [k for k, _, _ in ev].count("started") == 4)
    clock.advance(1)
    assert out == [["up"]]
    errors = [m for k, _, m in events.events if k == "error"]
    assert errors == [
        "source down (1); restarting in 0.01 s",
        "source down (2); restarting in 0.02 s",
        "source down (3); restarting in 0.04 s",
    ]
    assert events.kinds() == ["started", "error"] * 3 + ["started"]
    assert all(active is False for k, active, _ in events.events if k == "error")


def test_an_exception_in_onstart_stops_the_receiver_with_the_error(ssc, clock):
    class Broken(Receiver):
        def onStart(self):
            raise RuntimeError("no credentials")

    events = Events()
    ssc.addStreamingListener(events)
    r = Broken()
    s = ssc.receiverStream(r)
    out = collect(s)
    ssc.start()
    events.wait_for(lambda ev: any(k == "stopped" for k, _, _ in ev))
    (message,) = [m for k, _, m in events.events if k == "stopped"]
    assert message == "error starting receiver Broken: RuntimeError: no credentials"
    assert "no credentials" in s._supervisor.info(False).lastError()
    clock.advance(1)
    assert out == [[]]
    assert r.isStopped()


def test_report_error_keeps_the_receiver_running(ssc, clock):
    events = Events()
    ssc.addStreamingListener(events)
    r = Passive()
    collect(ssc.receiverStream(r))
    ssc.start()
    events.wait_for(lambda ev: ev[:1] == [("started", True, "")])
    r.reportError("parse problem", ValueError("bad"))
    events.wait_for(lambda ev: len(ev) == 2)
    assert events.events[1] == ("error", True, "parse problem")
    assert r.isStarted()


def test_store_outside_a_running_stream_raises(ssc, clock):
    r = Passive()
    collect(ssc.receiverStream(r))
    with pytest.raises(ReceiverStoppedError, match=r"before ssc\.start"):
        r.store("early")
    ssc.start()
    ssc.stop(stopSparkContext=False)
    with pytest.raises(ReceiverStoppedError):
        r.store(["late"])
    assert r.isStopped()


def test_stop_wakes_a_receiver_blocked_at_the_buffer_bound(ssc, clock):
    class Producer(Receiver):
        def onStart(self):
            i = 0
            while not self.isStopped():
                self.store(i)  # blocks at 10 records in flight, until the context stops
                i += 1

    s = ssc.receiverStream(Producer(), maxBufferedRecords=10)
    collect(s)
    ssc.start()
    wait_until(lambda: s._blocks.in_flight == 10)
    ssc.stop(stopSparkContext=False)  # returns: the blocked store raised, the loop ended
    assert not [t for t in threading.enumerate() if t.name.startswith("dstreams-")]


def test_attach_errors(ssc):
    r = Passive()
    ssc.receiverStream(r)
    with pytest.raises(ConfigurationError, match="already feeds a stream"):
        ssc.receiverStream(r)
    with pytest.raises(ConfigurationError, match="Receiver subclass"):
        ssc.receiverStream(object())
    with pytest.raises(ConfigurationError, match="not attached"):
        Passive().store("x")

    class NoSuper(Receiver):
        def __init__(self):
            pass

    with pytest.raises(ConfigurationError, match=r"must call super\(\).__init__"):
        ssc.receiverStream(NoSuper())
    with pytest.raises(ConfigurationError, match="blockInterval"):
        ssc.sparkContext._conf.set("spark.streaming.blockInterval", "fast")
        ssc.receiverStream(Passive())


def test_receiver_metrics_in_the_batch_input_metadata(ssc, clock):
    r = Passive()
    s = ssc.receiverStream(r, maxRate=1_000_000)
    collect(s)
    ssc.start()
    r.store(["a", "b", "c"])
    r._count("badLines", 2)
    r.reportError("something odd")
    clock.advance(1)
    clock.advance(1)
    infos = ssc.batch_infos
    assert [i.stream_inputs[s.id].num_records for i in infos] == [3, 0]
    first = infos[0].stream_inputs[s.id].metadata()
    assert first["records"] == 3
    assert first["status"] == "ACTIVE"
    assert first["rateLimit"] == 1_000_000
    assert first["badLines"] == 2
    assert first["lastError"] == "something odd"
    assert first["Description"] == f"Passive (stream {s.id})"
    second = infos[1].stream_inputs[s.id].metadata()
    assert "badLines" not in second  # per batch, not cumulative


def test_graceful_stop_processes_what_was_received_after_the_last_batch(ssc, clock):
    r = Passive()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    r.store(["a", "b"])
    clock.advance(1)
    r.store(["c"])  # after the last batch: a graceful stop puts it in one final batch
    ssc.stop(stopSparkContext=False, stopGraceFully=True)
    assert out == [["a", "b"], ["c"]]


def test_non_graceful_stop_drops_what_was_not_yet_in_a_batch(ssc, clock):
    r = Passive()
    out = collect(ssc.receiverStream(r))
    ssc.start()
    r.store(["a"])
    clock.advance(1)
    r.store(["b"])
    ssc.stop(stopSparkContext=False)
    assert out == [["a"]]
