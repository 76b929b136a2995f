"""Every DStream operator, batch by batch, on both execution paths, against PySpark's semantics.

The context runs with default parallelism 1 (as PySpark's test harness), so operators that shuffle
emit one partition with keys in order of first appearance. Multi-partition inputs are queued as
``sc.parallelize(data, n)``, which slices ``data[i*len//n:(i+1)*len//n]`` as Spark does.
"""

from __future__ import annotations

import operator

import polars as pl
import pytest
from conftest import run_batches, same_batches

from dstreams import BatchError, SchemaError, StorageLevel

pytestmark = pytest.mark.partitions  # every test on 1, 2 and 3 partitions (conftest)


def parts(ssc, data, n):
    return ssc.sparkContext.parallelize(data, n)


def run_glom(ssc, clock, stream, n):
    """Per batch: the elements of each partition (``glom().collect()``)."""
    return run_batches(ssc, clock, stream.glom(), n)


def run_partition_counts(ssc, clock, stream, n):
    out = []
    stream.foreachRDD(lambda rdd: out.append(rdd.getNumPartitions()))
    ssc.start()
    for _ in range(n):
        clock.advance(1)
    ssc.stop(stopSparkContext=False)
    return out


# -- element-wise --------------------------------------------------------------------------------


def test_map(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3], [4], []]).map(lambda x: x * 2)
    assert run_batches(ssc, clock, s, 4) == [[2, 4, 6], [8], [], []]


def test_map_to_pairs_triples_and_mixed_types(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2], [3]])
    got: dict[str, list] = {"pairs": [], "triples": [], "mixed": []}
    s.map(lambda x: (x, str(x))).foreachRDD(lambda rdd: got["pairs"].append(rdd.collect()))
    s.map(lambda x: (x, x, x)).foreachRDD(lambda rdd: got["triples"].append(rdd.collect()))
    s.map(lambda x: x if x % 2 else str(x)).foreachRDD(lambda rdd: got["mixed"].append(rdd.collect()))
    ssc.start()
    clock.advance(1)
    clock.advance(1)
    assert got == {
        "pairs": [[(1, "1"), (2, "2")], [(3, "3")]],
        "triples": [[(1, 1, 1), (2, 2, 2)], [(3, 3, 3)]],
        "mixed": [[1, "2"], [3]],
    }
    assert type(got["mixed"][0][0]) is int


def test_map_keeps_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, [1, 2, 3, 4, 5], 3)]).map(lambda x: x + 1)
    assert run_glom(ssc, clock, s, 2) == [[[2], [3, 4], [5, 6]], [[]]]


def test_flatMap(ssc, clock, both_paths):
    s = ssc.queueStream([["a b", "c"], [""], ["x  y"]]).flatMap(lambda line: line.split(" "))
    assert run_batches(ssc, clock, s, 3) == [["a", "b", "c"], [""], ["x", "", "y"]]


def test_flatMap_to_nothing_and_to_pairs(ssc, clock, both_paths):
    s = ssc.queueStream([[0, 2, 1]]).flatMap(lambda n: [(n, i) for i in range(n)])
    assert run_batches(ssc, clock, s, 1) == [[(2, 0), (2, 1), (1, 0)]]


def test_flatMap_over_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, [1, 2, 3], 2)]).flatMap(lambda x: [x] * x)
    assert run_glom(ssc, clock, s, 1) == [[[1], [2, 2, 3, 3, 3]]]


def test_filter(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3, 4], [1], []]).filter(lambda x: x % 2 == 0)
    assert run_batches(ssc, clock, s, 3) == [[2, 4], [], []]


def test_filter_over_nulls_and_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, [1, None, 3, None], 2)]).filter(lambda x: x is not None)
    assert run_glom(ssc, clock, s, 1) == [[[1], [3]]]


def test_mapPartitions(ssc, clock, both_paths, partitions):
    s = ssc.queueStream([parts(ssc, list(range(7)), 3), [5, 6], []])
    out = s.mapPartitions(lambda it: [sum(it)])
    # 7 elements in 3 slices: [0, 1], [2, 3], [4, 5, 6]; plain lists are cut into
    # defaultParallelism slices (PySpark 4.3: [5, 6] on local[3] is [], [5], [6])
    later = {1: [[11], [0]], 2: [[5, 6], [0, 0]], 3: [[0, 5, 6], [0, 0, 0]]}[partitions]
    assert run_batches(ssc, clock, out, 3) == [[1, 5, 15], *later]


def test_mapPartitions_may_return_a_generator_or_nothing(ssc, clock, both_paths):
    def evens(it):
        for x in it:
            if x % 2 == 0:
                yield x

    s = ssc.queueStream([parts(ssc, [1, 2, 3, 4], 2)])
    got_evens, got_none = [], []
    s.mapPartitions(evens).foreachRDD(lambda rdd: got_evens.append(rdd.glom().collect()))
    s.mapPartitions(lambda it: None).foreachRDD(lambda rdd: got_none.append(rdd.collect()))
    ssc.start()
    clock.advance(1)
    assert got_evens == [[[2], [4]]]
    assert got_none == [[]]


def test_mapPartitionsWithIndex(ssc, clock, both_paths, partitions):
    s = ssc.queueStream([parts(ssc, ["a", "b", "c"], 3), ["d"]])
    out = s.mapPartitionsWithIndex(lambda i, it: [(i, x) for x in it])
    # one element in n slices is in the last one
    assert run_batches(ssc, clock, out, 2) == [[(0, "a"), (1, "b"), (2, "c")], [(partitions - 1, "d")]]


def test_glom(ssc, clock, both_paths, partitions):
    sc = ssc.sparkContext
    s = ssc.queueStream([parts(ssc, [1, 2, 3, 4, 5], 2), [6], sc.emptyRDD()])
    # the exhausted queue gives one empty partition; emptyRDD() has none
    six = [[]] * (partitions - 1) + [[6]]
    assert run_batches(ssc, clock, s.glom(), 4) == [[[1, 2], [3, 4, 5]], six, [], [[]]]


def test_parallelize_slicing_shows_in_partition_counts(ssc, clock, both_paths, partitions):
    sc = ssc.sparkContext
    s = ssc.queueStream([parts(ssc, [1, 2], 4), [1], sc.emptyRDD()])
    assert run_partition_counts(ssc, clock, s, 4) == [4, partitions, 0, 1]


# -- aggregations ----------------------------------------------------------------------------------


def test_count(ssc, clock, both_paths):
    sc = ssc.sparkContext
    s = ssc.queueStream([[1, 2], [], sc.emptyRDD(), parts(ssc, [1, 2, 3], 2)])
    # [] is one empty partition -> [0]; emptyRDD() has 0 partitions -> nothing; exhausted -> [0]
    assert run_batches(ssc, clock, s.count(), 5) == [[2], [0], [], [3], [0]]


def test_count_after_filter(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3], [2]]).filter(lambda x: x > 1).count()
    assert run_batches(ssc, clock, s, 2) == [[2], [1]]


def test_reduce(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3], [], [5]]).reduce(operator.add)
    assert run_batches(ssc, clock, s, 4) == [[6], [], [5], []]


def test_reduce_keeps_element_order_across_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, ["a", "b", "c", "d"], 3)]).reduce(lambda a, b: a + b)
    assert run_batches(ssc, clock, s, 1) == [["abcd"]]


def test_reduce_with_lambda_and_partition_count(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, [3, 1, 2], 3)]).reduce(lambda a, b: max(a, b))
    assert run_partition_counts(ssc, clock, s, 1) == [1]


def test_reduce_of_an_empty_batch_gives_nothing(ssc, clock, both_paths):
    sc = ssc.sparkContext
    s = ssc.queueStream([sc.emptyRDD(), []]).reduce(operator.add)
    assert run_batches(ssc, clock, s, 2) == [[], []]


def test_reduceByKey(ssc, clock, both_paths, partitions):
    s = ssc.queueStream([[("b", 1), ("a", 2), ("b", 3), ("c", 4)], [], [("x", 1)]])
    out = s.reduceByKey(lambda a, b: a + b)
    want = [[("b", 4), ("a", 2), ("c", 4)], [], [("x", 1)]]
    assert same_batches(run_batches(ssc, clock, out, 3), want, partitions)


def test_reduceByKey_over_partitions_emits_default_parallelism_partitions(ssc, clock, both_paths, partitions):
    data = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 5), ("d", 0), ("c", 2)]
    out = ssc.queueStream([parts(ssc, data, 3)]).reduceByKey(operator.add)
    (got,) = run_glom(ssc, clock, out, 1)
    assert len(got) == partitions
    if partitions == 1:  # in first-appearance order
        assert got == [[("a", 3), ("b", 6), ("c", 3), ("d", 0)]]
    else:  # spread by a string hash that differs from PySpark's: compare the elements
        assert sorted(e for part in got for e in part) == [("a", 3), ("b", 6), ("c", 3), ("d", 0)]


def test_reduceByKey_into_partitions_by_int_hash(ssc, clock, both_paths):
    # PySpark's portable_hash(int) is the int itself: key k goes to partition k % n.
    data = [(3, "c"), (1, "a"), (2, "b"), (4, "d"), (1, "A"), (-1, "m")]
    out = ssc.queueStream([data]).reduceByKey(lambda a, b: a + b, 2)
    assert run_glom(ssc, clock, out, 1) == [[[(2, "b"), (4, "d"), (-1, "m")], [(3, "c"), (1, "aA")]]]


def test_reduceByKey_is_applied_in_arrival_order(ssc, clock, both_paths, partitions):
    out = ssc.queueStream([[(1, "x"), (1, "y"), (2, "p"), (1, "z")]]).reduceByKey(lambda a, b: a + b)
    # int keys go to partition k % n, as PySpark's portable_hash: its order on any partition count
    want = [(1, "xyz"), (2, "p")] if partitions != 2 else [(2, "p"), (1, "xyz")]
    assert run_batches(ssc, clock, out, 1) == [want]


def test_reduceByKey_with_tuple_and_none_keys(ssc, clock, both_paths):
    data = [((1, 2), 1), (None, 1), ((1, 2), 1), (None, 5)]
    out = ssc.queueStream([data]).reduceByKey(operator.add)
    assert run_batches(ssc, clock, out, 1) == [[((1, 2), 2), (None, 6)]]


def test_reduceByKey_float_sums(ssc, clock, both_paths):
    out = ssc.queueStream([[("a", 0.5), ("b", 1.0), ("a", 0.25)]]).reduceByKey(lambda a, b: a + b)
    assert run_batches(ssc, clock, out, 1) == [[("a", 0.75), ("b", 1.0)]]


def test_combineByKey(ssc, clock, both_paths):
    data = [("a", 1), ("b", 4), ("a", 3), ("a", 5)]
    out = ssc.queueStream([parts(ssc, data, 2), []]).combineByKey(
        lambda v: (v, 1),
        lambda acc, v: (acc[0] + v, acc[1] + 1),
        lambda x, y: (x[0] + y[0], x[1] + y[1]),
    )
    assert run_batches(ssc, clock, out, 2) == [[("a", (9, 3)), ("b", (4, 1))], []]


def test_combineByKey_merges_combiners_of_each_partition(ssc, clock, both_paths):
    # createCombiner runs once per key per input partition, mergeCombiners across partitions.
    data = [("k", 1), ("k", 2), ("k", 3), ("k", 4)]
    out = ssc.queueStream([parts(ssc, data, 2)]).combineByKey(
        lambda v: [v], lambda c, v: [*c, v], lambda a, b: [a, b]
    )
    assert run_batches(ssc, clock, out, 1) == [[("k", [[1, 2], [3, 4]])]]


def test_groupByKey(ssc, clock, both_paths, partitions):
    data = [("b", 1), ("a", 2), ("b", 3), ("c", None), ("b", 3)]
    out = ssc.queueStream([data, []]).groupByKey().mapValues(list)
    want = [[("b", [1, 3, 3]), ("a", [2]), ("c", [None])], []]
    assert same_batches(run_batches(ssc, clock, out, 2), want, partitions)


def test_groupByKey_over_partitions(ssc, clock, both_paths, partitions):
    data = [(1, "a"), (2, "b"), (1, "c"), (3, "d"), (2, "e")]
    out = ssc.queueStream([parts(ssc, data, 3)]).groupByKey()
    got = run_glom(ssc, clock, out, 1)
    a, b, d = (1, ["a", "c"]), (2, ["b", "e"]), (3, ["d"])
    want = {1: [[a, b, d]], 2: [[b], [a, d]], 3: [[d], [a], [b]]}[partitions]  # PySpark 4.3's glom
    assert [[(k, list(vs)) for k, vs in part] for part in got[0]] == want


def test_groupByKey_into_two_partitions(ssc, clock, both_paths):
    data = [(1, "a"), (2, "b"), (1, "c"), (3, "d"), (4, "e")]
    out = ssc.queueStream([data]).groupByKey(2).mapValues(list)
    assert run_glom(ssc, clock, out, 1) == [[[(2, ["b"]), (4, ["e"])], [(1, ["a", "c"]), (3, ["d"])]]]


def test_groupByKey_with_mixed_value_types(ssc, clock, both_paths):
    out = ssc.queueStream([[("a", 1), ("a", "x"), ("b", 2.5)]]).groupByKey().mapValues(list)
    assert run_batches(ssc, clock, out, 1) == [[("a", [1, "x"]), ("b", [2.5])]]


def test_countByValue(ssc, clock, both_paths):
    s = ssc.queueStream([["a", "b", "a", "c", "a"], [], [1, 1, True]])
    # True == 1 in Python (as in PySpark, where it is a dict key too)
    assert run_batches(ssc, clock, s.countByValue(), 3) == [[("a", 3), ("b", 1), ("c", 1)], [], [(1, 3)]]


def test_countByValue_over_partitions(ssc, clock, both_paths, partitions):
    s = ssc.queueStream([parts(ssc, [3, 1, 3, 2, 1, 3], 3)]).countByValue()
    want = [(2, 1), (3, 3), (1, 2)] if partitions == 2 else [(3, 3), (1, 2), (2, 1)]
    assert run_batches(ssc, clock, s, 1) == [want]


def test_countByValue_gives_default_parallelism_partitions(ssc, clock, both_paths, partitions):
    # PySpark: map(lambda x: (x, 1)).reduceByKey(add), i.e. sc.defaultParallelism output partitions.
    s = ssc.queueStream([parts(ssc, [3, 1, 3, 2], 3)]).countByValue()
    want = {1: [[(3, 2), (1, 1), (2, 1)]], 2: [[(2, 1)], [(3, 2), (1, 1)]], 3: [[(3, 2)], [(1, 1)], [(2, 1)]]}
    assert run_glom(ssc, clock, s, 1) == [want[partitions]]


def test_mapValues(ssc, clock, both_paths):
    s = ssc.queueStream([[("a", 1), ("b", 2)], []]).mapValues(lambda v: v * 10)
    assert run_batches(ssc, clock, s, 2) == [[("a", 10), ("b", 20)], []]


def test_mapValues_to_other_types_keeps_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([parts(ssc, [("a", 1), ("b", 2), ("c", 3)], 2)]).mapValues(lambda v: [v] * v)
    assert run_glom(ssc, clock, s, 1) == [[[("a", [1])], [("b", [2, 2]), ("c", [3, 3, 3])]]]


def test_flatMapValues(ssc, clock, both_paths):
    s = ssc.queueStream([[("a", "x,y"), ("b", ""), ("c", "z")]]).flatMapValues(lambda v: v.split(","))
    assert run_batches(ssc, clock, s, 1) == [[("a", "x"), ("a", "y"), ("b", ""), ("c", "z")]]


def test_flatMapValues_to_nothing(ssc, clock, both_paths):
    s = ssc.queueStream([[("a", 2), ("b", 0), ("c", 1)]]).flatMapValues(range)
    assert run_batches(ssc, clock, s, 1) == [[("a", 0), ("a", 1), ("c", 0)]]


# -- partitioning --------------------------------------------------------------------------------


def test_partitionBy(ssc, clock, both_paths):
    data = [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, "e")]
    s = ssc.queueStream([parts(ssc, data, 2)]).partitionBy(2)
    assert run_glom(ssc, clock, s, 1) == [[[(2, "b"), (4, "d")], [(1, "a"), (3, "c"), (5, "e")]]]


def test_partitionBy_with_a_function(ssc, clock, both_paths):
    data = [("apple", 1), ("bob", 2), ("avocado", 3), ("cat", 4)]
    s = ssc.queueStream([data]).partitionBy(3, lambda k: ord(k[0]) - ord("a"))
    assert run_glom(ssc, clock, s, 1) == [[[("apple", 1), ("avocado", 3)], [("bob", 2)], [("cat", 4)]]]


def test_partitionBy_keeps_every_pair(ssc, clock, both_paths):
    data = [(f"k{i % 5}", i) for i in range(20)]
    s = ssc.queueStream([data]).partitionBy(3)
    got = run_glom(ssc, clock, s, 1)[0]
    assert len(got) == 3
    assert sorted(e for part in got for e in part) == sorted(data)
    for part in got:  # one key lives in one partition only, in arrival order
        assert part == [e for e in data if e[0] in {k for k, _ in part}]


def test_repartition(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3, 4, 5], parts(ssc, [1, 2], 2)]).repartition(3)
    # dstreams repartitions deterministically into contiguous, even slices
    assert run_glom(ssc, clock, s, 2) == [[[1], [2, 3], [4, 5]], [[], [1], [2]]]


# -- combining streams ------------------------------------------------------------------------------


def test_union(ssc, clock, both_paths):
    a = ssc.queueStream([[1, 2], [3], []])
    b = ssc.queueStream([["x"], [], ["y"]])
    assert run_batches(ssc, clock, a.union(b), 3) == [[1, 2, "x"], [3], ["y"]]


def test_union_concatenates_partitions(ssc, clock, both_paths):
    a = ssc.queueStream([parts(ssc, [1, 2, 3], 2)])
    b = ssc.queueStream([parts(ssc, [4, 5], 2)])
    assert run_glom(ssc, clock, a.union(b), 1) == [[[1], [2, 3], [4], [5]]]


def test_union_of_pairs_and_three_streams(ssc, clock, both_paths):
    a = ssc.queueStream([[("a", 1)]])
    b = ssc.queueStream([[("b", 2.5)]])
    c = ssc.queueStream([[("c", "x")]])
    out = ssc.union(a, b, c).map(lambda kv: kv)
    assert run_batches(ssc, clock, out, 1) == [[("a", 1), ("b", 2.5), ("c", "x")]]


def test_union_with_a_stream_that_has_no_batch(ssc, clock, both_paths):
    a = ssc.queueStream([[1], [2]])
    b = ssc.queueStream([[10], [20]]).transform(lambda t, rdd: rdd if t.second % 2 == 0 else None)
    # batches at 1 s and 2 s: b has no batch at odd seconds
    assert run_batches(ssc, clock, a.union(b), 2) == [[1], [2, 20]]


def test_transform(ssc, clock, both_paths):
    s = ssc.queueStream([[3, 1, 2], [5, 4]]).transform(lambda rdd: rdd.map(lambda x: (x, 0)).sortByKey())
    assert run_batches(ssc, clock, s, 2) == [[(1, 0), (2, 0), (3, 0)], [(4, 0), (5, 0)]]


def test_transform_gets_the_batch_time(ssc, clock, both_paths):
    s = ssc.queueStream([[1], [2]]).transform(lambda t, rdd: rdd.map(lambda x: (t.second, x)))
    assert run_batches(ssc, clock, s, 2) == [[(1, 1)], [(2, 2)]]


def test_transform_returning_none_means_no_batch_downstream(ssc, clock, both_paths):
    seen = []
    s = ssc.queueStream([[1], [2], [3]]).transform(lambda t, rdd: None if t.second == 2 else rdd)
    s.count().foreachRDD(lambda t, rdd: seen.append((t.second, rdd.collect())))
    ssc.start()
    for _ in range(3):
        clock.advance(1)
    assert seen == [(1, [1]), (3, [1])]


def test_transform_can_change_partitions(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2, 3, 4]]).transform(lambda rdd: rdd.repartition(2).glom())
    assert run_batches(ssc, clock, s, 1) == [[[1, 2], [3, 4]]]


def test_transformWith(ssc, clock, both_paths):
    a = ssc.queueStream([[("a", 1)], [("b", 2)]])
    b = ssc.queueStream([[("a", "x")], [("c", "y")]])
    out = a.transformWith(lambda x, y: x.join(y), b)
    assert run_batches(ssc, clock, out, 2) == [[("a", (1, "x"))], []]


def test_transformWith_gets_time_and_an_empty_rdd_for_a_missing_batch(ssc, clock, both_paths):
    a = ssc.queueStream([[1], [2], [3]])
    b = ssc.queueStream([[10], [20], [30]]).transform(lambda t, rdd: None if t.second == 2 else rdd)
    seen = []

    def combine(t, x, y):
        seen.append((t.second, y.count(), y.isEmpty()))
        return x.union(y)

    out = a.transformWith(combine, b)
    assert run_batches(ssc, clock, out, 3) == [[1, 10], [2], [3, 30]]
    assert seen == [(1, 1, False), (2, 0, True), (3, 1, False)]


# -- joins -----------------------------------------------------------------------------------------

LEFT = [("a", 1), ("b", 2), ("a", 3)]
RIGHT = [("c", 9), ("a", 8), ("a", 7)]


def join_streams(ssc):
    return ssc.queueStream([LEFT, [("k", 1)], []]), ssc.queueStream([RIGHT, [], [("k", 2)]])


def test_join(ssc, clock, both_paths):
    a, b = join_streams(ssc)
    assert run_batches(ssc, clock, a.join(b), 4) == [
        [("a", (1, 8)), ("a", (1, 7)), ("a", (3, 8)), ("a", (3, 7))],
        [],
        [],
        [],
    ]


def test_leftOuterJoin(ssc, clock, both_paths):
    a, b = join_streams(ssc)
    assert run_batches(ssc, clock, a.leftOuterJoin(b), 3) == [
        [("a", (1, 8)), ("a", (1, 7)), ("a", (3, 8)), ("a", (3, 7)), ("b", (2, None))],
        [("k", (1, None))],
        [],
    ]


def test_rightOuterJoin(ssc, clock, both_paths):
    a, b = join_streams(ssc)
    assert run_batches(ssc, clock, a.rightOuterJoin(b), 3) == [
        [("a", (1, 8)), ("a", (1, 7)), ("a", (3, 8)), ("a", (3, 7)), ("c", (None, 9))],
        [],
        [("k", (None, 2))],
    ]


def test_fullOuterJoin(ssc, clock, both_paths):
    a, b = join_streams(ssc)
    assert run_batches(ssc, clock, a.fullOuterJoin(b), 3) == [
        [("a", (1, 8)), ("a", (1, 7)), ("a", (3, 8)), ("a", (3, 7)), ("b", (2, None)), ("c", (None, 9))],
        [("k", (1, None))],
        [("k", (None, 2))],
    ]


def test_cogroup(ssc, clock, both_paths):
    a, b = join_streams(ssc)
    out = a.cogroup(b).mapValues(lambda vw: (list(vw[0]), list(vw[1])))
    assert run_batches(ssc, clock, out, 3) == [
        [("a", ([1, 3], [8, 7])), ("b", ([2], [])), ("c", ([], [9]))],
        [("k", ([1], []))],
        [("k", ([], [2]))],
    ]


def test_join_keys_in_first_appearance_order_left_then_right(ssc, clock, both_paths, partitions):
    a = ssc.queueStream([parts(ssc, [(3, "x"), (1, "y"), (2, "z")], 2)])
    b = ssc.queueStream([parts(ssc, [(4, 0), (2, 1), (3, 2), (1, 3), (2, 4)], 3)])
    k3, k1, z1, z4, k4 = (3, ("x", 2)), (1, ("y", 3)), (2, ("z", 1)), (2, ("z", 4)), (4, (None, 0))
    # PySpark 4.3's order: keys in first-appearance order within partition k % n
    want = {1: [k3, k1, z1, z4, k4], 2: [z1, z4, k4, k3, k1], 3: [k3, k1, k4, z1, z4]}[partitions]
    assert run_batches(ssc, clock, a.fullOuterJoin(b), 1) == [want]


def test_join_with_mixed_types_none_values_and_tuple_keys(ssc, clock, both_paths):
    a = ssc.queueStream([[((1, 2), None), ("s", 1), (1.5, [1])]])
    b = ssc.queueStream([[((1, 2), "v"), (1.5, {"d": 1}), ("s", 2.5)]])
    assert run_batches(ssc, clock, a.join(b), 1) == [
        [((1, 2), (None, "v")), ("s", (1, 2.5)), (1.5, ([1], {"d": 1}))]
    ]


def test_join_into_partitions(ssc, clock, both_paths):
    a = ssc.queueStream([[(1, "a"), (2, "b"), (3, "c")]])
    b = ssc.queueStream([[(3, "C"), (2, "B"), (1, "A")]])
    assert run_glom(ssc, clock, a.join(b, 2), 1) == [[[(2, ("b", "B"))], [(1, ("a", "A")), (3, ("c", "C"))]]]


def test_join_output_feeds_further_operators(ssc, clock, both_paths):
    a = ssc.queueStream([[("a", 1), ("b", 2)]])
    b = ssc.queueStream([[("a", 10), ("b", 20), ("a", 30)]])
    out = a.join(b).map(lambda kv: (kv[0], kv[1][0] + kv[1][1])).reduceByKey(operator.add)
    assert run_batches(ssc, clock, out, 1) == [[("a", 42), ("b", 22)]]


# -- persistence ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persist", ["cache", "persist"])
def test_cache_and_persist_compute_each_batch_once(ssc, clock, both_paths, persist):
    calls = []

    def tag(x):
        calls.append(x)
        return (x, 1)

    s = ssc.queueStream([[1, 2], [3]]).map(tag)
    cached = s.cache() if persist == "cache" else s.persist(StorageLevel.MEMORY_AND_DISK)
    assert cached is s and s.is_cached
    got_a, got_b = [], []
    s.foreachRDD(lambda rdd: got_a.append(rdd.collect()))
    s.reduceByKey(operator.add).foreachRDD(lambda rdd: got_b.append(rdd.count()))
    ssc.start()
    clock.advance(1)
    clock.advance(1)
    assert got_a == [[(1, 1), (2, 1)], [(3, 1)]]
    assert got_b == [2, 1]
    assert calls == [1, 2, 3]


# -- bad input --------------------------------------------------------------------------------------


def test_a_failing_function_fails_its_batch_only(ssc, clock, both_paths):
    s = ssc.queueStream([[1, 2], [0], [4]]).map(lambda x: 8 // x)
    line = test_a_failing_function_fails_its_batch_only.__code__.co_firstlineno + 1
    out = run_batches(ssc, clock, s, 3)
    assert out == [[8, 4], [2]]  # the second batch failed, the third still ran
    with pytest.raises(BatchError) as failure:
        ssc.awaitTerminationOrTimeout(0)
    error = failure.value
    assert error.batch_time == 2000
    assert f"map(<lambda> at test_ops.py:{line})" in str(error)
    assert "2000 ms" in str(error)
    assert "ZeroDivisionError" in str(error)
    assert isinstance(error.__cause__, BatchError) or isinstance(error.__cause__, ZeroDivisionError)


def test_a_failing_reduce_function_names_its_operator(ssc, clock, both_paths):
    def bad_add(a, b):
        if b == 0:
            raise ValueError("no zeros here")
        return a + b

    s = ssc.queueStream([[("a", 1), ("a", 0)], [("a", 1), ("a", 2)]]).reduceByKey(bad_add)
    assert run_batches(ssc, clock, s, 2) == [[("a", 3)]]
    with pytest.raises(BatchError, match=r"reduceByKey\(.*bad_add at test_ops\.py:\d+\).*no zeros here"):
        ssc.awaitTerminationOrTimeout(0)


@pytest.mark.parametrize(
    "build",
    [
        lambda s: s.map(lambda x: ([x], 1)).reduceByKey(operator.add),
        lambda s: s.map(lambda x: ([x], 1)).groupByKey(),
        lambda s: s.map(lambda x: ({"k": x}, 1)).reduceByKey(operator.add),
        lambda s: s.map(lambda x: [x]).countByValue(),
    ],
    ids=["reduceByKey", "groupByKey", "dict-key", "countByValue"],
)
def test_an_unhashable_key_is_a_clear_error(ssc, clock, both_paths, build):
    s = build(ssc.queueStream([[1, 2], ["ok"]]))
    out = []
    s.foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    with pytest.raises(BatchError, match=r"(?s)unhashable.*(tuple|hashable)") as failure:
        clock.advance(1)  # raises the batch's error once the batch ran
    assert "1000 ms" in str(failure.value)
    assert out == []


def test_an_unhashable_key_in_a_join_is_a_clear_error(ssc, clock, both_paths):
    a = ssc.queueStream([[([1], 1)]])
    b = ssc.queueStream([[([1], 2)]])
    out = run_batches(ssc, clock, a.join(b), 1)
    assert out == []
    with pytest.raises(BatchError, match=r"(?s)unhashable.*tuple"):
        ssc.awaitTerminationOrTimeout(0)


def test_mixed_types_work_in_the_spark_face_but_not_in_native_ops(ssc, clock, both_paths):
    s = ssc.queueStream([[1, "a"], [2, 3]])
    spark_face, native, to_polars = [], [], []
    s.map(lambda x: x).foreachRDD(lambda rdd: spark_face.append(rdd.collect()))
    s.select(pl.col("value") * 2).foreachRDD(lambda rdd: native.append(rdd.collect()))
    s.foreachRDD(lambda rdd: to_polars.append(rdd.toPolars()["value"].to_list()))
    ssc.start()
    with pytest.raises(BatchError):  # clock.advance raises the first batch error
        clock.advance(1)
    with pytest.raises(BatchError) as failure:
        ssc.awaitTerminationOrTimeout(0)
    cause = failure.value.__cause__
    assert isinstance(cause, SchemaError)
    assert "'value'" in str(cause) and "one type" in str(cause)
    clock.advance(1)  # the next batch is unaffected
    assert spark_face == [[1, "a"], [2, 3]]
    assert native == [[4, 6]]
    assert to_polars == [[2, 3]]


def test_to_polars_on_mixed_types_names_the_column(ssc, clock):
    from dstreams import SparkContext

    rdd = SparkContext.getOrCreate().parallelize([("a", 1), ("b", "x")])
    with pytest.raises(SchemaError, match=r"'value'.*toPolars\(\).*one type"):
        rdd.toPolars()
    assert rdd.keys().toPolars()["value"].to_list() == ["a", "b"]
