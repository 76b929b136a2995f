"""join: every pair of values of a key present on both sides."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-join")
ssc = streaming_context(sc, 1)
left = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)], [("c", 1)], []])
right = ssc.queueStream([[("a", "x"), ("c", "y"), ("a", "z")], [("d", 1)], [("e", 2)]])
left.join(right).pprint()
run(ssc, 3)
