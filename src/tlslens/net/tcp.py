"""TCP connection tracking and per-direction stream reassembly, with frame provenance.

`FlowTable.add()` takes one decoded segment (see `net.packet.parse`) and, through a
`StreamSink`, reports what each direction's byte stream holds: data at a stream offset with
the frame that carried it, gaps (bytes the capture never saw, with their size), the end of a
direction (FIN) and the end of a connection. Offsets count payload bytes from the first byte
after the SYN (or from the first byte seen when the capture started mid-connection).

What it handles, and how (RFC 9293 for the rules):
  - roles from the SYN (its sender is the client) or SYN-ACK; without either, a port
    heuristic that a later layer may correct (`Connection.swap_roles`, e.g. on seeing who
    sent the ClientHello);
  - 4-tuple reuse: a SYN with a new initial sequence number on a known 4-tuple starts a new
    connection, as Wireshark's tcp.stream does;
  - retransmissions and overlaps: bytes already delivered are never delivered twice; the
    first copy wins;
  - out-of-order segments: held (bounded by `Limits`) until the hole before them fills;
  - gaps: a hole becomes a reported gap as soon as the peer acknowledges bytes beyond it (the
    data crossed the wire but not the capture), when the buffer overflows, or when the
    connection ends; parsing resumes after it;
  - snaplen truncation: the missing tail of a segment is a gap of reason "truncated";
  - keep-alives and zero-window probes are recognised and counted, never taken as data;
  - how the connection ended: the first FIN or RST, its side and its frame.

Hot-path shape (DESIGN.md, "speed is a design property"): per-flow state lives in slotted
objects, flows are found with one dict lookup keyed by bytes (`flow_key`), and a payload is
passed on as one `bytes` slice of the reader's chunk, made only for a segment whose bytes
are delivered or held. Compiled, that slice is a native copy of some 200 instructions for a
full-sized segment, where a memoryview slice was a generic call of about 570 (boxing its
bounds), and the TLS layer then copied the view into bytes to read it, another 820.
This module imports nothing from tlslens but `tlslens.limits`.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from tlslens.limits import Limits

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10

MASK: Final = 0xFFFFFFFF
#: Frame numbers kept as examples of late packets.
LATE_EXAMPLES: Final = 10
HALF_SPACE: Final = 0x80000000
#: A sequence number not known yet. Not None: compiled, an optional int is a boxed object,
#: and `next_seq` and `last_ack` change with nearly every segment (each a new int object:
#: about 90 M instructions on the handshake benchmark); an int is kept as a machine word.
NO_SEQ: Final = -1
# An acknowledgement further ahead than this is not believed (a corrupt or foreign segment).
MAX_ACK_LEAD: Final = 1 << 30

GAP_NOT_CAPTURED: Final = "not captured (acknowledged by the peer)"
GAP_BUFFER_FULL: Final = "out-of-order buffer full"
GAP_AT_END: Final = "missing when the connection ended"
GAP_TRUNCATED: Final = "truncated (capture snaplen)"

#: Gap records kept per direction; further gaps are only counted.
MAX_GAP_RECORDS: Final = 64

# Role sources, in order of trust.
ROLE_SYN: Final = "syn"
ROLE_SYN_ACK: Final = "syn-ack"
ROLE_CLIENT_HELLO: Final = "client-hello"
ROLE_PORT: Final = "port-heuristic"


class StreamSink:
    """Receives what reassembly finds; subclasses define the four methods. `data` is the
    payload, or the part of it not delivered before.

    `on_data` may return how many stream bytes right after its data it does not need to see
    (say, the rest of an encrypted record it only steps over). The table then leaves out
    segments that lie wholly inside that stretch, but still delivers the one holding its
    last byte, and everything after; the sink sees a jump in offset and knows why. A gap
    ends the arrangement. 0 means "deliver everything".

    A class, not a Protocol, as `capture.sink.FrameSink` is: compiled (tlslens.compiled),
    the table then calls the pipeline's sink through its method table with the numbers as
    machine integers, where a Protocol made a generic method call, boxing the offset and
    frame of every segment (about 2% of the instructions on the handshake benchmark).
    Interpreted code cannot subclass a compiled class: it hands its own object to a
    `ForwardingSink`."""

    def on_data(self, conn: Connection, side: int, offset: int, data: bytes, frame: int
                ) -> int:  # fmt: skip
        raise NotImplementedError

    def on_gap(self, conn: Connection, side: int, offset: int, size: int, frame: int,
               reason: str) -> None:  # fmt: skip
        raise NotImplementedError

    def on_fin(self, conn: Connection, side: int, offset: int, frame: int) -> None:
        raise NotImplementedError

    def on_finished(self, conn: Connection) -> None:
        raise NotImplementedError


class ForwardingSink(StreamSink):
    """A `StreamSink` that hands every event to `target`, any object with the same four
    methods (its `on_data` may return None for 0): how code that is not compiled, tests'
    recorders among it, receives what a compiled table finds."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def on_data(self, conn: Connection, side: int, offset: int, data: bytes, frame: int
                ) -> int:  # fmt: skip
        skip: int | None = self.target.on_data(conn, side, offset, data, frame)
        return skip or 0

    def on_gap(self, conn: Connection, side: int, offset: int, size: int, frame: int,
               reason: str) -> None:  # fmt: skip
        self.target.on_gap(conn, side, offset, size, frame, reason)

    def on_fin(self, conn: Connection, side: int, offset: int, frame: int) -> None:
        self.target.on_fin(conn, side, offset, frame)

    def on_finished(self, conn: Connection) -> None:
        self.target.on_finished(conn)


class Gap:
    __slots__ = ("frame", "offset", "reason", "size")

    def __init__(self, offset: int, size: int, frame: int, reason: str) -> None:
        self.offset = offset
        self.size = size
        self.frame = frame
        self.reason = reason


class Half:
    """One direction of a connection: the bytes one side sent."""

    __slots__ = (
        "fin_done",
        "fin_frame",
        "fin_seq",
        "gap_bytes",
        "gap_count",
        "gaps",
        "isn",
        "keepalives",
        "last_ack",
        "next_seq",
        "offset",
        "ooo",
        "ooo_bytes",
        "out_of_order",
        "packets",
        "retransmissions",
        "rst_frame",
        "skip",
        "syn_frame",
        "truncated_bytes",
        "window",
        "zero_window_probes",
    )

    def __init__(self) -> None:
        #: The SYN's sequence number, or NO_SEQ (as for the sequence numbers below).
        self.isn = NO_SEQ
        self.syn_frame: int | None = None
        #: Sequence number of the next byte expected in order; NO_SEQ until known.
        self.next_seq = NO_SEQ
        #: Stream bytes accounted for so far (delivered plus gaps).
        self.offset = 0
        #: Stream bytes from `offset` on that the sink said it need not see (StreamSink).
        self.skip = 0
        self.fin_seq = NO_SEQ
        self.fin_frame: int | None = None
        self.fin_done = False
        self.rst_frame: int | None = None
        #: Latest acknowledgement the peer sent for this direction's bytes.
        self.last_ack = NO_SEQ
        #: Receive window this side last advertised (for zero-window probes of the peer).
        self.window = -1
        #: Out-of-order segments: seq -> (payload copy, missing bytes, frame).
        self.ooo: dict[int, tuple[bytes, int, int]] = {}
        self.ooo_bytes = 0
        self.packets = 0
        self.retransmissions = 0
        self.out_of_order = 0
        self.keepalives = 0
        self.zero_window_probes = 0
        self.gaps: list[Gap] = []
        self.gap_count = 0
        self.gap_bytes = 0
        self.truncated_bytes = 0


class Connection:
    """One TCP connection. Side 0 sent the first packet we saw; `client_side` says which
    side is the client (it can change once if a later layer knows better)."""

    __slots__ = (
        "addrs",
        "client_side",
        "closed",
        "closed_ns",
        "end_frame",
        "end_how",
        "end_side",
        "finished",
        "first_frame",
        "first_ns",
        "halves",
        "id",
        "last_frame",
        "last_ns",
        "packets",
        "ports",
        "role_source",
        "state",
    )

    def __init__(
        self,
        conn_id: int,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        frame: int,
        ts_ns: int,
        client_side: int,
        role_source: str,
    ) -> None:
        self.id = conn_id
        # Tuples of any length to the type checker, like `halves` below: read by side.
        self.addrs: tuple[bytes, ...] = (src, dst)
        self.ports: tuple[int, ...] = (sport, dport)
        self.client_side = client_side
        self.role_source = role_source
        self.first_frame = frame
        self.last_frame = frame
        self.first_ns = ts_ns
        self.last_ns = ts_ns
        self.packets = 0
        # Of any length to the type checker, so that it stays a tuple object when compiled: a
        # pair is kept as two fields, and `halves[side]` made a new tuple of them each time
        # (twice a segment).
        self.halves: tuple[Half, ...] = (Half(), Half())
        self.closed = False
        self.closed_ns = 0
        self.finished = False
        #: Side that sent the first FIN or RST, how, and in which frame.
        self.end_side: int | None = None
        self.end_how: str | None = None
        self.end_frame: int | None = None
        #: Free for the layer above (e.g. a TLS session); reassembly never touches it.
        self.state: object = None

    def swap_roles(self, role_source: str) -> None:
        """Make the other side the client, because a later layer knows better."""
        self.client_side ^= 1
        self.role_source = role_source

    def side_of(self, role: str) -> int:
        return self.client_side if role == "client" else self.client_side ^ 1

    def role_of(self, side: int) -> str:
        return "client" if side == self.client_side else "server"


def _relative(seq: int, ref: int) -> int:
    """Signed distance from ref to seq in 32-bit sequence space (RFC 9293 3.4)."""
    d = (seq - ref) & MASK
    return d - (1 << 32) if d & HALF_SPACE else d


#: The view `add_from` is given with a payload in bytes (`packet.Decoded` uses it too).
NO_VIEW: Final = memoryview(b"")


def _trim(payload: bytes, missing: int, cut: int) -> tuple[bytes, int]:
    """Drop the first `cut` bytes of a segment (already delivered); they come out of the
    captured payload first, then out of the bytes the capture cut off."""
    if cut >= len(payload):
        return payload[0:0], missing - (cut - len(payload))
    return payload[cut:], missing


def flow_key(src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    """One direction of a TCP flow as one bytes object: the two addresses, then the two
    ports (big-endian), as they lie in an IPv4 packet without options, which makes it one
    slice of the frame (`net.packet.decode_into`, tests/net/test_packet.py). The length
    tells IPv4 (12) from IPv6 (36). A dict keyed by it hashes one short bytes object per
    segment, where a (src, sport, dst, dport) tuple cost a twelfth of a bulk transfer's
    run: a tuple and two boxed ports made, two bytes objects hashed, four items compared."""
    return src + dst + (sport << 16 | dport).to_bytes(4, "big")


def key_addresses(key: bytes) -> tuple[bytes, bytes]:
    """The source and destination addresses of a `flow_key`: the frame loop keeps only the
    key of a segment (one slice of the frame, not three), and the addresses are read out
    of it when a connection opens."""
    size = (len(key) - 4) >> 1
    return key[:size], key[size : 2 * size]


class FlowTable:
    """All TCP connections of a capture; feed it segments in capture order."""

    def __init__(self, sink: StreamSink, limits: Limits | None = None) -> None:
        self.sink = sink
        self.limits = limits or Limits()
        #: flow_key -> (connection, which of its halves sends in that direction).
        self._flows: dict[bytes, tuple[Connection, int]] = {}
        self._live: dict[int, Connection] = {}
        self._closed: deque[Connection] = deque()
        #: The 4-tuples of reported closed connections, kept for a while so that a late
        #: packet is recognised as late (see Limits.closed_linger_ns): flow key -> (initial
        #: sequence number of that direction's sender, reserved until). Only this much is
        #: kept: a busy server closes hundreds of connections a second.
        self._reserved: dict[bytes, tuple[int, int]] = {}
        #: (the flow keys of both directions, reserved until), oldest first.
        self._reservations: deque[tuple[tuple[bytes, bytes], int]] = deque()
        #: Packets that came after their connection was finished, and a few of their frames.
        self.late_packets = 0
        self.late_frames: list[int] = []
        self._next_id = 0
        self._next_idle_sweep = 0
        self._next_closed_sweep = 0

    @property
    def live_connections(self) -> int:
        return len(self._live)

    @property
    def opened(self) -> int:
        """Connections seen so far (the next connection id)."""
        return self._next_id

    # -- entry point -------------------------------------------------------------------

    def tick(self, ts_ns: int) -> None:
        """Time has come to `ts_ns` with a segment this table does not follow (a process
        following one share of a capture sees every frame): closed and idle connections are
        swept when they would have been had the segment been this table's."""
        if ts_ns >= self._next_closed_sweep:
            self._sweep(ts_ns)

    def add(
        self,
        frame: int,
        ts_ns: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        payload: bytes | memoryview,
        missing: int,
    ) -> Connection | None:
        """Account one segment; returns the connection it belongs to, or None for a late
        packet of a connection already reported."""
        data = payload if isinstance(payload, bytes) else bytes(payload)
        return self.add_from(frame, ts_ns, sport, dport, flow_key(src, sport, dst, dport),
                             seq, ack, flags, window, data, NO_VIEW, 0, len(data),
                             missing)  # fmt: skip

    def add_from(
        self,
        frame: int,
        ts_ns: int,
        sport: int,
        dport: int,
        key: bytes,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        data: bytes,
        view: memoryview,
        start: int,
        stop: int,
        missing: int,
    ) -> Connection | None:
        """`add` of the segment whose payload is data[start:stop], or view[start:stop] when
        `data` is empty (a frame decoded the general way, `packet.parse`, whose payload is
        a view), `key` being its `flow_key(src, sport, dst, dport)` (which holds its
        addresses): the payload is copied out only if its bytes are delivered or held, not
        for a segment inside a stretch the sink steps over (most of an encrypted bulk
        transfer)."""
        if ts_ns >= self._next_closed_sweep:
            self._sweep(ts_ns)
        entry = self._flows.get(key)
        if entry is None:
            if self._reserved:
                reserved = self._reserved.get(key)
                if reserved is not None:
                    if not (flags & SYN and not flags & ACK and reserved[0] != seq):
                        # A straggler of a connection already reported.
                        self.late_packets += 1
                        if len(self.late_frames) < LATE_EXAMPLES:
                            self.late_frames.append(frame)
                        return None
                    # A new SYN: the ports are being reused; the reservation ends.
                    src, dst = key_addresses(key)
                    self._unreserve((key, flow_key(dst, dport, src, sport)), None)
            conn = self._open(frame, ts_ns, sport, dport, key, flags)
            side = 0
        else:
            conn, side = entry
            if flags & SYN and not flags & ACK and conn.halves[side].isn != seq:
                # A fresh SYN on a known 4-tuple: the port pair is being reused.
                self._finish(conn)
                conn = self._open(frame, ts_ns, sport, dport, key, flags)
                side = 0
        conn.packets += 1
        conn.last_frame = frame
        conn.last_ns = ts_ns
        half = conn.halves[side]
        half.packets += 1
        other = conn.halves[side ^ 1]

        if flags & RST:
            # A reset ends the connection whatever its sequence number; any payload it
            # carries is diagnostic text, not stream data (RFC 9293 3.5.3).
            if half.rst_frame is None:
                half.rst_frame = frame
            if conn.end_side is None:
                conn.end_side, conn.end_how, conn.end_frame = side, "rst", frame
            self._mark_closed(conn, ts_ns)
            return conn
        if flags & SYN:
            if half.isn == NO_SEQ:
                half.isn = seq
                half.syn_frame = frame
                if half.next_seq == NO_SEQ:
                    half.next_seq = (seq + 1) & MASK
            # Data on a SYN (TCP Fast Open) starts one past the SYN's sequence number.
            seq = (seq + 1) & MASK
        if flags & ACK:
            other.last_ack = ack
            if other.next_seq == NO_SEQ:
                # Capture started mid-connection: the peer's ACK says where this side's
                # next byte will be, so its stream can start there.
                other.next_seq = ack
            elif other.ooo:
                self._fill_acknowledged_hole(conn, side ^ 1, other)
        half.window = window

        n = stop - start + missing
        if n:
            if (seq == half.next_seq and half.skip > n > 1 and not missing and not half.ooo
                    and half.fin_seq == NO_SEQ):  # fmt: skip
                # The next bytes in order, wholly inside a stretch the sink steps over: the
                # bulk of an encrypted transfer. This is what `_segment` and `_deliver` do
                # for it, without their calls: there is no held segment to drain and no FIN
                # to reach, and more than one byte is not a zero-window probe.
                half.skip -= n
                half.offset += n
                half.next_seq = (seq + n) & MASK
            else:
                payload = data[start:stop] if data else bytes(view[start:stop])
                self._segment(conn, side, half, other, seq, payload, missing, frame, flags)
        elif flags == ACK and half.next_seq != NO_SEQ and (seq - half.next_seq) & MASK == MASK:
            # An empty segment one byte behind: a keep-alive, or a zero-window probe when
            # the peer's window is closed (Linux probes this way).
            if other.window == 0:
                half.zero_window_probes += 1
            else:
                half.keepalives += 1
        if flags & FIN:
            self._fin(conn, side, half, (seq + n) & MASK, frame, ts_ns)
        return conn

    # -- connection life ---------------------------------------------------------------

    def _open(self, frame: int, ts_ns: int, sport: int, dport: int, key: bytes,
              flags: int) -> Connection:  # fmt: skip
        src, dst = key_addresses(key)
        if flags & SYN:
            client_side, source = (1, ROLE_SYN_ACK) if flags & ACK else (0, ROLE_SYN)
        else:
            # No handshake seen: servers usually listen on the lower port. A later layer
            # corrects this when it sees who sent the ClientHello.
            client_side, source = (1 if sport < dport else 0), ROLE_PORT
        conn = Connection(self._next_id, src, sport, dst, dport, frame, ts_ns, client_side, source)
        self._next_id += 1
        self._flows[key] = (conn, 0)
        self._flows[flow_key(dst, dport, src, sport)] = (conn, 1)
        self._live[conn.id] = conn
        if len(self._live) > self.limits.max_live_connections:
            self._finish(next(iter(self._live.values())))
        return conn

    def _mark_closed(self, conn: Connection, ts_ns: int) -> None:
        if not conn.closed:
            conn.closed = True
            conn.closed_ns = ts_ns
            self._closed.append(conn)

    def _sweep(self, ts_ns: int) -> None:
        """Finish connections closed longer than the linger time, and idle ones."""
        limits = self.limits
        closed = self._closed
        while closed and (
            closed[0].finished or ts_ns - closed[0].last_ns > limits.closed_finish_ns
        ):
            conn = closed.popleft()
            if not conn.finished:
                self._finish(conn, tombstone=ts_ns + limits.closed_linger_ns)
        reservations = self._reservations
        while reservations and reservations[0][1] < ts_ns:
            self._unreserve(*reservations.popleft())
        self._next_closed_sweep = ts_ns + limits.closed_finish_ns // 4
        if ts_ns >= self._next_idle_sweep:
            idle = [c for c in self._live.values() if ts_ns - c.last_ns > limits.idle_timeout_ns]
            for conn in idle:
                self._finish(conn)
            self._next_idle_sweep = ts_ns + 60 * 1_000_000_000

    def _finish(self, conn: Connection, tombstone: int | None = None) -> None:
        """Report a connection. With `tombstone` (a time), its 4-tuple stays reserved until
        then so that late packets are recognised as late."""
        if conn.finished:
            return
        for side in (0, 1):
            self._flush(conn, side, conn.halves[side])
        conn.finished = True
        a, b = conn.addrs
        pa, pb = conn.ports
        keys = (flow_key(a, pa, b, pb), flow_key(b, pb, a, pa))
        for side, key in enumerate(keys):
            entry = self._flows.get(key)
            if entry is not None and entry[0] is conn:
                del self._flows[key]
            if tombstone is not None:
                self._reserved[key] = (conn.halves[side].isn, tombstone)
        if tombstone is not None:
            self._reservations.append((keys, tombstone))
        self._live.pop(conn.id, None)
        self.sink.on_finished(conn)

    def _unreserve(self, keys: tuple[bytes, bytes], until: int | None) -> None:
        """End the reservation of a 4-tuple (the flow keys of both directions); with
        `until`, only if it is still the one made then (a reused and closed again 4-tuple
        has a newer one)."""
        for k in keys:
            found = self._reserved.get(k)
            if found is not None and (until is None or found[1] == until):
                del self._reserved[k]

    def finish_all(self) -> None:
        """The capture has ended: finish every connection, oldest first."""
        for conn in list(self._live.values()):
            self._finish(conn)
        self._closed.clear()
        self._reserved.clear()
        self._reservations.clear()

    # -- one direction's stream --------------------------------------------------------

    def _segment(
        self,
        conn: Connection,
        side: int,
        half: Half,
        other: Half,
        seq: int,
        payload: bytes,
        missing: int,
        frame: int,
        flags: int,
    ) -> None:
        expected = half.next_seq
        if expected == NO_SEQ:
            # First bytes of a direction whose start we never saw.
            expected = half.next_seq = seq
        rel = (seq - expected) & MASK
        if rel == 0:
            if len(payload) + missing == 1 and other.window == 0:
                # One new byte pushed into a closed window: a zero-window probe. The byte
                # is real data and is delivered; its retransmission will overlap it.
                half.zero_window_probes += 1
            self._deliver(conn, side, half, payload, missing, frame)
            if half.ooo:
                self._drain(conn, side, half)
            return
        if rel & HALF_SPACE:
            rel -= 1 << 32
            n = len(payload) + missing
            if rel + n <= 0:
                if rel == -1 and n == 1 and not flags & (SYN | FIN):
                    # One old byte behind the window edge: a keep-alive (Windows sends one
                    # garbage byte) or a zero-window probe.
                    if other.window == 0:
                        half.zero_window_probes += 1
                    else:
                        half.keepalives += 1
                else:
                    half.retransmissions += 1
                return
            # Partly new: keep only the bytes after what was already delivered.
            half.retransmissions += 1
            payload, missing = _trim(payload, missing, -rel)
            self._deliver(conn, side, half, payload, missing, frame)
            if half.ooo:
                self._drain(conn, side, half)
            return
        # Ahead of the next expected byte: hold it until the hole fills.
        half.out_of_order += 1
        self._hold(conn, side, half, other, seq, payload, missing, frame, bool(flags & FIN))

    def _deliver(
        self, conn: Connection, side: int, half: Half, payload: bytes, missing: int, frame: int
    ) -> None:
        size = len(payload)
        if half.fin_done:
            # Bytes beyond a FIN already consumed cannot be stream data.
            return
        if size:
            if half.skip > size:
                # Wholly inside a stretch the sink steps over: an encrypted bulk transfer
                # costs the sink nothing per segment.
                half.skip -= size
            else:
                half.skip = self.sink.on_data(conn, side, half.offset, payload, frame)
            half.offset += size
        if missing:
            half.skip = 0
            self.sink.on_gap(conn, side, half.offset, missing, frame, GAP_TRUNCATED)
            half.offset += missing
            half.truncated_bytes += missing
        assert half.next_seq != NO_SEQ
        half.next_seq = (half.next_seq + size + missing) & MASK
        if half.fin_seq != NO_SEQ and half.next_seq == half.fin_seq:
            self._consume_fin(conn, side, half)

    def _hold(
        self,
        conn: Connection,
        side: int,
        half: Half,
        other: Half,
        seq: int,
        payload: bytes,
        missing: int,
        frame: int,
        fin: bool,
    ) -> None:
        limits = self.limits
        while half.ooo and (
            len(half.ooo) >= limits.max_out_of_order_segments
            or half.ooo_bytes + len(payload) > limits.max_out_of_order_bytes
        ):
            # The hole is not going to be filled in time: report it and move on.
            self._fill_hole(conn, side, half, None, GAP_BUFFER_FULL)
        assert half.next_seq != NO_SEQ
        if _relative(seq, half.next_seq) <= 0:
            # Reporting the hole made this segment in order (or old): take the usual path.
            self._segment(conn, side, half, other, seq, payload, missing, frame, FIN if fin else 0)
            return
        held = half.ooo.get(seq)
        if held is None or len(held[0]) + held[1] < len(payload) + missing:
            if held is not None:
                half.ooo_bytes -= len(held[0])
            half.ooo[seq] = (payload, missing, frame)
            half.ooo_bytes += len(payload)
        if half.last_ack != NO_SEQ:
            self._fill_acknowledged_hole(conn, side, half)

    def _fill_acknowledged_hole(self, conn: Connection, side: int, half: Half) -> None:
        """If the peer acknowledged bytes in the hole, the capture missed them: gap."""
        assert half.next_seq != NO_SEQ
        ack = half.last_ack
        if ack == NO_SEQ:
            return
        lead = _relative(ack, half.next_seq)
        if 0 < lead < MAX_ACK_LEAD:
            self._fill_hole(conn, side, half, lead, GAP_NOT_CAPTURED)

    def _fill_hole(
        self, conn: Connection, side: int, half: Half, limit: int | None, reason: str
    ) -> None:
        """Report the hole before the first held segment as a gap (at most `limit` bytes),
        then deliver whatever became contiguous."""
        assert half.next_seq != NO_SEQ
        expected = half.next_seq
        first = min(half.ooo, key=lambda s: _relative(s, expected))
        size = _relative(first, expected)
        if limit is not None:
            size = min(size, limit)
        if size <= 0:
            self._drain(conn, side, half)
            return
        self._gap(conn, side, half, size, half.ooo[first][2], reason)
        self._drain(conn, side, half)

    def _gap(
        self, conn: Connection, side: int, half: Half, size: int, frame: int, reason: str
    ) -> None:
        assert half.next_seq != NO_SEQ
        half.skip = 0
        self.sink.on_gap(conn, side, half.offset, size, frame, reason)
        half.gap_count += 1
        half.gap_bytes += size
        if len(half.gaps) < MAX_GAP_RECORDS:
            half.gaps.append(Gap(half.offset, size, frame, reason))
        half.offset += size
        half.next_seq = (half.next_seq + size) & MASK
        if half.fin_seq != NO_SEQ and half.next_seq == half.fin_seq:
            self._consume_fin(conn, side, half)

    def _drain(self, conn: Connection, side: int, half: Half) -> None:
        """Deliver held segments that are now in order (or overlap what was delivered)."""
        ooo = half.ooo
        while ooo:
            expected = half.next_seq
            assert expected != NO_SEQ
            seq = min(ooo, key=lambda s: _relative(s, expected))
            rel = _relative(seq, expected)
            if rel > 0:
                return
            payload_bytes, missing, frame = ooo.pop(seq)
            half.ooo_bytes -= len(payload_bytes)
            if rel + len(payload_bytes) + missing > 0:
                # A FIN carried by the segment is consumed by _deliver, at fin_seq.
                payload, missing = _trim(payload_bytes, missing, -rel)
                self._deliver(conn, side, half, payload, missing, frame)

    def _fin(
        self, conn: Connection, side: int, half: Half, fin_seq: int, frame: int, ts_ns: int
    ) -> None:
        if half.fin_frame is None:
            half.fin_frame = frame
            half.fin_seq = fin_seq
            if conn.end_side is None:
                conn.end_side, conn.end_how, conn.end_frame = side, "fin", frame
            if conn.halves[side ^ 1].fin_frame is not None:
                self._mark_closed(conn, ts_ns)
        if not half.fin_done and half.next_seq == half.fin_seq:
            self._consume_fin(conn, side, half)

    def _consume_fin(self, conn: Connection, side: int, half: Half) -> None:
        assert half.next_seq != NO_SEQ and half.fin_frame is not None
        half.fin_done = True
        half.next_seq = (half.next_seq + 1) & MASK
        self.sink.on_fin(conn, side, half.offset, half.fin_frame)

    def _flush(self, conn: Connection, side: int, half: Half) -> None:
        """At the end of a connection, every hole left is a gap."""
        while half.ooo:
            self._fill_hole(conn, side, half, None, GAP_AT_END)
        if half.next_seq == NO_SEQ or half.fin_done:
            return
        if half.fin_seq != NO_SEQ:
            # The FIN's sequence number proves every byte before it was sent.
            lead = _relative(half.fin_seq, half.next_seq)
        elif half.last_ack != NO_SEQ:
            # Bytes the peer acknowledged that the capture never showed us. One byte
            # exactly is most likely a FIN the capture missed, not data.
            lead = _relative(half.last_ack, half.next_seq)
            if lead == 1:
                return
        else:
            return
        if 0 < lead < MAX_ACK_LEAD:
            frame = half.fin_frame if half.fin_frame is not None else conn.last_frame
            self._gap(conn, side, half, lead, frame, GAP_AT_END)
