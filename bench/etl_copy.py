"""Write a pcap's frames as a netsh-style ETL trace, to time the ETL reader on the
benchmark's traffic (`bench/run.py --etl`): nothing here can capture a real one, and the
corpus's only pktmon trace holds 38 frames.

Each Ethernet frame becomes one NDIS-PacketCapture packet event (Microsoft-Windows-NDIS-
PacketCapture, event 1001, as `netsh trace` logs it) with the frame's time, in 64 KiB
buffers; or, with `--provider pktmon`, two PktMon events (160), one per component it passes
(as `pktmon start --capture` logs a packet, once at each; the reader gives it once). The
layout is that of the ETL writer the reader's tests use (tests/capture/etl_writer.py,
written from the public facts `tlslens.capture.etl` cites). What a trace of a busy
multi-core host has and a pcap does not is made up, deterministically, so that the reader
does the work it does on one:
- processors (`--cpus`, 2 by default): each TCP or UDP flow's events go to one processor's
  buffers (as receive-side scaling keeps a flow on one), so buffers of different processors
  overlap in time and the reader's time-order merge has real work;
- processes: the side of a flow with the higher port (the client, on the capturing host)
  sends, logged by one of 64 processes picked by the flow; the other side's frames are
  receives, logged in the Idle context (process 0), which the reader leaves without a
  process. Frames that are not TCP or UDP over IP are receives on processor 0.

    .venv/bin/python bench/etl_copy.py /tmp/bench/handshake.pcap /tmp/bench/handshake.etl
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

from tlslens.capture import CaptureError, open_capture

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "capture"))
from etl_writer import EtlWriter  # the test helper, found by its path

ETHERNET = 1


def flow_of(frame: bytes) -> tuple[int, bool] | None:
    """(a number naming the frame's flow, whether the frame is sent by the flow's side with
    the higher port), for TCP and UDP over IPv4 or IPv6 in Ethernet; None for the rest."""
    if len(frame) < 14:
        return None
    ethertype = frame[12] << 8 | frame[13]
    if ethertype == 0x0800 and len(frame) >= 34:
        ihl = (frame[14] & 15) * 4
        proto, src, dst, at = frame[23], frame[26:30], frame[30:34], 14 + ihl
    elif ethertype == 0x86DD and len(frame) >= 54:
        proto, src, dst, at = frame[20], frame[22:38], frame[38:54], 54
    else:
        return None
    if proto not in (6, 17) or len(frame) < at + 4:
        return None
    sport, dport = frame[at] << 8 | frame[at + 1], frame[at + 2] << 8 | frame[at + 3]
    ends = sorted([(src, sport), (dst, dport)])
    flow = zlib.crc32(b"".join(addr + port.to_bytes(2, "big") for addr, port in ends))
    return flow, (sport, src) > (dport, dst)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path, help="an Ethernet capture (pcap, pcapng...)")
    parser.add_argument("etl", type=Path)
    parser.add_argument("--cpus", type=int, default=2, help="processors (default 2)")
    parser.add_argument("--provider", choices=("ndis", "pktmon"), default="ndis",
                        help="which packet events to write (default ndis)")  # fmt: skip
    args = parser.parse_args()
    writer: EtlWriter | None = None
    frames = 0
    try:
        for number, ts_ns, linktype, data, _meta in open_capture(str(args.capture)).reader:
            if linktype != ETHERNET:
                parser.error(f"{args.capture}: frame of link type {linktype}, not Ethernet")
            if writer is None:
                writer = EtlWriter(buffer_size=0x10000, cpus=args.cpus, start_ns=ts_ns)
            frame = bytes(data)
            flow = flow_of(frame)
            sends = flow is not None and flow[1]
            pid = 1000 + 4 * (flow[0] % 64) if flow is not None and sends else 0
            tid = pid + 4 if pid else 0
            cpu = flow[0] % args.cpus if flow is not None else 0
            if args.provider == "ndis":
                writer.ndis(frame, ts_ns, pid=pid, tid=tid, send=sends, cpu=cpu)
            else:
                for component in (1, 2):  # DirTag 4 = Tx, 3 = Rx
                    writer.pktmon(frame, ts_ns + component, group=number, appearance=component,
                                  component=component, direction=4 if sends else 3, pid=pid,
                                  tid=tid, cpu=cpu)  # fmt: skip
            frames += 1
    except CaptureError as exc:
        parser.error(str(exc))
    if writer is None:
        parser.error(f"{args.capture}: no frames")
    args.etl.write_bytes(writer.to_bytes())
    print(f"{args.etl}: {frames:,} frames, {args.etl.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
