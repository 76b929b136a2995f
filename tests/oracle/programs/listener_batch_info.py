"""A StreamingListener: the batch fields that do not depend on timing, printed after the run."""

import sys

from _harness import run, streaming_context
from pyspark import SparkContext
from pyspark.streaming.listener import StreamingListener

sc = SparkContext(sys.argv[1], "oracle-listener")
ssc = streaming_context(sc, 1)


class Recorder(StreamingListener):
    def __init__(self):
        super().__init__()
        self.batches = []
        self.outputs = []

    def onBatchCompleted(self, batchCompleted):
        info = batchCompleted.batchInfo()
        self.batches.append(
            (
                info.batchTime().milliseconds(),
                info.numRecords(),
                len(info.outputOperationInfos()),
                info.processingDelay() >= 0,
                info.schedulingDelay() >= 0,
                info.totalDelay() >= info.processingDelay(),
                len(info.streamIdToInputInfo()),
            )
        )

    def onOutputOperationCompleted(self, outputOperationCompleted):
        op = outputOperationCompleted.outputOperationInfo()
        self.outputs.append((op.batchTime().milliseconds(), op.id(), op.failureReason()))


recorder = Recorder()
ssc.addStreamingListener(recorder)
numbers = ssc.queueStream([[1, 2, 3], [4], []])
numbers.count().pprint()
numbers.foreachRDD(lambda rdd: None)
run(ssc, 3)
first = min(b[0] for b in recorder.batches)
for batch_ms, records, outputs, *checks in sorted(recorder.batches)[:3]:
    print("batch", (batch_ms - first) // 1000, "records", records, "output ops", outputs, "checks", checks)
for batch_ms, op_id, failure in sorted(recorder.outputs)[:6]:
    print("output op", (batch_ms - first) // 1000, op_id, "failed" if failure else "ok")
