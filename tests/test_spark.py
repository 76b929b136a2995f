"""The local stand-ins for SparkContext, SparkConf, StorageLevel, and Row."""

from __future__ import annotations

import os
import pickle

import pytest

from dstreams import ConfigurationError, Row, SparkConf, SparkContext, StorageLevel, StreamingContext


@pytest.fixture
def sc():
    context = SparkContext("local[2]", "spark-tests")
    yield context
    context.stop()


# -- SparkContext ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(10, 3), (7, 3), (2, 4), (0, 2), (5, 1), (100, 7)])
def test_parallelize_slices_as_spark(sc, n, k):
    data = list(range(n))
    want = [data[i * n // k : (i + 1) * n // k] for i in range(k)]
    rdd = sc.parallelize(data, k)
    assert rdd.getNumPartitions() == k
    assert rdd.glom().collect() == want


def test_parallelize_takes_any_iterable_and_defaults_to_default_parallelism(sc):
    assert sc.parallelize(range(4)).glom().collect() == [[0, 1], [2, 3]]  # local[2]
    assert sc.parallelize(x * x for x in range(3)).collect() == [0, 1, 4]
    assert sc.parallelize("ab", 1).collect() == ["a", "b"]


def test_parallelize_needs_a_positive_slice_count(sc):
    with pytest.raises(ConfigurationError, match="numSlices must be at least 1"):
        sc.parallelize([1], 0)


def test_emptyRDD_has_no_partitions(sc):
    rdd = sc.emptyRDD()
    assert rdd.getNumPartitions() == 0
    assert rdd.collect() == [] and rdd.glom().collect() == []


def test_textFile_reads_lines_as_hadoop(sc, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("one\r\ntwo\rthree\n\nfünf\x0bsix\u2028seven\n".encode())
    assert sc.textFile(str(path)).collect() == ["one", "two", "three", "", "fünf\x0bsix\u2028seven"]
    assert sc.textFile(str(path), 2).getNumPartitions() == 2
    (tmp_path / "empty.txt").write_text("")
    assert sc.textFile(str(tmp_path / "empty.txt")).collect() == []
    (tmp_path / "no-newline.txt").write_text("x\ny")
    assert sc.textFile(str(tmp_path / "no-newline.txt")).collect() == ["x", "y"]


def test_textFile_reads_directories_globs_and_lists(sc, tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    (d / "b.txt").write_text("b1\nb2\n")
    (d / "a.txt").write_text("a1\n")
    (d / ".hidden").write_text("no\n")
    (d / "_SUCCESS").write_text("")
    (d / "sub").mkdir()
    assert sc.textFile(str(d)).collect() == ["a1", "b1", "b2"]
    assert sc.textFile(os.path.join(str(d), "b*")).collect() == ["b1", "b2"]
    assert sc.textFile(f"{d / 'b.txt'},{d / 'a.txt'}").collect() == ["b1", "b2", "a1"]
    with pytest.raises(FileNotFoundError):
        sc.textFile(os.path.join(str(d), "nothing*"))


def test_checkpoint_dir(sc, tmp_path):
    assert sc.getCheckpointDir() is None
    sc.setCheckpointDir(str(tmp_path))
    assert sc.getCheckpointDir() == str(tmp_path)


def test_streaming_checkpoint_sets_the_spark_checkpoint_dir(tmp_path):
    sc = SparkContext("local[1]", "checkpoint")
    ssc = StreamingContext(sc, 1)
    try:
        ssc.checkpoint(str(tmp_path))
        assert sc.getCheckpointDir() == str(tmp_path)
    finally:
        ssc.stop()


@pytest.mark.parametrize(
    "master, conf, want",
    [
        ("local[3]", {}, 3),
        ("local[1]", {}, 1),
        ("local[4, 2]", {}, 4),
        ("local", {}, 1),
        ("local[*]", {}, os.cpu_count() or 1),
        ("local[3]", {"spark.default.parallelism": "5"}, 5),
        ("spark://host:7077", {}, 1),
    ],
)
def test_defaultParallelism(master, conf, want):
    with SparkContext(master, "p", conf=SparkConf().setAll(conf.items())) as sc:
        assert sc.defaultParallelism == want
        assert sc.master == master


def test_without_a_master_batches_have_one_partition():
    with SparkContext() as sc:
        assert sc.defaultParallelism == 1
        assert sc.appName == "dstreams"


def test_stop_and_getOrCreate():
    first = SparkContext("local[1]", "first")
    assert SparkContext.getOrCreate() is first
    first.stop()
    first.stop()  # twice is fine
    second = SparkContext.getOrCreate(SparkConf().setAppName("second"))
    try:
        assert second is not first and second.appName == "second"
    finally:
        second.stop()


def test_context_manager_stops(tmp_path):
    with SparkContext("local[1]", "cm") as sc:
        assert SparkContext.getOrCreate() is sc
    assert SparkContext.getOrCreate() is not sc
    SparkContext.getOrCreate().stop()


def test_union_version_and_conf(sc):
    assert sc.union([sc.parallelize([1], 1), sc.parallelize([2], 1)]).collect() == [1, 2]
    assert isinstance(sc.version, str)
    conf = sc.getConf()
    assert conf.get("spark.master") == "local[2]" and conf.get("spark.app.name") == "spark-tests"
    conf.set("spark.master", "changed")
    assert sc.master == "local[2]" and sc.getConf().get("spark.master") == "local[2]"  # a copy
    sc.setLogLevel("WARN")


# -- SparkConf ---------------------------------------------------------------------------------------


def test_sparkconf_chains():
    conf = (
        SparkConf()
        .setMaster("local[2]")
        .setAppName("app")
        .set("spark.x", 1)
        .setIfMissing("spark.x", 2)
        .setIfMissing("spark.y", True)
        .setAll([("spark.z", "z")])
    )
    assert conf.get("spark.master") == "local[2]" and conf.get("spark.app.name") == "app"
    assert conf.get("spark.x") == "1" and conf.get("spark.y") == "True"  # values are strings
    assert conf.get("missing") is None and conf.get("missing", "d") == "d"
    assert conf.contains("spark.z") and not conf.contains("missing")
    assert ("spark.z", "z") in conf.getAll()
    assert "spark.x=1" in conf.toDebugString().splitlines()
    assert "spark.x" in repr(conf)


# -- StorageLevel ----------------------------------------------------------------------------------


def test_storage_levels():
    assert StorageLevel.MEMORY_ONLY.useMemory and not StorageLevel.MEMORY_ONLY.useDisk
    assert StorageLevel.MEMORY_AND_DISK.useDisk and StorageLevel.MEMORY_AND_DISK.useMemory
    assert StorageLevel.DISK_ONLY.useDisk and not StorageLevel.DISK_ONLY.useMemory
    assert StorageLevel.MEMORY_AND_DISK_2.replication == 2 and StorageLevel.MEMORY_ONLY_2.replication == 2
    assert StorageLevel.DISK_ONLY_2.replication == 2
    assert StorageLevel.OFF_HEAP.useOffHeap
    assert StorageLevel.MEMORY_AND_DISK_DESER.deserialized
    assert repr(StorageLevel(True, False, False, False, 3)) == "StorageLevel(True, False, False, False, 3)"


# -- Row ---------------------------------------------------------------------------------------------


def test_row_with_keywords():
    r = Row(word="hello", n=2)
    assert r.word == "hello" and r.n == 2
    assert r[0] == "hello" and r[1] == 2 and r["n"] == 2 and r[-1] == 2
    assert r.asDict() == {"word": "hello", "n": 2}
    assert list(r.asDict()) == ["word", "n"]  # field order is kept, as PySpark 3+
    assert r == ("hello", 2) and tuple(r) == ("hello", 2) and len(r) == 2
    assert "word" in r and "hello" not in r
    assert repr(r) == "Row(word='hello', n=2)"
    word, n = r
    assert (word, n) == ("hello", 2)


def test_row_missing_fields():
    r = Row(a=1)
    with pytest.raises(AttributeError):
        r.b
    with pytest.raises(KeyError):
        r["b"]
    with pytest.raises(IndexError):
        r[3]


def test_row_positional_and_row_classes():
    values = Row("Alice", 11)
    assert values[0] == "Alice" and values[1] == 11
    assert "Alice" in values
    assert repr(values) == "<Row('Alice', 11)>"
    with pytest.raises(TypeError, match="Row class"):
        values.asDict()
    Person = Row("name", "age")
    alice = Person("Alice", 11)
    assert alice.name == "Alice" and alice.age == 11 and alice.asDict() == {"name": "Alice", "age": 11}
    with pytest.raises(ValueError, match="expected 2 values"):
        Person("Bob")
    with pytest.raises(TypeError):
        alice("again")
    with pytest.raises(ValueError, match="not both"):
        Row("x", y=1)


def test_row_asDict_recursive():
    r = Row(a=1, inner=Row(b=2), rows=[Row(c=3)])
    assert r.asDict() == {"a": 1, "inner": Row(b=2), "rows": [Row(c=3)]}
    assert r.asDict(recursive=True) == {"a": 1, "inner": {"b": 2}, "rows": [{"c": 3}]}


def test_row_pickles_with_its_fields():
    r = Row(a=1, b="x")
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.b == "x" and back.asDict() == {"a": 1, "b": "x"}
