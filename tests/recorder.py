"""A stream sink (handed to FlowTable through `tcp.ForwardingSink`) that rebuilds each
direction's bytes and remembers every event, for tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from tlslens.net.tcp import Connection


@dataclass
class Recorded:
    data: dict[int, bytearray] = field(default_factory=lambda: {0: bytearray(), 1: bytearray()})
    # (side, offset, size, frame, reason)
    gaps: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    # (side, offset, frame) per delivered chunk: the provenance of every byte
    chunks: list[tuple[int, int, int, int]] = field(default_factory=list)
    fins: list[tuple[int, int, int]] = field(default_factory=list)
    finished: bool = False


class Recorder:
    def __init__(self) -> None:
        self.conns: dict[int, Recorded] = {}
        self.objects: dict[int, Connection] = {}

    def _rec(self, conn: Connection) -> Recorded:
        self.objects[conn.id] = conn
        return self.conns.setdefault(conn.id, Recorded())

    def on_data(
        self, conn: Connection, side: int, offset: int, data: memoryview, frame: int
    ) -> None:
        rec = self._rec(conn)
        assert offset == len(rec.data[side]), "data must arrive in stream order, no overlap"
        rec.data[side] += data
        rec.chunks.append((side, offset, len(data), frame))

    def on_gap(
        self, conn: Connection, side: int, offset: int, size: int, frame: int, reason: str
    ) -> None:
        rec = self._rec(conn)
        assert offset == len(rec.data[side])
        rec.gaps.append((side, offset, size, frame, reason))
        # Zeros stand in for the missing bytes so offsets stay aligned with the stream.
        rec.data[side] += b"\0" * size

    def on_fin(self, conn: Connection, side: int, offset: int, frame: int) -> None:
        self._rec(conn).fins.append((side, offset, frame))

    def on_finished(self, conn: Connection) -> None:
        self._rec(conn).finished = True


def record_capture(path: str) -> Recorder:
    """Run a capture file through decoding and reassembly into a Recorder."""
    from tlslens.capture import open_capture
    from tlslens.net.packet import parse
    from tlslens.net.tcp import FlowTable, ForwardingSink

    recorder = Recorder()
    table = FlowTable(ForwardingSink(recorder))
    for index, ts, linktype, data, _meta in open_capture(path):
        seg = parse(linktype, data)
        if isinstance(seg, tuple):
            table.add(index, ts, *seg)
    table.finish_all()
    return recorder
