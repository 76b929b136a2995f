"""cogroup: for each key, the values of each side (sorted: their order is not defined)."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-cogroup")
ssc = streaming_context(sc, 1)
left = ssc.queueStream([[("a", 1), ("b", 2), ("a", 5)], [("c", 3)], []])
right = ssc.queueStream([[("a", 9), ("z", 8)], [], [("q", 0)]])
left.cogroup(right).mapValues(lambda vs: (sorted(vs[0]), sorted(vs[1]))).pprint()
run(ssc, 3)
