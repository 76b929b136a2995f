"""stream.to_duckdb: one transaction per batch, exactly once under a re-run of the same batch time."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from dstreams import ConfigurationError, ManualClock, SparkContext, StreamingContext
from dstreams.sql import SparkSession
from dstreams.sql.sink import write_batch


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    SparkSession.builder.getOrCreate().stop()


def run(stream_builder, batches: int = 2) -> None:
    """A fresh context on a fresh manual clock: batch times 1000, 2000... every run."""
    clock = ManualClock()
    ssc = StreamingContext(SparkContext("local[1]", "sink"), 1, clock=clock)
    stream_builder(ssc)
    ssc.start()
    for _ in range(batches):
        clock.advance(1)
    ssc.stop()


def rows(db, query):
    con = duckdb.connect(str(db))
    try:
        return con.sql(query).fetchall()
    finally:
        con.close()


def test_append_writes_each_batch_once_even_when_rerun(tmp_path):
    db = tmp_path / "w.duckdb"

    def build(ssc):
        words = ssc.queueStream([["a", "b"], ["c"]])
        words.sql("SELECT value AS word FROM batch").to_duckdb(str(db), "words")

    run(build)
    assert rows(db, "SELECT word FROM words ORDER BY word") == [("a",), ("b",), ("c",)]
    run(build)  # a restart replays the same batch times: nothing is written twice
    assert rows(db, "SELECT word FROM words ORDER BY word") == [("a",), ("b",), ("c",)]
    assert rows(db, "SELECT sink, batch_time, num_rows FROM dstreams_batches ORDER BY batch_time") == [
        ("words", 1000, 2),
        ("words", 2000, 1),
    ]


def test_upsert_replaces_rows_by_key(tmp_path):
    db = tmp_path / "u.duckdb"

    def build(ssc):
        lines = ssc.queueStream([["a b a"], ["b c"]])
        words = lines.flatMap(lambda line: line.split(" "))
        counts = words.sql("SELECT value AS word, count(*) AS n FROM batch GROUP BY value")
        counts.to_duckdb(str(db), "counts", mode="upsert", key="word")

    run(build)
    assert rows(db, "SELECT word, n FROM counts ORDER BY word") == [("a", 2), ("b", 1), ("c", 1)]


def test_last_row_of_a_key_wins_within_a_batch(tmp_path):
    con = duckdb.connect(str(tmp_path / "k.duckdb"))
    data = pa.table({"k": ["a", "a", "b"], "v": [1, 2, 3]})
    assert write_batch(con, "t", data, 1000, mode="upsert", key="k") is True
    assert con.sql("SELECT k, v FROM t ORDER BY k").fetchall() == [("a", 2), ("b", 3)]
    assert write_batch(con, "t", data, 1000, mode="upsert", key="k") is False


def test_a_failed_batch_leaves_nothing_and_is_written_on_rerun(tmp_path):
    con = duckdb.connect(str(tmp_path / "f.duckdb"))
    write_batch(con, "t", pa.table({"n": [1]}), 1000)
    with pytest.raises(duckdb.Error):  # a column the table does not have: the insert fails
        write_batch(con, "t", pa.table({"other": [2]}), 2000)
    assert con.sql("SELECT count(*) FROM dstreams_batches").fetchall() == [(1,)]
    assert write_batch(con, "t", pa.table({"n": [2]}), 2000) is True
    assert con.sql("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (2,)]


def test_empty_batches_are_recorded_without_creating_the_table(tmp_path):
    db = tmp_path / "e.duckdb"
    run(lambda ssc: ssc.queueStream([[]]).to_duckdb(str(db), "nothing"), batches=1)
    assert rows(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'nothing'") == [(0,)]
    assert rows(db, "SELECT batch_time, num_rows FROM dstreams_batches") == [(1000, 0)]


def test_bad_sink_settings(tmp_path):
    s = StreamingContext(1, clock=ManualClock()).queueStream([[1]])
    with pytest.raises(ConfigurationError, match="needs key="):
        s.to_duckdb(str(tmp_path / "x.duckdb"), "t", mode="upsert")
    with pytest.raises(ConfigurationError, match="mode must be"):
        s.to_duckdb(str(tmp_path / "x.duckdb"), "t", mode="merge")
    con = duckdb.connect(str(tmp_path / "y.duckdb"))
    con.execute("CREATE TABLE t (k VARCHAR, v BIGINT)")
    with pytest.raises(ConfigurationError, match="PRIMARY KEY"):
        write_batch(con, "t", pa.table({"k": ["a"], "v": [1]}), 1000, mode="upsert", key="k")
