"""repartition changes the partition count, not the elements."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-repartition")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([list(range(10)), [42], []])


def show(time, rdd):
    print(f"{time}: {rdd.getNumPartitions()} partitions, {sorted(rdd.collect())}")


numbers.repartition(3).foreachRDD(show)
numbers.repartition(1).glom().map(sorted).pprint()
run(ssc, 3)
