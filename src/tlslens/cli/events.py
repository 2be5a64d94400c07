"""What the `--events FILE` and `--skew` options shared by the commands do (they are defined
in `tlslens.cli.arguments`): read the event logs, find the clock offset, and join the events
to a capture's connections.

Memory stays bounded on big logs: only events that can be about a connection (Schannel,
Sysmon 3, WFP, CAPI2) are kept for matching; other events are read again, in a second pass,
only by the timeline, and only those near the capture's time span.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TextIO

from tlslens.analysis.conversation import Conversation
from tlslens.analysis.correlate import Correlation, correlate, parse_skew
from tlslens.analysis.pipeline import Analysis
from tlslens.eventlog import EventLog, EventLogError, LogEvent, read_events
from tlslens.eventlog.facts import facts, is_capi2

#: Events of the second pass kept at most (the timeline says when more were left out).
MAX_OTHER_EVENTS = 100_000


def _relevant(event: LogEvent) -> bool:
    return facts(event) is not None or is_capi2(event)


class EventInput:
    """The event logs of one command run."""

    def __init__(self, paths: Sequence[str], skew: str, err: TextIO) -> None:
        self.err = err
        self.skew_text = skew
        self.status = 0
        self.logs: list[EventLog] = []
        self.relevant: list[LogEvent] = []
        for path in paths:
            try:
                log = read_events(path)
                self.relevant.extend(e for e in log if _relevant(e))
            except EventLogError as exc:
                print(f"tlslens: error: {exc}", file=err)
                self.status = 1
                continue
            self.logs.append(log)
            for problem in log.problems:
                print(f"tlslens: warning: {log.source}: {problem}", file=err)
        self.relevant.sort(key=lambda e: e.ts_ns)

    def __bool__(self) -> bool:
        return bool(self.logs)

    def joined(self, analysis: Analysis) -> tuple[Iterable[Conversation], Correlation | None]:
        """The capture's conversations and, with event logs, how the events join them.
        Joining needs every connection first; without a log each connection comes as it
        is finished and can be freed."""
        conversations = analysis.conversations()
        if not self:
            return conversations, None
        collected = list(conversations)
        return collected, self.correlate(collected, analysis.frame_time)

    def correlate(self, conversations: Sequence[Conversation],
                  frame_time: Callable[[int], int | None]) -> Correlation:  # fmt: skip
        result = correlate(conversations, self.relevant, frame_time, parse_skew(self.skew_text))
        if result.skew_note is not None:
            print(f"tlslens: --skew auto: {result.skew_note}", file=self.err)
        if self.relevant and not result.by_conn:
            hint = "" if self.skew_text == "auto" else "; if the clocks differ, try --skew auto"
            print(f"tlslens: warning: no event matched a connection{hint}", file=self.err)
        return result

    def others(self, start_ns: int, end_ns: int, skew_ns: int) -> Iterator[LogEvent]:
        """The events not kept for matching whose time (plus the skew) is in [start, end]."""
        kept = 0
        left_out = 0
        for log in self.logs:
            try:
                for event in log:
                    if _relevant(event) or not start_ns <= event.ts_ns + skew_ns <= end_ns:
                        continue
                    if kept >= MAX_OTHER_EVENTS:
                        left_out += 1
                        continue
                    kept += 1
                    yield event
            except EventLogError as exc:
                print(f"tlslens: error: {exc}", file=self.err)
                self.status = 1
        if left_out:
            print(f"tlslens: warning: {left_out} more events near the capture were left out "
                  f"of the timeline (at most {MAX_OTHER_EVENTS} are shown)",
                  file=self.err)  # fmt: skip
