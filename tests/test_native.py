"""The native columnar API: Polars expressions over each batch, and switching faces."""

import polars as pl
import pyarrow as pa
import pytest
from conftest import run_batches

from dstreams import BatchError, SchemaError

pytestmark = pytest.mark.partitions  # every test on 1, 2 and 3 partitions (conftest)


def word_rows(ssc):
    lines = ssc.queueStream([["a b a", "c"], ["b"], []])
    return lines.select(pl.col("value").str.split(" ")).explode("value")


def test_select_explode_group_by(ssc, clock):
    counts = word_rows(ssc).group_by("value", maintain_order=True).agg(pl.len().alias("n"))
    got = run_batches(ssc, clock, counts, 3)
    assert [[r.asDict() for r in batch] for batch in got] == [
        [{"value": "a", "n": 2}, {"value": "b", "n": 1}, {"value": "c", "n": 1}],
        [{"value": "b", "n": 1}],
        [],
    ]


def test_group_by_len_shortcut(ssc, clock):
    counts = word_rows(ssc).group_by("value", maintain_order=True).len("count")
    got = run_batches(ssc, clock, counts, 1)
    assert [tuple(r) for r in got[0]] == [("a", 2), ("b", 1), ("c", 1)]


def test_filter_with_columns_rename(ssc, clock):
    rows = (
        word_rows(ssc)
        .filter(pl.col("value") != "a")
        .with_columns(upper=pl.col("value").str.to_uppercase())
        .rename({"value": "word"})
    )
    got = run_batches(ssc, clock, rows, 2)
    assert [[r.asDict() for r in b] for b in got] == [
        [{"word": "b", "upper": "B"}, {"word": "c", "upper": "C"}],
        [{"word": "b", "upper": "B"}],
    ]


def test_join_static_arrow_and_polars_tables(ssc, clock):
    names = pa.table({"value": ["a", "b"], "name": ["Ann", "Bob"]})
    scores = pl.DataFrame({"value": ["a", "c"], "score": [1, 3]})
    rows = word_rows(ssc).join(names, on="value", how="left").join(scores, on="value", how="inner")
    got = run_batches(ssc, clock, rows, 2)
    assert [[r.asDict() for r in b] for b in got] == [
        [
            {"value": "a", "name": "Ann", "score": 1},
            {"value": "a", "name": "Ann", "score": 1},
            {"value": "c", "name": None, "score": 3},
        ],
        [],
    ]


def test_join_two_streams_natively(ssc, clock):
    left = ssc.queueStream([pl.DataFrame({"id": [1, 2], "x": ["a", "b"]})])
    right = ssc.queueStream([pl.DataFrame({"id": [2, 3], "y": [20, 30]})])
    got = run_batches(ssc, clock, left.join(right, on="id"), 1)
    assert [r.asDict() for r in got[0]] == [{"id": 2, "x": "b", "y": 20}]


def test_pipe_and_foreach_batch(ssc, clock):
    seen = []
    word_rows(ssc).pipe(lambda lf: lf.unique(maintain_order=True)).foreach_batch(
        lambda t, table: seen.append((t.second, table.to_pydict()))
    )
    ssc.start()
    clock.advance(1)
    clock.advance(1)
    assert seen == [(1, {"value": ["a", "b", "c"]}), (2, {"value": ["b"]})]


def test_switch_faces_both_ways(ssc, clock, both_paths):
    pairs = word_rows(ssc).group_by("value", maintain_order=True).len("n").to_pairs("value", "n")
    doubled = pairs.mapValues(lambda n: n * 2).to_rows().with_columns(pl.col("value") + 1)
    got = run_batches(ssc, clock, doubled, 2)
    assert [[tuple(r) for r in b] for b in got] == [[("a", 5), ("b", 3), ("c", 3)], [("b", 3)]]


def test_spark_stream_exposes_value_column(ssc, clock):
    # A result with a single column named "value" reads as scalars again.
    nums = ssc.queueStream([[1, 2, 3]]).map(lambda x: x * 10).select(pl.col("value").sum())
    assert run_batches(ssc, clock, nums, 1) == [[60]]


def test_bad_expression_fails_batch_with_operator_name(ssc, clock):
    bad = word_rows(ssc).select(pl.col("nope"))
    bad.foreachRDD(lambda rdd: rdd.collect())
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    with pytest.raises(BatchError, match=r"select.*nope"):
        ssc.awaitTerminationOrTimeout(0)


def test_mixed_types_cannot_go_columnar(ssc, clock):
    mixed = ssc.queueStream([[1, "a"]]).select(pl.col("value"))
    mixed.foreachRDD(lambda rdd: rdd.collect())
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    with pytest.raises(BatchError, match="mixed") as info:
        ssc.awaitTerminationOrTimeout(0)
    assert isinstance(info.value.__cause__, SchemaError) or "map(str)" in str(info.value)
