"""window(3, 1): each batch sees the last three batches' elements."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-window")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1], [2, 3], [4], [5]])
numbers.window(3, 1).pprint()
numbers.window(3).count().pprint()
run(ssc, 6)
