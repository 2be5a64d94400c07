"""The unit a capture reader produces: one captured frame, plus what went wrong reading.

Iterated, readers yield plain tuples in the field order of `Frame` (building a NamedTuple
costs about ten times as much as a tuple literal, and a 250 MB capture holds millions of
frames); `Frame` documents the order and gives slower callers names. The pipeline takes
frames another way, pushed with their place in the reader's chunk (`capture.sink`).
This module imports nothing from tlslens.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Frame(NamedTuple):
    """One captured frame.

    `number` is 1-based and counts every frame in the file, as Wireshark's frame numbers do.
    `data` is a read-only view into the reader's buffer: a consumer that keeps bytes beyond
    the current iteration must copy them (`bytes(data)`), or the buffer stays alive.
    `meta` is None, or a dict with per-frame metadata the file carried: `interface`,
    `pid`, `tid`, `comments`, `process_name`, `direction` (inbound|outbound), `orig_len`.
    """

    number: int
    ts_ns: int
    linktype: int
    data: memoryview
    meta: dict[str, Any] | None


class CaptureProblem(NamedTuple):
    """Something wrong in a capture file that did not stop us from using the rest. (A
    NamedTuple, as `tlslens.limits.Limits` is, for start-up time.)"""

    path: str
    offset: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}: byte offset {self.offset}: {self.message}"


class CaptureError(Exception):
    """A capture file that cannot be read at all (missing, unknown format, bad header)."""

    def __init__(self, path: str, message: str, offset: int | None = None) -> None:
        self.path = path
        self.offset = offset
        self.message = message
        where = f" (byte offset {offset})" if offset is not None else ""
        super().__init__(f"{path}: {message}{where}")
