"""glom: each partition becomes one list, partitions in order."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-glom")
ssc = streaming_context(sc, 1)
numbers = ssc.queueStream([[1, 2, 3, 4, 5], [6, 7], []])
numbers.glom().pprint()
numbers.glom().map(len).pprint()
run(ssc, 3)
