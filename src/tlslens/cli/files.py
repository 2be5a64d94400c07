"""Opening the capture files a command was given, with the same messages for all commands:
an unreadable file is one error line and a failing exit status; problems found while reading
are warnings printed after the file's results."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import TextIO

from tlslens.analysis.aliases import AliasError, Aliases, load_aliases
from tlslens.analysis.pipeline import Analysis
from tlslens.capture import CaptureError


def add_alias_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aliases", metavar="FILE",
        help="nicknames for addresses and networks: TOML (\"10.0.0.5\" = \"web01\") or "
        "hosts-file lines (10.0.0.5 web01); CIDRs allowed",
    )  # fmt: skip


def read_aliases(path: str | None, err: TextIO) -> tuple[bool, Aliases | None]:
    """(ok, aliases) from --aliases; a bad file is one line on stderr."""
    if path is None:
        return True, None
    try:
        return True, load_aliases(path)
    except AliasError as exc:
        print(f"tlslens: error: {exc}", file=err)
        return False, None


class Captures:
    """Iterate to get one Analysis per readable file; read `status` when done."""

    def __init__(self, paths: list[str], err: TextIO, keep_frame_times: bool = False,
                 aliases: Aliases | None = None) -> None:  # fmt: skip
        self.paths = paths
        self.keep_frame_times = keep_frame_times
        self.aliases = aliases
        self.err = err
        self.status = 0

    def __iter__(self) -> Iterator[Analysis]:
        for path in self.paths:
            try:
                analysis = Analysis(path, keep_frame_times=self.keep_frame_times,
                                    aliases=self.aliases)  # fmt: skip
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
