"""groupByKeyAndWindow: values of a key over the window (sorted: their order is not defined)."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-groupbykeyandwindow")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("a", 1), ("b", 2)], [("a", 3)], [], [("b", 4)]])
pairs.groupByKeyAndWindow(2, 1).mapValues(sorted).pprint()
run(ssc, 6)
