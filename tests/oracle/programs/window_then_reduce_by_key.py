"""window(2, 2) followed by reduceByKey, and the window of a reduced stream."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-window-reducebykey")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["x", "y"], ["x"], ["y", "y"], ["z"]])
pairs = words.map(lambda w: (w, 1))
pairs.window(2, 2).reduceByKey(lambda a, b: a + b).pprint()
pairs.reduceByKey(lambda a, b: a + b).window(3, 1).pprint()
run(ssc, 5)
