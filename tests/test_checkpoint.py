"""Checkpoint storage: the write-ahead log, the journal, manifests, damaged checkpoints, retention,
unwritable directories, object stores (pyarrow's mock filesystem) and source positions."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from dstreams import ConfigurationError, ManualClock, SparkConf, SparkContext, StreamingContext, codec, ops
from dstreams.batch import Batch
from dstreams.checkpoint import CheckpointCorruptError, CheckpointUnwritableError
from dstreams.checkpoint import manifest as manifests
from dstreams.checkpoint.journal import InputJournal, read_journal
from dstreams.checkpoint.manager import schedule
from dstreams.checkpoint.store import CheckpointDir
from dstreams.checkpoint.wal import Entry, WriteAheadLog
from dstreams.dstream import InputDStream

OUT: list = []


class record:
    def __init__(self, tag):
        self.tag = tag

    def __call__(self, t, rdd):
        OUT.append((self.tag, t.second, sorted(rdd.collect())))


def context(**conf) -> StreamingContext:
    spark_conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
    for key, value in conf.items():
        spark_conf.set(key.replace("_", "."), value)
    return StreamingContext(SparkContext("local[1]", "cp", conf=spark_conf), 1, clock=ManualClock())


def counting_app(**conf):
    def setup():
        ssc = context(**conf)
        pairs = ssc.queueStream([[(k, 1)] for k in "abcabcabca"])
        totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0)).checkpoint(2)
        totals.foreachRDD(record("totals"))
        return ssc

    return setup


def run(directory, setup, batches: int, graceful: bool = False) -> None:
    ssc = StreamingContext.getOrCreate(str(directory), setup)
    ssc.start()
    for _ in range(batches):
        ssc.clock.advance(1)
    ssc.stop(stopGraceFully=graceful)


FINAL = [("a", 4), ("b", 3), ("c", 3)]


@pytest.fixture(autouse=True)
def _clean():
    OUT.clear()  # the active context is stopped by conftest's _no_context_left_active


# -- write-ahead log -----------------------------------------------------------------------------


def test_wal_appends_reads_and_deletes_segments(tmp_path):
    log = WriteAheadLog(CheckpointDir(str(tmp_path)), "wal/s")
    log.append([Entry(1, "block", "s", {"n": 1}, pa.table({"v": [1, 2]})), Entry(1, "mark")])
    log.roll()
    log.append([Entry(5, "block", table=pa.table({"w": ["x"]}))])
    log.roll()
    log.append([Entry(9, "mark")])
    log.close()
    records = WriteAheadLog(CheckpointDir(str(tmp_path)), "wal/s").read()
    assert [(r.position, r.kind, r.meta) for r in records] == [
        (1, "block", {"n": 1}),
        (1, "mark", {}),
        (5, "block", {}),
        (9, "mark", {}),
    ]
    assert records[0].table().column("v").to_pylist() == [1, 2] and records[1].table() is None
    assert len(log.segments()) == 3
    assert log.delete_through(4) == 1  # the first segment ends before 5
    assert log.delete_through(100) == 1  # the last segment is kept: it may still grow
    assert [r.position for r in log.read()] == [9]


def test_wal_cuts_a_torn_tail_and_stops_at_a_corrupt_record(tmp_path, caplog):
    directory = CheckpointDir(str(tmp_path))
    log = WriteAheadLog(directory, "wal")
    for i in range(3):
        log.append([Entry(i, "block", table=pa.table({"v": [i] * 10}))])
    log.close()
    path = directory.path("wal/" + log.segments()[0])
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.truncate(size - 7)  # the last record is torn
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        records = WriteAheadLog(directory, "wal").read(repair=True)
    assert [r.position for r in records] == [0, 1]
    assert "incomplete or corrupt record" in caplog.text
    assert os.path.getsize(path) < size - 7  # cut at the end of the last complete record
    with open(path, "r+b") as fh:  # damage the payload of the second record: its checksum fails
        data = bytearray(fh.read())
        data[-40] ^= 0xFF
        fh.seek(0)
        fh.write(data)
    assert [r.position for r in WriteAheadLog(directory, "wal").read()] == [0]


def test_wal_reads_past_an_empty_segment(tmp_path):
    # A process killed right after opening a segment leaves it empty (not even a schema).
    directory = CheckpointDir(str(tmp_path))
    log = WriteAheadLog(directory, "wal")
    log.append([Entry(0, "block", table=pa.table({"v": [1]}))])
    log.close()
    open(directory.path("wal/00000000000000000007-deadbeef.wal"), "wb").close()
    reopened = WriteAheadLog(directory, "wal")
    assert len(reopened.segments()) == 2
    assert [r.position for r in reopened.read(repair=True)] == [0]


def test_wal_on_an_object_store_writes_one_object_per_append():
    fs, _ = pafs.FileSystem.from_uri("mock:///")
    directory = CheckpointDir("bucket/app", filesystem=fs)
    log = WriteAheadLog(directory, "wal")
    log.append([Entry(3, "a", table=pa.table({"v": [1]}))])
    log.append([Entry(4, "b"), Entry(6, "c")])
    assert len(log.segments()) == 2
    assert [(r.position, r.kind) for r in log.read()] == [(3, "a"), (4, "b"), (6, "c")]
    assert log.delete_through(5) == 1  # the second object also holds 6
    assert [r.position for r in log.read()] == [4, 6]


def test_journal_replay_keeps_only_batches_whose_generation_was_recorded(tmp_path):
    directory = CheckpointDir(str(tmp_path))
    journal = InputJournal(directory, "journal", sync=False)
    batch = Batch.from_elements([1, 2, 3], 2)
    for t in (1000, 2000, 3000):
        journal.generated(t, {"queueStream#0": batch if t != 2000 else None}, {"queueStream#0": {"left": t}})
    journal.completed(1000)
    journal.completed(2000)
    journal.log.append(
        [Entry(4000, "input", "queueStream#0", {"layout": "value", "partitions": 1}, batch.table)]
    )
    journal.close()
    replay = read_journal(directory, "journal", after=1000)
    assert sorted(replay.inputs) == [2000, 3000]  # 4000's input has no "generated" record: torn
    assert replay.inputs[2000] == {"queueStream#0": None}
    restored = replay.inputs[3000]["queueStream#0"]
    assert restored.elements() == [1, 2, 3] and restored.num_partitions == 2
    assert (replay.last_generated, replay.last_completed) == (3000, 2000)
    assert replay.positions[3000] == {"queueStream#0": {"left": 3000}}
    assert replay.replays(2000) and not replay.replays(3000)


# -- manifests and damaged checkpoints -------------------------------------------------------------


def test_manifest_checksum_detects_damage(tmp_path):
    directory = CheckpointDir(str(tmp_path))
    name = manifests.publish(directory, {"generation": 1, "checkpoint_ms": 5000, "journal": "j"})
    assert manifests.read(directory, name).body["checkpoint_ms"] == 5000
    path = tmp_path / "manifests" / name
    outer = json.loads(path.read_text())
    outer["body"]["checkpoint_ms"] = 6000
    path.write_text(json.dumps(outer))
    with pytest.raises(CheckpointCorruptError, match="checksum"):
        manifests.read(directory, name)
    path.write_text(path.read_text()[:20])
    with pytest.raises(CheckpointCorruptError, match="truncated"):
        manifests.read(directory, name)


def _newest(directory) -> str:
    return manifests.manifest_names(CheckpointDir(str(directory)))[-1][3]


@pytest.mark.parametrize("damage", ["truncated manifest", "missing state file", "corrupt state file"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog, damage):
    setup = counting_app()
    run(tmp_path, setup, 7)  # checkpoints after batches 0, 2, 4, 6
    newest = _newest(tmp_path)
    assert "-0000000006000-" in newest
    body = json.loads((tmp_path / "manifests" / newest).read_text())["body"]
    state_file = tmp_path / next(iter(body["states"].values()))["tables"]["state"]["file"]
    if damage == "truncated manifest":
        (tmp_path / "manifests" / newest).write_text('{"checksum": 1, "bo')
    elif damage == "missing state file":
        state_file.unlink()
    else:
        data = bytearray(state_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        state_file.write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        run(tmp_path, setup, 3)
    assert f"checkpoint {newest} in {tmp_path} is skipped" in caplog.text
    assert "recovering from the older checkpoint" in caplog.text
    assert OUT[-1] == ("totals", 10, FINAL)  # the journal re-ran batches 5-7 on the older state


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    setup = counting_app()
    run(tmp_path, setup, 3)
    for name in os.listdir(tmp_path / "manifests"):
        (tmp_path / "manifests" / name).write_text("garbage")
    with pytest.raises(CheckpointCorruptError, match="none of the 2 checkpoint"):
        StreamingContext.getOrCreate(str(tmp_path), setup)


def test_unwritable_directory_fails_at_start(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    ssc = context()
    ssc.queueStream([[1]]).pprint()
    ssc.checkpoint(str(blocker / "checkpoint"))
    with pytest.raises(CheckpointUnwritableError, match="is not writable"):
        ssc.start()
    assert ssc.getState() == "INITIALIZED"
    ssc.stop()


def test_retention_keeps_the_newest_checkpoints_and_what_they_need(tmp_path):
    setup = counting_app(dstreams_checkpoint_retained="3")
    run(tmp_path, setup, 10)
    names = manifests.manifest_names(CheckpointDir(str(tmp_path)))
    assert [cut for _, cut, _, _ in names] == [6000, 8000, 10000]
    assert len(os.listdir(tmp_path / "state")) == 3
    assert len(os.listdir(tmp_path / "graph")) == 2  # one graph, kept in two copies
    replay = read_journal(CheckpointDir(str(tmp_path)), "journal/g000001", after=0)
    assert min(replay.inputs) == 5000  # segments up to the oldest kept checkpoint (6 s) are gone
    run(tmp_path, setup, 0)
    assert OUT[-1] == ("totals", 10, FINAL)


def test_a_fresh_context_on_a_used_directory_starts_a_new_generation(tmp_path, caplog):
    run(tmp_path, counting_app(), 3)
    ssc = counting_app()()
    ssc.checkpoint(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        ssc.start()
    assert "already holds checkpoints" in caplog.text
    ssc.clock.advance(1)
    ssc.stop()
    assert _newest(tmp_path).startswith("checkpoint-g000002-")
    OUT.clear()
    run(tmp_path, counting_app(), 1)  # resumes generation 2: two batches in all
    assert OUT == [("totals", 2, [("a", 1), ("b", 1)])]


def test_checkpoints_on_an_object_store(tmp_path, monkeypatch):
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    real = CheckpointDir

    def on_store(location, filesystem=None):  # every CheckpointDir of this test lives in the store
        return real("bucket/app", filesystem=fs)

    monkeypatch.setattr("dstreams.checkpoint.manager.resolve", on_store)
    monkeypatch.setattr("dstreams.checkpoint.recovery.resolve", on_store)
    setup = counting_app()
    run(tmp_path, setup, 5)
    assert len(list((tmp_path / "bucket" / "app" / "manifests").iterdir())) == 3  # written once, no renames
    run(tmp_path, setup, 5)
    assert OUT[-1] == ("totals", 10, FINAL)


# -- schedule and positions --------------------------------------------------------------------


def test_checkpoint_interval_follows_spark_defaults_on_a_grid_of_every_slide():
    ssc = context()
    pairs = ssc.queueStream([]).map(lambda x: (x, 1))
    pairs.updateStateByKey(lambda n, o: o).pprint()
    assert schedule(ssc) == (1000, 10000)
    pairs.reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 9, 3).pprint()
    assert schedule(ssc) == (3000, 12000)  # 10 s rounded up to a multiple of the 3 s slide
    pairs.updateStateByKey(lambda n, o: o).checkpoint(4).pprint()
    assert schedule(ssc) == (3000, 6000)  # 4 s asked, on a 3 s grid


def test_file_stream_goes_on_from_the_files_it_had_seen(tmp_path):
    incoming = tmp_path / "in"
    incoming.mkdir()
    start = (int(time.time()) - 100) * 1000  # the batch grid, in the recent past

    def drop(name, text, at_ms):
        path = incoming / name
        path.write_text(text)
        os.utime(path, ns=(at_ms * 1_000_000, at_ms * 1_000_000))

    def setup():
        conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
        sc = SparkContext("local[1]", "files", conf=conf)
        ssc = StreamingContext(sc, 1, clock=ManualClock(start_ms=start))
        ssc.textFileStream(str(incoming)).foreachRDD(record("lines"))
        return ssc

    drop("old.txt", "present at start", start - 500)
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    ssc.start()
    drop("one.txt", "one", start + 500)
    ssc.clock.advance(1)
    drop("two.txt", "two", start + 1500)
    ssc.clock.advance(1)
    ssc.stop()
    drop("three.txt", "three", start + 2500)  # while the application is down
    run(tmp_path / "cp", setup, 1)
    assert OUT == [
        ("lines", s % 60, [text])
        for s, text in [(start // 1000 + 1, "one"), (start // 1000 + 2, "two"), (start // 1000 + 3, "three")]
    ]


# -- the receivers' write-ahead log ------------------------------------------------------------------


class LoggedSource(InputDStream):
    """A push source wired to the receiver write-ahead log as a receiver is (see receiver_log)."""

    _uses_write_ahead_log = True

    def __init__(self, ssc):
        super().__init__(ssc)
        self._lock = threading.Lock()
        self._pending: list = []
        self._taken = 0
        self._write_ahead_log = None

    def store(self, items):  # reliable: in the log before it returns
        table, layout = codec.from_elements(items)
        with self._lock:
            if self._write_ahead_log is not None:
                self._write_ahead_log.stored(table, layout)
            self._pending.append((table, layout))

    def _allocate(self, t):
        with self._lock:
            pieces, self._pending = self._pending, []
            if self._write_ahead_log is not None:
                self._taken = self._write_ahead_log.position()
        if not pieces:
            return Batch.empty(0)
        return Batch(*ops.union([(table, layout, 1) for table, layout in pieces]))

    def _checkpoint_state(self):
        return {"wal": self._taken}

    def _restore_state(self, state):
        self._taken = state["wal"]
        self._pending = self._write_ahead_log.replay(after=self._taken)


def wal_app():
    ssc = context(spark_streaming_receiver_writeAheadLog_enable="true", dstreams_checkpoint_retained="2")
    source = LoggedSource(ssc)
    source.updateStateByKey(lambda new, old: sum(new) + (old or 0)).checkpoint(2).foreachRDD(record("totals"))
    source.foreachRDD(record("batch"))
    return ssc


def test_receiver_write_ahead_log_gives_back_what_was_stored_after_the_last_batch(tmp_path):
    ssc = StreamingContext.getOrCreate(str(tmp_path), wal_app)
    ssc.start()
    source = ssc._graph.inputs[0]
    for items in ([("a", 1), ("b", 1)], [("a", 2)], [("c", 5)]):
        source.store(items)
        ssc.clock.advance(1)
    source.store([("a", 10)])
    source.store([("b", 10)])  # stored, not yet in a batch: a crash would lose it without the log
    ssc.stop()
    assert len(os.listdir(tmp_path / "wal" / "g000001" / "LoggedSource_0")) == 2  # rolled at 2 s
    ssc = StreamingContext.getOrCreate(str(tmp_path), wal_app)
    ssc.start()
    source = ssc._graph.inputs[0]
    ssc.clock.advance(1)
    source.store([("c", 1)])
    ssc.clock.advance(1)
    ssc.stop(stopGraceFully=True)
    assert [o for o in OUT if o[0] == "batch"] == [
        ("batch", 1, [("a", 1), ("b", 1)]),
        ("batch", 2, [("a", 2)]),
        ("batch", 3, [("c", 5)]),
        ("batch", 4, [("a", 10), ("b", 10)]),
        ("batch", 5, [("c", 1)]),
    ]
    assert OUT[-2] == ("totals", 5, [("a", 13), ("b", 11), ("c", 6)])
    # the pieces every kept checkpoint (after batches 4 and 5) has passed are deleted
    assert [n[:20] for n in os.listdir(tmp_path / "wal" / "g000001" / "LoggedSource_0")] == ["0" * 19 + "6"]


def test_write_ahead_log_needs_a_checkpoint_directory():
    ssc = wal_app()
    with pytest.raises(ConfigurationError, match="no checkpoint directory is set"), pytest.warns(UserWarning):
        ssc.start()
    ssc.stop()


def test_sigterm_stops_gracefully_with_a_final_checkpoint(tmp_path):
    import subprocess
    import sys

    log = tmp_path / "batches.txt"
    app = os.path.join(os.path.dirname(__file__), "apps", "sigterm_app.py")
    child = subprocess.Popen(
        [sys.executable, app, str(tmp_path / "cp"), str(log)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "started"
        while not log.exists() or len(log.read_text().splitlines()) < 3:
            time.sleep(0.02)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 143
    finally:
        if child.poll() is None:
            child.kill()
    last_time, _count = map(int, log.read_text().splitlines()[-1].split())
    newest = manifests.read(CheckpointDir(str(tmp_path / "cp")), _newest(tmp_path / "cp"))
    assert newest.checkpoint_ms == last_time  # the final checkpoint is after the last batch
    state = next(iter(newest.body["states"].values()))
    assert state["batch_time"] == last_time and state["tables"]["state"]["rows"] == 1


def test_kafka_goes_on_from_its_offsets(tmp_path):
    from test_kafka import FakeCluster, make_stream

    cluster = FakeCluster(t=2)

    def setup():
        ssc = context()
        stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"})
        stream.map(lambda m: m.value).foreachRDD(record("values"))
        return ssc

    def produce(*values):
        for i, value in enumerate(values):
            cluster.produce("t", value, partition=i % 2)

    produce("a", "b", "c")
    ssc = StreamingContext.getOrCreate(str(tmp_path), setup, upgrade=True)
    ssc.start()
    ssc.clock.advance(1)
    produce("d", "e")
    ssc.clock.advance(1)
    produce("f", "g", "h")  # not read before the stop
    ssc.stop()
    ssc = StreamingContext.getOrCreate(str(tmp_path), setup, upgrade=True)
    ssc.start()
    ssc.clock.advance(1)
    ssc.stop()
    assert OUT == [("values", 1, ["a", "b", "c"]), ("values", 2, ["d", "e"]), ("values", 3, ["f", "g", "h"])]
