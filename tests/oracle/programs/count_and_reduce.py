"""count, reduce and countByValue of each batch (an empty batch too)."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-count-reduce")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[3, 1, 3, 2], [5], []])
numbers.count().pprint()
numbers.reduce(lambda a, b: a + b).pprint()
numbers.countByValue().pprint()
run(ssc, 3)
