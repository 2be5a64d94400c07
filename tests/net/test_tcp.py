"""Reassembly properties: any segmentation, reordering within the buffer, or duplication
of a stream gives back the same bytes; lost segments become gaps of the right size."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from recorder import Recorder

from tlslens.limits import Limits
from tlslens.net.tcp import ACK, FIN, RST, SYN, FlowTable, ForwardingSink, flow_key

CLIENT = bytes([10, 0, 0, 1])
SERVER = bytes([10, 0, 0, 2])
EMPTY = memoryview(b"")


class Wire:
    """Feeds hand-described segments of one connection into a FlowTable."""

    def __init__(
        self, limits: Limits | None = None, client_isn: int = 1000, server_isn: int = 50_000
    ) -> None:
        self.rec = Recorder()
        self.table = FlowTable(ForwardingSink(self.rec), limits)
        self.frame = 0
        self.isn = {0: client_isn, 1: server_isn}

    def send(
        self,
        side: int,
        offset: int,
        data: bytes = b"",
        flags: int = ACK,
        ack_offset: int | None = None,
        window: int = 65535,
        missing: int = 0,
        seq: int | None = None,
    ) -> None:
        self.frame += 1
        src, dst, sport, dport = (
            (CLIENT, SERVER, 40000, 443) if side == 0 else (SERVER, CLIENT, 443, 40000)
        )
        if seq is None:
            seq = (self.isn[side] + 1 + offset) & 0xFFFFFFFF
        ack = 0 if ack_offset is None else (self.isn[side ^ 1] + 1 + ack_offset) & 0xFFFFFFFF
        self.table.add(
            self.frame,
            self.frame * 1000,
            src,
            dst,
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
            memoryview(data),
            missing,
        )

    def handshake(self) -> None:
        self.send(0, -1, flags=SYN)
        self.send(1, -1, flags=SYN | ACK, ack_offset=0)
        self.send(0, 0, ack_offset=0)

    def finish(self) -> None:
        self.table.finish_all()

    @property
    def only(self):  # the single connection's recording
        assert len(self.rec.conns) == 1
        return next(iter(self.rec.conns.values()))


def segments_of(data: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [(a, data[a:b]) for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=30),
    seed=st.integers(min_value=0, max_value=2**32),
    isn=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_split_reorder_or_duplicate_gives_the_same_stream(
    data: bytes, cuts: list[int], seed: int, isn: int
) -> None:
    rng = random.Random(seed)
    segs = segments_of(data, cuts)
    # Duplicate some segments, then shuffle: every permutation must reassemble the same.
    segs += [s for s in segs if rng.random() < 0.3]
    rng.shuffle(segs)
    wire = Wire(client_isn=isn)  # any ISN, including ones that wrap around 2**32
    wire.handshake()
    for offset, chunk in segs:
        wire.send(0, offset, chunk, ack_offset=0)
    wire.send(0, len(data), flags=FIN | ACK, ack_offset=0)
    wire.finish()
    rec = wire.only
    assert bytes(rec.data[0]) == data
    assert rec.gaps == []
    assert rec.fins == [(0, len(data), wire.frame)]


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(min_size=10, max_size=2000),
    cuts=st.lists(st.integers(min_value=1, max_value=2000), min_size=2, max_size=20),
    lose=st.data(),
)
def test_lost_segments_become_gaps_of_their_size(data: bytes, cuts: list[int], lose) -> None:
    segs = segments_of(data, cuts)
    lost = lose.draw(st.sets(st.sampled_from(range(len(segs)))))
    wire = Wire()
    wire.handshake()
    for i, (offset, chunk) in enumerate(segs):
        if i not in lost:
            wire.send(0, offset, chunk, ack_offset=0)
    wire.send(0, len(data), flags=FIN | ACK, ack_offset=0)
    wire.finish()
    rec = wire.only
    expected = bytearray(data)
    for i in lost:
        offset, chunk = segs[i]
        expected[offset : offset + len(chunk)] = b"\0" * len(chunk)
    assert bytes(rec.data[0]) == bytes(expected)
    assert sum(g[2] for g in rec.gaps) == sum(len(segs[i][1]) for i in lost)


def test_hole_becomes_a_gap_once_the_peer_acknowledges_past_it() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(1, 0, b"a" * 100, ack_offset=0)
    wire.send(1, 200, b"c" * 100, ack_offset=0)  # 100..200 never captured
    assert wire.only.gaps == []  # could still be a retransmission
    wire.send(0, 0, ack_offset=300)  # the client got it all
    assert wire.only.gaps == [(1, 100, 100, 5, "not captured (acknowledged by the peer)")]
    assert bytes(wire.only.data[1]) == b"a" * 100 + b"\0" * 100 + b"c" * 100


def test_buffer_limit_bounds_memory_and_reports_the_hole() -> None:
    wire = Wire(Limits(max_out_of_order_bytes=1000, max_out_of_order_segments=5))
    wire.handshake()
    wire.send(0, 0, b"x" * 10, ack_offset=0)
    for i in range(1, 30):  # offset 10..20 is lost
        wire.send(0, 10 + i * 10, b"y" * 10, ack_offset=0)
    half = wire.table._flows[flow_key(CLIENT, 40000, SERVER, 443)][0].halves[0]
    assert len(half.ooo) <= 5
    assert wire.only.gaps[0][1:3] == (10, 10)
    assert bytes(wire.only.data[0]).startswith(b"x" * 10 + b"\0" * 10 + b"y" * 10)


def test_retransmission_overlap_keeps_first_copy_and_counts() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(0, 0, b"hello ")
    wire.send(0, 3, b"LO WORLD")  # overlaps 3 bytes, adds 5
    wire.send(0, 0, b"hello ")  # full retransmission
    wire.finish()
    assert bytes(wire.only.data[0]) == b"hello WORLD"
    assert wire.rec.objects[0].halves[0].retransmissions == 2


def test_keepalives_and_zero_window_probes_are_not_data() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(0, 0, b"abc", ack_offset=0)
    wire.send(0, 2, b"", ack_offset=0)  # Linux keep-alive: seq = next - 1
    wire.send(0, 2, b"c", ack_offset=0)  # Windows keep-alive: one old byte
    wire.send(1, 0, b"", ack_offset=3, window=0)  # server's window closes
    wire.send(0, 3, b"d", ack_offset=0)  # classic zero-window probe: 1 new byte
    wire.send(0, 3, b"", ack_offset=0)  # Linux probe: empty, seq = next - 1
    wire.send(0, 3, b"defg", ack_offset=0)  # window reopened: retransmits the byte
    wire.finish()
    half = wire.rec.objects[0].halves[0]
    assert bytes(wire.only.data[0]) == b"abcdefg"
    assert (half.keepalives, half.zero_window_probes) == (2, 2)


def test_four_tuple_reuse_starts_a_new_connection() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(0, 0, b"one", ack_offset=0)
    wire.send(0, 3, flags=FIN | ACK, ack_offset=0)
    wire.send(1, 0, flags=FIN | ACK, ack_offset=4)
    wire.isn[0] = 900_000
    wire.handshake()  # same ports, new ISN
    wire.send(0, 0, b"two", ack_offset=0)
    wire.send(0, 3, flags=RST)
    wire.finish()
    assert sorted(wire.rec.conns) == [0, 1]
    assert bytes(wire.rec.conns[1].data[0]) == b"two"
    first, second = wire.rec.objects[0], wire.rec.objects[1]
    assert (first.end_how, first.end_side) == ("fin", 0)
    assert (second.end_how, second.end_frame) == ("rst", wire.frame)


def test_retransmitted_syn_is_the_same_connection() -> None:
    wire = Wire()
    wire.send(0, -1, flags=SYN)
    wire.send(0, -1, flags=SYN)
    wire.send(1, -1, flags=SYN | ACK, ack_offset=0)
    wire.finish()
    assert list(wire.rec.conns) == [0]
    assert wire.rec.objects[0].packets == 3


def test_midstream_roles_from_ports_and_stream_from_first_ack() -> None:
    wire = Wire()
    wire.send(1, 10, b"srv", ack_offset=5)  # capture starts mid-connection
    wire.send(0, 5, b"cli", ack_offset=13)
    wire.finish()
    conn = wire.rec.objects[0]
    assert conn.role_source == "port-heuristic"
    assert conn.role_of(0) == "server"  # port 443 < 40000
    assert bytes(wire.only.data[0]) == b"srv" and bytes(wire.only.data[1]) == b"cli"


def test_snaplen_truncation_is_a_gap_and_the_stream_resumes() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(0, 0, b"head", missing=96, ack_offset=0)
    wire.send(0, 100, b"tail", ack_offset=0)
    wire.finish()
    assert wire.only.gaps == [(0, 4, 96, 4, "truncated (capture snaplen)")]
    assert bytes(wire.only.data[0]) == b"head" + b"\0" * 96 + b"tail"


def test_reset_ends_the_connection_and_says_who() -> None:
    wire = Wire()
    wire.handshake()
    wire.send(1, 0, flags=RST | ACK, ack_offset=0)
    wire.finish()
    conn = wire.rec.objects[0]
    assert (conn.end_side, conn.end_how, conn.end_frame) == (1, "rst", 4)
    assert conn.closed


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 2**32 - 1),
            st.integers(0, 0x1FF),
            st.integers(0, 300),
            st.integers(0, 50),
        ),
        max_size=80,
    )
)
def test_random_segments_never_raise_and_stay_bounded(segments) -> None:
    limits = Limits(max_out_of_order_bytes=2000, max_out_of_order_segments=8)
    wire = Wire(limits)
    for side, seq, ack, flags, size, missing in segments:
        wire.send(side, 0, b"z" * size, flags=flags, seq=seq, missing=missing,
                  ack_offset=ack)  # fmt: skip
        for conn in wire.rec.objects.values():
            for half in conn.halves:
                assert len(half.ooo) <= 8 and half.ooo_bytes <= 2000
    wire.finish()
    for rec in wire.rec.conns.values():
        assert rec.finished


class SkippingSink(Recorder):
    """Says it does not need the next `skip` bytes after every chunk it is given."""

    def __init__(self, skip: int) -> None:
        super().__init__()
        self.skip = skip

    def on_data(self, conn, side, offset, data, frame):  # type: ignore[no-untyped-def]
        rec = self._rec(conn)
        # Left-out bytes are stood in for by dots, so offsets stay aligned.
        rec.data[side] += b"." * (offset - len(rec.data[side]))
        rec.data[side] += data
        rec.chunks.append((side, offset, len(data), frame))
        return self.skip

    def on_gap(self, conn, side, offset, size, frame, reason):  # type: ignore[no-untyped-def]
        rec = self._rec(conn)
        rec.data[side] += b"." * (offset - len(rec.data[side]))
        super().on_gap(conn, side, offset, size, frame, reason)


def _skipping_wire(skip: int) -> Wire:
    """A wire after its handshake, whose sink skips `skip` bytes after every chunk."""
    wire = Wire()
    wire.rec = SkippingSink(skip)
    wire.table.sink = ForwardingSink(wire.rec)
    wire.handshake()
    return wire


def test_segments_inside_what_the_sink_skips_are_left_out() -> None:
    wire = _skipping_wire(2500)
    for i in range(6):  # 6 segments of 1000 bytes: skip 2500 after the first
        wire.send(0, i * 1000, bytes([65 + i]) * 1000)
    wire.send(0, 6000, flags=FIN | ACK)
    rec = wire.rec.conns[0]
    # Frames 5 and 6 lie wholly inside the 2,500 skipped bytes; frame 7 holds the last of
    # them and is delivered, and the sink's next answer skips frames 8 and 9 again.
    assert [(offset, frame) for _, offset, _, frame in rec.chunks] == [(0, 4), (3000, 7)]
    assert bytes(rec.data[0]) == b"A" * 1000 + b"." * 2000 + b"D" * 1000
    assert rec.fins == [(0, 6000, 10)]


def test_a_gap_ends_what_the_sink_skips() -> None:
    wire = _skipping_wire(5000)
    wire.send(0, 0, b"A" * 1000)
    wire.send(0, 1000, b"B" * 1000, missing=500)  # the capture cut 500 bytes off
    wire.send(0, 2500, b"C" * 1000)
    rec = wire.rec.conns[0]
    # Frame 5's captured bytes are skipped, but its missing tail is a gap: after it, the
    # sink is asked again.
    assert [(offset, frame) for _, offset, _, frame in rec.chunks] == [(0, 4), (2500, 6)]
    assert [(offset, size) for _, offset, size, _, _ in rec.gaps] == [(2000, 500)]


def test_a_fin_seen_early_is_consumed_inside_what_the_sink_skips() -> None:
    wire = _skipping_wire(5000)
    wire.send(0, 0, b"A" * 1000)
    wire.send(0, 2000, flags=FIN | ACK)  # the FIN overtakes the segment before it
    wire.send(0, 1000, b"B" * 1000)
    rec = wire.rec.conns[0]
    # The skipped segment ends where the FIN sits, so the FIN is consumed with it.
    assert rec.fins == [(0, 2000, 5)]


def test_out_of_order_segments_inside_what_the_sink_skips_are_drained() -> None:
    wire = _skipping_wire(5000)
    wire.send(0, 0, b"A" * 1000)
    wire.send(0, 2000, b"C" * 1000)  # held until the hole before it fills
    wire.send(0, 1000, b"B" * 1000)
    wire.send(0, 3000, flags=FIN | ACK)
    rec = wire.rec.conns[0]
    assert [(offset, frame) for _, offset, _, frame in rec.chunks] == [(0, 4)]
    assert rec.fins == [(0, 3000, 7)]
    assert wire.rec.objects[0].halves[0].offset == 3000
