"""Redis Streams reliable receiver, against a real redis-server on 127.0.0.1 (see ``_servers``).

The receiver runs on its own thread in real time; batches are cut by the manual clock, so each test
waits (bounded) for the receiver to have stored/acknowledged what it must before advancing.
"""

from __future__ import annotations

import threading
import time

import pytest
from _servers import own_redis_server, redis_server  # noqa: F401 - fixtures

from dstreams import ConfigurationError, SparkContext, StreamingContext, StreamingListener
from dstreams.receivers.redis_streams import RedisStreamReceiver, RedisStreams

redis = pytest.importorskip("redis", reason="the redis client is not installed (dstreams[redis])")


def wait_until(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pending(client, key, group):
    """Entries read by a consumer of ``group`` and not acknowledged (None: no such group yet)."""
    try:
        return client.xpending(key, group)["pending"]
    except redis.ResponseError:
        return None


def settled(client, stream, key, n, group="g"):
    """A waiting condition: the receiver stored ``n`` entries in all and acknowledged every one."""
    return lambda: stream._blocks.total == n and pending(client, key, group) == 0


class Events(StreamingListener):
    def __init__(self):
        self.errors, self.started, self.stopped = [], [], []

    def onReceiverError(self, e):
        self.errors.append(e.receiverInfo().lastErrorMessage())

    def onReceiverStarted(self, e):
        self.started.append(e.receiverInfo())

    def onReceiverStopped(self, e):
        self.stopped.append(e.receiverInfo())


@pytest.fixture
def client(redis_server):  # noqa: F811
    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()


def input_metadata(ssc, stream):
    """Per batch, what the stream reported in ``StreamInputInfo.metadata``."""
    # Until the scheduler copies _input_metadata into StreamInputInfo, read it from the stream.
    return [
        i.stream_inputs[stream.id].metadata or stream._input_metadata(i.batch_time) for i in ssc.batch_infos
    ]


def stream_of(ssc, server, key, group="g", **options):
    options.setdefault("block", 0.05)
    return RedisStreams.createStream(ssc, key, group, url=server.url, **options)


def run(ssc, clock, stream, steps):
    """``steps``: one function per batch, run before advancing the clock; returns rows per batch."""
    out = []
    stream.foreachRDD(lambda rdd: out.append(rdd.toArrow().to_pylist()))
    ssc.start()
    try:
        for step in steps:
            step()
            clock.advance(1)
    finally:
        ssc.stop(stopSparkContext=False)
    return out


# -- reading and acknowledging ---------------------------------------------------------------------------
def test_entries_become_rows_and_are_acknowledged_once_stored(ssc, clock, redis_server, client):  # noqa: F811
    key = "orders-rows"
    ids = [
        client.xadd(key, {"item": "apple", "qty": "2"}),
        client.xadd(key, {"item": "pear"}),
        client.xadd(key, {"item": "fig", "qty": "1", "note": "é"}),
    ]
    stream = stream_of(ssc, redis_server, key)
    got = run(
        ssc, clock, stream, [lambda: wait_until(settled(client, stream, key, 3), what="3 entries acked")]
    )
    assert got == [
        [
            {"_stream": key, "_id": ids[0].decode(), "item": "apple", "qty": "2", "note": None},
            {"_stream": key, "_id": ids[1].decode(), "item": "pear", "qty": None, "note": None},
            {"_stream": key, "_id": ids[2].decode(), "item": "fig", "qty": "1", "note": "é"},
        ]
    ]
    assert stream.receiver.last_ids == {key: ids[-1].decode()}


def test_acknowledgement_waits_until_the_engine_has_the_entries(ssc, clock, redis_server, client):  # noqa: F811
    """With room for 2 unprocessed records, entries 3-4 are read but stay pending (not acked) until
    batch 1 is processed and frees room; nothing is lost and at most 2 records wait in memory."""
    key = "orders-ack"
    for i in range(5):
        client.xadd(key, {"n": str(i)})
    stream = stream_of(ssc, redis_server, key, count=2, maxBufferedRecords=2)

    def blocked_with_two_pending():
        held = lambda: stream._blocks.total == 2 and pending(client, key, "g") == 2
        wait_until(held, what="2 entries stored and 2 more read")
        time.sleep(0.1)  # the receiver is blocked in store(): those 2 are still not acknowledged
        assert held()

    def stored(n_read):
        def check():
            wait_until(lambda: stream._blocks.total == n_read, what=f"{n_read} stored")

        return check

    got = run(ssc, clock, stream, [blocked_with_two_pending, stored(4), stored(5), lambda: None])
    assert [[r["n"] for r in b] for b in got] == [["0", "1"], ["2", "3"], ["4"], []]
    assert pending(client, key, "g") == 0
    assert stream._blocks.max_in_flight <= 2


def test_pending_entries_of_a_crashed_consumer_are_claimed(ssc, clock, redis_server, client):  # noqa: F811
    key = "orders-claim"
    client.xgroup_create(key, "g", id="0", mkstream=True)
    for i in range(3):
        client.xadd(key, {"n": str(i)})
    crashed = client.xreadgroup("g", "crashed-worker", {key: ">"}, count=2)  # read, never acked
    assert len(crashed[0][1]) == 2
    time.sleep(0.06)  # they are idle for longer than claim_min_idle now
    stream = stream_of(ssc, redis_server, key, consumer="me", claim_min_idle=0.05)
    got = run(ssc, clock, stream, [lambda: wait_until(settled(client, stream, key, 3), what="all acked")])
    assert sorted(r["n"] for r in got[0]) == ["0", "1", "2"]
    meta = input_metadata(ssc, stream)[0]
    assert (meta["records"], meta["claimed"], meta["acked"], meta["status"]) == (3, 2, 3, "ACTIVE")


def test_own_pending_entries_are_read_again_after_a_crash(ssc, clock, redis_server, client):  # noqa: F811
    key = "orders-own"
    client.xgroup_create(key, "g", id="0", mkstream=True)
    for i in range(3):
        client.xadd(key, {"n": str(i)})
    client.xreadgroup("g", "worker-1", {key: ">"}, count=2)  # the previous run of worker-1 died here
    stream = stream_of(ssc, redis_server, key, consumer="worker-1")
    got = run(ssc, clock, stream, [lambda: wait_until(settled(client, stream, key, 3), what="all acked")])
    assert [r["n"] for r in got[0]] == ["0", "1", "2"]
    assert input_metadata(ssc, stream)[0]["redelivered"] == 2


def test_values_that_are_not_utf8_are_reported_and_bytes_format_keeps_them(ssc, clock, redis_server, client):  # noqa: F811
    key = "orders-bytes"
    client.xadd(key, {"v": b"\xffok"})
    events = Events()
    ssc.addStreamingListener(events)
    text = stream_of(ssc, redis_server, key, group="text")
    raw = stream_of(ssc, redis_server, key, group="raw", value_format="bytes")
    got = []
    raw.foreachRDD(lambda rdd: got.append(rdd.toArrow().column("v").to_pylist()))
    out = run(
        ssc,
        clock,
        text,
        [lambda: wait_until(lambda: text._blocks.total == 1 and raw._blocks.total == 1, what="stored")],
    )
    assert out == [[{"_stream": key, "_id": out[0][0]["_id"], "v": "\\xffok"}]]
    assert got == [[b"\xffok"]]
    ssc._listeners.wait_until_empty(5)
    assert any("not UTF-8" in e and "field 'v'" in e for e in events.errors)


# -- failures ------------------------------------------------------------------------------------------
def test_a_server_that_goes_away_and_comes_back_loses_nothing(ssc, clock, own_redis_server):  # noqa: F811
    server = own_redis_server
    key = "orders-restart"
    c = redis.Redis.from_url(server.url)
    events = Events()
    ssc.addStreamingListener(events)
    stream = stream_of(ssc, server, key, restartDelay=0.05)
    for i in range(3):
        c.xadd(key, {"n": str(i)})

    def go_away_and_come_back():
        wait_until(lambda: stream._blocks.total == 3, what="first entries stored")
        server.stop()
        wait_until(lambda: len(events.errors) >= 2, what="receiver errors while the server is down")
        server.start()
        c2 = redis.Redis.from_url(server.url)
        for i in range(3, 5):
            c2.xadd(key, {"n": str(i)})
        wait_until(
            lambda: stream._blocks.total == 5 and pending(c2, key, "g") == 0, timeout=10, what="reconnected"
        )
        c2.close()

    got = run(ssc, clock, stream, [go_away_and_come_back])
    assert [r["n"] for r in got[0]] == ["0", "1", "2", "3", "4"]
    assert all("lost Redis" in e for e in events.errors)
    assert len(events.started) >= 2  # started again after the errors
    c.close()


def test_a_server_that_is_not_up_is_retried(ssc, clock):
    from _servers import free_port

    events = Events()
    ssc.addStreamingListener(events)
    url = f"redis://127.0.0.1:{free_port()}/0"
    stream = RedisStreams.createStream(ssc, "k", "g", url=url, restartDelay=0.02)
    run(ssc, clock, stream, [lambda: wait_until(lambda: len(events.errors) >= 2, what="2 errors")])
    assert "ConnectionError" in events.errors[0] and url in events.errors[0]


def test_a_key_that_is_not_a_stream_stops_the_receiver_with_the_reason(ssc, clock, redis_server, client):  # noqa: F811
    client.set("not-a-stream", "x")
    events = Events()
    ssc.addStreamingListener(events)
    stream = stream_of(ssc, redis_server, "not-a-stream")
    run(
        ssc,
        clock,
        stream,
        [lambda: wait_until(lambda: stream._supervisor.status == "STOPPED", what="stopped")],
    )
    ssc._listeners.wait_until_empty(5)
    assert "WRONGTYPE" in events.stopped[-1].lastErrorMessage()


def test_configuration_errors_are_clear(ssc):
    with pytest.raises(ConfigurationError, match="unknown option"):
        RedisStreams.createStream(ssc, "k", "g", batchSize=3)
    with pytest.raises(ConfigurationError, match="value_format"):
        RedisStreamReceiver("k", "g", value_format="json")
    with pytest.raises(ConfigurationError, match="consumer group"):
        RedisStreamReceiver("k", "")


# -- end to end on the real clock --------------------------------------------------------------------------
@pytest.mark.slow
def test_real_clock_end_to_end(redis_server, client):  # noqa: F811
    """A producer adds 600 entries over ~1.5 s to two streams; 0.25 s batches get each exactly once."""
    keys = ["e2e-a", "e2e-b"]
    ssc = StreamingContext(SparkContext.getOrCreate(), 0.25)
    stream = RedisStreams.createStream(ssc, keys, "e2e", url=redis_server.url, block=0.05)
    got, lock = [], threading.Lock()

    def keep(rdd):
        rows = rdd.toArrow().to_pylist()
        with lock:
            got.extend((r["_stream"], int(r["n"])) for r in rows)

    stream.foreachRDD(keep)
    ssc.start()
    try:
        for i in range(300):
            for key in keys:
                client.xadd(key, {"n": str(i)})
            if i % 20 == 0:
                time.sleep(0.1)
        wait_until(lambda: len(got) >= 600, timeout=10, what="all entries processed")
    finally:
        ssc.stop(stopSparkContext=False)
    for key in keys:
        assert [n for k, n in got if k == key] == list(range(300))
        assert pending(client, key, "e2e") == 0
