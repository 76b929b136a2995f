"""dstreams: Spark Streaming's DStream model for Python, on Arrow micro-batches and Polars plans.

Port a PySpark streaming program by replacing ``pyspark.streaming`` with ``dstreams``,
``pyspark.sql`` with ``dstreams.sql`` and then ``pyspark`` with ``dstreams``.
"""

__version__ = "0.1.0"

from .clock import ManualClock, SystemClock
from .context import StreamingContext
from .dstream import DStream
from .errors import BatchError, ConfigurationError, DStreamsError, NotSupportedError, SchemaError
from .executor import Executor, LocalExecutor
from .listener import BatchInfo, OutputOperationInfo, ReceiverInfo, StreamingListener
from .mapstate import State, StateSpec
from .ops import FallbackWarning
from .rdd import RDD
from .row import Row
from .spark import SparkConf, SparkContext, StorageLevel

__all__ = [
    "RDD",
    "BatchError",
    "BatchInfo",
    "ConfigurationError",
    "DStream",
    "DStreamsError",
    "Executor",
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
    "State",
    "StateSpec",
    "StorageLevel",
    "StreamingContext",
    "StreamingListener",
    "SystemClock",
]
