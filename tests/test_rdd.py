"""The RDD methods that transform/foreachRDD functions use, with PySpark's semantics, on both paths."""

from __future__ import annotations

import operator

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstreams import SchemaError, SparkConf, SparkContext, ops
from dstreams.batch import set_compilation

pytestmark = pytest.mark.partitions  # every test on 1, 2 and 3 cores (conftest)


@pytest.fixture
def sc(partitions):
    context = SparkContext(f"local[{partitions}]", "rdd-tests")
    yield context
    context.stop()


# -- actions ---------------------------------------------------------------------------------------


def test_collect_take_first(sc, both_paths):
    rdd = sc.parallelize(range(10), 3)
    assert rdd.collect() == list(range(10))
    assert rdd.take(4) == [0, 1, 2, 3]  # across partitions, in order
    assert rdd.take(0) == [] and rdd.take(-1) == []
    assert rdd.take(50) == list(range(10))
    assert rdd.first() == 0
    assert rdd.map(lambda x: x * 3).filter(lambda x: x > 10).first() == 12


def test_first_of_an_empty_rdd_raises(sc):
    with pytest.raises(ValueError, match="RDD is empty"):
        sc.parallelize([]).first()


def test_count_and_isEmpty(sc, both_paths):
    assert sc.parallelize([1, 2, 3], 2).count() == 3
    assert not sc.parallelize([1]).isEmpty()
    assert sc.parallelize([]).isEmpty() and sc.parallelize([]).count() == 0
    assert sc.emptyRDD().isEmpty() and sc.emptyRDD().count() == 0
    assert sc.parallelize([1, 2]).filter(lambda x: x > 5).isEmpty()


def test_reduce_and_small_actions(sc, both_paths):
    rdd = sc.parallelize([3, 1, 2], 2)
    assert rdd.reduce(operator.add) == 6
    assert rdd.sum() == 6 and rdd.max() == 3 and rdd.min() == 1
    assert rdd.countByValue() == {3: 1, 1: 1, 2: 1}
    with pytest.raises(ValueError, match="empty"):
        sc.parallelize([]).reduce(operator.add)
    assert sc.parallelize([("a", 1), ("b", 2), ("a", 3)]).collectAsMap() == {"a": 3, "b": 2}
    seen = []
    rdd.foreach(seen.append)
    assert seen == [3, 1, 2]


# -- element-wise ------------------------------------------------------------------------------------


def test_map_flatMap_filter(sc, both_paths):
    rdd = sc.parallelize(["a b", "", "c"], 2)
    assert rdd.map(len).collect() == [3, 0, 1]
    assert rdd.flatMap(lambda s: s.split(" ")).collect() == ["a", "b", "", "c"]
    assert rdd.filter(lambda s: s).collect() == ["a b", "c"]
    assert rdd.map(lambda s: (s, len(s))).glom().collect() == [[("a b", 3)], [("", 0), ("c", 1)]]


def test_keys_values_mapValues_flatMapValues_keyBy(sc, both_paths):
    rdd = sc.parallelize([("a", 1), ("b", 2), ("a", 3)])
    assert rdd.keys().collect() == ["a", "b", "a"]
    assert rdd.values().collect() == [1, 2, 3]
    assert rdd.mapValues(lambda v: v * 10).collect() == [("a", 10), ("b", 20), ("a", 30)]
    assert rdd.flatMapValues(lambda v: range(v - 1)).collect() == [("b", 0), ("a", 0), ("a", 1)]
    assert sc.parallelize(["ab", "c"]).keyBy(len).collect() == [(2, "ab"), (1, "c")]


def test_keys_and_values_of_python_objects_stay_exact(sc, both_paths):
    rdd = sc.parallelize([((1, 2), {1, 2}), (("x",), 2**70)])
    assert rdd.keys().collect() == [(1, 2), ("x",)]
    assert rdd.values().collect() == [{1, 2}, 2**70]
    mixed = sc.parallelize([(1, "a"), ("b", 2)])
    assert mixed.keys().collect() == [1, "b"] and mixed.values().collect() == ["a", 2]


def test_glom_and_getNumPartitions(sc, both_paths):
    assert sc.parallelize(range(5), 2).glom().collect() == [[0, 1], [2, 3, 4]]
    assert sc.parallelize([1], 3).glom().collect() == [[], [], [1]]
    assert sc.parallelize([], 2).glom().collect() == [[], []]
    assert sc.emptyRDD().glom().collect() == []
    assert sc.emptyRDD().getNumPartitions() == 0
    assert sc.parallelize(range(5), 4).getNumPartitions() == 4
    assert sc.parallelize(range(5), 4).map(str).getNumPartitions() == 4


def test_mapPartitions_and_mapPartitionsWithIndex(sc, both_paths):
    rdd = sc.parallelize(range(6), 3)
    assert rdd.mapPartitions(lambda it: [sum(it)]).collect() == [1, 5, 9]
    assert rdd.mapPartitionsWithIndex(lambda i, it: [i * 100 + x for x in it]).collect() == [
        0,
        1,
        102,
        103,
        204,
        205,
    ]


# -- keyed aggregations ----------------------------------------------------------------------------


def test_reduceByKey_and_groupByKey(sc, both_paths):
    rdd = sc.parallelize([("b", 1), ("a", 2), ("b", 3)], 1)  # one slice: PySpark's order is defined
    assert rdd.reduceByKey(operator.add).collect() == [("b", 4), ("a", 2)]
    assert rdd.groupByKey().mapValues(list).collect() == [("b", [1, 3]), ("a", [2])]
    assert rdd.combineByKey(str, lambda c, v: c + str(v), operator.add).collect() == [("b", "13"), ("a", "2")]


def test_keyed_aggregations_default_to_the_input_partition_count(sc, both_paths):
    # PySpark without spark.default.parallelism: as many partitions as the input; ints by k % n
    rdd = sc.parallelize([(1, "a"), (2, "b"), (3, "c"), (1, "d")], 2)
    assert rdd.reduceByKey(operator.add).glom().collect() == [[(2, "b")], [(1, "ad"), (3, "c")]]
    assert rdd.groupByKey().mapValues(list).glom().collect() == [[(2, ["b"])], [(1, ["a", "d"]), (3, ["c"])]]
    assert rdd.reduceByKey(operator.add, 1).collect() == [(1, "ad"), (2, "b"), (3, "c")]


def test_spark_default_parallelism_sets_the_reduce_partitions(both_paths):
    conf = SparkConf().set("spark.default.parallelism", "1")
    with SparkContext(conf=conf) as sc:
        rdd = sc.parallelize([(1, "a"), (2, "b"), (1, "c")], 2)  # numSlices given: 2 partitions
        assert rdd.reduceByKey(operator.add).glom().collect() == [[(1, "ac"), (2, "b")]]
        assert rdd.join(rdd).getNumPartitions() == 1
        assert rdd.distinct().getNumPartitions() == 1


def test_distinct(sc, both_paths):
    assert sc.parallelize(["b", "a", "b", "c", "a"], 1).distinct().collect() == ["b", "a", "c"]
    assert sc.parallelize([3, 1, 3, 2, 1], 2).distinct().glom().collect() == [[2], [3, 1]]
    assert sc.parallelize([("a", 1), ("a", 1), ("a", 2)], 1).distinct().collect() == [("a", 1), ("a", 2)]
    assert sc.parallelize([None, 1, None], 1).distinct().collect() == [None, 1]
    assert sc.parallelize([1, True, 1.0, "1"], 1).distinct().collect() == [1, "1"]


def test_sortByKey_and_sortBy(sc, both_paths):
    rdd = sc.parallelize([("b", 1), ("c", 2), ("a", 3), ("b", 0)], 2)
    assert rdd.sortByKey(numPartitions=1).collect() == [("a", 3), ("b", 1), ("b", 0), ("c", 2)]
    assert rdd.sortByKey(False, 1).collect() == [("c", 2), ("b", 1), ("b", 0), ("a", 3)]
    assert rdd.sortByKey(keyfunc=lambda k: {"a": 3, "b": 1, "c": 2}[k]).keys().collect() == [
        "b",
        "b",
        "c",
        "a",
    ]
    # range partitions: contiguous slices of the sorted keys
    assert rdd.sortByKey().glom().collect() == [[("a", 3), ("b", 1)], [("b", 0), ("c", 2)]]
    assert sc.parallelize([3, 1, 2]).sortBy(lambda x: -x).collect() == [3, 2, 1]
    assert sc.parallelize(["bb", "a", "ccc"]).sortBy(len, ascending=False).collect() == ["ccc", "bb", "a"]


def test_partitionBy_and_repartition(sc, both_paths):
    rdd = sc.parallelize([(1, "a"), (2, "b"), (3, "c"), (4, "d")])
    assert rdd.partitionBy(2).glom().collect() == [[(2, "b"), (4, "d")], [(1, "a"), (3, "c")]]
    assert rdd.partitionBy(3, lambda k: 0).glom().collect() == [rdd.collect(), [], []]
    assert rdd.repartition(3).glom().collect() == [[(1, "a")], [(2, "b")], [(3, "c"), (4, "d")]]
    assert rdd.repartition(3).getNumPartitions() == 3
    assert rdd.coalesce(1).getNumPartitions() == 1


# -- several RDDs ----------------------------------------------------------------------------------


def test_union(sc, both_paths):
    a = sc.parallelize([1, 2, 3], 2)
    b = sc.parallelize(["x"], 1)
    assert a.union(b).collect() == [1, 2, 3, "x"]
    assert a.union(b).glom().collect() == [[1], [2, 3], ["x"]]
    assert a.union(sc.emptyRDD()).getNumPartitions() == 2
    assert sc.union([a, b, a]).collect() == [1, 2, 3, "x", 1, 2, 3]


def test_cartesian(sc, both_paths):
    a = sc.parallelize([1, 2], 2)
    b = sc.parallelize(["x", "y"], 1)
    assert a.cartesian(b).collect() == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]
    assert a.cartesian(b).getNumPartitions() == 2
    assert a.cartesian(sc.emptyRDD()).getNumPartitions() == 0
    assert a.cartesian(sc.parallelize([], 3)).glom().collect() == [[]] * 6


JOIN_LEFT = [("a", 1), ("b", 2), ("a", 3)]
JOIN_RIGHT = [("c", 9), ("a", 8), ("a", 7)]


def test_joins(sc, both_paths):
    a, b = sc.parallelize(JOIN_LEFT), sc.parallelize(JOIN_RIGHT)
    inner = [("a", (1, 8)), ("a", (1, 7)), ("a", (3, 8)), ("a", (3, 7))]
    assert a.join(b, 1).collect() == inner
    assert a.leftOuterJoin(b, 1).collect() == [*inner, ("b", (2, None))]
    assert a.rightOuterJoin(b, 1).collect() == [*inner, ("c", (None, 9))]
    assert a.fullOuterJoin(b, 1).collect() == [*inner, ("b", (2, None)), ("c", (None, 9))]
    assert a.cogroup(b, 1).mapValues(lambda vw: tuple(map(list, vw))).collect() == [
        ("a", ([1, 3], [8, 7])),
        ("b", ([2], [])),
        ("c", ([], [9])),
    ]


def test_join_default_partitions_are_both_inputs_together(sc, both_paths):
    a = sc.parallelize([(1, "x"), (2, "y")], 1)
    b = sc.parallelize([(2, "Y"), (1, "X")], 1)
    joined = a.join(b)
    assert joined.getNumPartitions() == 2
    assert joined.glom().collect() == [[(2, ("y", "Y"))], [(1, ("x", "X"))]]


def test_joins_with_an_empty_side(sc, both_paths):
    a = sc.parallelize([("a", 1), ("b", 2), ("a", 3)])
    for empty in (sc.emptyRDD(), sc.parallelize([])):
        assert a.join(empty, 1).collect() == []
        assert a.leftOuterJoin(empty, 1).collect() == [("a", (1, None)), ("a", (3, None)), ("b", (2, None))]
        assert empty.rightOuterJoin(a, 1).collect() == [("a", (None, 1)), ("a", (None, 3)), ("b", (None, 2))]
        assert empty.fullOuterJoin(empty, 1).collect() == []
        assert empty.cogroup(a, 1).mapValues(lambda vw: tuple(map(list, vw))).collect() == [
            ("a", ([], [1, 3])),
            ("b", ([], [2])),
        ]


def test_joins_compare_keys_as_python_does(sc, both_paths):
    ints = sc.parallelize([(1, "int"), (2, "int")])
    others = sc.parallelize([(1.0, "float"), (True, "bool"), ("2", "str")])
    assert ints.join(others, 1).collect() == [(1, ("int", "float")), (1, ("int", "bool"))]
    nones = sc.parallelize([(None, 1), ("a", 2)])
    assert nones.join(nones, 1).collect() == [(None, (1, 1)), ("a", (2, 2))]


def test_compiled_joins_run_in_polars(sc, monkeypatch):
    old = set_compilation(True)
    try:

        def python_form(*args):
            raise AssertionError("the Python form ran")

        monkeypatch.setattr(ops, "cogroup_elements", python_form)
        a = sc.parallelize([("a", 1), ("b", 2), ("a", 3)], 2)
        b = sc.parallelize([("a", "x"), ("c", "y")])
        assert a.fullOuterJoin(b, 1).collect() == [
            ("a", (1, "x")),
            ("a", (3, "x")),
            ("b", (2, None)),
            ("c", (None, "y")),
        ]
        assert a.cogroup(b, 1).collect() == [("a", ([1, 3], ["x"])), ("b", ([2], [])), ("c", ([], ["y"]))]
        table = a.join(b, 1).toArrow()
        # joined in Polars (string_view inside), handed out as large_string (see RDD.toArrow)
        assert table.schema.field("value").type == pa.struct([("_0", pa.int64()), ("_1", pa.large_string())])
    finally:
        set_compilation(old)


# -- exactness: compiled and Python forms agree -------------------------------------------------------

_keys = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "", "é"]), st.none())


def _both_ways(build):
    results = []
    for compiled in (True, False):
        old = set_compilation(compiled)
        try:
            results.append(build())
        finally:
            set_compilation(old)
    return results


def _typed(x):
    """Values with their types, so 1 and 1.0 and True differ; nan equals nan."""
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_typed(v) for v in x])
    return (type(x).__name__, repr(x))


@settings(max_examples=60, deadline=None)
@given(
    keys=st.sampled_from([st.integers(-3, 3), st.sampled_from(["a", "b", "é"])]),
    values=st.data(),
    how=st.sampled_from(["join", "leftOuterJoin", "rightOuterJoin", "fullOuterJoin", "cogroup"]),
    n=st.integers(1, 3),
    slices=st.integers(1, 3),
)
def test_compiled_and_python_joins_agree(keys, values, how, n, slices):
    sc = SparkContext.getOrCreate()
    value_type = values.draw(st.sampled_from([st.integers(-5, 5), st.text(max_size=2), st.floats()]))
    pairs = st.lists(st.tuples(keys, st.one_of(value_type, st.none())), max_size=6)
    left, right = values.draw(pairs), values.draw(pairs)

    def build():
        a, b = sc.parallelize(left, slices), sc.parallelize(right)
        return _typed(getattr(a, how)(b, n).glom().collect())

    compiled, python = _both_ways(build)
    assert compiled == python


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(_keys, st.integers(-5, 5)), max_size=8),
    n=st.integers(1, 3),
    slices=st.integers(1, 3),
)
def test_compiled_and_python_aggregations_agree(data, n, slices):
    sc = SparkContext.getOrCreate()

    def build():
        rdd = sc.parallelize(data, slices)
        return _typed(
            [
                rdd.reduceByKey(operator.add, n).glom().collect(),
                rdd.groupByKey(n).mapValues(list).glom().collect(),
                rdd.keys().distinct(n).glom().collect(),
                rdd.distinct(1).collect(),
                rdd.keys().countByValue(),
                rdd.values().reduce(operator.add) if data else None,
            ]
        )

    compiled, python = _both_ways(build)
    assert compiled == python


# -- conversions ---------------------------------------------------------------------------------------


def test_toArrow(sc, both_paths):
    table = sc.parallelize([("a", 1), ("b", 2)], 2).toArrow()
    assert table.column_names == ["key", "value"]  # no hidden partition column
    assert table.column("value").to_pylist() == [1, 2]
    assert sc.parallelize([1.5]).toArrow().schema.field("value").type == pa.float64()
    assert sc.emptyRDD().toArrow().num_rows == 0


def test_toPolars(sc, both_paths):
    df = sc.parallelize([("a", 1), ("b", 2)], 2).map(lambda kv: (kv[0], kv[1] * 2)).toPolars()
    assert df.to_dicts() == [{"key": "a", "value": 2}, {"key": "b", "value": 4}]
    joined = sc.parallelize([("a", 1)]).join(sc.parallelize([("a", "x")])).toPolars()
    assert joined.schema["value"] == pl.Struct({"_0": pl.Int64, "_1": pl.String})
    assert joined.row(0) == ("a", {"_0": 1, "_1": "x"})


def test_toPolars_refuses_mixed_types_and_names_the_column(sc):
    with pytest.raises(SchemaError, match=r"column 'value'.*toPolars\(\).*one type"):
        sc.parallelize([1, "a"]).toPolars()


def test_cache_persist_unpersist_return_the_rdd(sc):
    from dstreams import StorageLevel

    rdd = sc.parallelize([1, 2]).map(lambda x: x + 1)
    assert rdd.cache() is rdd and rdd.persist(StorageLevel.MEMORY_ONLY) is rdd and rdd.unpersist() is rdd
    assert rdd.collect() == [2, 3]
