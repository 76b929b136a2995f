"""SparkContext's shared variables (broadcast, accumulators), sources and settings, as PySpark's.

Values marked "PySpark" were checked with PySpark 4.3.0 in local mode.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time

import cloudpickle
import pytest

from dstreams import (
    Accumulator,
    AccumulatorParam,
    Broadcast,
    ConfigurationError,
    DStreamsError,
    SparkConf,
    SparkContext,
    StatCounter,
)
from dstreams.broadcast import BroadcastDestroyedError


@pytest.fixture
def sc():
    context = SparkContext("local[2]", "context-tests")
    yield context
    context.stop()


def test_the_shared_variable_classes_are_exported():
    import dstreams

    for name in ("Accumulator", "AccumulatorParam", "Broadcast", "StatCounter"):
        assert name in dstreams.__all__
    assert StatCounter is dstreams.statcounter.StatCounter


# -- broadcast ---------------------------------------------------------------------------------------------


def test_broadcast_value_unpersist_destroy(sc):
    b = sc.broadcast([1, 2, 3])
    assert isinstance(b, Broadcast) and b.value == [1, 2, 3]
    assert sc.parallelize([1, 5], 2).filter(lambda x: x in b.value).collect() == [1]
    b.unpersist()
    assert b.value == [1, 2, 3]  # unpersist keeps it usable
    b.destroy()
    with pytest.raises(BroadcastDestroyedError, match=r"destroyed.*sc\.broadcast"):
        b.value
    assert issubclass(BroadcastDestroyedError, DStreamsError)
    assert sc.broadcast(1).id != sc.broadcast(1).id


def test_broadcast_pickles_by_value(sc):
    b = sc.broadcast({"stop": ["a", "the"]})
    back = pickle.loads(pickle.dumps(b))
    assert back.value == {"stop": ["a", "the"]} and back.id == b.id
    closure = cloudpickle.loads(cloudpickle.dumps(lambda w: w not in b.value["stop"]))
    assert closure("cat") and not closure("the")


RECOVERABLE_APP = """
import sys
from dstreams import ManualClock, SparkContext, StreamingContext

def getWordExcludeList(sparkContext):
    # Spark's lazily created singleton: made on first use in each process
    if "wordExcludeList" not in globals():
        print("new broadcast", flush=True)
        globals()["wordExcludeList"] = sparkContext.broadcast(["a", "b"])
    return globals()["wordExcludeList"]

def getDroppedWordsCounter(sparkContext):
    if "droppedWordsCounter" not in globals():
        globals()["droppedWordsCounter"] = sparkContext.accumulator(0)
    return globals()["droppedWordsCounter"]

def report(time, rdd):
    excluded = getWordExcludeList(rdd.context)
    dropped = getDroppedWordsCounter(rdd.context)

    def keep(word):
        if word in excluded.value:
            dropped.add(1)
            return False
        return True

    print(time.second, sorted(rdd.filter(keep).collect()), dropped.value, flush=True)

def create():
    print("create", flush=True)
    ssc = StreamingContext(SparkContext("local[2]", "recoverable"), 1, clock=ManualClock())
    ssc.queueStream([["a x b"], ["y a"], ["b z"], ["w"]]).flatMap(lambda l: l.split(" ")).foreachRDD(report)
    return ssc

ssc = StreamingContext.getOrCreate(sys.argv[1], create)
ssc.start()
ssc.clock.advance(2)
ssc.stop()
"""


def test_lazily_made_broadcast_works_after_getOrCreate_restores_the_graph(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(RECOVERABLE_APP))

    def run() -> list[str]:
        proc = subprocess.run(
            [sys.executable, str(app), str(tmp_path / "ck")], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    assert run() == ["create", "new broadcast", "1 ['x'] 2", "2 ['y'] 3"]
    # restored: no create(), a new broadcast and a new accumulator (values are not checkpointed)
    assert run() == ["new broadcast", "3 ['z'] 1", "4 ['w'] 1"]


# -- accumulators ----------------------------------------------------------------------------------------


def test_accumulator_add_iadd_value(sc):
    acc = sc.accumulator(1)
    acc += 2
    acc.add(3)
    assert acc.value == 6 and str(acc) == "6"
    assert repr(acc) == f"Accumulator<id={acc.aid}, value=6>"  # PySpark's form
    acc.value = 10
    assert acc.value == 10
    assert sc.accumulator(1.5).value == 1.5 and sc.accumulator(1j).value == 1j  # PySpark
    floats = sc.accumulator(0.0)
    sc.parallelize([0.5, 0.25], 2).foreach(floats.add)
    assert floats.value == 0.75
    with pytest.raises(TypeError, match="No default accumulator param for type <class 'str'>"):
        sc.accumulator("x")  # PySpark's message
    assert isinstance(acc, Accumulator) and sc.accumulator(0).aid != sc.accumulator(0).aid


def test_custom_accumulator_param(sc):
    class VectorParam(AccumulatorParam):
        def zero(self, value):
            return [0.0] * len(value)

        def addInPlace(self, value1, value2):
            for i in range(len(value1)):
                value1[i] += value2[i]
            return value1

    vec = sc.accumulator([1.0, 2.0], VectorParam())
    vec += [1.0, 1.0]
    sc.parallelize([[0.5, 0.5]]).foreach(vec.add)
    assert vec.value == [2.5, 3.5]
    assert VectorParam().zero([7, 7]) == [0.0, 0.0]
    with pytest.raises(NotImplementedError, match="zero"):
        AccumulatorParam().zero(0)


def test_accumulator_is_thread_safe(sc):
    acc = sc.accumulator(0)

    def hammer():
        for _ in range(20000):
            acc.add(1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(20000):
        acc += 1
    for t in threads:
        t.join()
    assert acc.value == 100000


def test_accumulator_updated_from_operators_and_outputs_of_a_stream(ssc, clock, both_paths):
    acc = ssc.sparkContext.accumulator(0)
    lines = ssc.queueStream([["a", "bb"], [], ["ccc"]])
    lines.map(lambda w: (acc.add(len(w)), w)[1]).foreachRDD(lambda rdd: acc.add(rdd.count() * 100))
    ssc.start()
    clock.advance(3)
    ssc.stop(stopSparkContext=False)
    assert acc.value == 3 + 3 + 300


def test_accumulator_pickles_with_its_value(sc):
    acc = sc.accumulator(5)
    back = pickle.loads(pickle.dumps(acc))
    back.add(1)
    assert back.value == 6 and acc.value == 5


# -- sources -----------------------------------------------------------------------------------------------


def test_range(sc):
    assert sc.range(5).glom().collect() == [[0, 1], [2, 3, 4]]  # PySpark (local[2])
    assert sc.range(2, 11, 3, 2).glom().collect() == [[2], [5, 8]]  # PySpark
    assert sc.range(5, 0, -2, 2).glom().collect() == [[5], [3, 1]]  # PySpark
    assert sc.range(0).collect() == [] and sc.range(3, numSlices=1).collect() == [0, 1, 2]


def test_union(sc):
    rdds = [sc.parallelize([1], 1), sc.parallelize([2, 3], 2), sc.parallelize([], 1)]
    both = sc.union(rdds)
    assert both.collect() == [1, 2, 3] and both.getNumPartitions() == 4
    with pytest.raises(ConfigurationError, match="emptyRDD"):
        sc.union([])


def test_wholeTextFiles(sc, tmp_path):
    (tmp_path / "b.txt").write_text("z")
    (tmp_path / "a.txt").write_text("x\ny\n")
    (tmp_path / "_SUCCESS").write_text("")
    got = sc.wholeTextFiles(str(tmp_path)).collect()
    assert got == [(f"file:{tmp_path}/a.txt", "x\ny\n"), (f"file:{tmp_path}/b.txt", "z")]
    raw = sc.wholeTextFiles(str(tmp_path / "a.txt"), use_unicode=False).collect()
    assert raw == [(f"file:{tmp_path}/a.txt", b"x\ny\n")]
    with pytest.raises(FileNotFoundError):
        sc.wholeTextFiles(str(tmp_path / "none*.txt"))


def test_pickleFile_reads_what_saveAsPickleFile_wrote(sc, tmp_path):
    out = str(tmp_path / "p")
    sc.parallelize([{"a": 1}, (2, "b"), None], 2).saveAsPickleFile(out)
    assert sc.pickleFile(out).collect() == [{"a": 1}, (2, "b"), None]
    assert "only read files that your own application wrote" in SparkContext.pickleFile.__doc__


# -- settings ------------------------------------------------------------------------------------------------


def test_identity_and_conf():
    before = int(time.time() * 1000)
    sc = SparkContext("local[3]", "ident", conf=SparkConf().set("spark.x", "1"))
    try:
        assert sc.master == "local[3]" and sc.appName == "ident"
        assert before <= sc.startTime <= int(time.time() * 1000)
        assert sc.applicationId == f"local-{sc.startTime}"
        conf = sc.getConf()
        assert conf.get("spark.x") == "1" and conf.get("spark.app.name") == "ident"
        conf.set("spark.x", "2")
        assert sc.getConf().get("spark.x") == "1"  # a copy, as PySpark's
    finally:
        sc.stop()


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("ALL", 1),
        ("TRACE", 5),
        ("DEBUG", logging.DEBUG),
        ("INFO", logging.INFO),
        ("WARN", logging.WARNING),
        ("ERROR", logging.ERROR),
        ("FATAL", logging.CRITICAL),
        ("OFF", logging.CRITICAL + 10),
        ("error", logging.ERROR),
    ],
)
def test_setLogLevel_sets_the_dstreams_logger(sc, name, level):
    logger = logging.getLogger("dstreams")
    old = logger.level
    try:
        sc.setLogLevel(name)
        assert logger.level == level
    finally:
        logger.setLevel(old)


def test_setLogLevel_rejects_unknown_names(sc):
    with pytest.raises(ConfigurationError, match="ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF"):
        sc.setLogLevel("LOUD")


def test_setLogLevel_silences_batch_errors(ssc, clock, capsys):
    logger = logging.getLogger("dstreams")
    old = logger.level
    ssc.sparkContext.setLogLevel("OFF")
    try:
        ssc.queueStream([[1]]).map(lambda x: 1 // 0).foreachRDD(lambda rdd: rdd.collect())
        ssc.start()
        with pytest.raises(DStreamsError):
            clock.advance(1)
        ssc.stop(stopSparkContext=False)
    finally:
        logger.setLevel(old)
    assert "ZeroDivisionError" not in capsys.readouterr().err


def test_docstring_examples_run():
    import doctest

    import dstreams.accumulators
    import dstreams.broadcast
    import dstreams.spark

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    for module in (dstreams.accumulators, dstreams.broadcast, dstreams.spark):
        for test in finder.find(module):
            runner.run(test)
    assert runner.failures == 0
    assert os.environ.get("PYTHONHASHSEED") != "random"  # nothing here depends on str hashes


def test_small_context_methods(sc):
    assert sc.defaultMinPartitions == 2 and sc.uiWebUrl is None and sc.sparkUser()
    sc.setLocalProperty("spark.scheduler.pool", "fast")
    assert sc.getLocalProperty("spark.scheduler.pool") == "fast"
    seen = []
    other = threading.Thread(target=lambda: seen.append(sc.getLocalProperty("spark.scheduler.pool")))
    other.start()
    other.join()
    assert seen == [None]  # per thread, as Spark's local properties
    sc.setLocalProperty("spark.scheduler.pool", None)
    assert sc.getLocalProperty("spark.scheduler.pool") is None
    sc.setJobGroup("g", "counting words")
    assert sc.getLocalProperty("spark.job.description") == "counting words"
    sc.setJobDescription("other")
    assert sc.getLocalProperty("spark.job.description") == "other"
