"""StreamingListener: callbacks, their order and data, BatchInfo accessors, receiver events."""

from __future__ import annotations

import logging
import threading

import pytest

from dstreams import BatchError, ConfigurationError, ReceiverInfo, StreamingListener
from dstreams.listener import BatchInfo, ListenerBus, OutputOperationInfo, StreamInputInfo

CALLBACKS = [
    "onStreamingStarted",
    "onReceiverStarted",
    "onReceiverError",
    "onReceiverStopped",
    "onBatchSubmitted",
    "onBatchStarted",
    "onBatchCompleted",
    "onOutputOperationStarted",
    "onOutputOperationCompleted",
]


class Recorder(StreamingListener):
    """Records (callback, event, thread name) for every callback."""

    def __init__(self):
        self.events = []

    def __getattribute__(self, name):
        if name in CALLBACKS:
            return lambda event: self.events.append((name, event, threading.current_thread().name))
        return super().__getattribute__(name)

    def names(self):
        return [e[0] for e in self.events]

    def of(self, name):
        return [e[1] for e in self.events if e[0] == name]


def test_callbacks_fire_in_order_with_the_right_data(ssc, clock):
    rec = Recorder()
    ssc.addStreamingListener(rec)
    s = ssc.queueStream([[1, 2, 3], []])
    s.pprint()
    s.foreachRDD(lambda rdd: None)
    ssc.start()
    clock.advance(1)  # returns once the batch's events are delivered
    clock.advance(1)
    per_batch = [
        "onBatchSubmitted",
        "onBatchStarted",
        "onOutputOperationStarted",
        "onOutputOperationCompleted",
        "onOutputOperationStarted",
        "onOutputOperationCompleted",
        "onBatchCompleted",
    ]
    assert rec.names() == ["onStreamingStarted", *per_batch, *per_batch]
    assert {e[2] for e in rec.events[1:]} == {"dstreams-listener"}  # one thread, in order

    assert rec.of("onStreamingStarted")[0].time == 0  # the clock time at start()
    assert rec.of("onStreamingStarted")[0].time() == 0  # PySpark's accessor form

    submitted = [e.batchInfo() for e in rec.of("onBatchSubmitted")]
    assert [i.batchTime().milliseconds() for i in submitted] == [1000, 2000]
    assert [i.numRecords() for i in submitted] == [0, 0]  # as Spark: a queue stream reports no input
    assert submitted[0].processingStartTime() == -1 and submitted[0].processingDelay() == -1
    assert submitted[0].schedulingDelay() == -1 and submitted[0].totalDelay() == -1
    assert sorted(submitted[0].outputOperationInfos()) == [0, 1]  # known, not yet started
    assert submitted[0].outputOperationInfos()[0].startTime() == -1

    started = rec.of("onBatchStarted")[0].batchInfo()
    assert started.processingStartTime() == 1000 and started.processingEndTime() == -1

    ops = [e.outputOperationInfo() for e in rec.of("onOutputOperationCompleted")]
    assert [(o.batchTime().milliseconds(), o.id, o.name) for o in ops] == [
        (1000, 0, "pprint"),
        (1000, 1, ops[1].name),
        (2000, 0, "pprint"),
        (2000, 1, ops[1].name),
    ]
    assert ops[1].name.startswith("foreachRDD(")
    assert ops[0].name() == "pprint" and ops[0].id() == 0 and ops[0].description() == "pprint"
    assert all(o.failureReason() is None and o.endTime() >= o.startTime() >= 0 for o in ops)
    op_started = [e.outputOperationInfo() for e in rec.of("onOutputOperationStarted")]
    assert op_started[0].startTime() == 1000 and op_started[0].endTime() == -1

    completed = rec.of("onBatchCompleted")[0].batchInfo()
    assert completed.numRecords() == 0 and completed.streamIdToInputInfo() == {}
    assert completed.schedulingDelay() == 0 and completed.processingDelay() == 0
    assert completed.totalDelay() == 0
    assert len(completed.outputOperationInfos()) == 2


def test_delays_with_a_moving_clock(ssc, clock):
    rec = Recorder()
    ssc.addStreamingListener(rec)
    # the batch itself moves the manual clock: 250 ms of "processing"
    ssc.queueStream([[1], [2]]).foreachRDD(lambda rdd: clock.advance(0.25))
    ssc.start()
    clock.advance(2)  # both batches are submitted at 2000; the second waits for the first
    first, second = (e.batchInfo() for e in rec.of("onBatchCompleted"))
    assert (first.batchTime(), first.submissionTime()) == (1000, 2000)
    assert (first.schedulingDelay(), first.processingDelay(), first.totalDelay()) == (0, 250, 250)
    assert (first.scheduling_delay, first.processing_delay, first.total_delay) == (0, 250, 250)
    op = first.outputOperationInfos()[0]
    assert (op.startTime(), op.endTime(), op.duration) == (2000, 2250, 250)
    assert (second.batchTime(), second.submissionTime()) == (2000, 2000)
    assert (second.schedulingDelay(), second.processingDelay(), second.totalDelay()) == (250, 250, 500)


def test_failed_output_operation_reports_failure_reason(ssc, clock):
    rec = Recorder()
    ssc.addStreamingListener(rec)

    def boom(rdd):
        raise KeyError("missing")

    ssc.queueStream([[1]]).foreachRDD(boom)
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    (op,) = [e.outputOperationInfo() for e in rec.of("onOutputOperationCompleted")]
    reason = op.failureReason()
    assert "KeyError" in reason and "foreachRDD(boom" in reason and "(1000 ms)" in reason
    assert "Traceback" in reason  # the cause's stack, as Spark's failure reason
    assert rec.of("onBatchCompleted")[0].batchInfo().failed


def test_a_raising_listener_does_not_break_batches(ssc, clock, caplog):
    class Broken(StreamingListener):
        def onBatchStarted(self, batchStarted):
            raise RuntimeError("listener bug")

        def onBatchCompleted(self, batchCompleted):
            raise RuntimeError("listener bug")

    rec = Recorder()
    ssc.addStreamingListener(Broken())
    ssc.addStreamingListener(rec)  # still called after the broken one
    seen = []
    ssc.queueStream([[1], [2]]).foreachRDD(lambda rdd: seen.append(rdd.collect()))
    with caplog.at_level(logging.ERROR, logger="dstreams"):
        ssc.start()
        clock.advance(2)
    assert seen == [[1], [2]]
    assert len(rec.of("onBatchCompleted")) == 2
    assert "listener bug" in caplog.text
    assert ssc.awaitTerminationOrTimeout(0) is False  # no batch error


def test_a_listener_may_implement_only_some_callbacks(ssc, clock):
    class OnlyCompleted:  # not a StreamingListener subclass
        def __init__(self):
            self.times = []

        def onBatchCompleted(self, batchCompleted):
            self.times.append(batchCompleted.batchInfo().batchTime())

    listener = OnlyCompleted()
    ssc.addStreamingListener(listener)
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    clock.advance(2)
    assert listener.times == [1000, 2000]


def test_remove_listener(ssc, clock):
    rec = Recorder()
    ssc.addStreamingListener(rec)
    ssc.removeStreamingListener(rec)
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    clock.advance(1)
    assert rec.events == []


def test_receiver_events_posted_by_sources(ssc, clock):
    rec = Recorder()
    ssc.addStreamingListener(rec)
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    bus = ssc._listeners
    bus.post_receiver("started", ReceiverInfo(stream_id=0, name="SocketReceiver"))
    bus.post_receiver(
        "error",
        ReceiverInfo(
            0, "SocketReceiver", last_error_message="refused", last_error="trace", last_error_time=5
        ),
    )
    bus.post_receiver("stopped", ReceiverInfo(0, "SocketReceiver", active=False))
    bus.wait_until_empty()
    assert rec.names()[1:] == ["onReceiverStarted", "onReceiverError", "onReceiverStopped"]
    started, error, stopped = (e[1].receiverInfo() for e in rec.events[1:])
    assert started.streamId() == 0 and started.name() == "SocketReceiver" and started.name == "SocketReceiver"
    assert started.active() is True and started.location() == "localhost"
    assert started.executorId() == "driver"
    assert error.lastErrorMessage() == "refused" and error.lastError() == "trace"
    assert error.lastErrorTime() == 5
    assert stopped.active() is False and not stopped.active
    with pytest.raises(ConfigurationError, match="kind must be one of"):
        bus.post_receiver("crashed", started)


def test_batch_info_plain_attributes_and_accessors():
    info = BatchInfo(batch_time=3000, submission_time=3005)
    info.stream_inputs[0] = StreamInputInfo(0, 7, {"Description": "offsets 0-7"})
    info.stream_inputs[1] = StreamInputInfo(1, 3)
    assert info.num_records == info.numRecords() == 10
    assert info.stream_inputs[0].metadataDescription() == "offsets 0-7"
    assert info.stream_inputs[0].metadata() == {"Description": "offsets 0-7"}
    assert info.batchTime() == 3000 and info.batchTime().milliseconds() == 3000
    assert info.scheduling_delay is None and info.schedulingDelay() == -1
    info.processing_start_time = 3010
    assert info.scheduling_delay == 5 and info.processing_delay is None and info.totalDelay() == -1
    info.processing_end_time = 3050
    assert (info.schedulingDelay(), info.processingDelay(), info.totalDelay()) == (5, 40, 45)
    assert info.processingStartTime() == 3010 and info.processingEndTime() == 3050
    info.output_operations[0] = OutputOperationInfo(3000, 0, "pprint", "pprint", 3010, 3050)
    assert not info.failed
    info.output_operations[0].failure_reason = "boom"
    assert info.failed


def test_bus_delivers_on_the_posting_thread_when_not_running():
    bus = ListenerBus()
    rec = Recorder()
    bus.add(rec)
    bus.post("onBatchStarted", "event")
    assert rec.events == [("onBatchStarted", "event", threading.current_thread().name)]
    bus.start()
    bus.post("onBatchCompleted", "later")
    assert bus.wait_until_empty(5)
    bus.stop()
    assert rec.events[-1][:2] == ("onBatchCompleted", "later")
    assert rec.events[-1][2] == "dstreams-listener"


def test_listener_may_stop_the_context(ssc, clock):
    class Stopper(StreamingListener):
        def onBatchCompleted(self, batchCompleted):
            ssc.stop(stopSparkContext=False)

    ssc.addStreamingListener(Stopper())
    ssc.queueStream([[1], [2]]).pprint()
    ssc.start()
    clock.advance(1)
    assert ssc.awaitTerminationOrTimeout(5) is True
