"""map: one output element per input element, in input order."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-map")
ssc = streaming_context(sc, 1)
lines = ssc.queueStream([["spark", "streams"], ["a", "b", "c"], []])
lines.map(lambda s: s.upper()).pprint()
lines.map(lambda s: (s, len(s))).pprint()
run(ssc, 3)
