"""fullOuterJoin: keys of either side, None for the missing one."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-fullouterjoin")
ssc = streaming_context(sc, 1)
left = ssc.queueStream([[("a", 1), ("b", 2)], [("c", 3)], []])
right = ssc.queueStream([[("a", "x"), ("z", "w")], [], [("q", 0)]])
left.fullOuterJoin(right).pprint()
run(ssc, 3)
