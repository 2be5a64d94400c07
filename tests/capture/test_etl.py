"""The Windows ETL reader: the real pktmon trace against pktmon's own conversion, container-only
traces, and synthetic netsh/pktmon traces built by `etl_writer` from the packets of
tests/fixtures/captures/basic.pcap (fragmented packets, raw IP and 802.11 media, process
events, compressed buffers, processors out of order, cut and damaged buffers)."""

from __future__ import annotations

import gzip
import inspect
import random
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from capture.etl_writer import (
    KW_PACKET_END,
    KW_PACKET_START,
    KW_SEND,
    NDIS,
    EtlWriter,
    xpress_compress,
)
from conftest import CAPTURES, CORPUS, needs_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlslens.analysis.pipeline import analyze
from tlslens.capture import CaptureError, open_capture
from tlslens.capture.etl import (
    XpressError,
    _Clock,
    _Identities,
    _in_order,
    _merge_into,
    _Waiting,
    xpress_decompress,
)

# Every test here runs with plain files mapped and read (ChunkedInput; tests/capture/conftest).
pytestmark = pytest.mark.usefixtures("each_input_mode")

PKTMON_ETL = CORPUS / "etl" / "demikernel_PktMon.etl"
PKTMON_PCAPNG = CORPUS / "etl" / "demikernel_PktMon.cap.pcapng"
AIRBUS = CORPUS / "etl" / "airbus-cert-etl-parser" / "tests" / "example"

Packet = tuple[int, bytes]


def source_packets() -> list[Packet]:
    """(time stamp ns, bytes) of every packet of basic.pcap (Ethernet, TLS 1.2 and 1.3)."""
    capture = open_capture(str(CAPTURES / "basic.pcap"))
    return [(ts, bytes(data)) for _n, ts, _lt, data, _m in capture]


def read(
    path: Path, *, dedupe: bool = True
) -> tuple[list[tuple[int, int, bytes, dict[str, Any] | None]], list[str], Any]:
    """(ts, linktype, bytes, meta) of every frame, the problems, and the OpenCapture."""
    capture = open_capture(str(path), dedupe=dedupe)
    frames = [(ts, lt, bytes(data), meta) for _n, ts, lt, data, meta in capture]
    return frames, [p.message for p in capture.problems], capture


def write(tmp_path: Path, writer: EtlWriter, name: str = "trace.etl") -> Path:
    path = tmp_path / name
    path.write_bytes(writer.to_bytes())
    return path


def pcapng_packets(path: Path) -> list[tuple[int, bytes]]:
    """(microseconds, bytes) of each EPB of a little-endian pcapng with one interface."""
    raw = path.read_bytes()
    out = []
    pos = 0
    while pos + 12 <= len(raw):
        kind, total = struct.unpack_from("<II", raw, pos)
        if kind == 6:
            _iface, hi, lo, caplen, _orig = struct.unpack_from("<IIIII", raw, pos + 8)
            out.append(((hi << 32) | lo, raw[pos + 28 : pos + 28 + caplen]))
        pos += total
    return out


# -- the real pktmon trace ---------------------------------------------------------------


@needs_corpus
def test_pktmon_every_appearance_equals_pktmon_etl2pcap() -> None:
    """dedupe=False gives what `pktmon etl2pcap` wrote: the same 114 packets, byte for byte,
    in the same order, at the same microsecond. (The pcapng has microsecond stamps; ours are
    nanoseconds from the trace's 100-ns clock, so they agree after dropping the last three
    digits: both floor the same StartTime + (stamp - reference) / PerfFreq.)"""
    frames, problems, capture = read(PKTMON_ETL, dedupe=False)
    truth = pcapng_packets(PKTMON_PCAPNG)
    assert len(truth) == 114
    assert [data for _ts, _lt, data, _m in frames] == [data for _us, data in truth]
    assert [ts // 1000 for ts, _lt, _d, _m in frames] == [us for us, _data in truth]
    assert {lt for _ts, lt, _d, _m in frames} == {1}
    assert problems == []
    assert capture.format_name == "etl"
    assert capture.frames_read == 114
    assert capture.reader.trace_info["os_build"] == 20348


@needs_corpus
def test_pktmon_dedupe_gives_each_packet_once() -> None:
    every, _, _ = read(PKTMON_ETL, dedupe=False)
    frames, problems, capture = read(PKTMON_ETL)
    assert len(frames) == 38
    assert capture.reader.duplicates == 114 - 38
    assert problems == []
    # Every appearance of a packet carries the same bytes here (pktmon logs the same buffer at
    # each component), and the 38 packets differ (ICMP sequence numbers), so each packet's
    # first appearance is the first frame with its bytes.
    firsts: dict[bytes, tuple[int, int, bytes, Any]] = {}
    for frame in every:
        firsts.setdefault(frame[2], frame)
    assert len(firsts) == 38
    assert frames == list(firsts.values())
    times = [ts for ts, _lt, _d, _m in frames]
    assert times == sorted(times)


@needs_corpus
def test_pktmon_metadata() -> None:
    """Directions come from DirTag (3 = Rx, 4 = Tx); inbound packets logged under PID 0 get
    no pid; the component is the interface."""
    frames, _, _ = read(PKTMON_ETL, dedupe=False)
    inbound = [m for _ts, _lt, _d, m in frames if m and m.get("direction") == "inbound"]
    outbound = [m for _ts, _lt, _d, m in frames if m and m.get("direction") == "outbound"]
    assert len(inbound) == 38 and len(outbound) == 76
    # 34 received packets were logged under PID 0: no pid (nor thread) is given for them.
    assert sum("pid" not in m and "tid" not in m for m in inbound) == 34
    assert sorted((m["pid"], m["tid"]) for m in inbound if "pid" in m) == [
        (3676, 5720), (3676, 5720), (9416, 8564), (9416, 8564)
    ]  # fmt: skip
    assert sorted((m["pid"], m["tid"]) for m in outbound)[-4:] == [(9700, 7300)] * 4
    assert sum(m["pid"] == 0 for m in outbound) == 72
    assert {m["interface"] for m in inbound} == {59, 61}
    assert all(m and "process_name" not in m for _ts, _lt, _d, m in frames)


@needs_corpus
def test_pktmon_analysis_sees_each_packet_once() -> None:
    """The analysis reads the trace de-duplicated: 38 ICMP packets, no TCP."""
    conversations = list(analyze(str(PKTMON_ETL)))
    assert conversations == []


@needs_corpus
@pytest.mark.parametrize("name", ["AMSITrace.etl", "lxcore_kernel.etl"])
def test_traces_without_packets_say_so(name: str) -> None:
    frames, problems, capture = read(AIRBUS / name)
    assert frames == []
    assert capture.format_name == "etl"
    assert len(problems) == 1
    assert "no packet events" in problems[0] and "pktmon start --capture" in problems[0]


@needs_corpus
def test_corpus_trace_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "renamed.pcap"
    path.write_bytes(PKTMON_ETL.read_bytes())
    frames, _, capture = read(path)
    assert capture.format_name == "etl" and len(frames) == 38


def test_open_capture_signature() -> None:
    """The `tlslens convert` helper relies on this exact keyword."""
    parameter = inspect.signature(open_capture).parameters["dedupe"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is True


# -- compression -------------------------------------------------------------------------


@needs_corpus
def test_corpus_buffers_are_plain_lz77() -> None:
    """Each compressed buffer of the real trace decompresses with [MS-XCA] plain LZ77 to
    exactly Offset - 0x48 bytes, using all of its input."""
    raw = PKTMON_ETL.read_bytes()
    pos = 0
    compressed = 0
    while pos < len(raw):
        size, offset, flag = (
            struct.unpack_from("<I", raw, pos)[0],
            *struct.unpack_from("<IH", raw, pos + 0x30),
        )
        if flag & 0x40:
            compressed += 1
            data, complete = xpress_decompress(raw[pos + 0x48 : pos + size], offset - 0x48)
            assert complete and len(data) == offset - 0x48
        pos += size
    assert compressed == 2


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.lists(st.sampled_from([b"\0", b"ab", b"TLS", b"\x16\x03\x01"]), max_size=3000).map(
            b"".join
        ),
        st.integers(0, 300_000).map(lambda n: b"x" * n),
    )
)
def test_xpress_round_trip(data: bytes) -> None:
    out, complete = xpress_decompress(xpress_compress(data), len(data))
    assert complete and out == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 5000))
def test_xpress_garbage_gives_data_or_xpresserror(garbage: bytes, size: int) -> None:
    try:
        out, _complete = xpress_decompress(garbage, size)
    except XpressError:
        return
    assert len(out) <= size


# -- synthetic netsh (NDIS-PacketCapture) traces ------------------------------------------


def ndis_trace(
    packets: list[Packet], *, compress: bool = False, fragments: int = 1, cpus: int = 1, **kw: Any
) -> EtlWriter:
    """Every packet as an NDIS event: even ones sent by pid 1234 (curl.exe), odd ones received
    (logged under PID 0 or 4, or 2200 for one in ten)."""
    writer = EtlWriter(compress=compress, **kw)
    first = packets[0][0]
    writer.classic_process(1234, "curl.exe", first - 5000)
    writer.kernel_process(2200, r"\Device\HarddiskVolume3\Program Files\app\server.exe", first)
    for k, (ts, data) in enumerate(packets):
        send = k % 2 == 0
        pid = 1234 if send else (2200 if k % 10 == 1 else (0, 4)[k % 4 == 1])
        writer.ndis(data, ts, pid=pid, tid=100 + k % 3, send=send, fragments=fragments,
                    cpu=k % cpus)  # fmt: skip
        if k % 7 == 0:
            writer.other(ts, cpu=k % cpus)
    return writer


def test_ndis_trace_gives_the_source_packets(tmp_path: Path) -> None:
    packets = source_packets()
    frames, problems, capture = read(write(tmp_path, ndis_trace(packets)))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets
    assert {lt for _ts, lt, _d, _m in frames} == {1}
    assert capture.reader.skipped_providers == {
        "{11111111-2222-3333-4444-555555555555}": (len(packets) + 6) // 7
    }


def test_ndis_process_metadata(tmp_path: Path) -> None:
    packets = source_packets()
    frames, _, _ = read(write(tmp_path, ndis_trace(packets)))
    for k, (_ts, _lt, _data, meta) in enumerate(frames):
        assert meta is not None and meta["interface"] == 7
        if k % 2 == 0:
            assert meta["direction"] == "outbound"
            assert (meta["pid"], meta["tid"]) == (1234, 100 + k % 3)
            assert meta["process_name"] == "curl.exe"  # from the NT Kernel Logger rundown
        elif k % 10 == 1:
            assert meta["direction"] == "inbound"
            assert (meta["pid"], meta["process_name"]) == (2200, "server.exe")  # Kernel-Process
        else:
            # PID 0 or 4 on a received packet means "no process known": no pid is given.
            assert meta == {"interface": 7, "direction": "inbound"}


def test_one_process_for_every_connection_is_noted_on_each(tmp_path: Path) -> None:
    """Every packet of every connection sent by one process and thread: one meta for all
    (`_Metas`), which each side of each connection still notes as its process; a second
    process later on the same side is noted as another pid."""
    packets = source_packets()
    writer = EtlWriter()
    for k, (ts, data) in enumerate(packets):
        writer.ndis(data, ts, pid=4321 if k == len(packets) - 1 else 1234, tid=9, send=True)
    convs = list(analyze(str(write(tmp_path, writer))))
    assert len(convs) > 1
    for conv in convs:
        assert {(p.side, p.pid) for p in conv.processes} == {("client", 1234), ("server", 1234)}
    # The last packet, the one from process 4321, is of one connection's one side.
    others = [p.others for conv in convs for p in conv.processes]
    assert sorted(others) == [()] * (len(others) - 1) + [(4321,)]


def test_one_process_for_many_connections_is_noted_on_each(tmp_path: Path) -> None:
    """More connections than `_Collector.on_process` remembers sides for: the first SYN of
    basic.pcap from 600 client ports, all from one process (one meta); each connection is
    its."""
    ts, syn = source_packets()[0]
    assert syn[47] & 0x3F == 0x02  # Ethernet, IPv4 and a TCP SYN
    writer = EtlWriter()
    for k in range(600):
        data = syn[:34] + struct.pack(">H", 20000 + k) + syn[36:]
        writer.ndis(data, ts + 1000 * k, pid=1234, tid=9, send=True)
    convs = list(analyze(str(write(tmp_path, writer))))
    assert len(convs) == 600
    assert all([(p.side, p.pid) for p in conv.processes] == [("client", 1234)] for conv in convs)


def test_process_named_between_packets(tmp_path: Path) -> None:
    """Packets of one process and thread share their meta until a process event names the
    process; those after it carry the name, those before do not, whatever the path (a
    whole packet, one in several events, a truncated one)."""
    packets = source_packets()[:8]
    writer = EtlWriter()
    for k, (ts, data) in enumerate(packets):
        if k == 4:
            writer.kernel_process(1234, r"\Device\HarddiskVolume3\curl.exe", ts - 1)
        cut = data[:40] if k in (2, 6) else data
        writer.ndis(cut, ts, pid=1234, tid=9, send=True, fragments=1 + k % 2)
    frames, _, _ = read(write(tmp_path, writer))
    metas = [meta for _ts, _lt, _d, meta in frames]
    assert [m and m.get("process_name") for m in metas] == [None] * 4 + ["curl.exe"] * 4
    assert all(m and (m["pid"], m["tid"], m["direction"]) == (1234, 9, "outbound") for m in metas)
    assert [m and "orig_len" in m for m in metas] == [k in (2, 6) for k in range(8)]


def test_metas_of_many_processes_and_interfaces(tmp_path: Path) -> None:
    """Packets of more processes, threads and interfaces than the metas kept to be given
    again (256): each packet's meta is its own event's, never another's."""
    ts0, data = source_packets()[0]
    writer = EtlWriter()
    expected = []
    for k in range(1500):
        pid, tid, ifindex, send = 1000 + k % 700, 50 + k % 3, 7 + k % 5, k % 4 != 1
        writer.ndis(data, ts0 + k * 1000, pid=pid, tid=tid, ifindex=ifindex, send=send)
        expected.append({"interface": ifindex, "pid": pid, "tid": tid,
                         "direction": "outbound" if send else "inbound"})  # fmt: skip
    frames, _, _ = read(write(tmp_path, writer))
    assert [meta for _ts, _lt, _d, meta in frames] == expected


def test_waiting_packets_hold_bounded_memory(tmp_path: Path) -> None:
    """A packet waiting for the time-order merge keeps the chunk of the file it lies in.
    With one small packet in each 64 KiB buffer (a trace flushed by its timer), the packets
    the merge window holds would keep a 110 MB file in memory; what they keep is bounded
    (64 MiB), and every packet still comes, in order."""
    packets = source_packets()
    path = tmp_path / "sparse.etl"
    writer = EtlWriter(buffer_size=0x10000, cpus=1)
    count = 1700
    with path.open("wb") as out:
        for k in range(count):
            _ts, data = packets[k % len(packets)]
            writer.ndis(data, packets[0][0] + k * 1000)
            writer.flush(0)
            out.write(b"".join(writer.buffers))
            writer.buffers.clear()
    assert path.stat().st_size > 110_000_000
    tracemalloc.start()
    try:
        capture = open_capture(str(path))
        times = [ts for _n, ts, _lt, _data, _meta in capture]
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert times == [packets[0][0] + k * 1000 for k in range(count)]
    assert peak < 80 * 1024 * 1024, peak


@pytest.mark.parametrize("fragments", [2, 3, 7])
def test_ndis_packets_split_over_several_events(tmp_path: Path, fragments: int) -> None:
    """Before Windows 8.1 ndiscap split packets; the packet-start/end keywords join them."""
    packets = source_packets()
    frames, problems, _ = read(write(tmp_path, ndis_trace(packets, fragments=fragments)))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets


def test_ndis_fragment_without_its_end(tmp_path: Path) -> None:
    packets = source_packets()[:5]
    writer = EtlWriter()
    for ts, data in packets[:2]:
        writer.ndis(data, ts, send=True)
    # A packet start that never ends: its fragments are dropped and reported.
    writer.event(NDIS, 1001, struct.pack("<III", 7, 7, 10) + b"x" * 10, packets[2][0],
                 keyword=KW_SEND | KW_PACKET_START | 1)  # fmt: skip
    frames, problems, _ = read(write(tmp_path, writer))
    assert [data for _ts, _lt, data, _m in frames] == [data for _ts, data in packets[:2]]
    assert any("never got their last fragment" in p for p in problems)


def test_ndis_media_raw_ip_and_wifi(tmp_path: Path) -> None:
    packets = source_packets()[:6]
    writer = EtlWriter()
    raw_ip = [data[14:] for _ts, data in packets]  # the IP packets of the Ethernet frames
    for (ts, _data), ip in zip(packets, raw_ip, strict=True):
        writer.ndis(ip, ts, media="raw", send=True, gft=True)
    wifi = bytes([0x08, 0x41]) + bytes(22) + b"\xaa\xaa\x03\0\0\0\x08\0" + raw_ip[0]
    writer.ndis(wifi, packets[-1][0] + 1000, media="wifi", send=True, fragments=2)
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    assert [(lt, data) for _ts, lt, data, _m in frames[:6]] == [(101, ip) for ip in raw_ip]
    lt, data = frames[6][1], frames[6][2]
    # ndiscap logs 802.11 frames decrypted, so the Protected bit (0x40) is cleared.
    assert lt == 105 and data[1] == 0x01 and data[2:] == wifi[2:]


def test_ndis_truncated_packets_report_their_length(tmp_path: Path) -> None:
    packets = source_packets()
    big = max(packets, key=lambda p: len(p[1]))
    writer = EtlWriter()
    writer.ndis(big[1][:128], big[0], send=True)
    frames, problems, capture = read(write(tmp_path, writer))
    assert frames[0][3] is not None and frames[0][3]["orig_len"] == len(big[1])
    assert capture.truncated_frames == 1
    assert any("truncated" in p for p in problems)


def test_compressed_ndis_trace(tmp_path: Path) -> None:
    packets = source_packets()
    frames, problems, _ = read(write(tmp_path, ndis_trace(packets, compress=True, fragments=2)))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets


def test_processors_out_of_order_are_merged_by_time(tmp_path: Path) -> None:
    """Per-processor buffers overlap in time; the packets come out in time order."""
    packets = source_packets()
    writer = ndis_trace(packets, cpus=3, buffer_size=0x2000)
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets


def test_many_windows_of_packets_read_back_whole(tmp_path: Path) -> None:
    """More packets than the time-order merge holds, several times over, on two processors
    whose buffers overlap: every packet comes back in time order with its own bytes and
    process, after the merge has given and refilled its waiting packets many times."""
    source = source_packets()
    count = 5 * 8192
    packets = [(source[0][0] + k * 1000, source[k % len(source)][1]) for k in range(count)]
    writer = EtlWriter(buffer_size=0x10000)
    for k, (ts, data) in enumerate(packets):
        writer.ndis(data, ts, pid=1000 + k % 7, tid=1, send=True, cpu=(k // 50) % 2)
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets
    assert [m and m["pid"] for _ts, _lt, _d, m in frames] == [1000 + k % 7 for k in range(count)]


def _lagging_trace(
    path: Path, *, buffer_size: int, per_buffer: int, buffers: int, behind: int,
    compress_first: bool = False,
) -> None:  # fmt: skip
    """Write a trace of two processors with `buffers` buffers each of `per_buffer` packets,
    processor 1's written `behind` buffers after processor 0's of the same times (even
    times on 0, odd ones on 1, so that buffer i of each overlap); with `compress_first`,
    processor 0's buffers compressed and 1's not. Written as it goes: the trace is large."""
    packets = source_packets()
    writer = EtlWriter(buffer_size=buffer_size, cpus=2)

    def fill(cpu: int, index: int) -> None:
        for k in range(per_buffer):
            _ts, data = packets[(index * per_buffer + k) % len(packets)]
            writer.ndis(data, packets[0][0] + index * 1_000_000 + 2 * k + cpu, cpu=cpu)
        writer.compress = compress_first and cpu == 0
        writer.flush(cpu)

    with path.open("wb") as out:
        for index in range(buffers + behind):
            if index < buffers:
                fill(0, index)
            if index >= behind:
                fill(1, index - behind)
            out.write(b"".join(writer.buffers))
            writer.buffers.clear()


def _assert_all_in_order(path: Path, count: int) -> None:
    """Every one of `count` packets comes, in time order, and no problem is reported (none
    came late)."""
    capture = open_capture(str(path))
    times = [ts for _n, ts, _lt, _data, _meta in capture]
    assert len(times) == count
    assert times == sorted(times)
    assert [p.message for p in capture.problems] == []


def test_a_trace_longer_than_the_byte_bound_is_merged_whole(tmp_path: Path) -> None:
    """What the packets waiting in the merge keep is counted up as they come, and counted
    again exactly only once that count passes the bound (64 MiB, `_released`). In a 72 MB
    trace of two processors, one written 80 buffers (2,900 packets) behind the other, what
    waits keeps about 12 MB: every packet comes in time order, none late. (Counted
    inexactly past the bound, the merge would release half of what waits at every buffer,
    and the late processor's packets would come after newer ones.)"""
    path = tmp_path / "long.etl"
    # 36 packets of at most 1,514 bytes, and their events, fill a 64 KiB buffer.
    _lagging_trace(path, buffer_size=0x10000, per_buffer=36, buffers=550, behind=80)
    assert path.stat().st_size > 72_000_000
    _assert_all_in_order(path, 2 * 550 * 36)


def test_buffers_compressed_and_not_are_counted_once_past_the_bound(tmp_path: Path) -> None:
    """Buffers of one processor compressed, of the other not (this one written 300 buffers
    behind): the count of what waits takes a file chunk again after each decompressed
    buffer, so it passes the 64 MiB bound long before that much is kept. Counted again
    exactly before anything is decided on it, it releases nothing early: every packet
    comes in time order, none late. (Counted again only after each release, as before
    the seventeenth session, 2,216 of them came late.)"""
    path = tmp_path / "mixed.etl"
    _lagging_trace(path, buffer_size=0x2000, per_buffer=4, buffers=1000, behind=300,
                   compress_first=True)  # fmt: skip
    _assert_all_in_order(path, 2 * 1000 * 4)


def test_a_reader_left_early_counts_the_frames_it_gave(tmp_path: Path) -> None:
    """A caller that stops iterating (an error in `convert`, say) reads `frames_read` as the
    frames it was given: the reader's generator is closed, which a compiled one needs to
    run its `finally`."""
    path = write(tmp_path, ndis_trace(source_packets()))
    capture = open_capture(str(path))
    with pytest.raises(ZeroDivisionError):
        for number, *_rest in capture:
            if number == 5:
                raise ZeroDivisionError
    assert capture.frames_read == 5


def test_the_link_type_is_the_first_packets(tmp_path: Path) -> None:
    """`linktype`, which a reader gives for the capture, is its first packet's."""
    packets = source_packets()[:4]
    writer = EtlWriter()
    writer.ndis(packets[0][1][14:], packets[0][0], media="raw")
    for ts, data in packets[1:]:
        writer.ndis(data, ts)
    frames, problems, capture = read(write(tmp_path, writer))
    assert problems == []
    assert [lt for _ts, lt, _d, _m in frames] == [101, 1, 1, 1]
    assert capture.reader.linktype == 101


def test_32_bit_trace_and_system_time_clock(tmp_path: Path) -> None:
    packets = source_packets()[:20]
    for options in ({"pointer_size": 4}, {"clock": 2}, {"frequency": 3_579_545}):
        writer = ndis_trace(packets, **options)
        frames, problems, _ = read(write(tmp_path, writer))
        assert problems == []
        assert [data for _ts, _lt, data, _m in frames] == [data for _ts, data in packets]
        for (ts, _lt, _d, _m), (want, _data) in zip(frames, packets, strict=True):
            assert abs(ts - want) < 1000  # the clock's own resolution
        assert frames[0][3] and frames[0][3]["process_name"] == "curl.exe"


def test_a_stamp_past_what_a_time_holds_is_kept_at_the_latest(tmp_path: Path) -> None:
    """A damaged event time stamp, centuries ahead or behind, does not fail the trace: the
    packet is read, at the earliest or latest time a packet can have (2**62 - 1 ns either
    side of 1970, the years 1824 and 2116), and put in time order by it."""
    packets = source_packets()[:3]
    writer = EtlWriter()
    (t0, first), (_t1, second), (t2, third) = packets
    writer.ndis(first, t0)
    writer.ndis(second, t0 + 10**20)  # about 3,000 years on
    writer.ndis(third, t2)
    writer.ndis(third, t0 - 10**20)
    frames, problems, _ = read(write(tmp_path, writer))
    latest = (1 << 62) - 1
    assert [(ts, data) for ts, _lt, data, _m in frames] == [
        (-latest, third),
        (t0, first),
        (t2, third),
        (latest, second),
    ]
    assert problems == []


_I64 = st.integers(-(2**63), 2**63 - 1)
_NOW_FILETIME = 134_000_000_000_000_000  # 2025, in 100 ns since 1601
_FILETIME_1970 = 116_444_736_000_000_000  # 1970 in FILETIME [MS-TLH]
_LATEST = (1 << 62) - 1


def _time_of(kind: int, ref: int, start: int, boot: int, freq: int, mhz: int, stamp: int) -> int:
    """A stamp's time as the module docstring defines it, in Python ints: StartTime +
    (stamp - the header's stamp) / frequency (BootTime + stamp / frequency without a
    StartTime; FILETIMEs for clock 2, or while no usable clock is known), clamped to
    2**62 - 1 ns either side of 1970."""
    base, origin, mul, div = 0, _FILETIME_1970, 100, 1
    if kind == 3:
        freq = mhz * 10**6
    if kind != 2 and freq > 0:
        origin, base = (
            (ref, (start - _FILETIME_1970) * 100) if start else (0, (boot - _FILETIME_1970) * 100)
        )
        mul, div = (10**9 // freq, 1) if 10**9 % freq == 0 else (10**9, freq)
    ns = base + (stamp - origin) * mul // div
    return max(-_LATEST, min(_LATEST, ns))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from([1, 2, 3]),
    ref=st.one_of(st.integers(0, 2**50), _I64),
    start=st.one_of(st.integers(_NOW_FILETIME - 10**9, _NOW_FILETIME), st.integers(0, 2**64 - 1)),
    boot=st.integers(0, 2**64 - 1),
    freq=st.one_of(st.sampled_from([10_000_000, 3_579_545, 10**9, 2_400_000_000]), _I64),
    mhz=st.one_of(st.sampled_from([2400, 3000]), st.integers(0, 2**32 - 1)),
    deltas=st.lists(st.one_of(st.integers(-(10**15), 10**15), _I64), max_size=20),
)
def test_the_clock_gives_each_stamp_its_time(
    kind: int, ref: int, start: int, boot: int, freq: int, mhz: int, deltas: list[int]
) -> None:
    """`_Clock.ns` (in machine integers where they hold every step, compiled, and in Python
    ints elsewhere) gives every stamp the time the formula gives: near the trace's start
    and far from it, at the edges of where machine integers are used (2**61 ns either
    side of the start), for every clock a trace header can give."""
    clock = _Clock()
    clock.set(kind, ref, start, boot, freq, mhz)
    edges = []
    for per_ns in (10**7, 3_579_545, 2_400_000_000, 10**9, 1):
        far = (1 << 61) * per_ns // 10**9  # ticks of 2**61 ns
        edges += [far - 1, far, far + 1, -far - 1, -far, -far + 1]
    stamps = [ref + d for d in deltas + edges] + [ref, ref - 1, ref + 1] + deltas
    for stamp in stamps:
        if -(2**63) <= stamp < 2**63:  # an event's TimeStamp is 64 bits
            assert clock.ns(stamp) == _time_of(kind, ref, start, boot, freq, mhz, stamp)


@pytest.mark.parametrize(
    "variant",
    ["classic-no-sid", "classic-start", "start-v0", "start-v2", "start-v3", "rundown-v0"],
)
def test_process_event_layouts(tmp_path: Path, variant: str) -> None:
    """Every process event layout we read gives the name; events after a packet do not
    name it (the trace is read once, front to back)."""
    packets = source_packets()[:4]
    writer = EtlWriter(processor_index=variant != "classic-start")
    ts0 = packets[0][0]
    writer.ndis(packets[0][1], ts0 - 10_000, pid=321, tid=1)
    if variant.startswith("classic"):
        writer.classic_process(321, "chrome.exe", ts0 - 5000, kind=1 if "start" in variant
                               else 3, with_sid=variant != "classic-no-sid")  # fmt: skip
    else:
        event_id = 15 if variant.startswith("rundown") else 1
        writer.kernel_process(321, r"\Device\HarddiskVolume2\Apps\chrome.exe", ts0 - 5000,
                              event_id=event_id, version=int(variant[-1]))  # fmt: skip
    for ts, data in packets[1:]:
        writer.ndis(data, ts, pid=321, tid=1)
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    names = [m and m.get("process_name") for _ts, _lt, _d, m in frames]
    assert names == [None, "chrome.exe", "chrome.exe", "chrome.exe"]


def test_gzip_compressed_trace(tmp_path: Path) -> None:
    packets = source_packets()
    path = tmp_path / "trace.etl.gz"
    path.write_bytes(gzip.compress(ndis_trace(packets).to_bytes()))
    frames, problems, capture = read(path)
    assert problems == [] and capture.format_name == "etl+gzip"
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets


def test_packets_written_too_late_are_kept_and_reported(tmp_path: Path) -> None:
    """A nearly idle processor's buffer written after more than the merge window of other
    packets: its packets still come, after the others, and a problem says so."""
    packets = source_packets()
    writer = EtlWriter(buffer_size=0x10000)
    early = packets[:3]
    for ts, data in early:
        writer.ndis(data, ts, cpu=1)
    rest = packets[3:]
    start = packets[3][0]
    count = 0
    while count < 9000:
        for _ts, data in rest:
            writer.ndis(data, start + count * 1000, cpu=0)
            count += 1
    writer.flush(0)
    writer.flush(1)
    frames, problems, _ = read(write(tmp_path, writer))
    assert len(frames) == count + 3
    # They come as soon as they are read: before the packets still waiting in the window,
    # after the thousands released already.
    datas = [data for _ts, _lt, data, _m in frames]
    at = [k for k, data in enumerate(datas) if data in {d for _ts, d in early}]
    assert len(at) == 3 and at == list(range(at[0], at[0] + 3)) and at[0] > 4096
    assert [datas[k] for k in at] == [data for _ts, data in early]
    assert any("3 packet(s) were written to the trace too late" in p for p in problems)


def test_extended_data_items_are_skipped(tmp_path: Path) -> None:
    packets = source_packets()[:3]
    writer = EtlWriter()
    for ts, data in packets:
        payload = struct.pack("<III", 7, 7, len(data)) + data
        writer.event(NDIS, 1001, payload, ts, pid=9, keyword=KW_SEND | KW_PACKET_START
                     | KW_PACKET_END | 1, extended=[(1, bytes(16)), (11, bytes(13))])  # fmt: skip
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    assert [data for _ts, _lt, data, _m in frames] == [data for _ts, data in packets]


# -- damage --------------------------------------------------------------------------------


def test_truncated_last_buffer_keeps_complete_events(tmp_path: Path) -> None:
    packets = source_packets()
    raw = ndis_trace(packets).to_bytes()
    whole, _, _ = read(write(tmp_path, ndis_trace(packets)))
    for cut in (len(raw) - 5000, len(raw) - 0x4000 + 0x30, len(raw) - 1):
        path = tmp_path / "cut.etl"
        path.write_bytes(raw[:cut])
        frames, problems, _ = read(path)
        assert frames == whole[: len(frames)]
        assert len(frames) > len(whole) - 40
        assert problems and ("ends inside" in problems[0])


def test_truncated_compressed_buffer(tmp_path: Path) -> None:
    packets = source_packets()
    raw = ndis_trace(packets, compress=True).to_bytes()
    path = tmp_path / "cut.etl"
    path.write_bytes(raw[: len(raw) - 700])
    frames, problems, _ = read(path)
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets[: len(frames)]
    assert len(frames) < len(packets)
    assert any("compressed trace buffer" in p for p in problems)


def test_garbage_buffer_is_skipped(tmp_path: Path) -> None:
    """A buffer of random bytes among good ones (fixed-size buffers): skipped and reported,
    every packet of the other buffers kept."""
    packets = source_packets()
    writer = ndis_trace(packets)
    writer.to_bytes()
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(writer.buffer_size))
    buffers = writer.buffers
    victim = 5
    lost = buffers[victim]
    raw = b"".join(buffers[:victim]) + garbage + b"".join(buffers[victim + 1 :])
    path = tmp_path / "garbage.etl"
    path.write_bytes(raw)
    frames, problems, _ = read(path)
    good = b"".join(buffers[:victim] + buffers[victim + 1 :])
    keep = [(ts, data) for ts, data in packets if data in good or data not in lost]
    assert [(ts, data) for ts, _lt, data, _m in frames] == keep
    assert len(frames) < len(packets)
    assert any("damaged" in p for p in problems) and any("resumes" in p for p in problems)


def test_corrupt_compressed_buffer_is_skipped(tmp_path: Path) -> None:
    packets = source_packets()
    writer = ndis_trace(packets, compress=True)
    writer.to_bytes()
    victim = 3
    broken = bytearray(writer.buffers[victim])
    # A first match token pointing far before the start of the output.
    broken[0x48 : 0x48 + 6] = b"\xff\xff\xff\xff\xf8\xff"
    raw = b"".join(writer.buffers[:victim]) + broken + b"".join(writer.buffers[victim + 1 :])
    path = tmp_path / "corrupt.etl"
    path.write_bytes(raw)
    frames, problems, _ = read(path)
    whole, _, _ = read(write(tmp_path, ndis_trace(packets, compress=True), "whole.etl"))
    assert 0 < len(frames) < len(whole)
    assert all(frame in whole for frame in frames)
    assert any("compressed trace buffer" in p and "damaged" in p for p in problems)


def test_damaged_event_keeps_the_rest(tmp_path: Path) -> None:
    packets = source_packets()[:40]
    writer = ndis_trace(packets)
    writer.to_bytes()
    buffer = bytearray(writer.buffers[1])
    # Break the marker of an event in the middle of the second buffer.
    offset = 0x48
    for _ in range(5):
        size_at = offset + 4 if buffer[offset + 2] in (1, 2) else offset
        offset += (struct.unpack_from("<H", buffer, size_at)[0] + 7) & ~7
    buffer[offset + 3] = 0x00
    writer.buffers[1] = bytes(buffer)
    path = tmp_path / "event.etl"
    path.write_bytes(b"".join(writer.buffers))
    frames, problems, _ = read(path)
    assert 0 < len(frames) < len(packets)
    assert any("event header is invalid" in p for p in problems)


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    writer = EtlWriter()
    path = write(tmp_path, writer, "header.etl")
    frames, problems, _ = read(path)
    assert frames == [] and any("no packet events" in p for p in problems)
    path.write_bytes(path.read_bytes()[:0x60])
    with pytest.raises(CaptureError):
        open_capture(str(path))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_damage_never_raises(tmp_path: Path, data: st.DataObject) -> None:
    packets = source_packets()[:60]
    raw = bytearray(ndis_trace(packets, compress=data.draw(st.booleans())).to_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0x60, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0x60, len(raw)))]
    path = tmp_path / "fuzz.etl"
    path.write_bytes(bytes(raw))
    try:
        frames, problems, capture = read(path)
    except CaptureError:
        return
    assert len(problems) <= 60
    assert capture.frames_read == len(frames)


# -- synthetic pktmon traces ----------------------------------------------------------------


def pktmon_trace(packets: list[Packet], **kw: Any) -> EtlWriter:
    """Each packet at 3 components, 2 microseconds apart, like pktmon logs it."""
    writer = EtlWriter(**kw)
    for k, (ts, data) in enumerate(packets):
        for appearance in range(3):
            writer.pktmon(data, ts + 2000 * appearance, group=5000 + k, appearance=appearance + 1,
                          component=20 + appearance, direction=4 if k % 2 else 3, pid=700,
                          tid=3)  # fmt: skip
    return writer


def test_pktmon_trace_dedupe(tmp_path: Path) -> None:
    packets = source_packets()
    path = write(tmp_path, pktmon_trace(packets))
    every, problems, _ = read(path, dedupe=False)
    assert problems == []
    assert len(every) == 3 * len(packets)
    once, _, capture = read(path)
    assert [(ts, data) for ts, _lt, data, _m in once] == packets
    assert capture.reader.duplicates == 2 * len(packets)
    assert [m and m["interface"] for _ts, _lt, _d, m in once] == [20] * len(packets)


def test_pktmon_dedupe_forgets_the_oldest_identities(tmp_path: Path) -> None:
    """The identities remembered to drop pktmon duplicates are bounded: each is kept for at
    least 65,536 packets given after it, and none for more than twice that. So a packet seen
    that long ago is given again, while one seen lately is still a duplicate."""
    ts0, data = source_packets()[0]
    kept = 65_536
    count = 2 * kept + 2
    writer = EtlWriter(buffer_size=0x10000)
    for group in range(count):
        writer.pktmon(data[:60], ts0 + group * 1000, group=group)
    # Again: the first two (more than twice 65,536 packets ago: forgotten), then one with
    # fewer than 65,536 after it and the last (remembered).
    again = (0, 1, count - kept + 3, count - 1)
    for k, group in enumerate(again):
        writer.pktmon(data[:60], ts0 + (count + k) * 1000, group=group, appearance=2)
    reader = open_capture(str(write(tmp_path, writer))).reader
    times = [ts for _n, ts, _lt, _data, _m in reader]
    assert len(times) == count + 2 and reader.duplicates == 2  # type: ignore[union-attr]
    assert times[-3:] == [ts0 + (count - 1) * 1000, ts0 + count * 1000, ts0 + (count + 1) * 1000]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**62 - 1),
                          st.integers(0, 6).map(lambda k: k << 40)), max_size=300),
       st.integers(1, 20))  # fmt: skip
def test_identities_are_a_set_that_forgets_a_generation_at_a_time(
    keys: list[int], generation: int
) -> None:
    """`_Identities.add` answers as two Python sets would: an identity is new unless it is
    among those added lately or in the generation before; a generation is `generation`
    identities. Keys alike in their low bits (multiples of 2**40) are told apart."""
    identities = _Identities(generation)
    seen: set[int] = set()
    older: set[int] = set()
    for key in keys:
        new = key not in seen and key not in older
        assert identities.add(key) == new, key
        if new:
            seen.add(key)
            if len(seen) >= generation:
                older, seen = seen, set()


def test_identities_take_keys_that_share_their_low_bits() -> None:
    """65,536 identities that differ only above their low 20 bits (a group id counting up
    in steps of 2**20, say) are each remembered, and found again."""
    identities = _Identities(65_536)
    keys = [k << 20 for k in range(65_535)]
    assert all(identities.add(key) for key in keys)
    assert not any(identities.add(key) for key in keys)


def test_pktmon_duplicates_take_no_place_in_the_reorder_window(tmp_path: Path) -> None:
    """A packet's later appearances on the processor that logged it are dropped as they are
    read, so they do not count against the time-order merge's window (4,096 packets): 3,000
    packets logged three times each, ahead of a late buffer of another processor, leave room
    for its packets to be put in time order."""
    packets = source_packets()
    writer = EtlWriter(buffer_size=0x10000)
    early = packets[:3]
    for k, (ts, data) in enumerate(early):
        for appearance in (1, 2, 3):
            writer.pktmon(data, ts + appearance, group=k, appearance=appearance,
                          component=appearance, cpu=1)  # fmt: skip
    start = packets[3][0]
    for k in range(3000):
        data = packets[3 + k % (len(packets) - 3)][1]
        for appearance in (1, 2, 3):
            writer.pktmon(data, start + k * 1000 + appearance, group=100 + k,
                          appearance=appearance, component=appearance)  # fmt: skip
    writer.flush(0)
    writer.flush(1)
    frames, problems, capture = read(write(tmp_path, writer))
    assert problems == []
    assert len(frames) == 3003 and capture.reader.duplicates == 2 * 3003
    assert [data for _ts, _lt, data, _m in frames[:3]] == [data for _ts, data in early]
    assert [m and m["interface"] for _ts, _lt, _d, m in frames] == [1] * 3003


def test_pktmon_duplicates_on_another_processor_are_dropped(tmp_path: Path) -> None:
    """An appearance logged on another processor than the first is dropped by the merge:
    each packet comes once, at its first appearance in time."""
    packets = source_packets()[:20]
    writer = EtlWriter()
    for k, (ts, data) in enumerate(packets):
        writer.pktmon(data, ts, group=k, appearance=1, component=7, cpu=k % 2)
        writer.pktmon(data, ts + 500, group=k, appearance=2, component=8, cpu=1 - k % 2)
    frames, problems, capture = read(write(tmp_path, writer))
    assert problems == []
    assert [(ts, data) for ts, _lt, data, _m in frames] == packets
    assert capture.reader.duplicates == len(packets)
    assert {m and m["interface"] for _ts, _lt, _d, m in frames} == {7}


_TIMES = st.lists(
    st.integers(min_value=1_700_000_000 * 10**9, max_value=1_700_000_000 * 10**9 + 40)
)


@given(_TIMES, _TIMES)
def test_the_merge_keeps_time_then_file_order(older: list[int], newer: list[int]) -> None:
    """`_merge_into` gives what a stable sort of the two runs gives (of two packets with the
    same time, the one read first comes first), and `_in_order` tells a run in order."""
    a = [_waiting(ts) for ts in sorted(older)]
    b = [_waiting(ts) for ts in sorted(newer)]
    # The same objects (compared by identity) in the same order.
    expected = sorted(a + b, key=lambda entry: entry.ts)
    merged = list(a)
    if b:
        _merge_into(merged, b)
    assert merged == expected
    if older:
        assert _in_order(a)
        assert _in_order([_waiting(ts) for ts in older]) == (older == sorted(older))


def _waiting(ts: int) -> _Waiting:
    """A packet of no bytes waiting for the merge at time `ts`."""
    return _Waiting(ts, 1, b"", memoryview(b""), 0, 0, {}, -1, -1, False)


def test_pktmon_truncated_packets_advise_pkt_size_0(tmp_path: Path) -> None:
    packets = source_packets()[:10]
    writer = EtlWriter()
    for k, (ts, data) in enumerate(packets):
        writer.pktmon(data[:128], ts, group=k, original=len(data), direction=4)
    frames, problems, capture = read(write(tmp_path, writer))
    long = [len(data) for _ts, data in packets if len(data) > 128]
    assert capture.truncated_frames == len(long)
    assert [m["orig_len"] for _ts, _lt, _d, m in frames if m and "orig_len" in m] == long
    assert len(problems) == 1 and "pktmon start --capture --pkt-size 0" in problems[0]


def test_pktmon_truncated_packets_are_counted_once(tmp_path: Path) -> None:
    """A packet logged at two components, cut short at both, is one truncated frame: the
    appearance dropped as a duplicate is not counted, whether it was on the same processor
    (dropped as read) or another (dropped by the merge); every appearance is one when
    duplicates are kept."""
    packets = source_packets()[:10]
    writer = EtlWriter()
    for k, (ts, data) in enumerate(packets):
        for appearance in (1, 2):
            cpu = k % 2 if appearance == 1 or k < 5 else (k + 1) % 2
            writer.pktmon(data[:128], ts + appearance, group=k, original=len(data),
                          appearance=appearance, component=appearance, cpu=cpu)  # fmt: skip
    path = write(tmp_path, writer)
    long = [len(data) for _ts, data in packets if len(data) > 128]
    assert len(long) > 1
    frames, _, capture = read(path)
    assert len(frames) == len(packets)
    assert capture.truncated_frames == len(long)
    assert capture.reader.duplicates == len(packets)
    frames, _, capture = read(path, dedupe=False)
    assert (
        capture.truncated_frames
        == 2 * len(long)
        == sum(1 for _ts, _lt, _d, m in frames if m and "orig_len" in m)
    )


def test_pktmon_link_type_from_the_bytes_and_drops(tmp_path: Path) -> None:
    packets = source_packets()[:4]
    writer = EtlWriter()
    ts0 = packets[0][0]
    writer.pktmon(packets[0][1][14:], ts0, group=1, packet_type=3)  # MBB: raw IP
    writer.pktmon(packets[1][1][14:], ts0 + 1000, group=2, packet_type=1)  # IP despite the type
    writer.pktmon(packets[2][1], ts0 + 2000, group=3, packet_type=2)  # Ethernet on Wi-Fi
    writer.pktmon(packets[3][1], ts0 + 3000, group=4, drop=True, direction=3, pid=4)
    frames, problems, _ = read(write(tmp_path, writer))
    assert problems == []
    assert [lt for _ts, lt, _d, _m in frames] == [101, 101, 1, 1]
    meta = frames[3][3]
    assert meta and meta["direction"] == "inbound" and "pid" not in meta
    assert "dropped by component 10" in meta["comments"][0]


# -- the analysis on top -------------------------------------------------------------------


def test_analysis_of_an_ndis_trace_matches_the_pcap(tmp_path: Path) -> None:
    packets = source_packets()
    path = write(tmp_path, ndis_trace(packets, compress=True, cpus=2))

    def facts(capture: str) -> list[tuple[Any, ...]]:
        keys = ("sni", "version", "outcome", "packets")
        return [
            (c["client"]["port"], c["server"]["port"], *(c.get(key) for key in keys))
            for c in (conv.to_record() for conv in analyze(capture))
        ]

    assert facts(str(path)) == facts(str(CAPTURES / "basic.pcap"))
