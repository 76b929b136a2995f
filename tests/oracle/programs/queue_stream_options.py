"""queueStream(oneAtATime=False) takes the whole queue at once; default= fills empty batches."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-queue-options")
ssc = streaming_context(sc, 1)
everything = ssc.queueStream([[1, 2], [3], [4, 5]], oneAtATime=False)
everything.pprint()
with_default = ssc.queueStream([["first"]], default=sc.parallelize(["default"]))
with_default.pprint()
run(ssc, 3)
