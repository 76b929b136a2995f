"""socketTextStream: lines from a local TCP server, reconnection, and the bad-line policy."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from dstreams import ConfigurationError, SparkContext, StreamingContext, StreamingListener
from dstreams.receivers.socket import _LineSplitter, _Quarantine


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


class Server:
    """A TCP server on 127.0.0.1 that the stream connects to."""

    def __init__(self, port: int = 0):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(5)

    def accept(self) -> socket.socket:
        conn, _ = self.sock.accept()
        return conn

    def close(self):
        self.sock.close()


class Errors(StreamingListener):
    def __init__(self):
        self.messages = []

    def onReceiverError(self, e):
        self.messages.append(e.receiverInfo().lastErrorMessage())


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


# -- line splitting ------------------------------------------------------------------------------
def splitter(tmp_path, max_line=20):
    q = _Quarantine(str(tmp_path / "q.txt"))
    return _LineSplitter(max_line, lambda: q), q


def test_lines_split_across_chunks(tmp_path):
    sp, _ = splitter(tmp_path)
    assert sp.feed(b"hello hel") is None
    assert sp.feed(b"lo again\nhel").to_pylist() == ["hello hello again"]
    assert sp.feed(b"lo\r\n\nlast").to_pylist() == ["hello", ""]
    assert sp.finish().to_pylist() == ["last"]  # the server closed: the unterminated line counts
    assert sp.finish() is None
    assert sp.errors == []


def test_a_line_that_is_not_utf8_is_quarantined_with_its_exact_bytes(tmp_path):
    sp, q = splitter(tmp_path)
    assert sp.feed(b"ok\n\xff\xfe bad\ncaf\xc3\xa9\n").to_pylist() == ["ok", "café"]
    assert sp.errors == [
        f"a line not valid UTF-8 (invalid start byte at byte 0) was left out of the stream and kept in "
        f"{q.path} (line 1)"
    ]
    assert (tmp_path / "q.txt").read_bytes() == b"\xff\xfe bad\n"


def test_an_endless_line_streams_to_the_quarantine_with_bounded_memory(tmp_path):
    sp, q = splitter(tmp_path, max_line=100)
    assert sp.feed(b"first\n" + b"x" * 60).to_pylist() == ["first"]
    for _ in range(1000):  # 1 MB without a line end
        assert sp.feed(b"y" * 1000) is None
        assert len(sp._partial) <= 100
    assert sp.feed(b"z\nnext\n").to_pylist() == ["next"]
    assert len(sp.errors) == 1 and "longer than maxLineLength=100 bytes" in sp.errors[0]
    assert "(line 1)" in sp.errors[0]
    q.close()
    assert (tmp_path / "q.txt").read_bytes() == b"x" * 60 + b"y" * 1_000_000 + b"z\n"
    # a complete over-long line inside one chunk goes the same way
    assert sp.feed(b"a\n" + b"w" * 150 + b"\nb\n").to_pylist() == ["a", "b"]
    assert "(line 2)" in sp.errors[1]


# -- the stream on the manual clock ---------------------------------------------------------------
def test_lines_land_in_the_batch_they_arrive_in(ssc, clock, server):
    s = ssc.socketTextStream("127.0.0.1", server.port)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    conn = server.accept()
    conn.sendall(b"hello hello again\nhel")
    wait_until(lambda: s._blocks.total == 1)
    clock.advance(1)
    conn.sendall(b"lo\n")
    wait_until(lambda: s._blocks.total == 2)
    clock.advance(1)
    clock.advance(1)
    conn.close()
    assert out == [["hello hello again"], ["hello"], []]


def test_reconnects_with_backoff_until_the_server_is_up_and_after_it_goes_away(ssc, clock):
    probe = Server()
    port = probe.port
    probe.close()  # nothing listens there yet
    errors = Errors()
    ssc.addStreamingListener(errors)
    s = ssc.socketTextStream("127.0.0.1", port, restartDelay=0.02)
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    wait_until(lambda: len(errors.messages) >= 3)
    server = Server(port)
    try:
        conn = server.accept()
        conn.sendall(b"one\n")
        wait_until(lambda: s._blocks.total == 1)
        conn.close()  # the server goes away: the receiver reconnects
        conn = server.accept()
        conn.sendall(b"two\n")
        wait_until(lambda: s._blocks.total == 2)
        clock.advance(1)
        conn.close()
    finally:
        server.close()
    assert out == [["one", "two"]]
    refused = [m for m in errors.messages if "could not connect" in m]
    assert len(refused) >= 3
    delays = [float(re.search(r"restarting in ([0-9.]+) s", m).group(1)) for m in refused[:3]]
    assert delays == [0.02, 0.04, 0.08]  # doubled while nothing was received
    assert any("closed the connection" in m for m in errors.messages)
    assert s._supervisor.restarts >= 4


def test_bad_bytes_and_an_endless_line_are_reported_and_quarantined(ssc, clock, server, tmp_path):
    errors = Errors()
    ssc.addStreamingListener(errors)
    s = ssc.socketTextStream("127.0.0.1", server.port, maxLineLength=1000, quarantinePath=str(tmp_path))
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    conn = server.accept()
    conn.sendall(b"before\n\xc3\x28 broken\n")
    conn.sendall(b"e" * 300_000)  # an endless line...
    conn.sendall(b"\nafter\n")  # ...that ends at last
    # (both bad lines may be reported in one event when they arrive in one read)
    wait_until(lambda: s._blocks.total == 2 and "longer than" in " ".join(errors.messages))
    clock.advance(1)
    conn.close()
    assert out == [["before", "after"]]
    (path,) = tmp_path.iterdir()
    assert path.read_bytes() == b"\xc3\x28 broken\n" + b"e" * 300_000 + b"\n"
    reported = " ".join(errors.messages)
    left_out = "was left out of the stream and"
    assert (
        f"a line not valid UTF-8 (invalid continuation byte at byte 0) {left_out} kept in {path} (line 1)"
        in reported
    )
    assert f"longer than maxLineLength=1000 bytes {left_out} is written to {path} (line 2)" in reported
    meta = ssc.batch_infos[0].stream_inputs[s.id].metadata
    assert meta["badLines"] == 2


def test_socket_options_are_checked(ssc):
    with pytest.raises(ConfigurationError, match="unknown option"):
        ssc.socketTextStream("localhost", 9999, maxLineLenght=10)
    with pytest.raises(ConfigurationError, match="port"):
        ssc.socketTextStream("localhost", 0)


# -- end to end on the real clock: Spark's NetworkWordCount ---------------------------------------
@pytest.mark.slow
def test_network_word_count_on_the_real_clock(server, capsys):
    ssc = StreamingContext(SparkContext("local[1]", "NetworkWordCount"), 0.5)
    lines = ssc.socketTextStream("127.0.0.1", server.port)
    counts = (
        lines.flatMap(lambda line: line.split(" "))
        .map(lambda word: (word, 1))
        .reduceByKey(lambda a, b: a + b)
    )
    counts.pprint()
    seen = []
    seen_cond = threading.Condition()

    def note(rdd):
        with seen_cond:
            seen.append(rdd.collect())
            seen_cond.notify_all()

    counts.foreachRDD(note)
    try:
        ssc.start()
        conn = server.accept()
        conn.sendall(b"hello hello again\n")  # typed, as into `nc -lk 9999`
        with seen_cond:
            assert seen_cond.wait_for(lambda: [("hello", 2), ("again", 1)] in seen, 10)
        conn.sendall(b"hello\n")
        with seen_cond:
            assert seen_cond.wait_for(lambda: [("hello", 1)] in seen, 10)
        conn.close()
    finally:
        ssc.stop()
    printed = capsys.readouterr().out
    batches = [b.strip().split("\n") for b in printed.split("-------------------------------------------\n")]
    bodies = [b for b in batches[2::2] if b != [""]]
    assert bodies == [["('hello', 2)", "('again', 1)"], ["('hello', 1)"]]
    assert not [t for t in threading.enumerate() if t.name.startswith("dstreams-")]
