"""leftOuterJoin: None where the right side has no value."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-leftouterjoin")
ssc = streaming_context(sc, 1)
left = ssc.queueStream([[("a", 1), ("b", 2)], [("c", 3)], []])
right = ssc.queueStream([[("a", "x"), ("a", "y"), ("z", "w")], [], [("q", 0)]])
left.leftOuterJoin(right).pprint()
run(ssc, 3)
