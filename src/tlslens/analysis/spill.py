"""Finished connections that must wait for their turn, kept on disk instead of in memory.

The pipeline hands out connections in id order (the order they began, as Wireshark numbers
tcp.stream), but they finish in another order. One connection open for the whole capture
(the remote desktop session of the admin who took it, a monitoring agent's keep-alive) makes
every later connection wait for it, and waiting in memory costs about 8 KB each: a busy
capture's hundred thousand connections would need a gigabyte. So past
`Limits.max_waiting_connections`, waiting connections are pickled into an anonymous
temporary file (in $TMPDIR, deleted when closed) and read back when their turn comes.
Pickling costs about half a millisecond a connection, paid only by captures that need it.

This module imports nothing from tlslens, and imports tempfile (with shutil, bz2 and lzma
behind it) and pickle only when a capture first needs to spill: every run imports this
module, and they cost each process a few milliseconds of start-up.
"""

from __future__ import annotations

from typing import IO, Any


class SpillFile:
    """Objects put under a key, each taken back once."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        #: key -> (offset, size) of each object still in the file.
        self.index: dict[int, tuple[int, int]] = {}

    def put(self, key: int, obj: Any) -> None:
        import pickle

        if self._file is None:
            import tempfile

            # Closed by close(), which the pipeline calls when the capture ends.
            self._file = tempfile.TemporaryFile(prefix="tlslens-")  # noqa: SIM115
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(0, 2)
        self.index[key] = (self._file.tell(), len(data))
        self._file.write(data)

    def take(self, key: int) -> Any:
        """The object put under `key` (KeyError if there is none)."""
        import pickle

        offset, size = self.index.pop(key)
        assert self._file is not None
        self._file.seek(offset)
        obj = pickle.loads(self._file.read(size))
        if not self.index:
            # Nothing waits any more: start the file over, so it does not grow for ever.
            self._file.seek(0)
            self._file.truncate()
        return obj

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.index.clear()
