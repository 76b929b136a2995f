"""A stateless chain of many operators in one batch: map, filter, flatMap, mapValues, reduceByKey."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext

sc = SparkContext(sys.argv[1], "oracle-chain")
ssc = streaming_context(sc, 1)
logs = ssc.queueStream(
    [["GET /a 200", "GET /b 404", "POST /a 200"], ["GET /a 500", "bad line"], ["GET /c 200"]]
)
parsed = logs.map(lambda line: line.split(" ")).filter(lambda parts: len(parts) == 3)
by_path = parsed.map(lambda p: (p[1], int(p[2]))).mapValues(lambda status: 1 if status >= 400 else 0)
by_path.reduceByKey(lambda a, b: a + b).pprint()
parsed.flatMap(lambda p: p[:1]).countByValue().pprint()
run(ssc, 3)
