"""File streams: new files by modification time (manual clock), formats into Arrow, bad records."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dstreams import BatchError, ConfigurationError, ManualClock, SparkContext, StreamingContext, SystemClock
from dstreams.receivers import files as files_module
from dstreams.receivers.files import BadRecordError, _File


@pytest.fixture
def watched(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    return d


def put(directory, name, content, mtime):
    """Write elsewhere, set the mtime (seconds), then move in atomically, as Spark asks."""
    staging = directory.parent / ".staging"
    staging.mkdir(exist_ok=True)
    tmp = staging / os.path.basename(name)
    tmp.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.utime(tmp, (mtime, mtime))
    target = directory / name
    os.replace(tmp, target)
    return target


def collect(stream):
    out = []
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))
    return out


def meta(ssc, stream, index):
    info = ssc.batch_infos[index]
    return info.stream_inputs[stream._id].metadata


def bad_records(path):
    entries = []
    for root, _, names in sorted(os.walk(path)):
        for name in sorted(names):
            with open(os.path.join(root, name)) as fh:
                entries.extend(json.loads(line) for line in fh)
    return entries


# -- which files, which batch -------------------------------------------------------------------
def test_files_belong_to_the_batch_of_their_modification_time(ssc, clock, watched):
    (watched / "present.txt").write_text("there before the start\n")
    s = ssc.textFileStream(str(watched))
    out = collect(s)
    ssc.start()
    put(watched, "a.txt", "a1\na2\n", 0.5)
    put(watched, "b.txt", "b\n", 1.0)  # on the batch boundary: batch 1000 is (0, 1000]
    put(watched, "c.txt", "c\n", 1.2)
    put(watched, "future.txt", "f\n", 3.5)  # waits until its time comes
    put(watched, ".hidden.txt", "h\n", 0.5)
    put(watched, "_COPYING_.txt", "t\n", 0.5)
    (watched / "sub").mkdir()
    put(watched, "sub/nested.txt", "n\n", 0.5)
    for _ in range(4):
        clock.advance(1)
    assert out == [["a1", "a2", "b"], ["c"], [], ["f"]]
    assert meta(ssc, s, 0)["files"] == [str(watched / "a.txt"), str(watched / "b.txt")]
    assert meta(ssc, s, 1)["Description"] == str(watched / "c.txt")


def test_a_file_arriving_late_goes_to_the_next_batch(ssc, clock, watched):
    out = collect(ssc.textFileStream(str(watched)))
    ssc.start()
    clock.advance(1)
    put(watched, "late.txt", "late\n", 0.5)  # mtime in batch 1000's interval, but batch 1000 is done
    clock.advance(1)
    assert out == [[], ["late"]]


def test_files_older_than_the_remember_window_are_ignored_with_a_warning(watched, caplog):
    clock = ManualClock(200_000)
    ssc = StreamingContext(SparkContext("local[1]", "files"), 1, clock=clock)
    s = ssc.textFileStream(str(watched))
    out = collect(s)
    try:
        ssc.start()
        put(watched, "old.txt", "old\n", 100)  # mv keeps an mtime from before the start
        put(watched, "new.txt", "new\n", 200.5)
        with caplog.at_level(logging.WARNING, logger="dstreams"):
            clock.advance(1)
            clock.advance(1)
    finally:
        ssc.stop()
    assert out == [["new"], []]
    assert meta(ssc, s, 0)["ignoredFiles"] == [str(watched / "old.txt")]
    assert "ignoring new file" in caplog.text and "old.txt" in caplog.text


def test_new_files_only_false_reads_recent_files_present_at_start(watched):
    clock = ManualClock(100_000)
    put(watched, "recent.txt", "recent\n", 90)
    put(watched, "ancient.txt", "ancient\n", 10)  # outside the 60 s remember window
    ssc = StreamingContext(SparkContext("local[1]", "files"), 1, clock=clock)
    out = collect(ssc.textFileStream(str(watched), newFilesOnly=False))
    try:
        ssc.start()
        clock.advance(1)
    finally:
        ssc.stop()
    assert out == [["recent"]]


def test_glob_patterns_for_directories_and_files(ssc, clock, tmp_path):
    for day in ("2024-01", "2024-02", "2023-12"):
        (tmp_path / day).mkdir()
    days = ssc.textFileStream(str(tmp_path / "2024-*"))
    csvs = ssc.fileStream(str(tmp_path / "2024-01" / "*.csv"), "csv")
    out_days, out_csv = collect(days), collect(csvs)
    ssc.start()
    put(tmp_path / "2024-01", "x.txt", "jan\n", 0.5)
    put(tmp_path / "2024-02", "y.txt", "feb\n", 0.6)
    put(tmp_path / "2023-12", "z.txt", "dec\n", 0.5)
    put(tmp_path / "2024-01", "n.csv", "1,2\n", 0.5)
    clock.advance(1)
    assert out_days == [["1,2", "jan", "feb"]]
    assert [tuple(r) for r in out_csv[0]] == [(1, 2)]


def test_a_missing_directory_is_a_clear_error_at_start(ssc, tmp_path):
    ssc.textFileStream(str(tmp_path / "nope")).pprint()
    with pytest.raises(
        ConfigurationError, match=r"directory '.*nope' does not exist; create it before ssc\.start"
    ):
        ssc.start()
    assert ssc.getState() == "STOPPED"


def test_a_glob_whose_base_is_missing_is_an_error_at_start(ssc, tmp_path):
    ssc.fileStream(str(tmp_path / "nope" / "*.csv"), "csv").pprint()
    with pytest.raises(ConfigurationError, match="base directory"):
        ssc.start()


def test_many_files_are_listed_without_stat_ing_the_ones_already_seen(ssc, clock, watched, monkeypatch):
    for i in range(3000):
        (watched / f"old-{i}.txt").write_text("x\n")  # present at start: never read
    stats = []
    real_scan = files_module._scan

    class Counting:
        def __init__(self, entry):
            self.entry = entry

        def stat(self):
            stats.append(self.entry.name)
            return self.entry.stat()

    monkeypatch.setattr(
        files_module, "_scan", lambda d, s: ((path, Counting(e)) for path, e in real_scan(d, s))
    )
    s = ssc.textFileStream(str(watched))
    counts = collect(s.count())
    ssc.start()
    assert stats == []  # the start lists them, without a stat
    for i in range(500):
        put(watched, f"new-{i}.txt", f"{i}\n", 0.5)
    stats.clear()
    clock.advance(1)
    assert len(stats) == 500  # only the new names
    stats.clear()
    clock.advance(1)
    assert stats == []
    assert counts == [[500], []]


# -- formats ----------------------------------------------------------------------------------------
def test_text_line_endings_as_hadoop_and_empty_files(ssc, clock, watched, caplog):
    out = collect(ssc.textFileStream(str(watched)))
    ssc.start()
    put(watched, "a.txt", b"unix\nwindows\r\nold mac\rno end", 0.5)
    put(watched, "b.txt", b"", 0.6)
    put(watched, "c.txt", "ünïcode\n\nafter blank\n", 0.7)
    with caplog.at_level(logging.WARNING, logger="dstreams"):
        clock.advance(1)
    assert out == [["unix", "windows", "old mac", "no end", "ünïcode", "", "after blank"]]
    assert "has no data in it" in caplog.text


def test_binary_records(ssc, clock, watched, tmp_path):
    s = ssc.binaryRecordsStream(str(watched), 4, badRecordsPath=str(tmp_path / "bad"))
    out = collect(s)
    ssc.start()
    put(watched, "a.bin", b"AAAABBBBCCCC", 0.5)
    put(watched, "b.bin", b"DDDDEE", 0.6)
    clock.advance(1)
    assert out == [[b"AAAA", b"BBBB", b"CCCC", b"DDDD"]]
    (entry,) = bad_records(tmp_path / "bad")
    assert entry["path"] == str(watched / "b.bin") and entry["line"] == 2 and entry["record"] == "4545"
    assert "not a multiple of recordLength=4" in entry["reason"]


def test_csv_names_types_and_options(ssc, clock, tmp_path):
    for d in ("plain", "header", "schema"):
        (tmp_path / d).mkdir()
    plain = ssc.fileStream(str(tmp_path / "plain"), "csv", sep=";")
    header = ssc.fileStream(str(tmp_path / "header"), "csv", header=True)
    typed = ssc.fileStream(
        str(tmp_path / "schema"), "csv", schema={"id": pa.int64(), "name": pa.string()}, header=True
    )
    out = [collect(plain), collect(header), collect(typed)]
    ssc.start()
    put(tmp_path / "plain", "a.csv", "1;x\n2;y\n", 0.5)
    put(tmp_path / "header", "a.csv", "id,name\n1,x\n", 0.5)
    put(tmp_path / "schema", "a.csv", "whatever,names\n7,z\n,w\n", 0.5)
    clock.advance(1)
    assert [r.asDict() for r in out[0][0]] == [{"_c0": 1, "_c1": "x"}, {"_c0": 2, "_c1": "y"}]
    assert [r.asDict() for r in out[1][0]] == [{"id": 1, "name": "x"}]
    assert [r.asDict() for r in out[2][0]] == [{"id": 7, "name": "z"}, {"id": None, "name": "w"}]


def test_json_lines_with_and_without_schema(ssc, clock, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inferred = ssc.fileStream(str(tmp_path / "a"), "json")
    typed = ssc.fileStream(str(tmp_path / "b"), "json", schema=pa.schema([("id", pa.int32())]))
    out = [collect(inferred), collect(typed)]
    ssc.start()
    put(tmp_path / "a", "a.json", '{"id": 1, "tags": ["x"]}\n\n{"id": 2, "tags": []}\n', 0.5)
    put(tmp_path / "b", "b.json", '{"id": 1, "extra": true}\n{"id": 2}\n', 0.5)
    clock.advance(1)
    assert [r.asDict() for r in out[0][0]] == [{"id": 1, "tags": ["x"]}, {"id": 2, "tags": []}]
    assert [r.asDict() for r in out[1][0]] == [{"id": 1}, {"id": 2}]


def test_parquet_and_arrow_files_one_partition_each(ssc, clock, tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "a").mkdir()
    table = pa.table({"id": [1, 2], "v": ["a", "b"], "x": [0.5, 1.5]})
    parquet = ssc.fileStream(str(tmp_path / "p"), "parquet", schema={"id": pa.int64(), "v": pa.string()})
    arrow = ssc.fileStream(str(tmp_path / "a"), "arrow")
    out = []
    parquet.foreachRDD(lambda rdd: out.append(("parquet", rdd.glom().collect())))
    arrow.foreachRDD(lambda rdd: out.append(("arrow", rdd.collect())))
    ssc.start()
    pq.write_table(table, tmp_path / "t.parquet")
    os.utime(tmp_path / "t.parquet", (0.5, 0.5))
    os.replace(tmp_path / "t.parquet", tmp_path / "p" / "1.parquet")
    put(tmp_path / "p", "2.parquet", (tmp_path / "p" / "1.parquet").read_bytes(), 0.6)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    put(tmp_path / "a", "f.arrow", sink.getvalue().to_pybytes(), 0.5)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table.slice(0, 1))
    put(tmp_path / "a", "s.arrows", sink.getvalue().to_pybytes(), 0.6)
    clock.advance(1)
    (first, parts), (second, rows) = out
    assert (first, second) == ("parquet", "arrow")
    assert [[tuple(r) for r in p] for p in parts] == [[(1, "a"), (2, "b")], [(1, "a"), (2, "b")]]
    assert [tuple(r) for r in rows] == [(1, "a", 0.5), (2, "b", 1.5), (1, "a", 0.5)]


def test_bad_options_are_configuration_errors(ssc, watched):
    with pytest.raises(ConfigurationError, match="format must be one of"):
        ssc.fileStream(str(watched), "xml")
    with pytest.raises(ConfigurationError, match="unknown option"):
        ssc.fileStream(str(watched), "json", header=True)
    with pytest.raises(ConfigurationError, match="recordLength must be a positive int"):
        ssc.binaryRecordsStream(str(watched), 0)
    with pytest.raises(ConfigurationError, match="schema must be"):
        ssc.fileStream(str(watched), "csv", schema=42)


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_records_are_skipped_counted_and_written_with_file_and_line(ssc, clock, tmp_path):
    for d in ("csv", "json", "parquet", "text"):
        (tmp_path / d).mkdir()
    bad_dir = tmp_path / "bad"
    streams = [
        ssc.fileStream(
            str(tmp_path / "csv"),
            "csv",
            schema={"a": pa.int64(), "b": pa.string()},
            badRecordsPath=str(bad_dir),
        ),
        ssc.fileStream(str(tmp_path / "json"), "json", badRecordsPath=str(bad_dir)),
        ssc.fileStream(str(tmp_path / "parquet"), "parquet", badRecordsPath=str(bad_dir)),
        ssc.textFileStream(str(tmp_path / "text"), badRecordsPath=str(bad_dir)),
    ]
    outs = [collect(s) for s in streams]
    ssc.start()
    put(tmp_path / "csv", "a.csv", "1,x\n2,y,extra\n3\nfour,z\n5,w\n", 0.5)
    put(tmp_path / "json", "a.json", '{"a": 1}\n{"a": 2\n{"a": 3}\n', 0.5)
    pq.write_table(pa.table({"a": list(range(100))}), tmp_path / "full.parquet")
    put(tmp_path / "parquet", "ok.parquet", (tmp_path / "full.parquet").read_bytes(), 0.5)
    put(tmp_path / "parquet", "truncated.parquet", (tmp_path / "full.parquet").read_bytes()[:-30], 0.5)
    put(tmp_path / "text", "t.txt", b"fine\n\xff\xfe\nfine again\n", 0.5)
    clock.advance(1)
    assert [tuple(r) for r in outs[0][0]] == [(1, "x"), (5, "w")]
    assert [r.a for r in outs[1][0]] == [1, 3]
    assert [r.a for r in outs[2][0]] == list(range(100))
    assert outs[3] == [["fine", "fine again"]]
    entries = {(os.path.basename(e["path"]), e["line"]): e for e in bad_records(bad_dir)}
    assert set(entries) == {
        ("a.csv", 2),
        ("a.csv", 3),
        ("a.csv", 4),
        ("a.json", 2),
        ("truncated.parquet", None),
        ("t.txt", 2),
    }
    assert entries[("a.csv", 2)]["record"] == "2,y,extra"
    assert entries[("a.csv", 3)]["reason"] == "wrong number of columns (1)"
    assert entries[("a.csv", 4)]["reason"] == "value 'four' of column 'a' is not a valid int64"
    assert (
        entries[("a.json", 2)]["record"] == '{"a": 2' and "not valid JSON" in entries[("a.json", 2)]["reason"]
    )
    assert "cannot be read as parquet" in entries[("truncated.parquet", None)]["reason"]
    assert entries[("t.txt", 2)]["record"] == "\\xff\\xfe"
    assert [meta(ssc, s, 0)["badRecords"] for s in streams] == [3, 1, 1, 1]


def test_fail_fast_names_the_file_and_line_and_the_other_files_come_next_batch(ssc, clock, watched):
    s = ssc.fileStream(str(watched), "csv")
    out = collect(s)
    ssc.start()
    put(watched, "a.csv", "1,2\n3,4\n", 0.5)
    put(watched, "b.csv", "1,2\n3,4\n5\n", 0.6)
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    with pytest.raises(BatchError, match=r"b\.csv, line 3: wrong number of columns \(1\): '5'") as failure:
        ssc.awaitTerminationOrTimeout(0)
    assert isinstance(failure.value.__cause__, BadRecordError)
    assert "badRecordsPath" in str(failure.value)
    clock.advance(1)
    assert [[tuple(r) for r in b] for b in out] == [[(1, 2), (3, 4)]]  # a.csv, read again


def test_a_file_still_being_written_is_reported(ssc, clock, watched, tmp_path):
    s = ssc.fileStream(str(watched), "csv", badRecordsPath=str(tmp_path / "bad"))
    out = collect(s)
    ssc.start()
    path = watched / "growing.csv"
    path.write_text("1,a\n2,b\n3")  # written in place, not moved in
    os.utime(path, (0.5, 0.5))
    clock.advance(1)  # reads what is there: the cut row is a bad record
    with open(path, "a") as fh:
        fh.write(",c\n4,d\n")
    os.utime(path, (1.5, 1.5))
    clock.advance(1)  # not read again; the change is reported
    assert [[tuple(r) for r in b] for b in out] == [[(1, "a"), (2, "b")], []]
    reasons = [e["reason"] for e in bad_records(tmp_path / "bad")]
    assert reasons[0] == "wrong number of columns (1)"
    assert reasons[1].startswith("file changed after batch 1000 ms read it (9 -> 16 bytes)")
    assert "move them in atomically" in reasons[1]


def test_a_file_that_changes_while_it_is_read_is_left_for_the_next_batch_check(ssc, watched):
    s = ssc.textFileStream(str(watched))
    path = watched / "x.txt"
    path.write_text("abc\n")
    st = os.stat(path)
    table, bad = s._read(_File(str(path), st.st_size - 2, st.st_mtime_ns))  # the listing saw less
    assert table is None
    assert "changed while it was being read" in bad[0].reason


# -- end to end on the real clock -----------------------------------------------------------------
@pytest.mark.slow
def test_files_moved_into_a_directory_on_the_real_clock(tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    ssc = StreamingContext(SparkContext("local[1]", "files"), 0.2, clock=SystemClock())
    words = ssc.textFileStream(str(watched)).flatMap(lambda line: line.split(" "))
    batches = []
    done = threading.Event()

    def note(rdd):
        batches.append(rdd.collect())
        if sum(map(len, batches)) >= 5:
            done.set()

    words.foreachRDD(note)
    try:
        ssc.start()
        for i, text in enumerate(["hello hello again", "hello", "bye"]):
            tmp = tmp_path / f"part-{i}.txt"
            tmp.write_text(text + "\n")
            os.replace(tmp, watched / tmp.name)  # atomically, with a fresh mtime
            time.sleep(0.3)
        assert done.wait(5)
    finally:
        ssc.stop()
    non_empty = [b for b in batches if b]
    assert [w for b in non_empty for w in b] == ["hello", "hello", "again", "hello", "bye"]
    assert len(non_empty) == 3  # one file per batch, as they were moved in 0.3 s apart


def test_json_lines_that_are_not_objects_are_bad_records_not_a_crash(ssc, clock, tmp_path):
    # pyarrow 26's JSON reader segfaults on a `null` line: it must never be handed one.
    (tmp_path / "json").mkdir()
    bad_dir = tmp_path / "bad"
    out = collect(ssc.fileStream(str(tmp_path / "json"), "json", badRecordsPath=str(bad_dir)))
    ssc.start()
    put(tmp_path / "json", "a.json", 'null\n{"a": 1}\n5\n[1]\n{"a": 2}\n', 0.5)
    clock.advance(1)
    assert [r.a for r in out[0]] == [1, 2]
    lines = sorted(e["line"] for e in bad_records(bad_dir))
    assert lines == [1, 3, 4]
