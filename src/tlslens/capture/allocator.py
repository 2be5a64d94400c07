"""Keep the memory of freed chunks in the process, where glibc would give it back.

Readers take a file in chunks of a megabyte (`source.ChunkedInput`); an ETL trace's packets
keep theirs until the time-order merge releases them, so several are alive at once and they
are freed in the order they were read. glibc's malloc, left to its own ("dynamic")
thresholds, maps some of them on their own and gives the top of its heap back to the kernel
when enough of it lies free; the next chunk there is fresh memory, each of its pages a page
fault and a page the kernel zeroes. Measured (bench/, medians of nine runs):

| file | split run: page faults, system time | with the thresholds below |
|---|---|---|
| bulk-pktmon.etl | 39,100, 0.29 s | 24,600, 0.25 s |
| bulk.etl | 29,200, 0.18 s | 19,300, 0.15 s |
| bulk.pcap | 13,700, 0.12 s | 11,600, 0.13 s |

So a process that reads a large ETL trace sets, once, mallopt(3)'s M_MMAP_THRESHOLD (blocks of
this size and more are mapped on their own, smaller ones come from the heap) and
M_TRIM_THRESHOLD (free memory at the top of the heap kept before any is given back); setting
them turns the dynamic ones off. (The trim threshold alone would be worse: it fixes the other
at its default of 128 KiB, and every chunk is then mapped on its own, 280,000 page faults.)
Peak memory stays about the same, since the heap holds what the chunks alive need, as before
(bulk-pktmon.etl with `-j 1`: 70.4 MiB against 69.4 MiB): what is kept beyond it is at most
the trim threshold. A file that is mapped (`source.py`, `_mapped.c`) takes no chunks from
malloc, and there the thresholds changed nothing measured (bulk-pktmon.etl split: 0.338 s
either way), so they are set only where chunks are read: compressed files, pipes,
TLSLENS_MAP=0, systems without the C module. Elsewhere than glibc (musl, macOS,
Windows) nothing is done, nor where the user set glibc's thresholds (MALLOC_MMAP_THRESHOLD_,
MALLOC_TRIM_THRESHOLD_, or glibc.malloc in GLIBC_TUNABLES). Nor for other formats: their
chunks are freed one by one, and loading ctypes (7 M instructions) would cost a pcap about
what it saves.
"""

from __future__ import annotations

import os
from typing import Final

# mallopt(3) parameters, from glibc's <malloc.h>.
M_TRIM_THRESHOLD: Final = -1
M_MMAP_THRESHOLD: Final = -3

#: Blocks below this come from the heap: the chunks (a megabyte, `source.CHUNK_BYTES`, or a
#: little more for a record that crosses one).
MMAP_THRESHOLD: Final = 4 << 20
#: Free memory kept at the top of the heap before any is given back.
TRIM_THRESHOLD: Final = 64 << 20
#: Files at least this large are worth it (smaller ones take a few chunks, and loading
#: ctypes costs 3 ms).
LARGE_FILE: Final = 32 << 20

#: Environment variables in which a user gives glibc these thresholds.
_USER_SETTINGS: Final = frozenset(("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"))

_done = False


def keep_chunk_memory() -> bool:
    """Set glibc's two thresholds for this process (and the processes it forks later);
    whether they were set. Once per process."""
    global _done
    if _done:
        return True
    if _USER_SETTINGS.intersection(os.environ) or "glibc.malloc" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False  # the user's own settings stand
    try:
        # "glibc 2.36". Elsewhere this raises (macOS: ValueError; musl: OSError; Windows
        # has no confstr: AttributeError) or is empty.
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, ImportError, OSError, ValueError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _done


def for_file(path: str) -> None:
    """`keep_chunk_memory` if `path` is a file of LARGE_FILE bytes or more (on disk: a
    compressed trace by its compressed size; standard input, "-", never)."""
    if path == "-":
        return
    try:
        large = os.stat(path).st_size >= LARGE_FILE
    except (OSError, ValueError):
        return
    if large:
        keep_chunk_memory()
