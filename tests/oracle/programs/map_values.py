"""mapValues keeps keys and order."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-mapvalues")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)], [("c", 10)], []])
pairs.mapValues(lambda v: v * v).pprint()
pairs.mapValues(str).pprint()
run(ssc, 3)
