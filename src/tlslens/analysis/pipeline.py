"""The pipeline: capture file -> frames -> TCP segments -> connections -> Conversation records.

This is the one module that composes `capture`, `net` and `tls`. It streams: conversations
are yielded as their connections end (in connection-id order), so memory follows the number
of connections open at once, not the length of the capture. Connections that end while an
earlier one is still open wait for it, in memory up to `Limits.max_waiting_connections` and
on disk beyond (`analysis.spill`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.conversation import PID_CONFIDENCE, Conversation, ProcessSeen
from tlslens.analysis.spill import SpillFile
from tlslens.analysis.tls_summary import TlsSummary
from tlslens.capture import CaptureProblem, open_capture
from tlslens.capture.sink import UNWANTED, FrameSink
from tlslens.limits import Limits
from tlslens.net import packet
from tlslens.net.tcp import (
    LATE_EXAMPLES,
    NO_VIEW,
    ROLE_CLIENT_HELLO,
    ROLE_PORT,
    ROLE_SYN,
    ROLE_SYN_ACK,
    Connection,
    FlowTable,
    StreamSink,
)
from tlslens.tls.detect import looks_like_client_hello
from tlslens.tls.record import SKIP_ALL
from tlslens.tls.session import CLIENT, SERVER, TLSSession

T = TypeVar("T")

#: The FrameRecord reason of a packet that came after its connection was reported.
LATE: Final = -1

#: Frame numbers kept as examples for each kind of skipped frame (the flow table keeps as
#: many late ones).
EXAMPLE_FRAMES: Final = LATE_EXAMPLES


class FrameRecord(NamedTuple):
    """One frame as the frame list (`tlslens messages`) shows it."""

    frame: int
    ts_ns: int
    #: The connection id, or None for a frame that gave no TCP segment.
    conn: int | None
    #: The side that sent it (0 or 1 of the connection's halves), or None.
    side: int | None
    #: TCP flags, or for a frame without a segment the `net.packet` reason code.
    flags: int
    #: TCP payload bytes (including bytes cut by the snap length).
    length: int


# SkipCount and CaptureReport are plain classes, not dataclasses: a dataclass writes and
# compiles its methods as source when its module is imported (about half a millisecond
# each, on every run). Pickling (a split worker sends its report) calls the class with
# the fields (`__reduce__`): compiled, that is the way in for a class whose __init__ takes
# arguments.


class SkipCount:
    """How many frames were left out for one reason, and the first few of them."""

    def __init__(self, count: int = 0, frames: list[int] | None = None) -> None:
        self.count = count
        self.frames: list[int] = [] if frames is None else frames

    def add(self, frame: int) -> None:
        self.count += 1
        if len(self.frames) < EXAMPLE_FRAMES:
            self.frames.append(frame)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SkipCount) and self.count == other.count
                and self.frames == other.frames)  # fmt: skip

    def __repr__(self) -> str:
        return f"SkipCount(count={self.count}, frames={self.frames})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (SkipCount, (self.count, self.frames))


class CaptureReport:
    """What happened while reading one capture, beyond the conversations themselves."""

    def __init__(self, path: str, format: str = "", frames: int = 0, tcp_segments: int = 0,
                 connections: int = 0, truncated_frames: int = 0,
                 problems: list[CaptureProblem] | None = None,
                 skipped: dict[int, SkipCount] | None = None,
                 unsupported_linktypes: dict[int, int] | None = None,
                 late: SkipCount | None = None) -> None:  # fmt: skip
        self.path = path
        self.format = format
        self.frames = frames
        self.tcp_segments = tcp_segments
        self.connections = connections
        self.truncated_frames = truncated_frames
        self.problems: list[CaptureProblem] = [] if problems is None else problems
        #: Frames that gave no TCP segment, by reason code of `net.packet`.
        self.skipped: dict[int, SkipCount] = {} if skipped is None else skipped
        #: Frames of link types we cannot decode, by link type.
        self.unsupported_linktypes: dict[int, int] = (
            {} if unsupported_linktypes is None else unsupported_linktypes
        )
        #: Packets that came after their connection had been closed and reported.
        self.late = SkipCount() if late is None else late

    def _fields(self) -> tuple[Any, ...]:
        return (self.path, self.format, self.frames, self.tcp_segments, self.connections,
                self.truncated_frames, self.problems, self.skipped, self.unsupported_linktypes,
                self.late)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaptureReport) and self._fields() == other._fields()

    def __repr__(self) -> str:
        return f"CaptureReport{self._fields()!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CaptureReport, self._fields())

    @property
    def read_nothing(self) -> bool:
        """True when the file gave no frame at all because it is damaged."""
        return self.frames == 0 and bool(self.problems)

    def notes(self) -> list[str]:
        """One sentence per thing the user should know about this capture's decoding."""
        out: list[str] = []
        for reason in (packet.FRAGMENT, packet.MALFORMED, packet.TRUNCATED):
            skip = self.skipped.get(reason)
            if skip:
                frames = ", ".join(str(f) for f in skip.frames)
                more = ", ..." if skip.count > len(skip.frames) else ""
                text = f"{skip.count} frame(s) {packet.REASONS[reason]} (frames {frames}{more})"
                if reason == packet.FRAGMENT:
                    text += "; TCP data inside them is missing from the connections"
                out.append(text + ".")
        for linktype, count in sorted(self.unsupported_linktypes.items()):
            out.append(
                f"{count} frame(s) use {packet.linktype_name(linktype)} ({linktype}), "
                "which tlslens cannot decode; they were skipped."
            )
        if self.late.count:
            frames = ", ".join(str(f) for f in self.late.frames)
            more = ", ..." if self.late.count > len(self.late.frames) else ""
            out.append(
                f"{self.late.count} packet(s) came over {Limits().closed_finish_ns / 1e9:g} s "
                "after their connection closed "
                f"(frames {frames}{more}); they are not counted in its record."
            )
        if self.truncated_frames:
            out.append(
                f"{self.truncated_frames} frame(s) were cut short by the capture's snap "
                "length; their missing bytes are reported as gaps (capture with -s 0)."
            )
        return out

    @classmethod
    def of_shares(cls, reports: Sequence[CaptureReport], share_ids: bool = False
                  ) -> CaptureReport:  # fmt: skip
        """One report for a capture whose shares (`Analysis(share=...)`) were analysed
        apart: every share read and decoded every frame, so what is said of frames comes
        from the first; each followed only its own connections, so those counts add up
        (unless each followed every connection: `share_ids`)."""
        if share_ids:
            return reports[0]
        late_frames = sorted(f for r in reports for f in r.late.frames)[:EXAMPLE_FRAMES]
        first = reports[0]
        return CaptureReport(first.path, first.format, first.frames,
                             sum(r.tcp_segments for r in reports),
                             sum(r.connections for r in reports), first.truncated_frames,
                             first.problems, first.skipped, first.unsupported_linktypes,
                             SkipCount(sum(r.late.count for r in reports),
                                       late_frames))  # fmt: skip

    def to_record(self) -> dict[str, object]:
        return {
            "file": self.path,
            "format": self.format,
            "frames": self.frames,
            "tcp_segments": self.tcp_segments,
            "connections": self.connections,
            "truncated_frames": self.truncated_frames,
            "late_packets": {"count": self.late.count, "frames": self.late.frames},
            "skipped": {
                packet.REASONS[reason]: {"count": s.count, "frames": s.frames}
                for reason, s in sorted(self.skipped.items())
            },
            "problems": [{"offset": p.offset, "message": p.message} for p in self.problems],
            "notes": self.notes(),
        }


def _role(conn: Connection, side: int) -> int:
    """The TLS role (CLIENT or SERVER) of one TCP side."""
    return CLIENT if side == conn.client_side else SERVER


#: Process ids kept per side of a connection: the first, plus a few different later ones.
MAX_PIDS_PER_SIDE: Final = 4
#: Windows' Idle (0) and System (4) pseudo-processes: on a received packet they mean "not known"
#: (the packet arrived in a context without a process), not that Idle or System received it.
UNKNOWN_INBOUND_PIDS: Final = (0, 4)
#: Connection sides whose last process metadata `_Collector.on_process` remembers, a power
#: of two.
_NOTED_SLOTS: Final = 512


def in_share(src: bytes, dst: bytes, sport: int, dport: int, count: int) -> int:
    """Which of `count` shares a TCP segment's connection belongs to (`packet.flow_share`)."""
    return packet.flow_share(src[-1], dst[-1], sport, dport, count)


def in_host_share(src: bytes, dst: bytes, _sport: int, _dport: int, count: int) -> int:
    """Like `in_share`, from the two addresses alone (`packet.hosts_share`): every connection
    between the same two hosts falls in the same share (for views that compare them:
    audit's pairs, diagnose's retries)."""
    return packet.hosts_share(int.from_bytes(src[-4:], "big"), int.from_bytes(dst[-4:], "big"),
                              count)  # fmt: skip


class _NotOurs:
    """The state of a connection another process reports (`Analysis(share_ids=True)`): its
    bytes are skipped (`_Collector.on_data`), nothing of it is parsed."""

    def gap(self, role: int, offset: int, size: int, frame: int) -> None:
        pass

    def end(self, role: int, how: str, frame: int) -> None:
        pass


NOT_OURS: Final = _NotOurs()

#: Which of `count` shares a segment's connection is in, from (src, dst, sport, dport, count).
ShareOf = Callable[[bytes, bytes, int, int, int], int]


class _Collector(StreamSink):
    """Receives reassembly events, feeds each connection's TLS session, and turns finished
    connections into Conversations (None for one another process reports)."""

    def __init__(self, limits: Limits, pid_source: str, aliases: Aliases | None,
                 share: tuple[int, int, ShareOf] | None = None) -> None:  # fmt: skip
        self.limits = limits
        self.aliases = aliases
        #: (index, count, share function): parse and report only that share's connections.
        self.share = share
        #: Finished connections waiting for their turn (None: another process reports it);
        #: past `Limits.max_waiting_connections`, they wait in `spill`.
        self.finished: dict[int, Any] = {}
        self.spill = SpillFile()
        #: The id of the next connection to hand out.
        self.next_id = 0
        #: The connection `next_id` has finished: `ready` has something to give. (Only it
        #: can end a wait: `ready` gives all that follow it, and it is never spilled.)
        self.next_finished = False
        #: What a finished connection is turned into before it waits (`Analysis.prepared`).
        self.prepare: Callable[[Conversation], Any] | None = None
        #: connection id -> side -> (first ProcessSeen fields, later different pids).
        self.pids: dict[int, dict[int, tuple[ProcessSeen, list[int]]]] = {}
        self.pid_source = pid_source
        #: The meta last noted for a connection side (`on_process`), in a direct-mapped
        #: table by (connection id * 2 + side): which side, and the meta.
        self._noted_sides = [-1] * _NOTED_SLOTS
        self._noted_metas: list[object] = [None] * _NOTED_SLOTS

    def on_process(self, conn: Connection, side: int, frame: int, meta: dict[str, Any]) -> None:
        """Note the process id a frame's metadata carries for `side` of `conn`."""
        # A reader gives the packets of one process and thread the same meta (`etl._Metas`):
        # the same one again, for the same side, has nothing new to say. (Looking it up
        # again had cost about 400 instructions a frame.)
        which = conn.id * 2 + side
        slot = which & (_NOTED_SLOTS - 1)
        if self._noted_metas[slot] is meta and self._noted_sides[slot] == which:
            return
        self._noted_sides[slot] = which
        self._noted_metas[slot] = meta
        pid = meta["pid"]
        direction = meta.get("direction")
        if pid == 0 or (pid in UNKNOWN_INBOUND_PIDS and direction == "inbound"):
            return
        sides = self.pids.get(conn.id)
        if sides is None:  # not setdefault, whose new dict would be made for every frame
            sides = self.pids[conn.id] = {}
        seen = sides.get(side)
        if seen is None:
            source = meta.get("pid_source", self.pid_source)
            first = ProcessSeen(conn.role_of(side), pid, meta.get("tid"),
                                meta.get("process_name"), source, direction, frame)  # fmt: skip
            sides[side] = (first, [])
        elif pid != seen[0].pid and pid not in seen[1] and len(seen[1]) < MAX_PIDS_PER_SIDE:
            seen[1].append(pid)

    def _processes(self, conn: Connection) -> tuple[ProcessSeen, ...]:
        sides = self.pids.pop(conn.id, None)
        if not sides:
            return ()
        rank = list(PID_CONFIDENCE)
        found = []
        for side, (first, others) in sides.items():
            # Roles may have been settled after the first packet (a ClientHello decides).
            found.append(first.seen_by(conn.role_of(side), tuple(others)))
        found.sort(key=lambda p: (rank.index(p.direction) if p.direction in rank else 1,
                                  p.side != "client"))  # fmt: skip
        return tuple(found)

    def _ours(self, conn: Connection) -> bool:
        if self.share is None:
            return True
        index, count, share_of = self.share
        return share_of(conn.addrs[0], conn.addrs[1], conn.ports[0], conn.ports[1],
                        count) == index  # fmt: skip

    def _session(self, conn: Connection) -> TLSSession | _NotOurs:
        session = conn.state
        if session is None:
            if not self._ours(conn):
                session = conn.state = NOT_OURS
            else:
                midstream = conn.role_source not in (ROLE_SYN, ROLE_SYN_ACK)
                session = conn.state = TLSSession(self.limits, midstream=midstream)
        # A tuple, not `TLSSession | _NotOurs`: compiled, that union is a new object at every
        # call (20,000 calls on the handshake benchmark, 400 instructions each).
        assert isinstance(session, (TLSSession, _NotOurs))
        return session

    def on_data(self, conn: Connection, side: int, offset: int, data: bytes, frame: int
                ) -> int:  # fmt: skip
        # Without the TCP handshake, the roles were guessed from the ports; whoever sends a
        # ClientHello is the client.
        if offset == 0 and conn.role_source == ROLE_PORT and looks_like_client_hello(data):
            if side != conn.client_side:
                conn.swap_roles(ROLE_CLIENT_HELLO)
            else:
                conn.role_source = ROLE_CLIENT_HELLO
        # The hot path: one call per data segment, so no helper calls here, and the session
        # narrowed to its class, for a direct call.
        session = conn.state
        if session is None:
            session = self._session(conn)
        if isinstance(session, TLSSession):
            return session.data(CLIENT if side == conn.client_side else SERVER, offset, data,
                                frame)  # fmt: skip
        return SKIP_ALL  # another process's connection (`_NotOurs`)

    def on_gap(self, conn: Connection, side: int, offset: int, size: int, frame: int,
               reason: str) -> None:  # fmt: skip
        if conn.state is not None:
            self._session(conn).gap(_role(conn, side), offset, size, frame)

    def on_fin(self, conn: Connection, side: int, offset: int, frame: int) -> None:
        if conn.state is not None:
            self._session(conn).end(_role(conn, side), "fin", frame)

    def on_finished(self, conn: Connection) -> None:
        session = conn.state
        if session is NOT_OURS or (session is None and not self._ours(conn)):
            self.pids.pop(conn.id, None)
            self.finished[conn.id] = None  # its id is counted; another process reports it
            self.next_finished = self.next_finished or conn.id == self.next_id
            conn.state = None
            return
        summary = None
        if isinstance(session, TLSSession):
            for side in (0, 1):
                rst = conn.halves[side].rst_frame
                if rst is not None:
                    session.end(_role(conn, side), "rst", rst)
            session.close()
            summary = TlsSummary.of(session)
        conv = Conversation.of(conn, summary, self._processes(conn), self.aliases)
        item = conv if self.prepare is None else self.prepare(conv)
        if conn.id == self.next_id:
            self.finished[conn.id] = item
            self.next_finished = True
        elif len(self.finished) < self.limits.max_waiting_connections:
            self.finished[conn.id] = item
        else:
            self.spill.put(conn.id, item)
        conn.state = None

    def ready(self) -> Iterator[Any]:
        """The finished connections whose turn has come, in id order, one at a time (those
        read back from disk are not all loaded at once)."""
        finished, spilled = self.finished, self.spill.index
        while True:
            if self.next_id in finished:
                conv = finished.pop(self.next_id)
            elif self.next_id in spilled:
                conv = self.spill.take(self.next_id)
            else:
                self.next_finished = False
                return
            self.next_id += 1
            yield conv


class _FrameLoop(FrameSink):
    """The work of every frame: the reader pushes it here (`capture.sink`), and it is
    decoded, left out if it belongs to another share's connection, and handed to the flow
    table, which passes its connection's bytes on to `_Collector`."""

    def __init__(self, analysis: Analysis, collector: _Collector, table: FlowTable) -> None:
        self.report = analysis.report
        self.collector = collector
        self.table = table
        share_index, share_count = analysis.share or (0, 0)
        self.share_index = share_index
        self.by_hosts = analysis.share_by_hosts
        # Other shares' connections are left out before the flow table, or, when ids must be
        # the capture's (`share_ids`), followed there and left out by the collector.
        self.leave_out = share_count if not analysis.share_ids else 0
        self.capture = analysis.capture
        self.progress = analysis.progress
        self.size = analysis.capture.size if analysis.progress else 0
        self.times = analysis.frame_times
        self.frames = analysis.frames
        #: TCP segments handed to the flow table.
        self.segments = 0
        #: Where `packet.decode_into` puts each frame's segment.
        self.decoded = packet.Decoded()
        #: The last meta a frame came with, and whether it has a pid: the ETL reader gives
        #: the frames of one process and thread the same meta (`etl._Metas`), and looking
        #: in it again cost 100 instructions a frame. (The other readers make a meta per
        #: frame; no reader changes one it has given.)
        self.last_meta: dict[str, Any] | None = None
        self.last_has_pid = False

    def wants(self, linktype: int, chunk: bytes, start: int, stop: int) -> int:
        """Not another share's frame, as `frame` tells it (by addresses and ports): noted
        with its share when that could be read (`frame` then takes the reader's note)."""
        leave_out = self.leave_out
        if not leave_out:
            return -1
        share = packet.share_of_frame(linktype, chunk, start, stop, leave_out, self.by_hosts)
        if share < 0 or share == self.share_index:
            return share
        return UNWANTED  # (not a conditional expression: compiled, that boxed `share`)

    def other(self, number: int, ts_ns: int) -> None:
        """Another share's frame, which `wants` declined: what `frame` does with one."""
        self._seen(number, ts_ns)
        self.table.tick(ts_ns)

    def _seen(self, number: int, ts_ns: int) -> None:
        """What every frame counts for: the progress bar, and the frame times if kept."""
        progress = self.progress
        if progress is not None and not number & 0x3FFF:
            progress(self.capture.position(), self.size)
        times = self.times
        if times is not None:
            if len(times) < number - 1:  # a reader skipped damaged frames
                times.extend([ts_ns] * (number - 1 - len(times)))
            times.append(ts_ns)

    def frame(self, number: int, ts_ns: int, linktype: int, chunk: bytes, view: memoryview,
              start: int, stop: int, meta: dict[str, Any] | None,
              note: int = -1) -> bool:  # fmt: skip
        self._seen(number, ts_ns)
        frames = self.frames
        leave_out = self.leave_out
        # `packet.decode_into`, `table.add_from` and the share functions are called as
        # written, not through aliases: compiled (tlslens.compiled), that is a direct C call.
        # A share `wants` read (this one's: the reader's note) is not read again.
        share = note
        if leave_out and share < 0:
            # Another share's frame is known by its addresses and ports alone, undecoded.
            share = packet.share_of_frame(linktype, chunk, start, stop, leave_out,
                                          self.by_hosts)  # fmt: skip
            if share >= 0 and share != self.share_index:
                self.table.tick(ts_ns)
                return False
        d = self.decoded
        if share >= 0:  # read by `share_of_frame`, its headers checked
            packet.decode_read_into(chunk, packet.ethernet_at(linktype, start), stop, d)
            seg = 0
        else:
            seg = packet.decode_into(linktype, chunk, view, start, stop, d)
        if seg:  # no TCP segment; which reason
            report = self.report
            if seg == packet.UNSUPPORTED_LINK:
                counts = report.unsupported_linktypes
                counts[linktype] = counts.get(linktype, 0) + 1
            else:
                skip = report.skipped.get(seg)
                if skip is None:
                    skip = report.skipped[seg] = SkipCount()
                skip.add(number)
            if frames is not None:
                frames.append(FrameRecord(number, ts_ns, None, None, seg, 0))
            return False
        sport, dport = d.sport, d.dport
        if leave_out and share < 0 and (  # a frame `share_of_frame` could not read
            in_host_share(d.src, d.dst, sport, dport, leave_out) if self.by_hosts
            else in_share(d.src, d.dst, sport, dport, leave_out)
        ) != self.share_index:  # fmt: skip
            self.table.tick(ts_ns)
            return False
        self.segments += 1
        flags = d.flags
        conn = self.table.add_from(number, ts_ns, sport, dport, d.key, d.seq, d.ack, flags,
                                   d.window, d.data, d.view, d.start, d.stop,
                                   d.missing)  # fmt: skip
        # Not to keep the chunk alive past its frame.
        d.data, d.view = packet.NO_PAYLOAD, NO_VIEW
        if conn is None:  # a late packet of a connection already reported
            if frames is not None:
                frames.append(FrameRecord(number, ts_ns, None, None, LATE, 0))
            return False
        if meta is self.last_meta:
            has_pid = self.last_has_pid
        else:
            has_pid = meta is not None and "pid" in meta
            self.last_meta = meta
            self.last_has_pid = has_pid
        if has_pid or frames is not None:
            # Which half sent it: the one whose address and port are the source.
            side = 0 if conn.ports[0] == sport and conn.addrs[0] == d.src else 1
            if has_pid:
                self.collector.on_process(conn, side, number, meta)  # type: ignore[arg-type]
            if frames is not None:
                frames.append(FrameRecord(number, ts_ns, conn.id, side, flags,
                                          d.stop - d.start + d.missing))  # fmt: skip
        # Yield when the next connection in id order has finished: it can be handed on.
        return self.collector.next_finished


class Analysis:
    """One capture being analysed. Iterate `conversations()` once; then read `report`."""

    def __init__(
        self,
        path: str,
        limits: Limits | None = None,
        progress: Callable[[int, int], None] | None = None,
        keep_frame_times: bool = False,
        aliases: Aliases | None = None,
        keep_frames: bool = False,
        share: tuple[int, int] | None = None,
        share_by_hosts: bool = False,
        share_ids: bool = False,
    ) -> None:
        self.limits = limits or Limits()
        #: (i, k): follow only the TCP connections of share i of k (see `in_share`), so
        #: that k processes can split one capture; None follows every connection.
        self.share = share
        #: Shares by host pair (`in_host_share`) rather than by connection (`in_share`).
        self.share_by_hosts = share_by_hosts
        #: Follow every TCP connection, so that connection ids are the whole capture's (a
        #: finding may name another connection), but parse and report only the share's:
        #: costs the TCP work of the other shares.
        self.share_ids = share_ids
        self.aliases = aliases
        #: Every frame's FrameRecord, kept only for the frame list (it grows with the file).
        self.frames: list[FrameRecord] | None = [] if keep_frames else None
        #: Each frame's time stamp (index frame - 1), kept only when asked for: the timeline
        #: and event-log matching need the time of frames that connections refer to. It costs
        #: 8 bytes per frame, the one thing here that grows with the capture's length.
        self.frame_times: array[int] | None = array("q") if keep_frame_times else None
        #: Called now and then with (bytes of the file read, file size).
        self.progress = progress
        self.capture = open_capture(path, self.limits)
        self.report = CaptureReport(path=path, format=self.capture.format_name)

    def conversations(self) -> Iterator[Conversation]:
        return self._in_order(None)

    def prepared(self, prepare: Callable[[Conversation], T]) -> Iterator[T]:
        """Like `conversations`, but each connection is turned into what `prepare` makes of
        it (a line of output, say) as soon as it ends: what waits for its turn, in memory or
        on disk (`analysis.spill`), is then that, cheap to keep, not the whole connection."""
        return self._in_order(prepare)

    def _in_order(self, prepare: Callable[[Conversation], Any] | None) -> Iterator[Any]:
        report = self.report
        share_index, share_count = self.share or (0, 0)
        share_of = in_host_share if self.share_by_hosts else in_share
        collector = _Collector(self.limits, self.capture.format_name.split("+")[0], self.aliases,
                               (share_index, share_count, share_of)
                               if share_count and self.share_ids else None)  # fmt: skip
        collector.prepare = prepare
        table = FlowTable(collector, self.limits)
        loop = _FrameLoop(self, collector, table)
        try:
            # The reader yields after a frame that let connections through (`_FrameLoop`).
            for _ in self.capture.reader.push(loop):
                for conv in collector.ready():
                    if conv is not None:
                        yield conv
            table.finish_all()
            for conv in collector.ready():
                if conv is not None:
                    yield conv
        finally:
            collector.spill.close()
            self.capture.reader.source.close()
            report.frames = self.capture.frames_read
            report.truncated_frames = self.capture.truncated_frames
            report.problems = list(self.capture.problems)
            report.tcp_segments = loop.segments
            report.connections = collector.next_id
            report.late = SkipCount(table.late_packets, table.late_frames[:EXAMPLE_FRAMES])

    def frame_time(self, frame: int) -> int | None:
        """The time stamp of frame number `frame` (from 1), if frame times were kept."""
        times = self.frame_times
        if times is None or not 0 < frame <= len(times):
            return None
        return times[frame - 1]


def analyze(path: str, limits: Limits | None = None) -> Iterator[Conversation]:
    """Conversations of one capture file, in connection-id order (raises CaptureError)."""
    return Analysis(path, limits).conversations()
