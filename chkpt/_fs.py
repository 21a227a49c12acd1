"""The few file operations a store needs: local files, or any fsspec filesystem.

Local writes go to a temp file in the destination directory and are renamed into place, so a
reader sees a whole file or none. fsspec backends without atomic rename (object stores) write
objects whole, which gives the same guarantee.
"""

from __future__ import annotations

import os
import stat
from typing import Any, BinaryIO

__all__ = ["LocalFS", "FsspecFS", "filesystem_for"]

TEMP_SUFFIX = ".tmp"


def writer_tag() -> str:
    """``pid@host`` of this process: names its temp files, so gc can tell abandoned ones."""
    import socket

    return f"{os.getpid()}@{socket.gethostname()}"


def abandoned(temp_name: str) -> bool:
    """True if a temp file's writer was a process on this host that no longer exists.

    Files from other hosts (a shared filesystem), or whose writer may still run, are not: gc
    then waits for its grace period. A reused pid only makes gc wait too, never remove early.
    """
    import socket

    tag = temp_name[1:].partition("-")[0]
    pid, _, host = tag.partition("@")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class LocalFS:
    sep = os.sep

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable

    def join(self, *parts: str) -> str:
        # parts are the store's root (absolute, normalised) and names it made: no os.path.join
        # edge cases apply, and this runs a few times per cached stage
        return os.sep.join(parts)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, mode=0o700, exist_ok=True)

    def open_temp(self, directory: str) -> tuple[BinaryIO, str]:
        import tempfile  # lazily: it costs ~3 ms of `import chkpt`

        fd, tmp = tempfile.mkstemp(prefix=f".{writer_tag()}-", suffix=TEMP_SUFFIX, dir=directory)
        return os.fdopen(fd, "wb", buffering=0), tmp

    def commit(self, f: BinaryIO, tmp: str, dst: str) -> None:
        """Close the temp file and atomically rename it to ``dst`` (fsync both in durable mode)."""
        if self.durable:
            f.flush()
            os.fsync(f.fileno())
        f.close()
        os.replace(tmp, dst)
        if self.durable:
            fd = os.open(os.path.dirname(dst), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def open(self, path: str) -> BinaryIO:
        return open(path, "rb", buffering=0)

    def read(self, path: str, limit: int) -> bytes | None:
        """The file's bytes, or None when it is missing or larger than ``limit``."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:  # small reads: f.read(limit + 1) would allocate `limit` bytes per call (~20 us)
            chunks, total = [], 0
            while data := os.read(fd, min(1 << 16, limit + 1 - total)):
                chunks.append(data)
                total += len(data)
                if total > limit:
                    return None
        except IsADirectoryError:
            return None
        finally:
            os.close(fd)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def listdir(self, path: str) -> list[str]:
        try:
            return os.listdir(path)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def size(self, path: str) -> int | None:
        try:
            return os.stat(path).st_size
        except OSError:
            return None

    def mtime(self, path: str) -> float | None:
        try:
            return os.stat(path).st_mtime
        except OSError:
            return None

    def stamp(self, path: str) -> tuple[int, ...] | None:
        """What changes whenever the file is replaced: inode, size, times (None if missing)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass

    def rmdir(self, path: str) -> None:
        try:
            os.rmdir(path)
        except OSError:
            pass

    def is_private(self, path: str) -> bool:
        """True when only this user (or root) can write ``path``."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        owner_ok = st.st_uid in (os.getuid(), 0) if hasattr(os, "getuid") else True
        return owner_ok and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)

    def local_path(self, path: str) -> str | None:
        return path


class FsspecFS:
    """Any fsspec filesystem (``s3://``, ``memory://``, ...): whole-object writes, no rename needed."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.sep = "/"
        self.durable = False

    def join(self, *parts: str) -> str:
        return "/".join(p.rstrip("/") for p in parts)

    def makedirs(self, path: str) -> None:
        self.fs.makedirs(path, exist_ok=True)

    def open_temp(self, directory: str) -> tuple[BinaryIO, str]:
        import io

        return io.BytesIO(), directory

    def commit(self, f: BinaryIO, tmp: str, dst: str) -> None:
        self.fs.pipe_file(dst, f.getvalue())  # type: ignore[attr-defined]

    def open(self, path: str) -> BinaryIO:
        return self.fs.open(path, "rb")

    def read(self, path: str, limit: int) -> bytes | None:
        size = self.size(path)
        if size is None or size > limit:
            return None
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            return None

    def listdir(self, path: str) -> list[str]:
        try:
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def size(self, path: str) -> int | None:
        try:
            return int(self.fs.size(path))
        except (FileNotFoundError, OSError):
            return None

    def mtime(self, path: str) -> float | None:
        try:
            return self.fs.modified(path).timestamp()
        except (FileNotFoundError, OSError, NotImplementedError, AttributeError):
            return None

    def remove(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass

    def rmdir(self, path: str) -> None:
        try:
            self.fs.rmdir(path)
        except (OSError, NotImplementedError):
            pass

    def is_private(self, path: str) -> bool:
        return True  # access control is the bucket's

    def local_path(self, path: str) -> str | None:
        return None


def filesystem_for(
    url: str, durable: bool = False, storage_options: dict[str, Any] | None = None
) -> tuple[Any, str]:
    """(filesystem, root path) for a local directory or an fsspec URL.

    ``storage_options`` go to the fsspec filesystem (e.g. ``{"endpoint_url": ..., "key": ...}``
    for s3fs); chained URLs (``simplecache::s3://...``) and fsspec's own config work as usual.
    """
    if "://" not in url or url.startswith("file://"):
        path = url[len("file://") :] if url.startswith("file://") else url
        return LocalFS(durable), os.path.abspath(os.path.expanduser(path))
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(
            f"checkpoint dir {url!r} needs fsspec: pip install 'chkpt[remote]'"
        ) from exc
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return FsspecFS(fs), root.rstrip("/")
