"""countByValueAndWindow: per-element counts over the window."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-countbyvalueandwindow")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
words = ssc.queueStream([["a", "b", "a"], ["b"], [], ["c"]])
words.countByValueAndWindow(2, 1).pprint()
run(ssc, 6)
