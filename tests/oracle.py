"""tshark as a peer: per-connection facts and reassembled streams, for differential tests.

Nothing here is asserted by itself; tests compare these facts with tlslens's.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

TSHARK = shutil.which("tshark")

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


@dataclass
class TsharkStream:
    stream: int
    client: tuple[str, int] = ("", 0)
    server: tuple[str, int] = ("", 0)
    first_frame: int = 0
    last_frame: int = 0
    packets: int = 0
    # (sender "a"/"b" as (ip, port), kind, frame) of the first FIN or RST.
    end: tuple[tuple[str, int], str, int] | None = None
    syn_from: tuple[str, int] | None = None
    endpoints: list[tuple[str, int]] = field(default_factory=list)


def tshark_streams(path: str) -> dict[int, TsharkStream]:
    """Per tcp.stream: endpoints, first/last frame, packet count, first FIN/RST."""
    assert TSHARK
    out = subprocess.run(
        [
            TSHARK,
            "-r",
            path,
            "-n",
            "-Y",
            "tcp and not icmp and not icmpv6",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "tcp.stream",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.flags",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    streams: dict[int, TsharkStream] = {}
    for line in out.splitlines():
        frame_s, stream_s, ip4, ip6, port_s, flags_s = line.split("|")
        if not stream_s:
            continue
        frame, stream = int(frame_s), int(stream_s)
        src = ((ip4 or ip6).split(",")[-1], int(port_s))
        flags = int(flags_s, 16)
        s = streams.get(stream)
        if s is None:
            s = streams[stream] = TsharkStream(stream, first_frame=frame)
        s.last_frame = frame
        s.packets += 1
        if src not in s.endpoints:
            s.endpoints.append(src)
        if flags & SYN and not flags & ACK and s.syn_from is None:
            s.syn_from = src
        if s.end is None and flags & (FIN | RST):
            s.end = (src, "rst" if flags & RST else "fin", frame)
    return streams


def tshark_follow(path: str, stream: int) -> tuple[tuple[str, int], bytes, bytes]:
    """`-z follow,tcp,raw`: (first sender, bytes it sent, bytes the other side sent)."""
    assert TSHARK
    out = subprocess.run(
        [TSHARK, "-r", path, "-n", "-q", "-z", f"follow,tcp,raw,{stream}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    node0: tuple[str, int] = ("", 0)
    a: list[bytes] = []
    b: list[bytes] = []
    for line in out.splitlines():
        if line.startswith("Node 0: "):
            host, _, port = line[8:].rpartition(":")
            node0 = (host.strip("[]"), int(port))
        elif line.startswith("\t"):
            b.append(bytes.fromhex(line.strip()))
        elif line and all(c in "0123456789abcdef" for c in line):
            a.append(bytes.fromhex(line))
    return node0, b"".join(a), b"".join(b)


@dataclass
class TsharkTls:
    """Per tcp.stream TLS facts as tshark dissects them."""

    sni: str | None = None
    version: int | None = None
    cipher: int | None = None
    handshake_types: list[int] = field(default_factory=list)
    alerts: list[int] = field(default_factory=list)
    #: (frame, alert code) of every plaintext alert.
    alert_frames: list[tuple[int, int]] = field(default_factory=list)


def _ints(value: str) -> list[int]:
    return [int(v, 0) for v in value.split(",") if v]


def tshark_tls(path: str, tls_ports: list[int] = ()) -> dict[int, TsharkTls]:  # type: ignore[assignment]
    """SNI, negotiated version and cipher, handshake types and plaintext alert codes per
    stream. `tls_ports` are decoded as TLS (for TLS on ports tshark gives to another
    protocol); heuristics run first so TLS on unusual ports is found too."""
    assert TSHARK
    decode_as: list[str] = []
    for port in tls_ports:
        decode_as += ["-d", f"tcp.port=={port},tls"]
    out = subprocess.run(
        [TSHARK, "-r", path, "-n", "-Y", "tls", *decode_as,
         "-o", "tcp.try_heuristic_first:TRUE",
         "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
         "-e", "tcp.stream", "-e", "frame.number", "-e", "tls.handshake.type",
         "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.version",
         "-e", "tls.handshake.extensions.supported_version", "-e", "tls.handshake.ciphersuite",
         "-e", "tls.alert_message.desc"],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    streams: dict[int, TsharkTls] = {}
    for line in out.splitlines():
        stream_s, frame_s, types_s, sni, hs_versions, supported, suites, alerts = line.split("|")
        if not stream_s:
            continue
        s = streams.setdefault(int(stream_s.split(",")[0]), TsharkTls())
        types = _ints(types_s)
        s.handshake_types += types
        if sni and s.sni is None:
            s.sni = sni.split(",")[0]
        if 2 in types:
            # The ServerHello's cipher is a single value; a HelloRetryRequest comes first
            # in TLS 1.3 and the real ServerHello replaces it.
            suite = _ints(suites)
            versions = _ints(hs_versions)
            selected = _ints(supported)
            if suite:
                s.cipher = suite[-1]
            if selected:
                s.version = selected[-1]
            elif versions:
                s.version = versions[-1]
        s.alerts += _ints(alerts)
        s.alert_frames += [(int(frame_s), code) for code in _ints(alerts)]
    return streams


def tshark_frame_times(path: str) -> dict[int, int]:
    """frame.number -> frame.time_epoch in nanoseconds."""
    assert TSHARK
    out = subprocess.run(
        [TSHARK, "-r", path, "-n", "-T", "fields", "-e", "frame.number", "-e",
         "frame.time_epoch"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    times = {}
    for line in out.splitlines():
        number, epoch = line.split("\t")
        seconds, _, fraction = epoch.partition(".")
        times[int(number)] = int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])
    return times
