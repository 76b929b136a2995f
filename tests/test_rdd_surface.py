"""The rest of PySpark's RDD surface on one batch, checked against PySpark 4.3.0's results.

Expected values marked "PySpark" were produced by real PySpark (local mode) on the same data and
partitioning (`sc.parallelize(data, n)`); orders that depend on PySpark's hash of *strings* differ
by design (dstreams hashes keys with Polars), so those are compared as sets or dicts.
"""

from __future__ import annotations

import doctest
import functools
import gzip
import math
import operator
import os

import pytest

import dstreams.rdd
from dstreams import DStreamsError, SparkContext, StatCounter, StorageLevel, statcounter
from dstreams.rdd import EmptyRDDError

DATA = [5, 1, 4, 2, 3, 7, 6]
PARTS = [1, 2, 3]


@pytest.fixture
def sc():
    context = SparkContext("local[1]", "rdd-surface")
    yield context
    context.stop()


def by_n(n: int, *values):
    return values[n - 1]


# -- folds and aggregates ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_aggregate_fold_and_tree_forms_count_the_zero_per_partition(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    assert rdd.aggregate([], lambda a, x: [*a, x], lambda a, b: [*a, b]) == rdd.glom().collect()
    assert rdd.aggregate(
        (0, 0), lambda a, x: (a[0] + x, a[1] + 1), lambda a, b: (a[0] + b[0], a[1] + b[1])
    ) == (
        28,
        7,
    )
    assert rdd.fold(1, operator.add) == by_n(n, 30, 31, 32)  # PySpark
    assert sc.parallelize(list("abcdefg"), n).fold("z", operator.add) == by_n(
        n, "zzabcdefg", "zzabczdefg", "zzabzcdzefg"
    )  # PySpark
    assert rdd.treeAggregate(1, operator.add, operator.add) == by_n(n, 29, 30, 31)  # PySpark
    assert rdd.treeReduce(operator.sub) == by_n(n, -18, 14, 12)  # PySpark
    assert rdd.reduce(operator.sub) == by_n(n, -18, 14, 12)  # PySpark
    assert _same(sc.parallelize([0.5, float("nan"), 1.0], n).reduce(max), by_n(n, 1.0, 0.5, 1.0))  # PySpark
    assert rdd.map(lambda x: x * 2).fold(0, operator.add) == 56


def test_mutable_zero_values_are_copied_per_partition(sc):
    def append(a, x):
        a.append(x)
        return a

    def extend(a, b):
        a.extend(b)
        return a

    assert sc.parallelize([1, 2, 3, 4], 2).aggregate([], append, extend) == [1, 2, 3, 4]  # PySpark
    assert sc.parallelize([[1], [2], [3]], 2).fold([], extend) == [1, 2, 3]  # PySpark
    assert sc.parallelize([1, 2, 3, 4], 3).treeAggregate([], append, extend) == [1, 2, 3, 4]  # PySpark
    assert sc.parallelize([("a", [1]), ("a", [2])], 1).foldByKey([], operator.add).collect() == [
        ("a", [1, 2])
    ]


@pytest.mark.parametrize("n", PARTS)
def test_aggregateByKey_and_foldByKey(sc, n, both_paths):
    pairs = sc.parallelize([("a", 1), ("b", 2), ("a", 3)], n)
    # PySpark: 'a' falls in one partition for n=1 ((10+1)+3), in two for n=2, 3 ((10+1)*(10+3)).
    assert dict(pairs.aggregateByKey(10, operator.add, operator.mul).collect()) == {
        "a": by_n(n, 14, 143, 143),
        "b": 12,
    }
    assert dict(pairs.foldByKey(10, operator.add).collect()) == {"a": by_n(n, 14, 24, 24), "b": 12}
    ints = sc.parallelize([(1, 1), (2, 2), (1, 3)], n)
    assert ints.foldByKey(0, operator.add).getNumPartitions() == n


def test_folds_of_empty_rdds(sc, both_paths):
    for empty in (sc.parallelize([], 2), sc.emptyRDD()):
        assert empty.fold(0, operator.add) == 0  # PySpark
        assert empty.aggregate(0, operator.add, operator.add) == 0
        assert empty.treeAggregate(0, operator.add, operator.add) == 0
        with pytest.raises(ValueError, match="Cannot reduce empty RDD"):
            empty.treeReduce(operator.add)
        for action in (lambda r: r.max(), lambda r: r.min(), lambda r: r.reduce(operator.add)):
            with pytest.raises(ValueError, match=r"Can not reduce\(\) empty RDD"):
                action(empty)
    assert sc.parallelize([], 2).reduceByKeyLocally(operator.add) == {}
    with pytest.raises(ValueError, match="Depth cannot be smaller than 1 but got 0"):
        sc.parallelize([1]).treeReduce(operator.add, 0)
    with pytest.raises(EmptyRDDError):  # a DStreamsError that is also a ValueError, as PySpark raises
        sc.emptyRDD().reduceByKeyLocally(operator.add)
    assert issubclass(EmptyRDDError, DStreamsError)


# -- ordering ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_top_and_takeOrdered(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    assert rdd.top(3) == [7, 6, 5] and rdd.top(3, key=lambda x: -x) == [1, 2, 3]
    assert rdd.takeOrdered(3) == [1, 2, 3] and rdd.takeOrdered(2, key=lambda x: -x) == [7, 6]
    assert rdd.top(0) == [] and rdd.takeOrdered(0) == [] and rdd.top(50) == sorted(DATA, reverse=True)
    words = sc.parallelize(["b", "a", "c", "é", "ab"], n)
    assert words.top(2) == ["é", "c"] and words.takeOrdered(3) == ["a", "ab", "b"]
    assert rdd.map(str).top(2) == ["7", "6"]
    # Python's order of floats, NaN and -0.0 included (PySpark, 2 partitions for the NaN case)
    assert sc.parallelize([0.0, -0.0, 1.0], n).top(3) == [1.0, 0.0, -0.0]
    got = sc.parallelize([3.0, float("nan"), 1.0, 2.0], 2).takeOrdered(3)
    assert got[0] == 2.0 and math.isnan(got[1]) and got[2] == 1.0
    big = sc.parallelize([2**70, 1, 2**65], n)  # ints beyond 64 bits (a pickled column)
    assert big.top(1) == [2**70] and big.takeOrdered(1) == [1]


def test_top_and_takeOrdered_of_empty_rdds(sc, both_paths):
    assert sc.parallelize([], 2).top(2) == [] and sc.parallelize([], 2).takeOrdered(2) == []
    assert sc.emptyRDD().takeOrdered(2) == []
    with pytest.raises(ValueError, match="empty"):  # PySpark: top reduces over no partitions
        sc.emptyRDD().top(2)
    with pytest.raises(ValueError, match="top N cannot be negative"):
        sc.parallelize([1]).takeOrdered(-1)


@pytest.mark.parametrize("n", PARTS)
def test_max_min_follow_partitions(sc, n, both_paths):
    # Python's max(a, b) with NaN depends on which values meet: PySpark reduces per partition.
    assert _same(sc.parallelize([0.5, float("nan"), 1.0], n).max(), by_n(n, 1.0, 0.5, 1.0))
    assert _same(sc.parallelize([0.5, float("nan"), 0.1], n).min(), by_n(n, 0.1, 0.5, 0.1))
    assert sc.parallelize(["aa", "b", "ccc"], n).max(key=len) == "ccc"
    assert sc.parallelize(["aa", "b", "ccc"], n).min(key=len) == "b"
    assert sc.parallelize(DATA, n).max() == 7 and sc.parallelize(DATA, n).min() == 1


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


# -- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_sum_mean_and_stats(sc, n, both_paths):
    rdd = sc.parallelize([1, 2, 3, 4, 10], n)
    assert rdd.sum() == 20 and type(rdd.sum()) is int
    assert sc.parallelize([2**62, 2**62, -1], n).sum() == 2**63 - 1 + 0  # exact beyond int64
    assert sc.parallelize([1, 2.5], n).sum() == 3.5
    # PySpark adds each partition's values left to right, then the partition sums: Python's rounding
    tenths = sc.parallelize([0.1] * 10, n)
    assert tenths.sum() == functools.reduce(operator.add, [sum(p) for p in tenths.glom().collect()], 0)
    assert tenths.sum() == by_n(n, 0.9999999999999999, 1.0, 1.0)
    stats = rdd.stats()
    assert repr(stats) == "(count: 5, mean: 4.0, stdev: 3.1622776601683795, max: 10.0, min: 1.0)"  # PySpark
    assert rdd.mean() == 4.0 and rdd.variance() == 10.0 and rdd.stdev() == math.sqrt(10.0)
    assert rdd.sampleVariance() == 12.5 and rdd.sampleStdev() == math.sqrt(12.5)
    assert sc.parallelize([1, 2], n).mean() == 1.5


def test_statistics_of_empty_rdds(sc, both_paths):
    empty = sc.parallelize([], 2)
    assert empty.sum() == 0 and sc.emptyRDD().sum() == 0  # PySpark
    assert repr(empty.stats()) == "(count: 0, mean: 0.0, stdev: nan, max: -inf, min: inf)"  # PySpark
    assert empty.mean() == 0.0  # PySpark: stats().mean() of nothing is the initial 0.0
    assert math.isnan(empty.variance()) and math.isnan(empty.stdev())
    assert math.isnan(empty.sampleVariance()) and math.isnan(empty.sampleStdev())
    with pytest.raises(ValueError, match="empty"):
        sc.emptyRDD().stats()


def test_statcounter():
    s = StatCounter([1, 2, 3, 4])
    # PySpark: asDict() gives the sample stdev/variance, asDict(sample=True) the population ones
    assert s.asDict() == {
        "count": 4,
        "mean": 2.5,
        "sum": 10.0,
        "min": 1.0,
        "max": 4.0,
        "stdev": 1.2909944487358056,
        "variance": 1.6666666666666667,
    }
    assert s.asDict(sample=True)["stdev"] == 1.118033988749895 and s.asDict(sample=True)["variance"] == 1.25
    merged = StatCounter([1, 2]).mergeStats(StatCounter([3, 4]))
    assert merged.count() == 4 and merged.mean() == 2.5 and merged.variance() == 1.25
    assert StatCounter().mergeStats(StatCounter([5])).max() == 5.0
    itself = StatCounter([1, 2])
    assert itself.mergeStats(itself).count() == 4
    copied = s.copy().merge(100)
    assert copied.count() == 5 and s.count() == 4
    big = StatCounter(range(100)).mergeStats(StatCounter([1000]))  # the "much larger side" branch
    assert big.count() == 101 and big.max() == 1000.0
    assert StatCounter([-0.0]).max() == 0.0 and math.copysign(1, StatCounter([-0.0]).max()) == -1
    assert StatCounter([3]).sampleVariance() != StatCounter([3]).sampleVariance()  # nan
    with pytest.raises(TypeError, match="merge"):
        StatCounter().mergeStats(3)


def test_histogram_even_buckets(sc, both_paths):
    ints = sc.parallelize(range(1, 11), 2)
    assert ints.histogram(3) == ([1, 4, 7, 10], [3, 3, 4])  # PySpark: int edges when exact
    assert ints.histogram(4) == ([1.0, 3.25, 5.5, 7.75, 10], [3, 2, 2, 3])  # PySpark
    assert sc.parallelize([1.0, 2.0, float("nan"), None, 2.5]).histogram(2) == ([1.0, 1.75, 2.5], [1, 2])
    assert sc.parallelize([5, 5]).histogram(3) == ([5, 5], [2])
    assert sc.parallelize([1.0, 2.0, 3.0], 3).histogram(2) == ([1.0, 2.0, 3.0], [1, 2])


def test_histogram_given_buckets(sc, both_paths):
    assert sc.parallelize([1, 2, 3]).histogram([0, 2, 3]) == ([0, 2, 3], [1, 2])
    assert sc.parallelize([1, 2, 3, 4], 2).histogram([1, 2, 4]) == ([1, 2, 4], [1, 3])
    assert sc.parallelize([0, 10]).histogram([0, 5, 10]) == ([0, 5, 10], [1, 1])
    words = sc.parallelize(["ab", "ac", "b", "bd", "ef"], 2)
    assert words.histogram(["a", "b", "c"]) == (["a", "b", "c"], [2, 2])
    # PySpark's arithmetic on even edges: 0.30000000000000004 is outside, 0.3 lands in bucket 2
    floats = sc.parallelize([0.1, 0.2, 0.30000000000000004, 0.3])
    assert floats.histogram([0.0, 0.1, 0.2, 0.3]) == ([0.0, 0.1, 0.2, 0.3], [0, 1, 2])
    assert sc.parallelize([], 2).histogram([0, 1]) == ([0, 1], [0])


@pytest.mark.parametrize(
    ("data", "buckets", "error", "message"),
    [
        ([1, 2], 0, ValueError, "number of buckets must be >= 1"),
        ([1, 2], [1], ValueError, "buckets should have more than one value"),
        ([1, 2], [2, 1], ValueError, "buckets should be sorted"),
        ([1, 2], [1, 1, 2], ValueError, "buckets should not contain duplicated values"),
        ([1, 2], [1, None], ValueError, "can not have None or NaN in buckets"),
        ([1, 2], "x", TypeError, "buckets should be a list or tuple"),
        ([1, float("inf")], 2, ValueError, "Can not generate buckets with infinite value"),
        (["a", "b"], 2, TypeError, "Can not generate buckets with non-number in RDD"),
        ([], 2, ValueError, r"Can not reduce\(\) empty RDD"),
        ([None, float("nan")], 2, ValueError, r"Can not reduce\(\) empty RDD"),
    ],
)
def test_histogram_errors_as_pyspark(sc, data, buckets, error, message):
    with pytest.raises(error, match=message):
        sc.parallelize(data, 2).histogram(buckets)


# -- sampling (seeded results are PySpark's, draw for draw) -------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_sample_matches_pyspark_with_a_seed(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    assert rdd.sample(False, 0.5, 42).collect() == by_n(n, [5, 1, 2, 3], [5, 1], [5, 1, 6])
    assert rdd.sample(True, 1.5, 7).collect() == by_n(
        n, [1, 4, 2, 2, 2, 7], [1, 4, 2, 3, 3, 7, 6, 6], [1, 4, 2, 2, 3, 3, 7, 6]
    )
    assert rdd.sample(True, 25.0, 7).count() == by_n(n, 183, 189, 197)  # the large-mean Poisson
    assert rdd.sample(False, 0.0).collect() == [] and rdd.sample(False, 1.0).collect() == DATA
    with pytest.raises(ValueError, match="Fraction must be nonnegative"):
        rdd.sample(False, -0.1)


@pytest.mark.parametrize("n", PARTS)
def test_takeSample_matches_pyspark_with_a_seed(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    assert rdd.takeSample(False, 3, 11) == [1, 5, 4]
    assert rdd.takeSample(True, 10, 11) == by_n(
        n, [6, 1, 4, 4, 4, 1, 3, 7, 3, 5], [2, 1, 3, 4, 3, 2, 5, 1, 3, 3], [2, 1, 2, 2, 2, 2, 5, 1, 3, 3]
    )
    assert rdd.takeSample(False, 30, 11) == [1, 5, 4, 7, 6, 3, 2]  # all of them, shuffled
    assert sorted(rdd.takeSample(False, 7)) == sorted(DATA)
    assert rdd.takeSample(False, 0) == [] and sc.parallelize([], n).takeSample(True, 3) == []
    with pytest.raises(ValueError, match="Sample size cannot be negative"):
        rdd.takeSample(False, -1)


@pytest.mark.parametrize("n", PARTS)
def test_sampleByKey_matches_pyspark_with_a_seed(sc, n, both_paths):
    pairs = sc.parallelize([(i % 3, i) for i in range(30)], n)
    got = pairs.sampleByKey(False, {0: 0.5, 1: 0.2, 2: 1.0}, 3).collect()
    keys_2 = [(2, i) for i in range(2, 30, 3)]
    others = by_n(n, [(0, 3), (0, 15), (0, 24), (0, 27), (1, 28)], [(0, 3)], [(0, 3), (0, 15)])
    assert got == sorted(keys_2 + others, key=lambda kv: kv[1])  # PySpark
    with_replacement = pairs.sampleByKey(True, {0: 0.5, 1: 0.2, 2: 2.0}, 3).collect()
    assert len(with_replacement) == by_n(n, 36, 39, 32)  # PySpark
    assert with_replacement[:6] == [(0, 0), (1, 1), (2, 2), (0, 3), (2, 5), (2, 5)]
    with pytest.raises(ValueError, match="Negative fraction value"):
        pairs.sampleByKey(False, {0: -0.5})


# -- positions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_zipWithIndex_and_zipWithUniqueId(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    assert rdd.zipWithIndex().collect() == [(x, i) for i, x in enumerate(DATA)]
    assert rdd.zipWithIndex().glom().collect() == [
        [(x, DATA.index(x)) for x in p] for p in rdd.glom().collect()
    ]
    assert rdd.zipWithUniqueId().glom().collect() == by_n(
        n,
        [[(5, 0), (1, 1), (4, 2), (2, 3), (3, 4), (7, 5), (6, 6)]],
        [[(5, 0), (1, 2), (4, 4)], [(2, 1), (3, 3), (7, 5), (6, 7)]],
        [[(5, 0), (1, 3)], [(4, 1), (2, 4)], [(3, 2), (7, 5), (6, 8)]],
    )  # PySpark
    assert (
        sc.emptyRDD().zipWithIndex().collect() == [] and sc.parallelize([], n).zipWithUniqueId().count() == 0
    )


def test_zip(sc, both_paths):
    assert sc.parallelize([1, 2, 3], 2).zip(sc.parallelize("abc", 2)).collect() == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
    ]
    assert sc.parallelize([], 2).zip(sc.parallelize([], 2)).collect() == []
    with pytest.raises(ValueError, match="same number of partitions"):
        sc.parallelize([1, 2, 3], 2).zip(sc.parallelize("abc", 3))
    with pytest.raises(ValueError, match="same number of elements in each partition"):
        sc.parallelize([1, 2, 3], 2).zip(sc.parallelize("abcd", 2))


# -- keyed and set operations ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", PARTS)
def test_subtract_intersection_groupBy_match_pyspark_partitions(sc, n, both_paths):
    rdd = sc.parallelize(DATA, n)
    other = sc.parallelize([1, 2, 9], 2)
    assert rdd.subtract(other).glom().collect() == by_n(
        n, [[3, 6], [4, 7], [5]], [[4], [5], [6], [3, 7]], [[5], [6], [7], [3], [4]]
    )  # PySpark
    assert sc.parallelize([1, 2, 2, 3, 4], n).intersection(
        sc.parallelize([2, 4, 5], 2)
    ).glom().collect() == by_n(n, [[], [4], [2]], [[4], [], [2], []], [[], [], [2], [], [4]])  # PySpark
    grouped = rdd.groupBy(lambda x: x % 2)
    assert grouped.getNumPartitions() == n
    expected = [(1, [5, 1, 3, 7]), (0, [4, 2, 6])] if n == 1 else [(0, [4, 2, 6]), (1, [5, 1, 3, 7])]
    assert [(k, list(v)) for k, v in grouped.collect()] == expected  # PySpark
    assert sc.parallelize([1, 1, 2], n).subtract(sc.parallelize([2], 1)).collect() == [1, 1]


@pytest.mark.parametrize("n", PARTS)
def test_subtractByKey_groupWith_reduceByKeyLocally(sc, n, both_paths):
    pairs = sc.parallelize([("a", 1), ("b", 2), ("a", 3), ("c", 4)], n)
    assert sorted(pairs.subtractByKey(sc.parallelize([("b", 0)], 1)).collect()) == [
        ("a", 1),
        ("a", 3),
        ("c", 4),
    ]
    ints = sc.parallelize([(1, 1), (2, 2), (3, 3), (1, 4)], 2)
    assert ints.subtractByKey(sc.parallelize([(2, 0)], 2)).glom().collect() == [
        [],
        [(1, 1), (1, 4)],
        [],
        [(3, 3)],
    ]  # PySpark
    grouped = sc.parallelize([("a", 1), ("b", 2)], n).groupWith(
        sc.parallelize([("a", 3)], 2), sc.parallelize([("c", 5), ("b", 6)], 2)
    )
    assert grouped.getNumPartitions() == n + 4  # PySpark: the partitions of all inputs
    assert sorted((k, tuple(map(list, v))) for k, v in grouped.collect()) == [
        ("a", ([1], [3], [])),
        ("b", ([2], [], [6])),
        ("c", ([], [], [5])),
    ]
    assert pairs.reduceByKeyLocally(operator.add) == {"a": 4, "b": 2, "c": 4}


def test_countByKey_and_lookup(sc, both_paths):
    pairs = sc.parallelize([("a", 1), ("b", 1), ("a", 2)], 2)
    assert pairs.countByKey() == {"a": 2, "b": 1}
    assert pairs.lookup("a") == [1, 2] and pairs.lookup("z") == []
    assert pairs.reduceByKey(operator.add).lookup("a") == [3]
    assert sc.parallelize([], 2).countByKey() == {}


# -- iteration, metadata, files ----------------------------------------------------------------------------


def test_foreachPartition_and_toLocalIterator(sc, both_paths):
    seen = []
    sc.parallelize([1, 2, 3], 2).foreachPartition(lambda it: seen.append(list(it)))
    assert seen == [[1], [2, 3]]
    assert list(sc.parallelize([1, 2, 3], 3).map(lambda x: x * 10).toLocalIterator()) == [10, 20, 30]
    assert list(sc.emptyRDD().toLocalIterator()) == []


def test_metadata(sc):
    a, b = sc.parallelize([1], 2), sc.parallelize([1])
    assert isinstance(a.id(), int) and a.id() != b.id() and a.id() == a.id()
    assert a.name() is None and a.setName("numbers") is a and a.name() == "numbers"
    assert a.toDebugString().startswith(b"(2) numbers[")
    assert repr(b.getStorageLevel()) == "StorageLevel(False, False, False, False, 1)"  # PySpark
    assert repr(b.cache().getStorageLevel()) == "StorageLevel(False, True, False, False, 1)"  # PySpark
    assert a.persist(StorageLevel.DISK_ONLY).getStorageLevel() is StorageLevel.DISK_ONLY
    assert not b.isCheckpointed()
    with pytest.raises(ValueError, match="setCheckpointDir"):
        b.checkpoint()


def test_saveAsTextFile(sc, tmp_path):
    out = str(tmp_path / "out")
    sc.parallelize(["a", 1, (2, 3), b"raw"], 2).saveAsTextFile(out)
    assert sorted(os.listdir(out)) == ["_SUCCESS", "part-00000", "part-00001"]
    assert open(os.path.join(out, "part-00001"), "rb").read() == b"(2, 3)\nraw\n"
    assert sc.textFile(out).collect() == ["a", "1", "(2, 3)", "raw"]
    with pytest.raises(FileExistsError, match="already exists"):
        sc.parallelize([1]).saveAsTextFile(out)
    zipped = str(tmp_path / "zipped")
    sc.parallelize(["x", "y"], 1).saveAsTextFile(zipped, "org.apache.hadoop.io.compress.GzipCodec")
    assert gzip.open(os.path.join(zipped, "part-00000.gz")).read() == b"x\ny\n"
    with pytest.raises(NotImplementedError, match="GzipCodec"):
        sc.parallelize([1]).saveAsTextFile(str(tmp_path / "z"), "org.apache.hadoop.io.compress.SnappyCodec")


def test_saveAsPickleFile_round_trip(sc, tmp_path):
    out = str(tmp_path / "pickled")
    values = [(1, "a"), {"k": [1.5]}, None, 2**80, *list(range(25))]
    sc.parallelize(values, 3).saveAsPickleFile(out, batchSize=4)
    back = sc.pickleFile(out)
    assert back.collect() == values and back.getNumPartitions() == 3
    assert sc.pickleFile(out, 5).getNumPartitions() == 5
    empty = str(tmp_path / "empty")
    sc.parallelize([], 2).saveAsPickleFile(empty)
    assert sc.pickleFile(empty).collect() == []


# -- toDF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("word", "n"), (("word", "n"),), (["word", "n"],), ("word string, n long",), (["word", "n"], 0.5)],
)
def test_toDF_schema_forms(sc, args):
    df = sc.parallelize([("a", 1), ("b", 2)], 2).toDF(*args)
    assert df.columns == ["word", "n"]
    assert [tuple(r) for r in df.collect()] == [("a", 1), ("b", 2)]


def test_toDF_with_a_struct_type_and_one_name(sc):
    from dstreams.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("w", StringType()), StructField("c", LongType())])
    assert sc.parallelize([("a", 1)]).toDF(schema).dtypes == [("w", "string"), ("c", "bigint")]
    assert sc.parallelize([("a", 1)]).toDF(schema=schema).columns == ["w", "c"]
    assert sc.parallelize([("a",)]).toDF(("word",)).columns == ["word"]


# -- inside a stream ----------------------------------------------------------------------------------------


def test_the_surface_inside_foreachRDD_and_transform(ssc, clock, both_paths):
    seen = []
    stream = ssc.queueStream([[3, 1, 2], [], [5, 4]])

    def report(rdd):
        empty = rdd.isEmpty()
        seen.append(
            (
                rdd.top(2),
                rdd.takeOrdered(1),
                rdd.sum(),
                rdd.stats().count(),
                rdd.zipWithIndex().collect(),
                None if empty else rdd.histogram(2)[1],
                rdd.fold(0, operator.add),
            )
        )

    stream.foreachRDD(report)
    indexed = []
    stream.transform(lambda rdd: rdd.zipWithUniqueId().map(lambda p: p[1])).foreachRDD(
        lambda rdd: indexed.append(rdd.collect())
    )
    ssc.start()
    clock.advance(3)
    ssc.stop(stopSparkContext=False)
    assert seen == [
        ([3, 2], [1], 6, 3, [(3, 0), (1, 1), (2, 2)], [1, 2], 6),
        ([], [], 0, 0, [], None, 0),
        ([5, 4], [4], 9, 2, [(5, 0), (4, 1)], [1, 1], 9),
    ]
    assert indexed == [[0, 1, 2], [], [0, 1]]


def test_docstring_examples_run():
    """Every ``>>>`` example of the methods added here runs as written."""
    names = [
        "aggregate", "fold", "treeAggregate", "treeReduce", "aggregateByKey", "foldByKey", "top",
        "takeOrdered", "sample", "sampleByKey", "takeSample", "zipWithIndex", "zipWithUniqueId", "zip",
        "stats", "mean", "variance", "stdev", "sampleVariance", "sampleStdev", "histogram", "countByKey",
        "lookup", "subtract", "subtractByKey", "intersection", "groupBy", "groupWith", "reduceByKeyLocally",
        "foreachPartition", "toLocalIterator", "id", "name", "toDebugString", "getStorageLevel",
        "isCheckpointed", "saveAsTextFile", "saveAsPickleFile", "toDF", "sum", "max", "min",
        "randomSplit", "repartitionAndSortWithinPartitions", "countApproxDistinct", "localCheckpoint",
        "reduce",
    ]  # fmt: skip
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for name in names:
        method = getattr(dstreams.rdd.RDD, name)
        tests = finder.find(method, name, globs={})
        assert tests and tests[0].examples, f"RDD.{name} has no >>> example"
        for test in tests:
            runner.run(test)
    for test in finder.find(statcounter):
        runner.run(test)
    assert runner.failures == 0


@pytest.mark.parametrize("n", PARTS)
def test_randomSplit_matches_pyspark_with_a_seed(sc, n, both_paths):
    rdd = sc.parallelize(range(20), n)
    assert [r.collect() for r in rdd.randomSplit([1, 2], 17)] == by_n(
        n,
        [[7, 9, 11, 16, 17, 19], [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 13, 14, 15, 18]],
        [[7, 9, 10, 11, 12, 17, 18], [0, 1, 2, 3, 4, 5, 6, 8, 13, 14, 15, 16, 19]],
        [[6, 7, 8, 18], [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19]],
    )  # PySpark
    assert [r.glom().collect() for r in rdd.randomSplit([0.5, 0.25, 0.25], 5)][1] == by_n(
        n, [[4, 11]], [[4], [10, 14]], [[4], [6, 10], [16, 18]]
    )  # PySpark
    assert sorted(x for r in rdd.randomSplit([1, 1, 1]) for x in r.collect()) == list(range(20))
    with pytest.raises(ValueError, match="Weights must be nonnegative"):
        rdd.randomSplit([-1, 2])


@pytest.mark.parametrize("n", PARTS)
def test_repartitionAndSortWithinPartitions(sc, n, both_paths):
    pairs = sc.parallelize([(5, "a"), (1, "b"), (4, "c"), (2, "d"), (3, "e"), (1, "f")], n)
    assert pairs.repartitionAndSortWithinPartitions(2).glom().collect() == [
        [(2, "d"), (4, "c")],
        [(1, "b"), (1, "f"), (3, "e"), (5, "a")],
    ]  # PySpark
    assert pairs.repartitionAndSortWithinPartitions(3, lambda k: k, False).glom().collect() == [
        [(3, "e")],
        [(4, "c"), (1, "b"), (1, "f")],
        [(5, "a"), (2, "d")],
    ]  # PySpark
    assert pairs.repartitionAndSortWithinPartitions().getNumPartitions() == n


def test_countApproxDistinct_checkpoint_flags_and_old_names(sc):
    assert sc.parallelize([1, 2, 2, 3] * 10, 2).countApproxDistinct() == 3  # PySpark
    with pytest.raises(ValueError, match=r"relativeSD should be greater than 0\.000017"):
        sc.parallelize([1]).countApproxDistinct(0.000001)
    rdd = sc.parallelize([1])
    assert rdd.localCheckpoint() is None and rdd.isLocallyCheckpointed()  # PySpark
    assert not rdd.isCheckpointed() and rdd.getCheckpointFile() is None
    with pytest.warns(FutureWarning, match="mapPartitionsWithIndex"):
        split = sc.parallelize([1, 2, 3], 2).mapPartitionsWithSplit(lambda i, it: [(i, list(it))])
    assert split.collect() == [(0, [1]), (1, [2, 3])]  # PySpark
