"""A map function that raises on one element of the last batch: the output fails, run() raises."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-error-map")
ssc = streaming_context(sc, 1)
words = ssc.queueStream([["1", "2"], ["3"], ["4", "four"]])
words.map(int).pprint()
try:
    run(ssc, 3)
    print("no error reached the program")
except Exception as error:
    print("the program caught an error; names ValueError:", "ValueError" in str(error))
