"""``DStreamGraph``: the streams of one context, its sources and its output operations.

Every DStream registers itself here when it is created; the scheduler asks the sources for data
(``inputs``) and runs the output operations (``outputs``) in the order they were defined. The graph
is fixed once the context starts, as in Spark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .dstream import DStream, InputDStream, _ForEachDStream


class DStreamGraph:
    def __init__(self, batch_ms: int):
        self.batch_ms = batch_ms
        self.streams: list[DStream] = []
        self.inputs: list[InputDStream] = []
        self.outputs: list[_ForEachDStream] = []
        self.zero_ms: int | None = None  # the time before the first batch; set by start()
        self.remember_ms = 0
        self.stopped = False

    def add_stream(self, stream: DStream) -> int:
        """Register ``stream``; returns its id (also the input stream id reported to listeners)."""
        if self.stopped:
            raise ConfigurationError(
                "Adding new inputs, transformations, and output operations after stopping a context "
                "is not supported; create a new StreamingContext"
            )
        if self.zero_ms is not None:
            raise ConfigurationError(
                "Adding new inputs, transformations, and output operations after starting a context "
                "is not supported; define the whole graph before ssc.start()"
            )
        self.streams.append(stream)
        return len(self.streams) - 1

    def add_input(self, stream: InputDStream) -> None:
        self.inputs.append(stream)

    def add_output(self, stream: _ForEachDStream) -> None:
        self.outputs.append(stream)

    def remember(self, ms: int) -> None:
        """Keep every stream's batches at least ``ms``; applies at once when already started."""
        self.remember_ms = max(self.remember_ms, ms)
        if self.zero_ms is not None:
            for stream in self.streams:
                stream._remember(self.remember_ms)

    def validate(self) -> None:
        """Called by ``ssc.start()``: a graph without outputs would compute nothing."""
        if not self.outputs:
            raise ConfigurationError(
                "No output operations registered, so nothing to execute: add an output such as "
                "pprint(), foreachRDD(...), saveAsTextFiles(...) or foreach_batch(...) before start()"
            )

    def start(self, zero_ms: int) -> None:
        self.zero_ms = zero_ms
        for stream in self.streams:
            stream._remember(self.remember_ms)

    def forget_before(self, t: int) -> None:
        """Drop the batches that no stream needs after batch ``t`` (each keeps its remember duration)."""
        for stream in self.streams:
            stream._forget_before(t)
