"""The file system calls the writer makes, behind one seam so fault tests can inject OSError.

Production always uses OS_FILE_OPS; a test passes its own object with the same methods.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class FileOps(Protocol):
    """The writer's file system calls."""

    def create(self, path: Path) -> int:
        """Create ``path`` exclusively for appending and return its descriptor."""

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """Write some of ``data``; return how many bytes were written."""

    def fsync(self, fd: int) -> None:
        """Flush the file's data and metadata to stable storage."""

    def truncate(self, fd: int, length: int) -> None:
        """Cut the file to ``length`` bytes."""

    def close(self, fd: int) -> None:
        """Close the descriptor."""


class OsFileOps:
    """FileOps on the real OS: O_APPEND writes, fsync, ftruncate."""

    def create(self, path: Path) -> int:
        """Create ``path`` with O_EXCL (never overwrite a segment) and O_APPEND."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        fsync_dir(path.parent)  # the new name must survive a power loss too
        return fd

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """os.write."""
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        """os.fsync."""
        os.fsync(fd)

    def truncate(self, fd: int, length: int) -> None:
        """os.ftruncate."""
        os.ftruncate(fd, length)

    def close(self, fd: int) -> None:
        """os.close."""
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """fsync a directory so entries created or removed in it are durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


OS_FILE_OPS: FileOps = OsFileOps()
