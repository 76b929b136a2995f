"""countByWindow (an inverse reduce under the hood: needs a checkpoint directory)."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-countbywindow")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
numbers = ssc.queueStream([[1, 2, 3], [4], [], [5, 6]])
numbers.countByWindow(2, 1).pprint()
run(ssc, 6)
