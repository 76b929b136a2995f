"""foreachRDD with one and two arguments; the time passed is the batch time."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-foreachrdd")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["b", "a"], ["c"], []])
words.foreachRDD(lambda time, rdd: print("batch", time, sorted(rdd.collect())))
words.foreachRDD(lambda rdd: print("elements", rdd.count()))
run(ssc, 3)
