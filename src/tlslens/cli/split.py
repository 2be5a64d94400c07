"""One capture on several cores, for `tlslens analyze`, `audit` and `diagnose`.

Each worker process reads the whole file but follows only its share of the TCP connections
(`Analysis(share=(i, k))`): decoding, TCP reassembly, TLS parsing and writing the records,
which is most of the work, divide; reading the frames does not. A worker knows another
share's common frame (Ethernet, IPv4, TCP) by its addresses and ports without decoding it
(`net.packet.share_of_frame`), so what it pays for the others' frames is about a tenth of
a run on a handshake-heavy capture.

What a worker makes of its connections is its command's job (`ShareJob`: `_RecordJob` in
analyze_cmd, `_PairJob` in audit_cmd, `_FindingsJob` in diagnose_cmd); this module only
runs the workers and merges what they send.

Connection ids count connections in the order they first appear in the whole capture, so a
worker cannot know them. It sends each of its connections down a pipe in its own order,
with the connection's first frame and its record without the id (or only the first frame,
when the filter drops it: ids count it all the same). The parent merges the pipes by first
frame, which is the order of the ids, and puts the ids back as it writes. Output flows as
soon as every worker is past a connection (`| head` gets its lines early). While it waits
for a slow worker, the parent holds at most MAX_QUEUED_BYTES of each other worker's records;
past that the worker waits. The output is byte for byte what one process writes
(tests/cli/test_split.py), with two exceptions that only a hostile or extraordinary capture
meets: the limits (`Limits`) apply to each share apart (`max_live_connections` counts one
share's connections), and a closed connection with packets after its close may be
reported a sweep earlier or later (the flow table finishes closed connections in the order
they closed, and a share's order differs), so such a packet may count as late in one run
and not the other. Workers see every frame's time (`FlowTable.tick`), so the sweeps
themselves come at the same moments.

All four formats are split: json, jsonl, csv, and the text table, whose rows (strings)
come back to the parent to be laid out. Not with --events (joining the log needs every
connection in one place) or --columns (`files.split_plan`). A filter that reads the
connection id makes the workers follow every connection (below); one that reads findings
makes them share by host pair (a finding may compare a connection with earlier ones of the
same client).
`audit` is split the same way, by host pair (`Analysis(share_by_hosts=True)`), so that
each client/server pair is counted whole in one worker. So is `diagnose`, whose findings
may also name another connection by id inside their text: its workers follow every TCP
connection, so that their ids are the capture's, and parse TLS only for their share
(`Analysis(share_ids=True)`); that costs each of them the TCP work of the others (about
0.4 s of the benchmark capture's 3.5 s).

Memory is per worker: k workers use about k times what one process uses. `audit` with
--aliases runs in one process: an alias may name a network, so a pair could span shares.

The workers are forked with `os.fork` (`_Worker`), not started by `multiprocessing`:
importing that (with ctypes, for a shared counter) was 18 M of the 460 M instructions a
split run spent before its fork, and all it did here was fork, wait and kill.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, BinaryIO, Protocol, TextIO

from tlslens.analysis.aliases import Aliases
from tlslens.analysis.conversation import Conversation
from tlslens.analysis.pipeline import Analysis, CaptureReport
from tlslens.capture import CaptureError
from tlslens.cli.files import ConnectionFilter, no_match_note

# What a worker sends: a header (first frame, length), then `length` bytes. The length
# tells what follows: a record, nothing (a connection the filter dropped), or the end.
_HEADER = struct.Struct("<qI")
#: A connection the filter dropped: no record follows.
_DROPPED = 0xFFFFFFFF
#: The first frame of the last message: a pickled (report, error) follows.
_END = -1
#: The first frame of the first message: the capture opened (length 0) or could not be
#: read (a pickled error follows).
_OPENED = -2


class ShareJob(Protocol):
    """What a worker makes of its connections: `data` for one the filter keeps, None for
    one it drops (the job applies the filter, as it may need the connection's findings
    first); and `result` once at the end. With `in_capture_order`, connections are given
    in connection order, because what `data` makes of one depends on the earlier ones;
    without, each is given as it ends (`Analysis.prepared`), so that what waits behind a
    long connection is its data, not the connection."""

    in_capture_order: bool

    def data(self, conv: Conversation) -> bytes | None: ...

    def result(self) -> object: ...


#: Makes a worker's job, given the filter's test (built in the worker).
MakeJob = Callable[[ConnectionFilter], ShareJob]


def _send(pipe: BinaryIO, first_frame: int, data: bytes | None) -> None:
    try:
        pipe.write(_HEADER.pack(first_frame, _DROPPED if data is None else len(data)))
        if data:
            pipe.write(data)
    except BrokenPipeError:
        # The parent stopped reading (its own output was closed, or it failed): there is
        # nobody left to tell anything.
        os._exit(0)


def _worker(path: str, index: int, count: int, make_job: MakeJob,
            aliases: Aliases | None, filter_text: str | None, by_hosts: bool, share_ids: bool,
            pipe_fd: int, others: list[int], progress: _SharedCount) -> None:  # fmt: skip
    """In a worker process: follow share `index` of `count` and send every connection."""
    # Ctrl-C reaches every process of the terminal's group; the parent answers it by ending
    # the workers, which would otherwise each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd in others:  # the other workers' pipes: their reader must see them end
        os.close(fd)
    with os.fdopen(pipe_fd, "wb", buffering=1 << 16) as pipe:
        try:
            report = _report_progress(progress) if index == 0 else None
            analysis = Analysis(path, aliases=aliases, share=(index, count),
                                share_by_hosts=by_hosts, share_ids=share_ids,
                                progress=report)  # fmt: skip
        except CaptureError as exc:
            _send(pipe, _OPENED, pickle.dumps(str(exc)))
            return
        _send(pipe, _OPENED, b"")
        error = None
        job: ShareJob | None = None
        try:
            predicate = None
            if filter_text is not None:
                # Lazy: the filter language and what it reads (event logs among them) take
                # 30 ms to import, which a split run without a filter paid before the fork.
                from tlslens.query import compile_filter

                predicate = compile_filter(filter_text)
            job = made = make_job(ConnectionFilter(predicate, filter_text))
            sent: Iterator[tuple[int, bytes | None]] = (
                ((conv.first_frame, made.data(conv)) for conv in analysis.conversations())
                if made.in_capture_order
                else analysis.prepared(lambda conv: (conv.first_frame, made.data(conv)))
            )
            for first_frame, data in sent:
                _send(pipe, first_frame, data)
        except Exception as exc:
            error = (f"{path}: internal error after frame {analysis.capture.frames_read} "
                     f"({type(exc).__name__}: {exc}); results are partial. Please report "
                     "this.")  # fmt: skip
        # What the job made of the connections before any error is still worth having.
        result = job.result() if job is not None else None
        _send(pipe, _END, pickle.dumps((analysis.report, error, result)))


def _report_progress(value: _SharedCount) -> Callable[[int, int], None]:
    def report(done: int, _total: int) -> None:
        value.value = done

    return report


class _SharedCount:
    """A number one process writes and the others read: eight bytes of memory that stay
    shared across `os.fork` (an anonymous shared mapping)."""

    _FORMAT = struct.Struct("q")

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, self._FORMAT.size)

    @property
    def value(self) -> int:
        value: int = self._FORMAT.unpack_from(self._memory)[0]
        return value

    @value.setter
    def value(self, value: int) -> None:
        self._FORMAT.pack_into(self._memory, 0, value)


class _Worker:
    """A worker process, forked now to run `target(*args)`: the part of
    `multiprocessing.Process` a split needs. It leaves with status 0 when `target`
    returns, and with 1 (its traceback on standard error) when it raises."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        #: The exit status once the process has ended and been waited for; minus the
        #: signal's number if one ended it (as `multiprocessing` and `subprocess` say).
        self.exitcode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the worker
            status = 1
            try:
                target(*args)
                status = 0
            except BaseException:
                import traceback  # Lazy: only for what nobody expects.

                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(OSError, ValueError):
                        stream.flush()
                # Not `sys.exit`: the parent's cleanup (atexit, context managers up the
                # stack) must not run a second time here.
                os._exit(status)

    def _reap(self, flags: int) -> None:
        if self.exitcode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid:
                self.exitcode = os.waitstatus_to_exitcode(status)

    def is_alive(self) -> bool:
        self._reap(os.WNOHANG)
        return self.exitcode is None

    def terminate(self) -> None:
        if self.exitcode is None:
            # ProcessLookupError: it has just ended, and waitpid will say how.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def join(self) -> None:
        self._reap(0)


class _Stream:
    """The parent's end of one worker's pipe: reads whatever is there, never waits on it, so
    that no worker is held up by another one's slower connection."""

    def __init__(self, fd: int, buffer: memoryview) -> None:
        self.fd = fd
        #: Where a read lands (`_read_buffer`); what is kept of it is copied out at once.
        self.buffer = buffer
        #: What was read of a message not yet whole, in the pieces read; `wanted` is how
        #: many bytes make it whole (or its header, while that is not all there).
        self.partial: list[bytes] = []
        self.partial_bytes = 0
        self.wanted = 0
        #: Complete messages not yet used: (first frame, data or None if dropped).
        self.messages: deque[tuple[int, bytes | None]] = deque()
        #: The pipe is closed: the worker ended (or died, if no END came).
        self.closed = False
        #: Bytes of data in `messages`.
        self.queued = 0
        #: The first frame of the last connection the worker sent (-1 before any).
        self.last_sent = -1

    def pop(self) -> tuple[int, bytes | None]:
        first_frame, data = self.messages.popleft()
        if data is not None:
            self.queued -= len(data)
        return first_frame, data

    def fill(self) -> None:
        """Read what the pipe holds now (call when it is readable)."""
        got = os.readv(self.fd, [self.buffer])
        if not got:
            self.closed = True
            return
        chunk = self.buffer[:got]
        header = _HEADER.size
        pos = 0
        while self.partial:
            # A message begun in an earlier read: its pieces are joined once it is whole
            # (a large one would otherwise be copied at every read), and only its own
            # bytes of this read are copied for it.
            piece = bytes(chunk[: self.wanted - self.partial_bytes])
            self.partial.append(piece)
            self.partial_bytes += len(piece)
            pos = len(piece)
            if self.partial_bytes < self.wanted:
                return
            whole = b"".join(self.partial)
            self.partial = []
            length = _HEADER.unpack_from(whole)[1]
            if len(whole) == header and length != _DROPPED and length:
                # Only the header was awaited: now its data is.
                self.partial, self.partial_bytes = [whole], header
                self.wanted = header + length
                chunk = chunk[pos:]
                continue
            self._parse(whole, 0)
        if pos < len(chunk):
            self._parse(chunk, pos)

    def _parse(self, chunk: bytes | memoryview, pos: int) -> None:
        """Queue the messages in chunk[pos:]; keep what is left of an incomplete one. Each
        message's data is one copy of its part of `chunk`."""
        end = len(chunk)
        header = _HEADER.size
        messages = self.messages
        while end - pos >= header:
            first_frame, length = _HEADER.unpack_from(chunk, pos)
            start = pos + header
            if length == _DROPPED:
                messages.append((first_frame, None))
                pos = start
            else:
                if end - start < length:
                    break
                pos = start + length
                messages.append((first_frame, bytes(chunk[start:pos])))
                self.queued += length
            if first_frame >= 0:
                self.last_sent = first_frame
        if pos < end:
            rest = bytes(chunk[pos:])
            self.partial = [rest]
            self.partial_bytes = len(rest)
            if len(rest) < header:
                self.wanted = header
            else:
                length = _HEADER.unpack_from(rest)[1]
                self.wanted = header + (0 if length == _DROPPED else length)


#: Records the parent holds from one worker while it waits for a slower one, at most: past
#: this, it stops reading that worker's pipe (the worker then waits on it).
MAX_QUEUED_BYTES = 4 << 20


def _widen(fd: int) -> None:
    """Let the pipe hold 1 MiB, where Linux gives 64 KiB: a worker then runs on while the
    parent is not scheduled, instead of waiting on it every 18 records of the handshake
    benchmark (a split run there switched context about 770 times, now 270 to 470).
    Elsewhere, or past the system's limit, the pipe stays as it is."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass


def _heard_from(streams: list[_Stream]) -> bool:
    """Whether each of `streams` has a message or has closed."""
    return all(s.messages or s.closed for s in streams)


#: The most the parent reads from a pipe at once (a Linux pipe holds 64 KiB by default).
_READ_BYTES = 1 << 20


def _read_buffer() -> memoryview:
    """The one buffer every pipe is read into. A new `bytes` of 1 MiB per read was fresh
    memory from the system each time (glibc maps allocations this large on their own): on the
    handshake benchmark, 6,300 page faults in the parent, half of all it took."""
    return memoryview(bytearray(_READ_BYTES))


class SplitAnalysis:
    """One capture analysed by `jobs` worker processes, started at once. Use as a context
    manager; `opened` says whether the capture could be read (else see `errors`); iterate
    `records()` (or call `write`/`rows`) once; then read `report` and `errors`."""

    def __init__(self, path: str, make_job: MakeJob, aliases: Aliases | None,
                 filter_text: str | None, jobs: int, by_hosts: bool = False,
                 share_ids: bool = False) -> None:  # fmt: skip
        self.path = path
        self.jobs = jobs
        #: Workers follow every connection and know the capture's ids (`Analysis.share_ids`).
        self.share_ids = share_ids
        #: What each worker's job gave at its end (`ShareJob.result`), in share order.
        self.results: list[object] = []
        #: The capture's report, once every worker has ended well.
        self.report: CaptureReport | None = None
        #: One sentence per thing that went wrong (the records written may be partial).
        self.errors: list[str] = []
        #: Bytes of the file the first worker has read (one writer, no lock needed).
        self.progress = _SharedCount()
        self.workers: list[_Worker] = []
        self.streams: list[_Stream] = []
        # A forked worker flushes the standard streams when it ends: what the parent had
        # buffered would come out twice.
        sys.stdout.flush()
        sys.stderr.flush()
        pipes = [os.pipe() for _ in range(jobs)]
        for _read, write in pipes:
            _widen(write)
        try:
            for i, (_read, write) in enumerate(pipes):
                others = [fd for j, pair in enumerate(pipes) for fd in pair
                          if j != i or fd != write]  # fmt: skip
                self.workers.append(_Worker(
                    _worker,
                    (path, i, jobs, make_job, aliases, filter_text, by_hosts, share_ids,
                     write, others, self.progress),
                ))  # fmt: skip
        except BaseException:
            for read, write in pipes:
                os.close(read)
                os.close(write)
            self._end_workers()
            raise
        for _read, write in pipes:
            os.close(write)
        buffer = _read_buffer()
        self.streams = [_Stream(read, buffer) for read, _write in pipes]
        try:
            # Every worker says first whether it could open the capture.
            self._read_until(lambda: all(s.messages or s.closed for s in self.streams))
            opened = [self._opened(i, stream) for i, stream in enumerate(self.streams)]
        except BaseException:
            self.__exit__()
            raise
        self.opened = all(opened)

    def _read_until(self, done: Callable[[], bool]) -> None:
        """Read the pipes that have something, until `done()` or all are closed. A pipe
        whose worker is MAX_QUEUED_BYTES ahead is left alone, unless it has nothing queued."""
        while not done():
            wanted = [s.fd for s in self.streams if not s.closed
                      and (not s.messages or s.queued < MAX_QUEUED_BYTES)]  # fmt: skip
            if not wanted:
                return
            readable, _, _ = select.select(wanted, [], [])
            for stream in self.streams:
                if stream.fd in readable:
                    stream.fill()

    def _opened(self, index: int, stream: _Stream) -> bool:
        if not stream.messages:
            self._died(index)
            return False
        first_frame, data = stream.pop()
        assert first_frame == _OPENED
        if data:
            error = pickle.loads(data)
            if error not in self.errors:
                self.errors.append(error)
            return False
        return True

    def _died(self, index: int) -> None:
        self.workers[index].join()
        self.errors.append(f"{self.path}: the process analysing part {index + 1} of "
                           f"{self.jobs} failed (exit code {self.workers[index].exitcode}); "
                           "rerun with -j 1")  # fmt: skip

    def __enter__(self) -> SplitAnalysis:
        return self

    def __exit__(self, *_exc: object) -> None:
        # The workers first: one writing to a pipe closed under it would complain.
        self._end_workers()
        for stream in self.streams:
            os.close(stream.fd)
        self.streams = []

    def _end_workers(self) -> None:
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()

    def records(self) -> Iterator[tuple[int, int, bytes]]:
        """(connection id, first frame, its job's data) of every kept connection, in id
        order. When a worker stops early (an error, or it died), its later connections are
        missing and the ids after them would be wrong: records stop at the last connection
        it sent, as one process's output stops at an error."""
        if not self.opened:
            return
        streams = self.streams
        live = list(range(self.jobs))  # the streams whose END has not come
        reports: list[CaptureReport] = []
        errors: list[str] = []
        results: dict[int, object] = {}
        #: After an early stop: no record beyond this first frame is given.
        cutoff: int | None = None
        #: Whether workers were found to number frames apart (said once).
        apart = False
        conn_id = 0
        while live:
            # The next connection is the earliest first frame among the streams' next
            # messages, so every live stream must have one (or have died).
            waiting = [streams[i] for i in live if not streams[i].messages]
            if waiting:
                self._read_until(partial(_heard_from, waiting))
            for i in list(live):
                stream = streams[i]
                if not stream.messages:  # closed without its END: the worker died
                    self._died(i)
                    live.remove(i)
                    cutoff = min(stream.last_sent, cutoff if cutoff is not None else 1 << 62)
                elif stream.messages[0][0] == _END:
                    data = stream.pop()[1]
                    assert data is not None
                    report, error, results[i] = pickle.loads(data)
                    reports.append(report)
                    live.remove(i)
                    if error is not None:
                        errors.append(error)
                        cutoff = min(stream.last_sent, cutoff if cutoff is not None else 1 << 62)
            if not live:
                break
            # The stream whose next connection comes first gives, in one go, all it holds
            # that come before the other streams' next ones; the search is made once per
            # run of connections, not once per connection.
            # (A loop, not min() with a key: this runs once every two or three connections.)
            first = bound = 1 << 62
            stream = streams[live[0]]
            for i in live:
                head = streams[i].messages[0][0]
                if head < first:
                    first, bound, stream = head, first, streams[i]
                elif head < bound:
                    bound = head
            messages = stream.messages
            if first == bound:
                # Two workers sent connections that begin at the same frame: they numbered
                # the frames apart, which they must not (a frame is one connection's). Said,
                # and the chosen stream's connection given, rather than waited on for ever
                # (`< bound` below gives nothing then).
                bound += 1
                if not apart:
                    apart = True
                    self.errors.append(
                        f"{self.path}: the processes analysing it numbered its frames apart "
                        f"(two connections begin at frame {first}), an internal error: "
                        "connection ids from there on may be wrong; rerun with -j 1"
                    )
            while messages and 0 <= messages[0][0] < bound:
                first_frame, data = messages.popleft()
                if data is None:
                    conn_id += 1
                    continue
                stream.queued -= len(data)
                if cutoff is not None and first_frame > cutoff:
                    continue  # drain, to hear how the other workers end
                yield conn_id, first_frame, data
                conn_id += 1
        self.errors += list(dict.fromkeys(errors))
        if len(reports) == self.jobs:
            self.report = CaptureReport.of_shares(reports, self.share_ids)
            self.results = [results[i] for i in range(self.jobs)]

    def tell(self, err: TextIO, filter_text: str | None, kept: int) -> CaptureReport | None:
        """After `records()`: say what went wrong (a line each) and, when a filter kept
        nothing, that it did; return the report, or None if the capture could not be read
        or a worker died."""
        for message in self.errors:
            print(f"tlslens: error: {message}", file=err)
        if self.report is not None and filter_text is not None and not kept:
            no_match_note(self.path, err)
        return self.report


def poll_progress(analysis: SplitAnalysis, size: int, progress: Callable[[int, int], None],
                  stop: threading.Event) -> threading.Thread:  # fmt: skip
    """A thread that hands the first worker's position to `progress` until `stop` is set."""

    def poll() -> None:
        while not stop.wait(0.2):
            progress(analysis.progress.value, size)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread
