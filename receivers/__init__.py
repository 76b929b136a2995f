"""Sources: where batches come from (``dstreams.receivers``).

Each source is an ``InputDStream`` whose ``_allocate(t)`` returns the data of the interval
``(t - batch, t]`` when the timer generates batch ``t``:

* ``queue`` (``queueStream``) and ``generator`` (``generatorStream``): in-process data;
* ``receiver``: the :class:`Receiver` API (``receiverStream``), the base of push sources;
* ``socket`` (``socketTextStream``): lines from a TCP server;
* ``files`` (``textFileStream``, ``binaryRecordsStream``, ``fileStream``): new files in a directory;
* ``ratecontrol``: the rate limiter and Spark's PID backpressure estimator;
* ``kafka`` (``KafkaUtils.createDirectStream``): direct Kafka stream, offset ranges, ``dstreams[kafka]``;
* ``redis_streams`` (``RedisStreams.createStream``): a reliable Redis Streams receiver, ``dstreams[redis]``.
"""

from .receiver import Receiver, ReceiverInputDStream, ReceiverStoppedError

__all__ = ["Receiver", "ReceiverInputDStream", "ReceiverStoppedError"]
