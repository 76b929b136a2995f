"""The one family of errors dstreams raises.

Every error says what was wrong, where (operator, batch time, file, ...) and what to do about it.
"""

from __future__ import annotations


class DStreamsError(Exception):
    """Base class of every dstreams error."""


class ConfigurationError(DStreamsError, ValueError):
    """A context or operator was set up wrongly (caught before or at ``start()``)."""


class BatchError(DStreamsError):
    """A batch failed: names the operator and the batch time; ``__cause__`` is the exception that failed
    it (your function's, a source's...). Logged once when it happens, then raised by ``clock.advance()``,
    ``ssc.awaitTermination*()`` or ``ssc.stop()`` (see ``StreamingContext.stop``)."""

    def __init__(self, message: str, *, operator: str | None = None, batch_time=None):
        super().__init__(message)
        self.operator = operator
        self.batch_time = batch_time


class SchemaError(DStreamsError, TypeError):
    """Data does not fit the columns an operation needs (mixed types, wrong dtype, unhashable key)."""


class NotSupportedError(DStreamsError, NotImplementedError):
    """An API that exists in Spark but that dstreams does not provide; the message names the alternative."""


class FallbackError(DStreamsError):
    """With ``spark.dstreams.fallback=error``: an operator would run row-wise in Python.

    Raised when the operator first plans a batch (its input's column types are only known then), so it
    fails that first batch; ``stream.explain()`` shows the reason and the faster form before that.
    """
