"""Recovery of receiver streams with the write-ahead log on: the batches after the checkpoint get
their blocks again from the log (only its position is journaled), what was stored after the last
batch goes into the next one, a torn tail is cut, and segments every checkpoint has passed go."""

from __future__ import annotations

import logging
import os

import pytest
from _crash import kill_at_random

from dstreams import ManualClock, SparkConf, SparkContext, StreamingContext
from dstreams.checkpoint.store import CheckpointDir
from dstreams.checkpoint.wal import WriteAheadLog
from dstreams.receivers import Receiver

OUT: list = []
WAL = "spark.streaming.receiver.writeAheadLog.enable"


class Passive(Receiver):
    """Does nothing by itself: the test stores through it (reliably: ``store(list)``)."""

    def onStart(self):
        pass


class record:
    def __init__(self, tag):
        self.tag = tag

    def __call__(self, t, rdd):
        OUT.append((self.tag, t.second, sorted(rdd.collect()), rdd.getNumPartitions()))


def add(new, old):
    return sum(new) + (old or 0)


def app(wal: bool = True):
    def setup():
        conf = SparkConf().set("dstreams.checkpoint.fsync", "false").set(WAL, str(wal).lower())
        conf.set("dstreams.checkpoint.retained", "2")
        ssc = StreamingContext(SparkContext("local[1]", "wal", conf=conf), 1, clock=ManualClock())
        pairs = ssc.receiverStream(Passive())
        pairs.foreachRDD(record("batch"))
        pairs.updateStateByKey(add).checkpoint(2).foreachRDD(record("totals"))
        return ssc

    return setup


def start(directory, setup) -> tuple[StreamingContext, Receiver]:
    ssc = StreamingContext.getOrCreate(str(directory), setup)
    ssc.start()
    return ssc, ssc._graph.inputs[0].receiver


@pytest.fixture(autouse=True)
def _clean():
    OUT.clear()  # the active context is stopped by conftest's _no_context_left_active


def batches():
    return [o[:3] for o in OUT if o[0] == "batch"]


def wal_dir(directory):
    return directory / "wal" / "g000001" / "receiverStream_0"


def test_batches_after_the_checkpoint_come_back_from_the_log_with_their_blocks(tmp_path):
    ssc, receiver = start(tmp_path, app())
    receiver.store([("a", 1), ("b", 1)])
    ssc.clock.advance(1)
    receiver.store([("a", 2)])
    ssc.clock.advance(1)  # checkpoint after batch 2
    receiver.store([("c", 5)])
    receiver._attached()._blocks._seal()  # two blocks in batch 3: two partitions
    receiver.store([("c", 1)])
    ssc.clock.advance(1)
    receiver.store([("a", 10)])
    receiver.store([("b", 10)])  # stored after the last batch: only the log has it
    ssc.stop()  # as a crash: no final checkpoint
    assert OUT[-2:] == [
        ("batch", 3, [("c", 1), ("c", 5)], 2),
        ("totals", 3, [("a", 3), ("b", 1), ("c", 6)], 1),
    ]

    OUT.clear()
    ssc, receiver = start(tmp_path, app())
    ssc.clock.advance(1)  # batch 3 (completed before: state only), then batch 4
    receiver.store([("c", 1)])
    ssc.clock.advance(1)
    ssc.stop(stopGraceFully=True)
    assert OUT == [
        ("batch", 4, [("a", 10), ("b", 10)], 1),
        ("totals", 4, [("a", 13), ("b", 11), ("c", 6)], 1),
        ("batch", 5, [("c", 1)], 1),
        ("totals", 5, [("a", 13), ("b", 11), ("c", 7)], 1),
    ]


def test_only_the_position_is_journaled_with_the_log_on(tmp_path):
    for wal, directory in ((True, tmp_path / "on"), (False, tmp_path / "off")):
        ssc, receiver = start(directory, app(wal))
        receiver.store([("a", 1)])
        ssc.clock.advance(1)
        ssc.stop()
        records = WriteAheadLog(CheckpointDir(str(directory)), "journal/g000001").read()
        inputs = [r for r in records if r.kind == "input"]
        generated = [r for r in records if r.kind == "generated"]
        assert [r.payload is not None for r in inputs] == ([] if wal else [True])
        position = generated[0].meta["positions"]["receiverStream#0"]
        assert position == ({"wal": 2, "batch": generated[0].position} if wal else None)


def test_a_batch_generated_but_not_completed_runs_again_with_its_data(tmp_path):
    ssc, receiver = start(tmp_path, app())
    stream = ssc._graph.inputs[0]
    receiver.store([("a", 1)])
    ssc.clock.advance(1)
    receiver.store([("b", 1)])
    # batch 2 is generated (taken from the receiver, marked in the log) but the process dies
    # before it runs: only the journal and the log know about it
    stream._blocks.take(2000)
    receiver.store([("c", 1)])
    ssc.stop()

    OUT.clear()
    ssc, receiver = start(tmp_path, app())
    ssc.clock.advance(1)
    ssc.clock.advance(1)
    ssc.stop()
    assert batches() == [("batch", 2, [("b", 1)]), ("batch", 3, [("c", 1)])]


def test_a_torn_tail_is_cut_at_the_last_complete_piece(tmp_path, caplog):
    ssc, receiver = start(tmp_path, app())
    receiver.store([("a", 1)])
    ssc.clock.advance(1)
    receiver.store([("b", 1)])
    receiver.store([("c", 1)])
    ssc.stop()
    segment = sorted(os.listdir(wal_dir(tmp_path)))[-1]
    path = wal_dir(tmp_path) / segment
    os.truncate(path, os.path.getsize(path) - 20)  # the last piece is half-written
    (wal_dir(tmp_path) / ("0" * 19 + "9-00000000.wal")).write_bytes(b"")  # killed as it was opened

    OUT.clear()
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        ssc, receiver = start(tmp_path, app())
    assert "incomplete or corrupt record" in caplog.text and "holds no complete record" in caplog.text
    ssc.clock.advance(1)
    receiver.store([("d", 1)])
    ssc.clock.advance(1)
    ssc.stop()
    assert batches() == [("batch", 2, [("b", 1)]), ("batch", 3, [("d", 1)])]


def test_segments_every_kept_checkpoint_has_passed_are_deleted(tmp_path):
    ssc, receiver = start(tmp_path, app())
    for k in range(8):
        receiver.store([("a", k)])
        ssc.clock.advance(1)
    ssc.stop()
    # Positions: piece k is 2k - 1, the mark of batch k is 2k. Checkpoints after batches 6 and 8 are
    # kept (retained = 2), so only the segment started after batch 6's checkpoint (piece 7) is left.
    first = [int(name.split("-")[0]) for name in sorted(os.listdir(wal_dir(tmp_path)))]
    assert first == [13]


def test_a_second_crash_during_the_replay_still_gives_every_batch_once(tmp_path):
    ssc, receiver = start(tmp_path, app())
    for k in range(1, 4):
        receiver.store([("a", k)])
        ssc.clock.advance(1)
    receiver.store([("z", 0)])
    ssc.stop()
    ssc, receiver = start(tmp_path, app())  # dies again at once
    receiver.store([("y", 0)])
    ssc.stop()
    OUT.clear()
    ssc, receiver = start(tmp_path, app())
    ssc.clock.advance(1)
    ssc.clock.advance(1)
    ssc.stop()
    assert batches() == [("batch", 4, [("y", 0), ("z", 0)]), ("batch", 5, [])]
    assert OUT[-1] == ("totals", 5, [("a", 6), ("y", 0), ("z", 0)], 1)


# -- other sources: positions only ---------------------------------------------------------------------


def test_kafka_batches_after_the_checkpoint_read_their_own_offset_ranges_again(tmp_path):
    from test_kafka import FakeCluster, make_stream

    from dstreams.receivers.kafka import offset_ranges

    cluster = FakeCluster(t=2)
    ranges = []

    def note(t, rdd):
        ranges.append((t.second, [(r.partition, r.fromOffset, r.untilOffset) for r in offset_ranges(rdd)]))
        return rdd

    def setup():
        conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
        ssc = StreamingContext(SparkContext("local[1]", "kafka", conf=conf), 1, clock=ManualClock())
        stream, _ = make_stream(ssc, cluster, params={"auto.offset.reset": "earliest"})
        values = stream.transform(note).map(lambda m: (m.value, 1))
        values.updateStateByKey(add).foreachRDD(record("totals"))
        return ssc

    def produce(*values):
        for i, value in enumerate(values):
            cluster.produce("t", value, partition=i % 2)

    produce("a", "b", "c")
    ssc = StreamingContext.getOrCreate(str(tmp_path), setup, upgrade=True)  # a consumer: not pickled
    ssc.start()
    ssc.clock.advance(1)
    produce("d", "e")
    ssc.clock.advance(1)
    produce("f", "g", "h")  # not read before the crash
    ssc.stop()
    before = list(ranges)
    ranges.clear()
    OUT.clear()
    ssc = StreamingContext.getOrCreate(str(tmp_path), setup, upgrade=True)
    ssc.start()  # batches 1 and 2 run again for their state, from their own ranges
    ssc.clock.advance(1)
    ssc.stop()
    assert ranges[:2] == before == [(1, [(0, 0, 2), (1, 0, 1)]), (2, [(0, 2, 3), (1, 1, 2)])]
    assert ranges[2] == (3, [(0, 3, 5), (1, 2, 3)])
    assert OUT == [("totals", 3, [(v, 1) for v in "abcdefgh"], 1)]
    journal = WriteAheadLog(CheckpointDir(str(tmp_path)), "journal/g000001").read()
    assert [r for r in journal if r.kind == "input"] == []  # positions only


def test_file_stream_position_is_the_files_of_the_remember_window(tmp_path):
    incoming = tmp_path / "in"
    incoming.mkdir()

    def drop(name, at_ms):
        path = incoming / name
        path.write_text(name)
        os.utime(path, ns=(at_ms * 1_000_000, at_ms * 1_000_000))

    start = 1_000_000_000_000

    def setup():
        conf = SparkConf().set("dstreams.checkpoint.fsync", "false")
        conf.set("spark.streaming.fileStream.minRememberDuration", "3s")
        ssc = StreamingContext(SparkContext("local[1]", "files", conf=conf), 1, clock=ManualClock(start))
        ssc.textFileStream(str(incoming)).foreachRDD(record("lines"))
        return ssc

    drop("future-at-start.txt", start + 10_500)  # present at the start: never read
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    ssc.start()
    stream = ssc._graph.inputs[0]
    for k in range(1, 7):
        drop(f"f{k}.txt", start + k * 1000 - 500)
        ssc.clock.advance(1)
    assert stream._checkpoint_state() == {
        "selected": {str(start + k * 1000): [f"f{k}.txt"] for k in (4, 5, 6)},
        "ignored": ["future-at-start.txt"],
        "start_ms": start,
    }
    ssc.stop()
    drop("f7.txt", start + 6500)  # while the application is down
    OUT.clear()
    ssc = StreamingContext.getOrCreate(str(tmp_path / "cp"), setup)
    ssc.start()  # from the checkpoint at the start: batches 1-6 run again (state only), listing again
    for _ in range(5):
        ssc.clock.advance(1)
    ssc.stop()
    second = start // 1000
    expected = [((second + k) % 60, ["f7.txt"] if k == 7 else []) for k in range(7, 12)]
    assert [o[1:3] for o in OUT] == expected  # batch 11: the file present at the start stays unread
    journal = WriteAheadLog(CheckpointDir(str(tmp_path / "cp")), "journal/g000001").read()
    assert [r for r in journal if r.kind == "input"] == []  # positions only


def test_the_duckdb_sink_closes_its_database_when_stop_returns(tmp_path):
    import duckdb

    ssc = StreamingContext(SparkContext("local[1]", "sink"), 1, clock=ManualClock())
    ssc.queueStream([["a", "b"], ["c"]]).to_duckdb(str(tmp_path / "out.duckdb"), "letters")
    ssc.start()
    ssc.clock.advance(1)
    writer = ssc._graph.outputs[0]._func.__self__
    assert writer._con is not None
    ssc.stop()
    assert writer._con is None  # at once, not from a watcher thread later
    with duckdb.connect(str(tmp_path / "out.duckdb")) as con:
        assert con.execute("SELECT * FROM letters ORDER BY 1").fetchall() == [("a",), ("b",)]


# -- the crash test with a receiver --------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_with_a_reliable_receiver_and_the_log_on_loses_and_duplicates_nothing(tmp_path):
    """``apps/receiver_crash_app.py`` (graph in ``apps/receiver_crash_graph.py``) is killed with SIGKILL
    at random moments and restarted by ``dstreams run``. Whatever the batches the records fell into,
    every record reaches DuckDB exactly once, every running-totals output equals the counts of the
    records of its batch and the batches before, and the final totals are those of all records.

    The one gap left is the source's: a kill between ``store`` returning and the acknowledgement (a
    single pwrite) redelivers a chunk, as any at-least-once source; the window is microseconds."""
    import collections
    import random
    import subprocess
    import sys
    import time

    import duckdb
    import pyarrow.parquet as pq

    apps = os.path.join(os.path.dirname(__file__), "apps")
    seed = int(os.environ.get("CRASH_SEED", time.time()))
    rng = random.Random(seed)
    work = tmp_path / "work"
    work.mkdir()
    vocabulary = [f"w{i}" for i in range(20)]
    records = [f"{k} " + " ".join(rng.choices(vocabulary, k=3)) for k in range(600)]
    (work / "records.txt").write_text("\n".join(records) + "\n")
    spacing_ms = 15  # 600 records over 9 s
    first_ms = int(time.time() * 1000) + 1500
    end_ms = first_ms + len(records) * spacing_ms + 1500
    app = [
        os.path.join(apps, "receiver_crash_app.py"),
        str(work),
        str(first_ms),
        str(spacing_ms),
        str(end_ms),
    ]
    err = open(work / "supervisor.err", "w")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "dstreams", "run", "--backoff", "0.1", "--max-backoff", "0.4", *app],
        stderr=err,
        text=True,
    )
    kills: list[int] = []
    try:
        deadline = time.time() + 50
        kills = kill_at_random(
            supervisor,
            work / "pid",
            rng,
            first_ms=first_ms,
            stop_ms=end_ms - 500,
            deadline=deadline,
            max_kills=8,
            pause=(0.1, 1.5),
        )
        try:
            supervisor.wait(timeout=max(5, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass  # killed below; the status check shows its errors
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        err.close()
        errors = (work / "supervisor.err").read_text()
    context = f"seed {seed}, kills at {kills} ms"
    assert supervisor.returncode == 0, f"{context}:\n{errors[-3000:]}"
    assert len(kills) >= 3, context

    out = work / "out"
    with duckdb.connect(str(out / "lines.duckdb")) as con:
        written = con.execute("SELECT key, value FROM lines").fetchall()
    assert sorted(int(line.split(" ")[0]) for _, line in written) == list(range(len(records))), context
    by_batch = collections.defaultdict(list)
    for t, line in written:
        by_batch[t].append(line)
    seen: collections.Counter = collections.Counter()
    checked = 0
    for t in sorted({*by_batch, *(int(d.name.rsplit("-", 1)[1]) for d in out.glob("totals-*"))}):
        for line in by_batch.get(t, []):
            seen.update(line.split(" ")[1:])
        batch_dir = out / f"totals-{t}"
        assert batch_dir.exists(), f"{context}: no totals for batch {t}"
        rows = pq.read_table(batch_dir).to_pylist()
        totals = dict(tuple(r.values()) for r in rows)
        assert totals == dict(seen), f"{context}: totals of batch {t}"
        checked += 1
    assert seen == collections.Counter(w for r in records for w in r.split(" ")[1:])
    assert checked > 40, context
