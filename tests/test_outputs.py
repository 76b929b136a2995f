"""Output operations: pprint's exact format, foreachRDD, saveAsTextFiles / saveAsParquetFiles."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow.parquet as pq
import pytest

from dstreams import ConfigurationError, ManualClock, SparkContext, StreamingContext
from dstreams.outputs import batch_path, format_pprint, text_parts, to_ms, write_batch_dir

pytestmark = pytest.mark.partitions  # every test on 1, 2 and 3 partitions (conftest)

DASHES = "-" * 43


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000.0)


def _block(ms: int, *lines: str) -> str:
    return "\n".join([DASHES, f"Time: {_at(ms)}", DASHES, *lines, ""]) + "\n"


# -- pprint ----------------------------------------------------------------------------------------------


def test_pprint_exact_format(ssc, clock, capsys, both_paths):
    s = ssc.queueStream([[1, 2, 3], [], ["only"]])
    s.pprint(num=2)
    s.map(lambda x: (x, 1)).pprint()
    ssc.start()
    clock.advance(3)
    assert capsys.readouterr().out == (
        _block(1000, "1", "2", "...")
        + _block(1000, "(1, 1)", "(2, 1)", "(3, 1)")
        + _block(2000)  # empty batches print the header too
        + _block(2000)
        + _block(3000, "only")
        + _block(3000, "('only', 1)")
    )


def test_pprint_default_num_is_ten(ssc, clock, capsys):
    ssc.queueStream([list(range(11)), list(range(10))]).pprint()
    ssc.start()
    clock.advance(2)
    assert capsys.readouterr().out == _block(1000, *map(str, range(10)), "...") + _block(
        2000, *map(str, range(10))
    )


def test_pprint_time_literal(ssc, clock, capsys):
    ssc.queueStream([[1]]).pprint()
    ssc.start()
    clock.advance(1)
    out = capsys.readouterr().out
    assert out.splitlines()[1] == f"Time: {_at(1000)}"
    assert out.splitlines()[1].startswith("Time: 19")  # str(datetime): no " ms", no timezone


def test_pprint_sub_second_batch_time(capsys):
    clock = ManualClock()
    ssc = StreamingContext(SparkContext("local[1]", "pp"), 0.5, clock=clock)
    ssc.queueStream([["a"], ["b"]]).pprint()
    try:
        ssc.start()
        clock.advance(1)
    finally:
        ssc.stop()
    out = capsys.readouterr().out
    assert out == _block(500, "a") + _block(1000, "b")
    assert f"Time: {_at(0)}".split(" ")[1] in out  # the date
    assert out.splitlines()[1].endswith(".500000")
    assert not out.splitlines()[7].endswith(".500000")


def test_pprint_prints_nothing_when_the_parent_has_no_batch(ssc, clock, capsys):
    s = ssc.queueStream([[1], [2], [3]])
    s.transform(lambda rdd: None if rdd.collect() == [2] else rdd).pprint()
    ssc.start()
    clock.advance(3)
    assert capsys.readouterr().out == _block(1000, "1") + _block(3000, "3")


def test_format_pprint_helper():
    assert format_pprint(1500, ["a", "b"], 1) == _block(1500, "a", "...")
    assert format_pprint(1500, [], 3) == _block(1500)


# -- foreachRDD --------------------------------------------------------------------------------------------


def test_foreach_rdd_with_one_or_two_arguments(ssc, clock):
    one, two = [], []
    s = ssc.queueStream([[1, 2], [3]])
    s.foreachRDD(lambda rdd: one.append(rdd.collect()))

    def with_time(time, rdd):
        two.append((time, rdd.collect()))

    s.foreachRDD(with_time)
    ssc.start()
    clock.advance(2)
    assert one == [[1, 2], [3]]
    assert two == [(_at(1000), [1, 2]), (_at(2000), [3])]
    assert all(type(t) is dt.datetime and t.tzinfo is None for t, _ in two)


def test_foreach_rdd_bound_method_counts_without_self(ssc, clock):
    class Sink:
        def __init__(self):
            self.got = []

        def write(self, time, rdd):
            self.got.append((time, rdd.count()))

    sink = Sink()
    ssc.queueStream([[1, 2]]).foreachRDD(sink.write)
    ssc.start()
    clock.advance(1)
    assert sink.got == [(_at(1000), 2)]


def test_foreach_rdd_rejects_other_arities(ssc):
    with pytest.raises(ConfigurationError, match="one or two arguments"):
        ssc.queueStream([[1]]).foreachRDD(lambda a, b, c: None)


# -- saveAsTextFiles ---------------------------------------------------------------------------------------


def _listing(root) -> dict[str, list[str]]:
    return {d: sorted(os.listdir(root / d)) for d in sorted(os.listdir(root))}


def test_save_as_text_files_layout(ssc, clock, tmp_path, partitions):
    sc = ssc.sparkContext
    s = ssc.queueStream([sc.parallelize([("a", 1), ("b", 2), ("c", 3)], 2), [], ["é", b"raw"]])
    s.saveAsTextFiles(str(tmp_path / "out"))
    s.saveAsTextFiles(str(tmp_path / "sfx"), "txt")
    ssc.start()
    clock.advance(3)
    two = ["_SUCCESS", "part-00000", "part-00001"]
    each = ["_SUCCESS"] + [f"part-{i:05d}" for i in range(partitions)]  # a plain list: one per core
    assert _listing(tmp_path) == {
        "out-1000": two,
        "out-2000": each,  # empty batches are written too
        "out-3000": each,
        "sfx-1000.txt": two,
        "sfx-2000.txt": each,
        "sfx-3000.txt": each,
    }
    assert (tmp_path / "out-1000" / "part-00000").read_text() == "('a', 1)\n"
    assert (tmp_path / "out-1000" / "part-00001").read_text() == "('b', 2)\n('c', 3)\n"
    assert (tmp_path / "out-2000" / "part-00000").read_bytes() == b""
    last = [(tmp_path / "out-3000" / f"part-{i:05d}").read_bytes() for i in range(partitions)]
    assert (
        last
        == {1: ["é\nraw\n".encode()], 2: ["é\n".encode(), b"raw\n"], 3: [b"", "é\n".encode(), b"raw\n"]}[
            partitions
        ]
    )
    assert (tmp_path / "out-1000" / "_SUCCESS").read_bytes() == b""


def test_save_as_text_files_is_idempotent_per_batch_time(ssc, clock, tmp_path):
    s = ssc.queueStream([[1, 2], [3]])
    ssc.remember(10)  # keep the batches so that the output can run again for the same time
    s.saveAsTextFiles(str(tmp_path / "out"))
    ssc.start()
    clock.advance(2)
    output = ssc._graph.outputs[0]
    before = _listing(tmp_path)
    assert output._run(1000) is True  # the same batch time again (as after a recovery)
    assert output._run(1000) is True
    assert _listing(tmp_path) == before  # one copy, no leftover temporary directory
    parts = sorted(p for p in os.listdir(tmp_path / "out-1000") if p.startswith("part-"))
    assert "".join((tmp_path / "out-1000" / p).read_text() for p in parts) == "1\n2\n"


def test_write_batch_dir_is_atomic_and_keeps_the_first_copy(tmp_path):
    path = str(tmp_path / "out-1000")
    assert write_batch_dir(path, text_parts([[1]])) is True
    assert write_batch_dir(path, text_parts([[2]])) is False
    assert (tmp_path / "out-1000" / "part-00000").read_text() == "1\n"

    def broken(directory):
        text_parts([[1, 2]])(directory)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_batch_dir(str(tmp_path / "out-2000"), broken)
    assert sorted(os.listdir(tmp_path)) == ["out-1000"]  # nothing half-written is visible


def test_batch_path_and_to_ms():
    assert batch_path("spark", None, 12345678910) == "spark-12345678910"
    assert batch_path("spark", "tmp", 12345678910) == "spark-12345678910.tmp"
    assert to_ms(_at(1500)) == 1500
    assert to_ms(2.5) == 2500


# -- saveAsParquetFiles -------------------------------------------------------------------------------------


def test_save_as_parquet_files(ssc, clock, tmp_path):
    s = ssc.queueStream([[("a", 1), ("b", 2)], []])
    s.saveAsParquetFiles(str(tmp_path / "pq"))
    ssc.start()
    clock.advance(2)
    assert _listing(tmp_path) == {
        "pq-1000": ["_SUCCESS", "part-00000.parquet"],
        "pq-2000": ["_SUCCESS", "part-00000.parquet"],
    }
    table = pq.read_table(tmp_path / "pq-1000" / "part-00000.parquet")
    assert table.column_names == ["key", "value"]
    assert table.to_pylist() == [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert pq.read_table(tmp_path / "pq-2000" / "part-00000.parquet").num_rows == 0


# -- window validation ---------------------------------------------------------------------------------------


def test_window_and_slide_must_be_multiples_of_the_batch_interval(ssc):
    s = ssc.queueStream([[1]])
    message = r"windowDuration must be multiple of the parent dstream's slide \(batch\) duration \(1000 ms\)"
    with pytest.raises(ValueError, match=message):
        s.window(1.5, 1)
    message = r"slideDuration must be multiple of the parent dstream's slide \(batch\) duration \(1000 ms\)"
    with pytest.raises(ValueError, match=message):
        s.window(2, 0.5)
    windowed = s.window(4, 2)
    with pytest.raises(ValueError, match=r"\(2000 ms\)"):
        windowed.window(3, 2)
