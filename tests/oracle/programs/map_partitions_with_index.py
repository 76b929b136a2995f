"""mapPartitionsWithIndex: partition numbers and how queueStream slices its lists."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-mappartitionswithindex")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2, 3, 4, 5], [6], []])
numbers.mapPartitionsWithIndex(lambda i, it: [(i, list(it))]).pprint()
run(ssc, 3)
