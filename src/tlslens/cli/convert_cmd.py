"""`tlslens convert IN -o OUT.pcapng`: any capture tlslens reads, written as pcapng, keeping
what the input knew about each packet: process and thread ids (pcapng option 8 plus an
etl2pcapng-style "PID=... TID=..." comment), process names, comments and direction.

The output is written to a temporary file next to OUT and renamed over it at the end, so a
failed conversion never leaves half a file under OUT's name. Interfaces never parse bytes:
reading is `tlslens.capture`'s job, writing is `tlslens.capture.pcapng_writer`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from typing import TextIO

from tlslens.capture import CaptureError, open_capture
from tlslens.capture.pcapng_writer import PcapngWriter, storable


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def run_convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    source, target = args.input, args.output

    def error(message: str) -> int:
        print(f"tlslens: error: {message}", file=err)
        return 1

    if _same_file(source, target):
        return error(f"{target}: the output would overwrite the input; choose another name")
    if os.path.isdir(target):
        return error(f"{target}: is a directory; give the name of the pcapng file to write")
    try:
        # A faithful copy by default: pktmon's per-component copies are dropped on request.
        capture = open_capture(source, dedupe=args.dedupe)
    except CaptureError as exc:
        return error(str(exc))
    directory = os.path.dirname(os.path.abspath(target))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp",
                                    dir=directory)  # fmt: skip
    except OSError as exc:
        capture.reader.source.close()
        return error(f"cannot write {target}: {exc.strerror or exc}")
    skipped: dict[int, int] = {}
    try:
        with open(fd, "wb") as handle:
            writer = PcapngWriter(handle)
            for _number, ts_ns, linktype, data, meta in capture:
                if not storable(linktype):
                    skipped[linktype] = skipped.get(linktype, 0) + 1
                    continue
                writer.write(ts_ns, linktype, data, meta)
        # mkstemp makes the file private (0600); give it the permissions of a new file.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return error(f"cannot write {target}: {exc.strerror or exc}")
    except Exception as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return error(
            f"{source}: internal error after frame {capture.frames_read} "
            f"({type(exc).__name__}: {exc}); nothing was written. Please report this."
        )
    for problem in capture.problems:
        print(f"tlslens: warning: {problem}", file=err)
    for linktype, count in sorted(skipped.items()):
        print(
            f"tlslens: warning: {source}: {count} frame(s) of a kind pcapng cannot hold "
            f"(Network Monitor metadata, link type {linktype}) were left out",
            file=err,
        )
    if writer.clamped_timestamps:
        print(
            f"tlslens: warning: {source}: {writer.clamped_timestamps} frame(s) are dated "
            "before 1970, which pcapng cannot express; they were dated 1970-01-01",
            file=err,
        )
    out.write(
        f"{target}: {writer.frames_written} frame(s) written from {source} "
        f"({capture.format_name})\n"
    )
    if capture.frames_read == 0 and capture.problems:
        return error(f"{source}: no packets could be read from this file")
    return 0
