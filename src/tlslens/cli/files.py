"""Opening the capture files a command was given, with the same messages for all commands:
an unreadable file is one error line and a failing exit status; problems found while reading
are warnings printed after the file's results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from tlslens.analysis.pipeline import Analysis
from tlslens.capture import CaptureError


class Captures:
    """Iterate to get one Analysis per readable file; read `status` when done."""

    def __init__(self, paths: list[str], err: TextIO, keep_frame_times: bool = False) -> None:
        self.paths = paths
        self.keep_frame_times = keep_frame_times
        self.err = err
        self.status = 0

    def __iter__(self) -> Iterator[Analysis]:
        for path in self.paths:
            try:
                analysis = Analysis(path, keep_frame_times=self.keep_frame_times)
            except CaptureError as exc:
                print(f"tlslens: error: {exc}", file=self.err)
                self.status = 1
                continue
            yield analysis
            # The caller has read this file's conversations by now.
            for problem in analysis.report.problems:
                print(f"tlslens: warning: {problem}", file=self.err)
            if analysis.report.read_nothing:
                print(f"tlslens: error: {path}: no packets could be read from this file",
                      file=self.err)  # fmt: skip
                self.status = 1
