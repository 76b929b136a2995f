"""StreamingContext.union of three streams."""

# oracle: ordered (the order of each batch's lines is defined on every partition count)

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-context-union")
ssc = streaming_context(sc, 1)
streams = [ssc.queueStream([[f"{name}{i}"] for i in range(3)]) for name in ("p", "q", "r")]
ssc.union(*streams).pprint()
run(ssc, 3)
