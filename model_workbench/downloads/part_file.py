"""Positional reads and writes on a ``.part`` file, shared by the segment threads of one download."""

from __future__ import annotations

import os
import threading
from pathlib import Path


class PartFile:
    """Positional reads/writes on the .part file (several segment threads share one descriptor)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        self._lock = threading.Lock()  # only for platforms without pwrite/pread (Windows)

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            if hasattr(os, "pwrite"):
                n = os.pwrite(self.fd, view, offset)
            else:
                with self._lock:
                    os.lseek(self.fd, offset, os.SEEK_SET)
                    n = os.write(self.fd, view)
            view = view[n:]
            offset += n

    def read_at(self, offset: int, size: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(self.fd, size, offset)
        with self._lock:
            os.lseek(self.fd, offset, os.SEEK_SET)
            return os.read(self.fd, size)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def truncate(self, size: int = 0) -> None:
        os.ftruncate(self.fd, size)

    def close(self) -> None:
        os.close(self.fd)
