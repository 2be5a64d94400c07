"""Write a pcap's frames as a netsh-style ETL trace, to time the ETL reader on the
benchmark's traffic (`bench/run.py --etl`): nothing here can capture a real one, and the
corpus's only pktmon trace holds 38 frames.

Each Ethernet frame becomes one NDIS-PacketCapture packet event (Microsoft-Windows-NDIS-
PacketCapture, event 1001), in 64 KiB buffers of one processor, with the frame's time; the
layout is that of the ETL writer the reader's tests use (tests/capture/etl_writer.py,
written from the public facts `tlslens.capture.etl` cites).

    python bench/etl_copy.py /tmp/bench/handshake.pcap /tmp/bench/handshake.etl
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "capture"))
from etl_writer import EtlWriter  # the test helper, found by its path

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
ETHERNET = 1
MICROSECOND_MAGIC = 0xA1B2C3D4
NANOSECOND_MAGIC = 0xA1B23C4D


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pcap", type=Path, help="a little-endian Ethernet pcap")
    parser.add_argument("etl", type=Path)
    args = parser.parse_args()
    data = args.pcap.read_bytes()
    magic, _, _, _, _, _, linktype = PCAP_HEADER.unpack_from(data)
    if magic not in (MICROSECOND_MAGIC, NANOSECOND_MAGIC) or linktype != ETHERNET:
        parser.error(f"{args.pcap}: not a little-endian Ethernet pcap")
    scale = 1000 if magic == MICROSECOND_MAGIC else 1
    pos = PCAP_HEADER.size
    first = RECORD.unpack_from(data, pos)
    writer = EtlWriter(buffer_size=0x10000, cpus=1,
                       start_ns=first[0] * 10**9 + first[1] * scale)  # fmt: skip
    frames = 0
    while pos + RECORD.size <= len(data):
        seconds, fraction, captured, _ = RECORD.unpack_from(data, pos)
        pos += RECORD.size
        frame = data[pos : pos + captured]
        pos += captured
        writer.ndis(frame, seconds * 10**9 + fraction * scale)
        frames += 1
    args.etl.write_bytes(writer.to_bytes())
    print(f"{args.etl}: {frames:,} frames, {args.etl.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
