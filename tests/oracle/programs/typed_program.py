"""A program with type annotations: DStream[...] and RDD[...] are subscriptable."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext
from pyspark.rdd import RDD
from pyspark.streaming import DStream

sc = SparkContext(sys.argv[1], "oracle-typed")
ssc = streaming_context(sc, 1)


def to_pairs(rdd: RDD[str]) -> RDD[tuple[str, int]]:
    return rdd.map(lambda word: (word, len(word)))


words: DStream[str] = ssc.queueStream([["typed", "stream"], []])
lengths: DStream[tuple[str, int]] = words.transform(to_pairs)
lengths.pprint()
run(ssc, 2)
