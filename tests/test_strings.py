"""String columns as ``string``, ``large_string`` and ``string_view``, inside the engine and handed out.

The engine keeps Polars' ``string_view`` (no copy out of Polars); pyarrow 26 has no ``take``,
``filter`` or ``sort_indices`` kernel for it, so the engine never calls those on view columns and
every table given to user code (``toArrow()``, ``foreach_batch``, ``createDataFrame``) has
``large_string`` instead.
"""

from __future__ import annotations

import datetime as dt
import operator

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import run_batches, same_batches

from dstreams import codec

pytestmark = [
    pytest.mark.partitions,
    pytest.mark.filterwarnings(
        "ignore:stateful operators keep their state in memory", "ignore::dstreams.FallbackWarning"
    ),
]

STRING_TYPES = [pa.string(), pa.large_string(), pa.string_view()]


@pytest.fixture(params=STRING_TYPES, ids=str)
def string_type(request) -> pa.DataType:
    return request.param


def pairs_table(keys: list[str], values: list[int], string_type: pa.DataType) -> pa.Table:
    return pa.table({"key": pa.array(keys, string_type), "value": pa.array(values, pa.int64())})


def lines_table(lines: list[str], string_type: pa.DataType) -> pa.Table:
    return pa.table({"value": pa.array(lines, string_type)})


def no_views(table: pa.Table) -> bool:
    return codec.user_table(table) is table


# -- inside the engine: keyed operators spread string keys over partitions ---------------------------


def test_reduce_by_key_over_string_columns(ssc, clock, both_paths, partitions, string_type):
    batches = [
        pairs_table(["b", "a", "b", "c"], [1, 2, 3, 4], string_type),
        pairs_table(["a"], [5], string_type),
    ]
    out = ssc.queueStream(batches).reduceByKey(operator.add)
    want = [[("b", 4), ("a", 2), ("c", 4)], [("a", 5)]]
    assert same_batches(run_batches(ssc, clock, out, 2), want, partitions)


def test_state_and_windows_over_string_keys(ssc, clock, both_paths, partitions, string_type, tmp_path):
    ssc.checkpoint(str(tmp_path))
    batches = [
        pairs_table(["a", "b", "a"], [1, 1, 1], string_type),
        pairs_table(["b", "c"], [1, 1], string_type),
    ]
    pairs = ssc.queueStream(batches)
    totals = pairs.updateStateByKey(lambda vs, st: sum(vs) + (st or 0))
    windowed = pairs.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1)
    got_totals: list = []
    totals.foreachRDD(lambda rdd: got_totals.append(rdd.collect()))
    got = run_batches(ssc, clock, windowed, 2)
    want = [[("a", 2), ("b", 1)], [("a", 2), ("b", 2), ("c", 1)]]
    assert same_batches(got, want, partitions)
    assert same_batches(got_totals, want, partitions)


def test_words_from_lines_of_each_string_type(ssc, clock, both_paths, partitions, string_type):
    lines = ssc.queueStream([lines_table(["a b a", "c"], string_type)])
    counts = lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)).reduceByKey(operator.add)
    assert same_batches(run_batches(ssc, clock, counts, 1), [[("a", 2), ("b", 1), ("c", 1)]], partitions)


def test_union_of_a_python_built_and_a_polars_built_stream(ssc, clock, both_paths, partitions):
    typed = ssc.queueStream([["x y"]]).flatMap(lambda line: line.split(" "))  # string_view when compiled
    plain = ssc.queueStream([lines_table(["z"], pa.string())])
    got = run_batches(ssc, clock, typed.union(plain).map(lambda w: (w, 1)).reduceByKey(operator.add), 1)
    assert same_batches(got, [[("x", 1), ("y", 1), ("z", 1)]], partitions)


def test_late_rows_of_a_string_view_table_are_split_off(ssc, clock, string_type):
    def at(second: int) -> dt.datetime:
        return dt.datetime(2024, 1, 1) + dt.timedelta(seconds=second)

    def events(*rows) -> pa.Table:
        users = pa.array([r[0] for r in rows], string_type)
        return pa.table({"user": users, "ts": pa.array([at(r[1]) for r in rows], pa.timestamp("us"))})

    ev = ssc.queueStream([events(("u", 10), ("v", 20)), events(("w", 1), ("x", 30))]).event_time("ts")
    late: list = []
    ev.late_rows().foreach_batch(lambda t, table: late.append(table.column("user").to_pylist()))
    kept: list = []
    ev.foreach_batch(lambda t, table: kept.append(table.column("user").to_pylist()))
    ssc.start()
    clock.advance(2)
    ssc.stop(stopSparkContext=False)
    assert late == [[], ["w"]]
    assert kept == [["u", "v"], ["x"]]


# -- handed out: pyarrow.compute, pandas and DuckDB work on what users get ----------------------------


def _word_counts(ssc):
    lines = ssc.queueStream([["b a c a"]])
    return lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1)).reduceByKey(operator.add)


def test_to_arrow_has_no_view_columns_and_compute_kernels_work(ssc, clock, both_paths, partitions):
    tables: list = []
    _word_counts(ssc).foreachRDD(lambda rdd: tables.append(rdd.toArrow()))
    run_batches(ssc, clock, ssc.queueStream([[1]]), 1)
    (table,) = tables
    assert table.schema.field("key").type in (pa.string(), pa.large_string())
    ordered = table.take(pc.sort_indices(table, [("key", "ascending")]))
    assert ordered.to_pydict() == {"key": ["a", "b", "c"], "value": [2, 1, 1]}
    assert table.filter(pc.equal(table.column("key"), "a")).column("value").to_pylist() == [2]
    con = duckdb.connect()
    con.register("counts", table)
    assert con.sql("SELECT key FROM counts WHERE value = 2").fetchall() == [("a",)]


def test_to_arrow_works_with_pandas(ssc, clock, partitions):
    pandas = pytest.importorskip("pandas")
    frames: list = []
    _word_counts(ssc).foreachRDD(lambda rdd: frames.append(rdd.toArrow().to_pandas()))
    run_batches(ssc, clock, ssc.queueStream([[1]]), 1)
    (frame,) = frames
    assert isinstance(frame, pandas.DataFrame)
    assert sorted(frame.itertuples(index=False, name=None)) == [("a", 2), ("b", 1), ("c", 1)]


def test_native_foreach_batch_hands_out_large_strings(ssc, clock, string_type):
    rows = (
        ssc.queueStream([lines_table(["a b"], string_type)])
        .select(pl.col("value").str.split(" "))
        .explode("value")
    )
    tables: list = []
    rows.foreach_batch(lambda t, table: tables.append(table))
    ssc.start()
    clock.advance(1)
    ssc.stop(stopSparkContext=False)
    (table,) = tables
    assert no_views(table)
    assert table.take(pc.sort_indices(table, [("value", "descending")])).column("value").to_pylist() == [
        "b",
        "a",
    ]


def test_to_polars_keeps_views_without_a_copy(ssc, clock):
    frames: list = []
    ssc.queueStream([["a b"]]).flatMap(lambda line: line.split(" ")).foreachRDD(
        lambda rdd: frames.append(rdd.toPolars())
    )
    run_batches(ssc, clock, ssc.queueStream([[1]]), 1)
    assert frames[0].get_column("value").to_list() == ["a", "b"]


def test_create_data_frame_and_sql_over_string_view_batches(ssc, clock, partitions):
    from dstreams import Row
    from dstreams.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    shown: list = []

    def process(rdd):
        df = spark.createDataFrame(rdd.map(lambda w: Row(word=w)))
        df.createOrReplaceTempView("words_strings_test")
        counts = spark.sql("SELECT word, count(*) AS n FROM words_strings_test GROUP BY word ORDER BY word")
        shown.append(counts.collect())
        table = df.toArrow()
        assert no_views(table)
        shown.append(table.take(pc.sort_indices(table, [("word", "ascending")])).column("word").to_pylist())

    ssc.queueStream([["b a b"]]).flatMap(lambda line: line.split(" ")).foreachRDD(process)
    run_batches(ssc, clock, ssc.queueStream([[1]]), 1)
    assert [tuple(r) for r in shown[0]] == [("a", 1), ("b", 2)]
    assert shown[1] == ["a", "b", "b"]


def test_create_data_frame_from_polars_hands_out_large_strings():
    from dstreams.sql import SparkSession

    df = SparkSession.builder.getOrCreate().createDataFrame(pl.DataFrame({"w": ["b", "a"]}))
    table = df.toArrow()
    assert table.schema.field("w").type == pa.large_string()
    assert table.sort_by("w").column("w").to_pylist() == ["a", "b"]


# -- the helpers ------------------------------------------------------------------------------------


def test_take_rows_keeps_nested_views_and_marks():
    frame = pl.DataFrame(
        {"a": [["x", "y"], ["z"]], "s": [{"f": "p", "g": 1}, {"f": "q", "g": 2}], "b": [b"1", b"2"]}
    )
    table = codec.mark_tuples(frame.to_arrow(compat_level=pl.CompatLevel.newest()), "s")
    taken = codec.take_rows(table, pa.array([1, 0]))
    assert taken.schema == table.schema  # types (views included) and the tuple mark
    assert taken.column("a").to_pylist() == [["z"], ["x", "y"]]
    assert codec.column_values(taken, "s") == [("q", 2), ("p", 1)]


def test_user_table_casts_views_inside_nested_types():
    table = pl.DataFrame({"a": [["x"]], "m": [{"f": "p"}], "b": [b"1"], "n": [1]}).to_arrow(
        compat_level=pl.CompatLevel.newest()
    )
    out = codec.user_table(table)
    assert out.schema.field("a").type == pa.large_list(pa.large_string())
    assert out.schema.field("m").type == pa.struct([("f", pa.large_string())])
    assert out.schema.field("b").type == pa.large_binary()
    assert out.take([0]).to_pydict() == table.to_pydict()
    plain = pa.table({"s": ["a"]})
    assert codec.user_table(plain) is plain
