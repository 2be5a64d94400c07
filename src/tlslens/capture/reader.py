"""What every capture reader keeps: its input, its limits, the frames read, and the problems
found, recorded the same way (one `CaptureProblem` each, or once per kind).

Imports only `tlslens.capture` and `tlslens.limits`.
"""

from __future__ import annotations

from tlslens.capture.frame import CaptureProblem
from tlslens.capture.source import ChunkedInput
from tlslens.limits import Limits


class ReaderBase:
    """The state and problem recording the pcap, pcapng, Network Monitor and ETL readers share."""

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
