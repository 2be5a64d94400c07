"""What every capture reader keeps: its input, its limits, the frames read, and the problems
found, recorded the same way (one `CaptureProblem` each, or once per kind); and the two ways
of reading its frames.

Imports only `tlslens.capture` and `tlslens.limits`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tlslens.capture.frame import CaptureProblem
from tlslens.capture.sink import FrameList, FrameSink
from tlslens.capture.source import ChunkedInput
from tlslens.limits import Limits


class ReaderBase:
    """The state and problem recording the pcap, pcapng, Network Monitor and ETL readers share.

    A reader gives its frames both by pushing them into a sink (`push`, the pipeline's way:
    `capture.sink`) and as `Frame`-ordered tuples (iterating it). It defines one of the two,
    and this class makes the other of it: pcap, pcapng and ETL define `push` (their frames
    lie in a chunk or buffer as they are), Network Monitor `__iter__`.
    """

    format_name = ""

    def __init__(self, source: ChunkedInput, limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.problems: list[CaptureProblem] = []
        self.frames_read = 0
        #: Frames whose captured length is shorter than their length on the wire.
        self.truncated_frames = 0
        self._reported: set[str] = set()

    def _problem(self, offset: int, message: str) -> None:
        self.problems.append(CaptureProblem(self.source.path, offset, message))

    def _once(self, key: str, offset: int, message: str) -> None:
        """Record a problem only the first time its `key` comes up."""
        if key not in self._reported:
            self._reported.add(key)
            self._problem(offset, message)

    def push(self, sink: FrameSink) -> Iterator[None]:
        """Push every frame into `sink`, yielding when it asks (`FrameSink.frame`); each
        frame is copied out of the view iterating gives."""
        for number, ts_ns, linktype, view, meta in self:
            data = view.tobytes()
            if sink.frame(number, ts_ns, linktype, data, memoryview(data), 0, len(data), meta):
                yield None

    def __iter__(self) -> Iterator[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        """The frames as `Frame`-ordered tuples, `data` a view into the reader's chunk."""
        frames = FrameList()
        pushing = self.push(frames)
        try:
            for _ in pushing:
                yield from frames.take()
            yield from frames.take()
        finally:
            # Closed, not only let go of, when the caller stops early: a compiled generator
            # runs its `finally` (the count of frames read, `frames_read`) only when closed.
            close = getattr(pushing, "close", None)
            if close is not None:
                close()
