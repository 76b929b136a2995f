"""RDD actions inside foreachRDD: count, sum, min, max, mean, first, take, top, takeOrdered, isEmpty."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-rdd-actions")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[5, 3, 9, 1, 3], [2], []])


def describe(time, rdd):
    print(f"--- {time}")
    print("count", rdd.count(), "sum", rdd.sum(), "empty", rdd.isEmpty())
    if not rdd.isEmpty():
        print("min", rdd.min(), "max", rdd.max(), "mean", rdd.mean(), "first", rdd.first())
        print("take", rdd.take(2), "top", rdd.top(2), "takeOrdered", rdd.takeOrdered(2))
        print("distinct", sorted(rdd.distinct().collect()), "reduce", rdd.reduce(lambda a, b: a * b))
        print("fold", rdd.fold(0, lambda a, b: a + b), "countByValue", sorted(rdd.countByValue().items()))


numbers.foreachRDD(describe)
run(ssc, 3)
