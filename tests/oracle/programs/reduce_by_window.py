"""reduceByWindow without an inverse function."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebywindow")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2], [3], [], [10]])
numbers.reduceByWindow(lambda a, b: a + b, None, 2, 1).pprint()
run(ssc, 6)
