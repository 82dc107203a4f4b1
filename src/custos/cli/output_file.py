"""Files a command writes: proven writable before the work starts, and
replaced whole or not at all.

``custos evidence export -o PATH`` records the export in the ledger before it
has the pack's bytes; if PATH could not be written after that, the ledger would
say a pack went out that nobody has. :class:`OutputFile` opens a temporary file
beside PATH first (a folder that does not exist, a name too long or a folder
without write permission fail there, before anything is recorded), then moves
it over PATH in one rename; a command that fails in between leaves no partial
file and no temporary one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

from custos.domain.errors import InvalidInput


class OutputFile:
    """``with OutputFile(path) as out: ... out.write(data)``."""

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder; give the name of a file to write")
        self.path = path
        self._fd, temp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".part"
        )
        self._temp = Path(temp)
        self._written = False

    def write(self, data: bytes) -> None:
        """Write ``data`` and put the file in place (once)."""
        stream = os.fdopen(self._fd, "wb")
        self._fd = -1  # the stream owns it now
        with stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(self._temp, self.path)
        self._written = True

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._written:
            return
        if self._fd >= 0:
            os.close(self._fd)
        self._temp.unlink(missing_ok=True)
