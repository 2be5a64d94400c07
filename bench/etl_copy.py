"""Write a pcap's frames as a netsh-style ETL trace, to time the ETL reader on the
benchmark's traffic (`bench/run.py --etl`): nothing here can capture a real one, and the
corpus's only pktmon trace holds 38 frames.

Each Ethernet frame becomes one NDIS-PacketCapture packet event (Microsoft-Windows-NDIS-
PacketCapture, event 1001), in 64 KiB buffers of one processor, with the frame's time; the
layout is that of the ETL writer the reader's tests use (tests/capture/etl_writer.py,
written from the public facts `tlslens.capture.etl` cites).

    .venv/bin/python bench/etl_copy.py /tmp/bench/handshake.pcap /tmp/bench/handshake.etl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tlslens.capture import CaptureError, open_capture

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "capture"))
from etl_writer import EtlWriter  # the test helper, found by its path

ETHERNET = 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path, help="an Ethernet capture (pcap, pcapng...)")
    parser.add_argument("etl", type=Path)
    args = parser.parse_args()
    writer: EtlWriter | None = None
    frames = 0
    try:
        for _number, ts_ns, linktype, data, _meta in open_capture(str(args.capture)).reader:
            if linktype != ETHERNET:
                parser.error(f"{args.capture}: frame of link type {linktype}, not Ethernet")
            if writer is None:
                writer = EtlWriter(buffer_size=0x10000, cpus=1, start_ns=ts_ns)
            writer.ndis(bytes(data), ts_ns)
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
