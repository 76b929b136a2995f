"""A broadcast variable read in a map and an accumulator added to in foreachRDD."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-broadcast-accumulator")
ssc = streaming_context(sc, 1)
names = sc.broadcast({1: "one", 2: "two"})
seen = sc.accumulator(0)
numbers = ssc.queueStream([[1, 2, 3], [2], []])
numbers.map(lambda n: names.value.get(n, "?")).pprint()


def count(rdd):
    rdd.foreach(lambda n: seen.add(1))


numbers.foreachRDD(count)
run(ssc, 3)
print("accumulator", seen.value)
