"""groupByKey: values gathered per key (sorted here, since their order is not defined)."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-groupbykey")
ssc = streaming_context(sc, 1)
pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)], [("c", 4)], []])
pairs.groupByKey().mapValues(sorted).pprint()
pairs.groupByKey().mapValues(len).pprint()
run(ssc, 3)
