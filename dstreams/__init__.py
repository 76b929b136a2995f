"""dstreams: Spark Streaming's DStream model for Python, on Arrow micro-batches and Polars plans.

Port a PySpark streaming program by replacing ``pyspark.streaming`` with ``dstreams``,
``pyspark.sql`` with ``dstreams.sql`` and then ``pyspark`` with ``dstreams``.
"""

from . import logs
from .accumulators import Accumulator, AccumulatorParam
from .broadcast import Broadcast
from .clock import ManualClock, SystemClock
from .context import StreamingContext
from .dstream import DStream
from .errors import (
    BatchError,
    ConfigurationError,
    DStreamsError,
    FallbackError,
    NotSupportedError,
    SchemaError,
)
from .executor import Executor, LocalExecutor
from .fallback import FallbackWarning, set_fallback
from .listener import BatchInfo, OutputOperationInfo, ReceiverInfo, StreamingListener
from .mapstate import State, StateSpec
from .rdd import RDD
from .row import Row
from .spark import SparkConf, SparkContext, StorageLevel
from .statcounter import StatCounter
from .version import version as _version

__version__ = _version()

logs.install()  # time and level on dstreams' records while the application has no logging of its own

__all__ = [
    "RDD",
    "Accumulator",
    "AccumulatorParam",
    "BatchError",
    "BatchInfo",
    "Broadcast",
    "ConfigurationError",
    "DStream",
    "DStreamsError",
    "Executor",
    "FallbackError",
    "FallbackWarning",
    "LocalExecutor",
    "ManualClock",
    "NotSupportedError",
    "OutputOperationInfo",
    "ReceiverInfo",
    "Row",
    "SchemaError",
    "SparkConf",
    "SparkContext",
    "StatCounter",
    "State",
    "StateSpec",
    "StorageLevel",
    "StreamingContext",
    "StreamingListener",
    "SystemClock",
    "set_fallback",
]
