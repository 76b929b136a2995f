"""reduceByKeyAndWindow with invFunc: a key whose count fell to 0 stays (no filterFunc)."""

import sys
import tempfile

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-reducebykeyandwindow-inv")
ssc = streaming_context(sc, 1)
ssc.checkpoint(tempfile.mkdtemp(prefix="oracle-"))
words = ssc.queueStream([["a", "b", "a"], ["b", "c"], [], ["a"]])
pairs = words.map(lambda w: (w, 1))
pairs.reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 2, 1).pprint()
run(ssc, 6)
