"""Stream-level SQL: stream.sql, windows, several streams in one query, errors with batch time."""

from __future__ import annotations

import logging

import polars as pl
import pyarrow as pa
import pytest
from conftest import run_batches

from dstreams import BatchError, ConfigurationError, Row
from dstreams.sql import ParseException, SparkSession
from dstreams.sql.stream import PreparedQuery


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    SparkSession.builder.getOrCreate().stop()


def sorted_batches(batches):
    return [sorted(b) for b in batches]


def test_word_count_per_batch(ssc, clock, both_paths):
    words = ssc.queueStream([["a b a"], ["c"], []]).flatMap(lambda line: line.split(" "))
    counts = words.sql("SELECT value AS word, count(*) AS n FROM batch GROUP BY value ORDER BY word")
    assert run_batches(ssc, clock, counts, 3) == [
        [Row(word="a", n=2), Row(word="b", n=1)],
        [Row(word="c", n=1)],
        [],
    ]


def test_result_layout_follows_the_columns(ssc, clock):
    words = ssc.queueStream([["a", "b", "a"]])
    pairs = words.sql("SELECT value AS key, count(*) AS value FROM batch GROUP BY value ORDER BY key")
    scalars = words.sql("SELECT upper(value) AS value FROM batch")
    got = []
    scalars.foreachRDD(lambda rdd: got.append(rdd.collect()))
    assert run_batches(ssc, clock, pairs.reduceByKey(lambda a, b: a + b), 1) == [[("a", 2), ("b", 1)]]
    assert got == [["A", "B", "A"]]


def test_pair_and_column_streams(ssc, clock):
    pairs = ssc.queueStream([[("a", 1), ("b", 2)]])
    events = ssc.queueStream([pl.DataFrame({"user": ["u1", "u2"], "amount": [3.0, 4.5]})])
    a = pairs.sql("SELECT key, value * 10 AS value FROM batch")
    b = events.sql("SELECT sum(amount) AS total FROM events", name="events")
    out = []
    b.foreachRDD(lambda rdd: out.append(rdd.collect()))
    assert run_batches(ssc, clock, a, 1) == [[("a", 10), ("b", 20)]]
    assert out == [[Row(total=7.5)]]


def test_window_sql(ssc, clock):
    nums = ssc.queueStream([[1, 2], [3], [4]])
    sums = nums.window(2, 1).sql("SELECT sum(value) AS value FROM batch")
    assert run_batches(ssc, clock, sums, 4) == [[3], [6], [7], [4]]


def test_several_streams_in_one_query(ssc, clock):
    clicks = ssc.queueStream(
        [pa.table({"id": [1, 2, 3], "page": ["a", "b", "c"]}), pa.table({"id": [4], "page": ["d"]})]
    )
    views = ssc.queueStream([pa.table({"id": [2, 3], "secs": [10, 20]}), pa.table({"id": [9], "secs": [1]})])
    joined = ssc.sql(
        "SELECT id, page, secs FROM clicks JOIN views USING (id) ORDER BY id", clicks=clicks, views=views
    )
    assert run_batches(ssc, clock, joined, 3) == [
        [Row(id=2, page="b", secs=10), Row(id=3, page="c", secs=20)],
        [],
        [],  # both queues drained: empty batches keep the columns the query binds to
    ]


def test_relation_is_prepared_once_and_rebound(ssc, clock, monkeypatch):
    built = []
    original = PreparedQuery.run

    def counting(self, tables):
        built.append(self._rel is None)
        return original(self, tables)

    monkeypatch.setattr(PreparedQuery, "run", counting)
    counts = ssc.queueStream([["a"], ["b", "b"], ["c"]]).sql("SELECT count(*) AS value FROM batch")
    assert run_batches(ssc, clock, counts, 3) == [[1], [2], [1]]
    assert built == [True, False, False]


def test_batches_go_to_duckdb_as_they_are(ssc, clock, monkeypatch):
    """The batch's own Arrow table (string_view included) is registered: no conversion, no copy."""
    table = pa.table({"w": pa.array(["a", "b", "a"], pa.string_view()), "n": pa.array([1, 2, 3], pa.int64())})
    handed = []
    original = PreparedQuery.run

    def spy(self, tables):
        handed.extend(tables)
        return original(self, tables)

    monkeypatch.setattr(PreparedQuery, "run", spy)
    s = ssc.queueStream([table]).sql("SELECT w, sum(n) AS n FROM batch GROUP BY w ORDER BY w")
    assert run_batches(ssc, clock, s, 1) == [[Row(w="a", n=4), Row(w="b", n=2)]]
    assert handed[0] is table


# -- errors ----------------------------------------------------------------------------------------
def test_syntax_error_raises_when_the_stream_is_defined(ssc):
    s = ssc.queueStream([["a"]])
    with pytest.raises(ParseException, match="syntax error") as info:
        s.sql("SELEC value FROM batch")
    assert "SELEC value FROM batch" in str(info.value)
    with pytest.raises(ParseException, match="one SELECT"):
        s.sql("SELECT 1; SELECT 2")
    with pytest.raises(ParseException, match="one SELECT"):
        s.sql("CREATE TABLE t (a INT)")


def _failing(ssc, clock, query, data, caplog):
    stream = ssc.queueStream([data]).sql(query)
    stream.foreachRDD(lambda rdd: rdd.collect())
    ssc.start()
    with caplog.at_level(logging.ERROR, logger="dstreams"):
        try:
            clock.advance(1)
        except BatchError:
            pass  # the test checks it through ssc.awaitTermination*, which raises it again
    with pytest.raises(BatchError) as info:
        ssc.awaitTerminationOrTimeout(0)
    ssc.stop(stopSparkContext=False)
    return info.value


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("SELECT wrd FROM batch", 'column "wrd" not found'),
        ("SELECT value + 1 AS n FROM batch", "No function matches"),
        ("SELECT CAST(value AS INTEGER) AS n FROM batch", "Could not convert"),
        ("SELECT * FROM batch JOIN missing_table USING (value)", "missing_table"),
    ],
)
def test_query_errors_name_the_batch_time_and_query(ssc, clock, caplog, query, complaint):
    error = _failing(ssc, clock, query, ["x"], caplog)
    text = str(error)
    assert complaint in text
    assert "1970-01-01" in text and "(1000 ms)" in text
    assert f"query: {query}" in text
    assert "batch(value: string)" in text
    assert error.batch_time == 1000


def test_python_objects_are_refused_with_advice(ssc, clock, caplog):
    error = _failing(ssc, clock, "SELECT * FROM batch", [1, "a"], caplog)
    assert "make each column one type" in str(error)


def test_bad_definitions(ssc):
    a = ssc.queueStream([[1]])
    with pytest.raises(ConfigurationError, match="by name"):
        ssc.sql("SELECT 1")
    with pytest.raises(ConfigurationError, match="same slide"):
        ssc.sql("SELECT * FROM a JOIN b USING (value)", a=a, b=a.window(2, 2))
    with pytest.raises(ConfigurationError, match="plain identifier"):
        a.sql("SELECT 1", name="no good")
