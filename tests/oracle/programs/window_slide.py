"""window(4, 2): output every second batch, over the last four."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-window-slide")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1], [2], [3], [4], [5], [6]])
windowed = numbers.window(4, 2)
windowed.pprint()
windowed.reduce(lambda a, b: a + b).pprint()
run(ssc, 7)
