"""`tlslens analyze` over many files at once: one worker process per core, each analysing
whole files (one large capture alone is split by connection instead: `tlslens.cli.split`).
Each worker writes its file's output to a temporary file; the
parent copies them out in the order the files were given, so the output is the same as a
sequential run, and one failing file does not stop the others.

`tlslens analyze` imports this module on every run, for `default_jobs`; the process pool is
imported only when several files are analysed at once.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from concurrent.futures import Future

JSON_HEAD = '{"captures": ['
JSON_TAIL = "\n]}\n"


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _one(args: argparse.Namespace) -> tuple[int, str, str]:
    """Analyse one file in a worker: (status, path of its output, its messages)."""
    # Imported here, not at the top: tlslens.cli.analyze_cmd imports this module, on every
    # run (tempfile brings shutil, bz2 and lzma: a few milliseconds of start-up).
    import tempfile

    from tlslens.cli.analyze_cmd import run_analyze

    err = io.StringIO()
    handle, name = tempfile.mkstemp(suffix=".tlslens")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        status = run_analyze(args, out, err)
    return status, name, err.getvalue()


def _copy(path: str, out: TextIO, fmt: str, joined: bool, first: bool) -> bool:
    """Copy one worker's output; `joined` JSON documents are merged into one and repeated
    CSV headers dropped. Returns whether anything was written."""
    with open(path, encoding="utf-8") as f:
        if joined:
            text = f.read()
            body = text[len(JSON_HEAD) : -len(JSON_TAIL)] if text.startswith(JSON_HEAD) else ""
            if body:
                out.write(("" if first else ",") + body)
            return bool(body)
        if fmt == "csv" and not first:
            f.readline()
        wrote = False
        while chunk := f.read(1 << 20):
            out.write(chunk)
            wrote = True
        return wrote


def _done(on_done: Callable[[str], None], path: str, _future: object) -> None:
    on_done(path)


def run_parallel(args: argparse.Namespace, out: TextIO, err: TextIO, jobs: int,
                 on_done: Callable[[str], None] | None = None) -> int:  # fmt: skip
    """Run `analyze` on every file of `args.files` with `jobs` processes."""
    # Lazy: only runs over several files need the process pool (start-up time).
    from concurrent.futures import ProcessPoolExecutor

    # One JSON document for all files, as the sequential run writes (not with --columns,
    # which writes a document per file).
    joined = args.format == "json" and args.columns is None
    status = 0
    wrote_any = False
    if joined:
        out.write(JSON_HEAD)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures: list[tuple[str, Future[tuple[int, str, str]]]] = []
        for path in args.files:
            one = copy.copy(args)
            one.files = [path]
            one.jobs = 1
            future = pool.submit(_one, one)
            if on_done is not None:
                future.add_done_callback(partial(_done, on_done, path))
            futures.append((path, future))
        try:
            for path, future in futures:
                try:
                    file_status, output, messages = future.result()
                except Exception as exc:  # a worker died (out of memory, killed, ...)
                    print(f"tlslens: error: {path}: the analysis failed ({type(exc).__name__}: "
                          f"{exc}); other files were still analysed", file=err)  # fmt: skip
                    status = 1
                    continue
                try:
                    if _copy(output, out, args.format, joined, not wrote_any):
                        wrote_any = True
                finally:
                    os.unlink(output)
                err.write(messages)
                status = max(status, file_status)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if joined:
        out.write(JSON_TAIL)
    return status
