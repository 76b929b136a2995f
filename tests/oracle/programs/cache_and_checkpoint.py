"""cache, persist and checkpoint(interval) change nothing in the results."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext, StorageLevel

sc = SparkContext(sys.argv[1], "oracle-cache")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
numbers = ssc.queueStream([[1, 2], [3], [4]])
doubled = numbers.map(lambda n: n * 2).cache()
tripled = numbers.map(lambda n: n * 3).persist(StorageLevel.MEMORY_AND_DISK)
tripled.checkpoint(2)
doubled.union(tripled).pprint()
run(ssc, 3)
