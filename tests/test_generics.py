"""Typed programs: ``DStream[...]``, ``RDD[...]`` and ``DataFrame`` annotations work at run time.

PySpark's own examples annotate functions passed to ``foreachRDD``/``transform`` with
``RDD[str]`` and streams with ``DStream[Tuple[str, int]]``; a module with such annotations must load
and run with and without ``from __future__ import annotations`` (without it, they are evaluated
when the function is defined).
"""

# ruff: noqa: UP006 - this file tests the typing.Tuple spelling of typed PySpark programs
from __future__ import annotations

import typing
from typing import Tuple  # noqa: UP035 - the spelling of typed PySpark programs

import pytest

from dstreams import RDD, Accumulator, Broadcast, DStream
from dstreams.sql import DataFrame


def test_the_classes_are_subscriptable():
    assert typing.get_origin(DStream[Tuple[str, int]]) is DStream
    assert typing.get_args(DStream[Tuple[str, int]]) == (Tuple[str, int],)
    assert typing.get_origin(RDD[str]) is RDD and typing.get_origin(DataFrame[int]) is DataFrame
    assert (
        typing.get_origin(Broadcast[list]) is Broadcast and typing.get_origin(Accumulator[int]) is Accumulator
    )
    assert RDD[str] == RDD[str]


PROGRAM = """
import datetime
from typing import List, Optional, Tuple

from dstreams import RDD, DStream, ManualClock, SparkContext, StreamingContext
from dstreams.sql import DataFrame, SparkSession

OUT = []


def words(lines: DStream[str]) -> DStream[Tuple[str, int]]:
    return lines.flatMap(lambda line: line.split(" ")).map(lambda w: (w, 1))


def top_two(rdd: RDD[Tuple[str, int]]) -> RDD[Tuple[str, int]]:
    return rdd.reduceByKey(lambda a, b: a + b).sortBy(lambda kv: (-kv[1], kv[0]))


def joined(left: RDD[Tuple[str, int]], right: RDD[Tuple[str, int]]) -> RDD[Tuple[str, Tuple[int, int]]]:
    return left.join(right)


def as_frame(time: datetime.datetime, rdd: RDD[Tuple[str, int]]) -> None:
    frame: DataFrame = SparkSession.builder.getOrCreate().createDataFrame(rdd, ["word", "n"])
    OUT.append(("df", [tuple(r) for r in frame.collect()]))


def collect(rdd: RDD[Tuple[str, int]]) -> None:
    OUT.append(("top", rdd.take(2)))


def run() -> list:
    clock = ManualClock()
    ssc = StreamingContext(SparkContext.getOrCreate(), 1, clock=clock)
    pairs: DStream[Tuple[str, int]] = words(ssc.queueStream([["a b a"], ["c"]]))
    pairs.transform(top_two).foreachRDD(collect)
    pairs.transformWith(joined, pairs).foreachRDD(lambda rdd: OUT.append(("join", sorted(rdd.collect()))))
    pairs.foreachRDD(as_frame)
    ssc.start()
    clock.advance(2)
    ssc.stop(stopSparkContext=False)
    return OUT
"""


@pytest.mark.parametrize("future", [False, True], ids=["evaluated", "postponed"])
def test_an_annotated_program_loads_and_runs(future):
    source = ("from __future__ import annotations\n" if future else "") + PROGRAM
    namespace: dict = {"__name__": "typed_program"}
    exec(compile(source, "typed_program.py", "exec"), namespace)
    out = namespace["run"]()
    assert ("top", [("a", 2), ("b", 1)]) in out and ("top", [("c", 1)]) in out
    assert ("join", [("a", (1, 1)), ("a", (1, 1)), ("a", (1, 1)), ("a", (1, 1)), ("b", (1, 1))]) in out
    assert ("df", [("a", 1), ("b", 1), ("a", 1)]) in out
    hints = typing.get_type_hints(namespace["joined"], namespace)
    assert hints["left"] == RDD[Tuple[str, int]]
    assert typing.get_type_hints(namespace["words"], namespace)["return"] == DStream[Tuple[str, int]]


def test_annotated_functions_passed_directly(ssc, clock, both_paths):
    got = []

    def keep_long(rdd: RDD[str]) -> RDD[str]:
        return rdd.filter(lambda w: len(w) > 1)

    def record(time, rdd: RDD[str]) -> None:
        got.append(rdd.collect())

    stream: DStream[str] = ssc.queueStream([["a", "bb", "ccc"], ["dd"]])
    stream.transform(keep_long).foreachRDD(record)
    ssc.start()
    clock.advance(2)
    ssc.stop(stopSparkContext=False)
    assert got == [["bb", "ccc"], ["dd"]]
