"""Where a reader pushes its frames: the pipeline's way of reading a capture.

A reader's `push(sink)` walks the file and calls `sink.frame(...)` once per frame, with the
frame given as its place in the reader's chunk (`chunk[start:stop]`), not as an object of its
own. Compiled (tlslens.compiled), that is a direct call through the class's method table with
the numbers passed as machine integers: no tuple, no boxed integer and no view per frame, and
no generator step between the file and the TCP layer. With the record header read byte by
byte and typed as integers, it took what the frames of bench/generate.py's bulk profile
cost before their connections are known from 0.365 s (frames yielded as tuples out of the
same bytes chunk) to 0.259 s (bench/RESULTS.md); a process following one share of a
capture pays that for every frame (cli/split.py).

`push` is a generator all the same: it yields (None) whenever `frame` returns True, so that
the pipeline can hand on the connections that frame finished while the reader keeps its
place. This module imports nothing from tlslens.
"""

from __future__ import annotations

from typing import Any, Final

#: What `FrameSink.wants` answers for a frame the sink does not take.
UNWANTED: Final = -2


class FrameSink:
    """Receives the frames a reader pushes. Subclasses define `frame`."""

    def frame(self, number: int, ts_ns: int, linktype: int, chunk: bytes, view: memoryview,
              start: int, stop: int, meta: dict[str, Any] | None,
              note: int = -1) -> bool:  # fmt: skip
        """Take frame number `number` (from 1), captured at `ts_ns` (0: not known), of
        link type `linktype`, whose bytes are chunk[start:stop]; `view` is the reader's
        memoryview of `chunk`, for views into it; `meta` as in `Frame`; `note`, what `wants`
        answered for the frame if the reader asked (else -1). Return True to have the
        reader yield before its next frame."""
        raise NotImplementedError

    def wants(self, linktype: int, chunk: bytes, start: int, stop: int) -> int:
        """Whether this sink takes the frame in chunk[start:stop] whole: UNWANTED if not,
        else a note (-1 or more) of what the sink learnt of the frame, which the reader
        gives back with it (`frame`'s `note`), so that the sink need not work it out again.
        A reader that must copy a frame out of its chunk before `frame` (ETL: packets wait
        for the time-order merge) asks first, and gives a frame the sink does not want to
        `other`, uncopied. (The pipeline following one share of a split capture wants only
        its share's, and notes the share.)"""
        return -1

    def other(self, number: int, ts_ns: int) -> None:
        """Frame number `number`, captured at `ts_ns`, which `wants` declined."""


class FrameList(FrameSink):
    """A sink that keeps each frame as a `Frame`-ordered tuple, its data a view into the
    chunk, until they are taken: how a pushing reader is iterated."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, int, int, memoryview, dict[str, Any] | None]] = []

    def frame(self, number: int, ts_ns: int, linktype: int, chunk: bytes, view: memoryview,
              start: int, stop: int, meta: dict[str, Any] | None,
              note: int = -1) -> bool:  # fmt: skip
        self.frames.append((number, ts_ns, linktype, view[start:stop], meta))
        return True

    def take(self) -> list[tuple[int, int, int, memoryview, dict[str, Any] | None]]:
        frames, self.frames = self.frames, []
        return frames
