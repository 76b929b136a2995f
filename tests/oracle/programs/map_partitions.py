"""mapPartitions sees one partition at a time: one sum per input partition."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-mappartitions")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2, 3, 4], [5, 6, 7], [8]])
numbers.mapPartitions(lambda it: [sum(it)]).pprint()
numbers.mapPartitions(lambda it: (x * 10 for x in it)).pprint()
run(ssc, 3)
