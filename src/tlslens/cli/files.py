"""Opening the capture files a command was given, with the same messages for all commands:
an unreadable file is one error line and a failing exit status; problems found while reading
are warnings printed after the file's results.

The filter language and the diagnosis rules are imported only by the functions that use them,
when a command was given a filter: `tlslens analyze` imports this module on every run.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO, TypeAlias

from tlslens.analysis.aliases import AliasError, Aliases, load_aliases
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.pipeline import Analysis, CaptureReport
from tlslens.capture import CaptureError

if TYPE_CHECKING:
    from tlslens.analysis.frame_list import FrameRow
    from tlslens.query import Predicate


def expand_paths(paths: list[str], err: TextIO) -> list[str]:
    """Files as given, directories replaced by the files under them (sorted; hidden files
    and folders left out). A directory with no files is reported."""
    out: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        found = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.join(folder, f) for f in sorted(files) if not f.startswith(".")]
        if not found:
            print(f"tlslens: warning: {path}: the folder holds no files", file=err)
        out += found
    return out


def read_filter(text: str | None, err: TextIO) -> tuple[bool, Predicate | None]:
    """(ok, predicate) from --filter; a bad filter is a message with a caret on stderr."""
    if text is None:
        return True, None
    # Lazy: the filter language is needed only when a filter is given (start-up time).
    from tlslens.query import FilterError, compile_filter

    try:
        return True, compile_filter(text)
    except FilterError as exc:
        print(f"tlslens: error: --filter: {exc.render()}", file=err)
        return False, None


def no_match_note(path: str, err: TextIO) -> None:
    print(f"tlslens: note: {path}: no connection matches the filter", file=err)


def no_frame_note(path: str, err: TextIO) -> None:
    print(f"tlslens: note: {path}: no frame matches the filter", file=err)


FindingsOf = Callable[[Conversation], Callable[[], list[str]]]


def _findings_of(filter_text: str | None) -> FindingsOf | None:
    """A function giving a connection's finding codes, when the filter asks for them."""
    if filter_text is None:
        return None
    # Lazy: the filter language is needed only when a filter is given (start-up time).
    from tlslens.query import uses_field

    if not uses_field(filter_text, "finding.code"):
        return None
    # Lazy: the diagnosis rules are needed only when a filter asks for them (start-up time).
    from tlslens.diagnose import Context, diagnose

    ctx = Context()
    # Diagnosed at once, for every connection in capture order (the context remembers
    # earlier failures); the filter's Row wants the codes as a function, hence `.copy`.
    return lambda conv: [f.code for f in diagnose(conv, ctx)].copy


def matching_frames(
    frames: Iterable[FrameRow],
    conversations: Iterable[Conversation],
    predicate: Predicate | None,
    filter_text: str | None = None,
    on_empty: Callable[[], None] | None = None,
) -> Iterator[FrameRow]:
    """The frames the filter keeps, each tested on its own as Wireshark's display filters
    test packets (see `query.fields`): message fields hold what the frame carries, the
    addresses and ports are its own, the rest is its connection's. Frames outside any
    connection never match a filter."""
    if predicate is None:
        yield from frames
        return
    # Lazy: the filter language is needed only when a filter is given (start-up time).
    from tlslens.query import Row

    by_id = {conv.id: conv for conv in conversations}
    findings_of = _findings_of(filter_text)
    # Findings are worked out once per connection, in capture order as diagnose does.
    findings = {cid: findings_of(conv) for cid, conv in by_id.items()} if findings_of else {}
    kept = 0
    for row in frames:
        conv = by_id.get(row.conn) if row.conn is not None else None
        if conv is None:
            continue
        if predicate(Row(conv, findings.get(conv.id), None, row.frame, row.from_client is True)):
            kept += 1
            yield row
    if not kept and on_empty is not None:
        on_empty()


#: A connection id's process record from an event log, or None.
ProcessOf = Callable[[int], dict[str, Any] | None]


class ConnectionFilter:
    """The filter's test of one connection at a time, in capture order. Findings are
    worked out, as diagnose does, only when the filter asks for finding.code (or given)."""

    def __init__(self, predicate: Predicate | None, filter_text: str | None = None,
                 process_of: ProcessOf | None = None) -> None:  # fmt: skip
        self.predicate = predicate
        self.findings_of = _findings_of(filter_text) if predicate is not None else None
        self.process_of = process_of

    def keeps(self, conv: Conversation, codes: Callable[[], list[str]] | None = None) -> bool:
        """Whether the filter keeps `conv` (always, without a filter); `codes` gives its
        finding codes when the caller has worked them out already."""
        if self.predicate is None:
            return True
        # Lazy: the filter language is needed only when a filter is given (start-up time).
        from tlslens.query import Row

        if codes is None and self.findings_of is not None:
            codes = self.findings_of(conv)
        process = self.process_of(conv.id) if self.process_of is not None else None
        return self.predicate(Row(conv, codes, process))


def matching(
    conversations: Iterable[Conversation],
    predicate: Predicate | None,
    filter_text: str | None = None,
    process_of: Callable[[int], dict[str, Any] | None] | None = None,
    on_empty: Callable[[], None] | None = None,
) -> Iterator[Conversation]:
    """The conversations the filter keeps (all of them without one); see ConnectionFilter.
    `on_empty` is called when the filter kept nothing."""
    if predicate is None:
        yield from conversations
        return
    keep = ConnectionFilter(predicate, filter_text, process_of)
    kept = 0
    for conv in conversations:
        if keep.keeps(conv):
            kept += 1
            yield conv
    if not kept and on_empty is not None:
        on_empty()


#: (aliases, filter); a string, as `Predicate` is imported for type checking only.
Inputs: TypeAlias = "tuple[Aliases | None, Predicate | None]"


def read_inputs(args: argparse.Namespace, err: TextIO) -> Inputs | None:
    """(aliases, filter) from a command's --aliases and --filter (those it has); None after
    one error line per bad option, for the command to exit with status 1."""
    ok, aliases = read_aliases(getattr(args, "aliases", None), err)
    ok_filter, predicate = read_filter(getattr(args, "filter", None), err)
    return (aliases, predicate) if ok and ok_filter else None


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
                 aliases: Aliases | None = None, keep_frames: bool = False) -> None:  # fmt: skip
        self.paths = expand_paths(paths, err)
        self.keep_frame_times = keep_frame_times
        self.keep_frames = keep_frames
        self.aliases = aliases
        self.err = err
        self.status = 0

    def __iter__(self) -> Iterator[Analysis]:
        for path in self.paths:
            try:
                analysis = Analysis(path, keep_frame_times=self.keep_frame_times,
                                    aliases=self.aliases, keep_frames=self.keep_frames)  # fmt: skip
            except CaptureError as exc:
                print(f"tlslens: error: {exc}", file=self.err)
                self.status = 1
                continue
            yield analysis
            # The caller has read this file's conversations by now.
            self.status = max(self.status, report_problems(analysis.report, self.err))


def report_problems(report: CaptureReport, err: TextIO) -> int:
    """Say what was wrong in a capture once it has been read; 1 if nothing could be read."""
    for problem in report.problems:
        print(f"tlslens: warning: {problem}", file=err)
    if report.read_nothing:
        print(f"tlslens: error: {report.path}: no packets could be read from this file",
              file=err)  # fmt: skip
        return 1
    return 0


#: Below this size a capture is analysed in one process even with several cores: starting
#: the workers and merging their output would cost more than the cores save (about 0.1 s,
#: against about 60 ms per MB analysed on the benchmark machine).
MIN_SPLIT_BYTES = 8 * 1024 * 1024
#: At most this many processes share one capture: each reads and decodes every frame (about a
#: fifth of a one-process run), so beyond a few processes more cores add little but load.
MAX_SPLIT_JOBS = 8


class SplitPlan(NamedTuple):
    """How one capture is shared between processes (see `tlslens.cli.split`). (A
    NamedTuple, as `tlslens.limits.Limits` is, for start-up time.)"""

    jobs: int
    #: Shares go by host pair: every connection between two hosts in one process.
    by_hosts: bool = False
    #: Each process follows every TCP connection, so that ids are the capture's.
    share_ids: bool = False


def split_plan(args: argparse.Namespace, paths: list[str], cores: int,
               by_hosts: bool = False, share_ids: bool = False) -> SplitPlan | None:  # fmt: skip
    """How this run's capture should be shared between processes, or None for one process:
    one file big enough to be worth it, no event log or columns (both need every connection
    in one place). A filter that reads the connection id asks for `share_ids`; one that
    reads findings, for `by_hosts` (a finding may compare a client's connections)."""
    if len(paths) != 1 or cores < 2 or not os.path.isfile(paths[0]):
        return None
    if getattr(args, "events", None) or getattr(args, "columns", None) is not None:
        return None
    if os.path.getsize(paths[0]) < MIN_SPLIT_BYTES:
        return None
    if args.filter is not None:
        # Lazy: the filter language is needed only when a filter is given (start-up time).
        from tlslens.query import uses_field

        text = args.filter
        share_ids = share_ids or uses_field(text, "tcp.stream") or uses_field(text, "conn.id")
        by_hosts = by_hosts or uses_field(text, "finding.code")
    return SplitPlan(min(cores, MAX_SPLIT_JOBS), by_hosts, share_ids)
