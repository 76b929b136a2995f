"""DStream.union: both streams' elements in each batch, the first stream's first."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-union")
ssc = streaming_context(sc, 1)
left = ssc.queueStream([["a", "b"], ["c"], []])
right = ssc.queueStream([["x"], [], ["y", "z"]])
left.union(right).pprint()
left.union(right).count().pprint()
run(ssc, 3)
