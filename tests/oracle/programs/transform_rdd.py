"""transform with an RDD function (distinct, sorted) and with a (time, rdd) function."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-transform")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["b", "a", "b", "c"], ["z", "z"], []])
words.transform(lambda rdd: rdd.distinct().sortBy(lambda w: w)).pprint()
words.transform(lambda t, rdd: rdd.map(lambda w: (w, type(t).__name__))).pprint()
run(ssc, 3)
