"""``DStreamGraph``: the streams of one context, its sources and its output operations."""

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
        self.zero_ms: int | None = None
        self.remember_ms = 0

    def add_stream(self, stream: DStream) -> int:
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

    def validate(self) -> None:
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
        for stream in self.streams:
            stream._forget_before(t)
