"""Rate limits, Spark's PID backpressure estimator and the bound on received-but-unprocessed records."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from dstreams import ConfigurationError, SparkConf, SparkContext, StreamingContext
from dstreams.receivers import Receiver
from dstreams.receivers.ratecontrol import PIDRateEstimator, RateLimiter, duration_ms, rate_settings


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(round(seconds, 6))
        self.now += seconds


# -- the rate limiter ---------------------------------------------------------------------------
def test_rate_limiter_pays_later_as_guava():
    clock = FakeTime()
    limiter = RateLimiter(10, now=lambda: clock.now, wait=clock.sleep)
    limiter.acquire(1)  # idle limiter: at once
    limiter.acquire(1)  # waits for the permit the first one took: 0.1 s
    limiter.acquire(5)  # 0.1 s again; the next caller pays for these 5
    limiter.acquire(1)
    assert clock.slept == [0.1, 0.1, 0.5]


def test_rate_limiter_saves_up_to_one_second_of_permits():
    clock = FakeTime()
    limiter = RateLimiter(10, now=lambda: clock.now, wait=clock.sleep)
    clock.now += 60  # idle for a minute: 10 permits saved, not 600
    for _ in range(11):
        limiter.acquire(1)
    limiter.acquire(1)
    assert clock.slept == [0.1]


def test_rate_limiter_unlimited_and_rate_changes():
    clock = FakeTime()
    limiter = RateLimiter(None, now=lambda: clock.now, wait=clock.sleep)
    for _ in range(1000):
        limiter.acquire(100)
    assert clock.slept == [] and limiter.rate is None
    limiter.set_rate(2)
    limiter.acquire(1)
    limiter.acquire(1)
    limiter.set_rate(0)  # 0 or less: unlimited, as Spark's maxRate
    limiter.acquire(1)
    assert clock.slept == [0.5]


def test_rate_limiter_wait_is_interrupted_by_stop():
    limiter = RateLimiter(1)
    limiter.acquire(100)  # the next permit is 100 s away
    stop = threading.Event()
    stop.set()
    assert limiter.acquire(1, stop) is False


# -- the PID estimator, as Spark's PIDRateEstimatorSuite ----------------------------------------
def test_pid_first_run_only_seeds_and_skips_empty_batches():
    est = PIDRateEstimator(batch_ms=1000)
    assert est.compute(10, 0, 10, 0) is None  # no elements
    assert est.compute(10, 10, 0, 0) is None  # no processing delay
    assert est.compute(10, 10, 10, 0) is None  # first run seeds the rate
    assert est.compute(10, 10, 10, 0) is None  # time did not advance


def test_pid_estimates_follow_sparks_formula():
    est = PIDRateEstimator(batch_ms=1000)
    assert est.compute(1000, 5000, 500, 0) is None  # latest rate 10000/s
    # processing 5000/s, 0.5 s behind: 10000 - 1*(10000-5000) - 0.2*(500*5000/1000) - 0
    assert est.compute(2000, 5000, 1000, 500) == 4500.0
    # steady at the processing rate: error 0, no scheduling delay
    assert est.compute(3000, 4500, 1000, 0) == 4500.0
    # never below minRate
    assert est.compute(4000, 10, 1000, 100_000) == 100.0


def test_pid_derivative_term():
    est = PIDRateEstimator(1000, proportional=0.0, integral=0.0, derivative=1.0, min_rate=1)
    est.compute(1000, 1000, 1000, 0)  # seeds 1000/s
    # error = 1000 - 500 = 500; latest error 0; 2 s since: d = 250 -> 1000 - 250
    assert est.compute(3000, 500, 1000, 0) == 750.0


def test_pid_configuration_keys_and_validation():
    conf = SparkConf().set("spark.streaming.backpressure.pid.minRate", "5")
    conf.set("spark.streaming.backpressure.pid.proportional", "0.5")
    est = PIDRateEstimator.from_conf(conf, 2000)
    assert (est.proportional, est.integral, est.derivative, est.min_rate, est.batch_ms) == (
        0.5,
        0.2,
        0.0,
        5,
        2000,
    )
    with pytest.raises(ConfigurationError, match="minRate must be > 0"):
        PIDRateEstimator(1000, min_rate=0)
    with pytest.raises(ConfigurationError, match="integral must be >= 0"):
        PIDRateEstimator(1000, integral=-1)
    with pytest.raises(ConfigurationError, match="must be a number"):
        PIDRateEstimator.from_conf(SparkConf().set("spark.streaming.backpressure.pid.integral", "x"), 1000)


def test_rate_settings_from_conf_and_keyword():
    conf = SparkConf().set("spark.streaming.receiver.maxRate", "500")
    assert rate_settings(conf) == (500.0, False, 500.0)
    assert rate_settings(conf, max_rate=50) == (50, False, 50)
    conf.set("spark.streaming.backpressure.enabled", "true")
    conf.set("spark.streaming.backpressure.initialRate", "200")
    assert rate_settings(conf) == (500.0, True, 200.0)
    assert rate_settings(SparkConf()) == (None, False, None)
    assert (
        duration_ms("200ms", "k") == 200
        and duration_ms("1.5s", "k") == 1500
        and duration_ms("300", "k") == 300
    )


def test_max_rate_from_the_spark_conf_limits_the_receiver(clock):
    conf = SparkConf().set("spark.streaming.receiver.maxRate", "250")
    ssc = StreamingContext(SparkContext("local[1]", "rate", conf=conf), 1, clock=clock)
    try:
        r = _Passive()
        ssc.receiverStream(r).pprint()
        ssc.start()
        assert r.currentRateLimit() == 250
    finally:
        ssc.stop()


class _Passive(Receiver):
    def onStart(self):
        pass


# -- backpressure through completed batches (manual clock) -------------------------------------
def test_backpressure_sets_the_rate_from_completed_batches(clock):
    conf = SparkConf().set("spark.streaming.backpressure.enabled", "true")
    ssc = StreamingContext(SparkContext("local[1]", "bp", conf=conf), 1, clock=clock)
    r = _Passive()
    s = ssc.receiverStream(r)
    # Each batch takes 0.5 s of (manual) time to process.
    s.foreachRDD(lambda rdd: clock.advance(0.5))
    try:
        ssc.start()
        assert r.currentRateLimit() is None  # no maxRate, no initialRate: unlimited at first
        r.store(list(range(400)))
        clock.advance(1)  # batch 1000: 400 records in 500 ms seeds the estimate (800/s)
        assert r.currentRateLimit() is None
        r.store(list(range(300)))
        clock.advance(1)  # batch 2000 (at 2500): 300 in 500 ms -> 600/s: new rate 800 - (800 - 600)
        assert r.currentRateLimit() == 600.0
    finally:
        ssc.stop()


def test_backpressure_rate_is_capped_by_max_rate(clock):
    conf = (
        SparkConf()
        .set("spark.streaming.backpressure.enabled", "true")
        .set("spark.streaming.receiver.maxRate", "100000")
    )
    ssc = StreamingContext(SparkContext("local[1]", "bp", conf=conf), 1, clock=clock)
    r = _Passive()
    ssc.receiverStream(r, maxRate=500).foreachRDD(lambda rdd: clock.advance(0.01))
    try:
        ssc.start()
        assert r.currentRateLimit() == 500  # the keyword overrides the conf
        r.store(list(range(40)))
        clock.advance(1)
        r.store(list(range(40)))
        clock.advance(1)  # estimate 4000/s, capped at 500
        assert r.currentRateLimit() == 500
    finally:
        ssc.stop()


# -- a producer 10x faster than processing: bounded, nothing lost ------------------------------
def test_fast_producer_is_bounded_and_loses_nothing(ssc, clock):
    total, limit = 2000, 100  # the producer has 20x what a batch may hold

    class Fast(Receiver):
        def onStart(self):
            for i in range(total):
                self.store(i)  # blocks while 100 records are received but unprocessed

    s = ssc.receiverStream(Fast(), maxBufferedRecords=limit)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    for _ in range(total // limit):
        deadline = time.monotonic() + 5
        while s._blocks.in_flight < limit:  # the producer fills the buffer, then blocks
            assert time.monotonic() < deadline
            time.sleep(0.001)
        clock.advance(1)
    assert [len(b) for b in out] == [limit] * (total // limit)
    assert [x for b in out for x in b] == list(range(total))
    assert s._blocks.max_in_flight == limit


def test_reliable_store_of_a_large_block_never_exceeds_the_bound(ssc, clock):
    class Bulk(Receiver):
        def onStart(self):
            self.store(list(range(250)))  # sliced to fit: 100, 100, 50
            self.done = True

    r = Bulk()
    s = ssc.receiverStream(r, maxBufferedRecords=100)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    for _ in range(3):
        deadline = time.monotonic() + 5
        while s._blocks.in_flight < min(100, 250 - sum(map(len, out))):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        clock.advance(1)
    assert [len(b) for b in out] == [100, 100, 50]
    assert [x for b in out for x in b] == list(range(250))
    assert s._blocks.max_in_flight == 100


@pytest.mark.slow
def test_socket_producer_faster_than_processing_is_slowed_by_tcp(tmp_path):
    """Real clock: a server writes 60,000 lines at once; processing takes 20 µs a line, far slower
    than loopback. The receiver stops reading at the bound (the rest waits in the kernel's socket
    buffers, then TCP flow control holds the server), so received-but-unprocessed lines stay under
    the bound, and every line arrives once, in order."""
    lines, limit = 60_000, 5_000
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    sent = threading.Event()

    def serve():
        conn, _ = server.accept()
        with conn:
            conn.sendall("".join(f"{i}\n" for i in range(lines)).encode())
            sent.set()
            time.sleep(30)  # keep the connection open until the test ends

    threading.Thread(target=serve, daemon=True).start()
    ssc = StreamingContext(SparkContext("local[1]", "bp"), 0.1)
    s = ssc.socketTextStream("127.0.0.1", port, maxBufferedRecords=limit)
    got = []

    def process(rdd):
        values = rdd.collect()
        time.sleep(len(values) * 20e-6)
        got.extend(values)

    s.foreachRDD(process)
    try:
        ssc.start()
        deadline = time.monotonic() + 30
        while len(got) < lines and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        ssc.stop()
        server.close()
    assert got == [str(i) for i in range(lines)]
    assert s._blocks.max_in_flight <= limit
