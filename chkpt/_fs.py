"""The file operations a store needs: a local directory, or any fsspec filesystem.

Every operation names a stage folder ``d`` (``""`` for the root) and a file in it, never a path.

Local directories are handled the way trusted tools handle shared temp dirs:

* The root is opened once and checked on the opened descriptor (``fstat``: owner and mode). A
  ``dir`` that other users can write (``/tmp``, any group- or world-writable or foreign-owned
  folder) is never used itself: the store lives in a private root ``<dir>/chkpt-<uid>/``, created
  0700 and refused unless it is a real directory (``O_NOFOLLOW``) owned by this user and not
  writable by others.
* Below the root nothing is looked up by path again: stage folders are opened relative to the
  root's descriptor with ``O_NOFOLLOW | O_DIRECTORY``, files relative to the folder's descriptor
  with ``O_NOFOLLOW | O_NONBLOCK`` and must be regular files (so a symlink, FIFO or device is
  never followed, blocked on or read), and reads are bounded by the caller.

Writes go to a temp file in the destination folder and are renamed into place, so a reader sees
a whole file or none. fsspec backends write objects whole, which gives the same guarantee.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

from ._errors import UnsafeStoreError

__all__ = ["LocalFS", "FsspecFS", "FileInfo", "Temp", "filesystem_for", "NotPrivate"]

TEMP_SUFFIX = ".tmp"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC
_READ_FLAGS |= getattr(os, "O_BINARY", 0)
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
_TEMP_FLAGS |= getattr(os, "O_BINARY", 0)
# POSIX: descriptors and *at() calls; elsewhere (Windows) paths, as before
_AT = os.open in os.supports_dir_fd and hasattr(os, "getuid") and bool(_NOFOLLOW)


class NotPrivate(UnsafeStoreError):
    """A folder or file of the store is writable by other users (or owned by one)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class FileInfo(NamedTuple):
    size: int
    mtime: float  # as this host's filesystem sees it, not as any writer's clock said
    atime: float  # last read, where the filesystem records it (else the mtime)
    stamp: tuple[int, ...]  # changes whenever the file is replaced or written


class Temp:
    """An in-flight write: the open file, the folder it is in, its temp name."""

    __slots__ = ("file", "d", "name", "dir_fd")

    def __init__(self, file: BinaryIO, d: str, name: str, dir_fd: int | None) -> None:
        self.file, self.d, self.name, self.dir_fd = file, d, name, dir_fd


def writer_tag() -> str:
    """``pid@host`` of this process: names its temp files, so gc can tell abandoned ones."""
    import socket

    return f"{os.getpid()}@{socket.gethostname()}"


def abandoned(temp_name: str) -> bool:
    """True if a temp file's writer was a process on this host that no longer exists.

    Files from other hosts (a shared filesystem), or whose writer may still run, are not: gc
    then waits for its grace period. A reused pid only makes gc wait too, never remove early.
    On Windows there is no harmless liveness probe (``os.kill(pid, 0)`` sends Ctrl+C there), so
    temp files always wait for the grace period.
    """
    import socket

    if sys.platform == "win32":
        return False
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


def _trusted(st: os.stat_result) -> bool:
    """Only this user (or root) owns and can write it."""
    if not hasattr(os, "getuid"):
        return True
    return st.st_uid in (os.getuid(), 0) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class LocalFS:
    """A local checkpoint directory, reached only through verified descriptors (see above)."""

    sep = os.sep

    def __init__(self, path: str, durable: bool = False) -> None:
        self.given = path  # what the user named
        self.durable = durable
        self._fd: int | None = None
        self._retired: list[int] = []
        self._root_path: str | None = None
        self._mutex = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # shipped to worker processes: reopen there
        return {"given": self.given, "durable": self.durable}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["given"], state["durable"])  # type: ignore[misc]

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            for fd in [self._fd, *self._retired]:
                if fd is not None:
                    os.close(fd)

    # -- the root ------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """Where entries live: ``dir`` itself, or ``dir/chkpt-<uid>`` when others can write ``dir``."""
        if self._root_path is None:
            with contextlib.suppress(OSError):
                self._root(create=False)
        return self._root_path or self.given

    def _root(self, create: bool) -> int | None:
        """The root's verified descriptor; None while it does not exist (and ``create`` is false)."""
        fd = self._fd
        if fd is not None and (not create or os.fstat(fd).st_nlink):
            return fd  # (a root removed meanwhile is reopened before writing into it)
        with self._mutex:
            fd = self._fd  # another thread may have opened it meanwhile
            if fd is not None and (not create or os.fstat(fd).st_nlink):
                return fd
            fd, path = self._open_root(create)
            if fd is not None:
                if self._fd is not None:  # other threads may still use it: closed with the store
                    self._retired.append(self._fd)
                self._fd, self._root_path = fd, path
            return fd

    def _open_root(self, create: bool) -> tuple[int | None, str]:
        try:
            fd = os.open(self.given, _DIR_FLAGS)  # may follow a symlink: the user named this path
        except FileNotFoundError:
            if not create:
                return None, self.given
            os.makedirs(self.given, mode=0o700, exist_ok=True)
            fd = os.open(self.given, _DIR_FLAGS)
        if not _AT or _trusted(os.fstat(fd)):
            return fd, self.given
        name = f"chkpt-{os.getuid()}"
        path = os.path.join(self.given, name)
        try:
            try:
                sub = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    return None, path
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=fd)
                sub = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as exc:  # ELOOP, ENOTDIR: someone planted a symlink or a file
                raise UnsafeStoreError(
                    f"checkpoint dir {self.given} is writable by other users, and its private "
                    f"folder {path} is not a folder of yours ({exc.strerror}); remove it or use "
                    f"another dir"
                ) from exc
        finally:
            os.close(fd)
        st = os.fstat(sub)
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            os.close(sub)
            raise UnsafeStoreError(
                f"checkpoint dir {self.given} is writable by other users, and its private folder "
                f"{path} belongs to uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):o}: "
                f"someone else made it; remove it or use another dir"
            )
        return sub, path

    def where(self, d: str, name: str = "") -> str:
        """A path for messages (never used to reach the file)."""
        return os.sep.join(p for p in (self.root, d, name) if p)

    # -- descriptors below the root --------------------------------------------------------------

    @contextlib.contextmanager
    def _dir(self, d: str, create: bool = False) -> Iterator[tuple[int | None, str]]:
        """(descriptor of folder ``d``, prefix for names in it): ``(fd, "")`` on POSIX."""
        root = self._root(create)
        if not _AT:
            base = os.path.join(self.root, d) if d else self.root
            if create:
                os.makedirs(base, mode=0o700, exist_ok=True)
            yield None, base + os.sep
            return
        if root is None:
            raise FileNotFoundError(self.where(d))
        if not d:
            yield root, ""
            return
        try:
            fd = os.open(d, _DIR_FLAGS | _NOFOLLOW, dir_fd=root)
        except FileNotFoundError:
            if not create:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(d, 0o700, dir_fd=root)
            fd = os.open(d, _DIR_FLAGS | _NOFOLLOW, dir_fd=root)
        try:
            yield fd, ""
        finally:
            os.close(fd)

    def makedirs(self, d: str) -> None:
        with self._dir(d, create=True):
            pass

    def listdir(self, d: str = "") -> list[str]:
        try:
            with self._dir(d) as (fd, prefix):
                return os.listdir(fd if fd is not None else prefix)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []
        except OSError:  # ELOOP: a symlink where a stage folder should be; not ours
            return []

    def info(self, d: str, name: str) -> FileInfo | None:
        """Size, mtime and identity of a file, without following a symlink (None if missing)."""
        try:
            root = self._root(False)
            if _AT:
                if root is None:
                    return None
                st = os.stat(f"{d}/{name}", dir_fd=root, follow_symlinks=False)
            else:
                st = os.lstat(os.path.join(self.root, d, name))
        except OSError:
            return None
        stamp = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        return FileInfo(st.st_size, st.st_mtime, st.st_atime, stamp)

    @contextlib.contextmanager
    def open_read(self, d: str, name: str, private: bool = True) -> Iterator[BinaryIO]:
        """A regular file, opened without following links or blocking. With ``private``, raises
        NotPrivate when the file or its folder is writable by others or owned by another user."""
        with self._dir(d) as (dfd, prefix):
            fd = os.open(prefix + name, _READ_FLAGS, dir_fd=dfd)
            f = os.fdopen(fd, "rb", buffering=0)
            with f:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(f"{self.where(d, name)} is not a regular file")
                if private:
                    if dfd is not None and not _trusted(os.fstat(dfd)):
                        raise NotPrivate(self.where(d))
                    if not _trusted(st):
                        raise NotPrivate(self.where(d, name))
                yield f

    def read(self, d: str, name: str, limit: int) -> bytes | None:
        """A regular file's bytes, or None when missing, not a regular file or over ``limit``."""
        try:
            with self.open_read(d, name, private=False) as f:
                size = os.fstat(f.fileno()).st_size
                if size > limit:
                    return None
                data = f.read(size + 1)  # one read: a regular file returns what it holds
        except OSError:
            return None
        return data if len(data) <= limit else None

    # -- writing --------------------------------------------------------------------------------

    def open_temp(self, d: str) -> Temp:
        """A new owner-only temp file in folder ``d`` (created if needed)."""
        import secrets

        name = f".{writer_tag()}-{secrets.token_hex(6)}{TEMP_SUFFIX}"
        with self._dir(d, create=True) as (dfd, prefix):
            held = os.dup(dfd) if dfd is not None else None
        try:
            fd = os.open(prefix + name, _TEMP_FLAGS, 0o600, dir_fd=held)
        except BaseException:
            if held is not None:
                os.close(held)
            raise
        return Temp(os.fdopen(fd, "wb", buffering=0), d, name, held)

    def commit(self, temp: Temp, name: str) -> None:
        """Close the temp file and atomically rename it to ``name`` (fsync both in durable mode)."""
        f, dfd = temp.file, temp.dir_fd
        if self.durable:
            os.fsync(f.fileno())
        f.close()
        src, dst = (temp.name, name) if dfd is not None else self._paths(temp, name)
        os.replace(src, dst, src_dir_fd=dfd, dst_dir_fd=dfd)
        if self.durable and dfd is not None:
            os.fsync(dfd)
        self._release(temp)  # on failure the caller discards the temp (closing this too)

    def discard(self, temp: Temp) -> None:
        """Close and remove an unfinished temp file."""
        try:
            temp.file.close()
            if temp.dir_fd is not None:
                self._unlink(temp.dir_fd, temp.name)
            elif not _AT:
                self._unlink(None, self._paths(temp, "")[0])
        finally:
            self._release(temp)

    def _paths(self, temp: Temp, name: str) -> tuple[str, str]:
        base = os.path.join(self.root, temp.d)
        return os.path.join(base, temp.name), os.path.join(base, name)

    @staticmethod
    def _release(temp: Temp) -> None:
        fd, temp.dir_fd = temp.dir_fd, None  # never closed twice (the number may be reused)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    @staticmethod
    def _unlink(dfd: int | None, name: str) -> None:
        try:
            os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            pass

    def remove(self, d: str, name: str) -> None:
        try:
            with self._dir(d) as (dfd, prefix):
                self._unlink(dfd, prefix + name)
        except FileNotFoundError:
            pass

    def rmdir(self, d: str) -> None:
        try:
            with self._dir("") as (root, prefix):
                os.rmdir(prefix + d, dir_fd=root)
        except OSError:
            pass

    def lock(self, d: str, name: str, timeout: float, stage: str) -> Any:
        """The per-key lock ``name`` in folder ``d`` (see ``_lock``); yields whether it is held."""
        from ._lock import key_lock

        return key_lock(self, d, name, timeout, stage)

    def remove_if_unlocked(self, d: str, name: str) -> bool:
        from ._lock import remove_if_unlocked

        try:
            with self._dir(d) as (dfd, prefix):
                return remove_if_unlocked(dfd, prefix + name)
        except OSError:
            return False

    def local(self) -> bool:
        return True


class FsspecFS:
    """Any fsspec filesystem (``s3://``, ``memory://``, ...): whole-object writes, no rename needed.

    Access control is the bucket's: nothing here can tell which user wrote an object."""

    sep = "/"

    def __init__(self, fs: Any, root: str) -> None:
        self.fs, self.root, self.durable = fs, root, False

    def _path(self, d: str, name: str = "") -> str:
        return "/".join(p for p in (self.root, d, name) if p)

    where = _path

    def makedirs(self, d: str) -> None:
        self.fs.makedirs(self._path(d), exist_ok=True)

    def listdir(self, d: str = "") -> list[str]:
        try:
            return [
                p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self._path(d), detail=False)
            ]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def info(self, d: str, name: str) -> FileInfo | None:
        try:
            size = int(self.fs.size(self._path(d, name)))
        except (FileNotFoundError, OSError):
            return None
        try:
            mtime = self.fs.modified(self._path(d, name)).timestamp()
        except (FileNotFoundError, OSError, NotImplementedError, AttributeError):
            mtime = 0.0
        return FileInfo(size, mtime, mtime, ())

    @contextlib.contextmanager
    def open_read(self, d: str, name: str, private: bool = True) -> Iterator[BinaryIO]:
        with self.fs.open(self._path(d, name), "rb") as f:
            yield f

    def read(self, d: str, name: str, limit: int) -> bytes | None:
        info = self.info(d, name)
        if info is None or info.size > limit:
            return None
        try:
            data = self.fs.cat_file(self._path(d, name))
        except FileNotFoundError:
            return None
        return data if len(data) <= limit else None

    def open_temp(self, d: str) -> Temp:
        import io

        return Temp(io.BytesIO(), d, "", None)

    def commit(self, temp: Temp, name: str) -> None:
        self.fs.pipe_file(self._path(temp.d, name), temp.file.getvalue())  # type: ignore[attr-defined]

    def discard(self, temp: Temp) -> None:
        pass

    def remove(self, d: str, name: str) -> None:
        try:
            self.fs.rm_file(self._path(d, name))
        except FileNotFoundError:
            pass

    def rmdir(self, d: str) -> None:
        try:
            self.fs.rmdir(self._path(d))
        except (OSError, NotImplementedError):
            pass

    def lock(self, d: str, name: str, timeout: float, stage: str) -> Any:
        return contextlib.nullcontext(False)  # no locks on object stores: duplicates, never wrong

    def remove_if_unlocked(self, d: str, name: str) -> bool:
        return False

    def local(self) -> bool:
        return False


def filesystem_for(
    url: str, durable: bool = False, storage_options: dict[str, Any] | None = None
) -> LocalFS | FsspecFS:
    """The filesystem for a local directory or an fsspec URL.

    ``storage_options`` go to the fsspec filesystem (e.g. ``{"endpoint_url": ..., "key": ...}``
    for s3fs); chained URLs (``simplecache::s3://...``) and fsspec's own config work as usual.
    """
    if "://" not in url or url.startswith("file://"):
        path = url[len("file://") :] if url.startswith("file://") else url
        return LocalFS(os.path.abspath(os.path.expanduser(path)), durable)
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(
            f"checkpoint dir {url!r} needs fsspec: pip install 'chkpt[remote]'"
        ) from exc
    fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return FsspecFS(fs, root.rstrip("/"))
