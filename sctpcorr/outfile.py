"""Output files, opened one way for every command: no overwrite unless asked, and a full disk that costs only the
record being written (issue #12).

Rules (docs/output.md, "Existing files and full disks"):

* **No overwrite unless asked.**  A command refuses a FILE that already exists (``FILE exists (use --force to
  overwrite)``), before any work.  ``--force`` allows it.  ``-`` (stdout) and special files (``/dev/null``,
  FIFOs, character devices, sockets) are never "existing outputs": they are written as they are, never replaced.
* **A full disk** (ENOSPC; also EDQUOT, EFBIG, EIO on write or close) is one error line naming the file and
  saying what happened; what was written stays readable up to its last complete record:

  - line formats (JSONL, CSV, text) are cut after their last complete line and kept (``-o``: renamed into
    place), and the message says the output is incomplete;
  - a JSON document (or a picture) is all or nothing: the temporary file is removed, an older file at the path
    stays as it was;
  - record formats written block by block (pcapng, ``--raw``) are cut back to their last whole block by their
    writers (:func:`write_all`).

Writes go through :class:`_RawFile`, a ``FileIO`` that remembers its path and its first failure and raises it as
:class:`WriteFailed` (an ``OSError`` naming the file): so a failure is told apart from any other ``OSError``,
and a writer that swallowed it still leaves the output marked failed.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from sctpcorr.errors import OutputUnwritable

__all__ = ["FULL_ERRNOS", "OutputExists", "OutputIncomplete", "WriteFailed", "check_new", "is_special",
           "is_full", "describe", "open_text", "open_binary", "cut_to_last_line", "write_all", "output",
           "publish", "whole_file", "close_quietly", "failure", "stdout_full", "FORCE_HELP", "LineLog"]

# a write that could not complete for lack of room (or a dying disk): the output is cut short, not wrong
FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG, errno.EIO)
                        if e is not None)

FORCE_HELP = "Overwrite output files that already exist (default: refuse)."

STDOUT = "-"


class OutputExists(OutputUnwritable):
    """An output file already exists and --force was not given."""

    def __init__(self, path: str, hint: str = "use --force to overwrite", what: str = "") -> None:
        super().__init__(f"{path} {what or 'exists'} ({hint})")
        self.path = path


class OutputIncomplete(OutputUnwritable):
    """Writing an output failed part-way (full disk): the message says what was kept."""


class WriteFailed(OSError):
    """A write to an output file failed; ``filename`` is the output's path (not a temporary file's)."""


def is_special(path: str) -> bool:
    """``-``, or an existing path that is not a regular file or directory (/dev/null, a FIFO, a character or block
    device, a socket): written in place, never replaced, never refused."""
    if path in (STDOUT, os.devnull):    # /dev/null even where it is (wrongly) a regular file: never replaced
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def check_new(path: str | None, force: bool, hint: str = "use --force to overwrite") -> None:
    """Refuse an existing output ``path`` unless ``force`` (nothing to check for stdout and special files)."""
    if path is None or path == STDOUT or force:
        return
    if os.path.lexists(path) and not is_special(path):
        raise OutputExists(path, hint)


def is_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def describe(path: str, exc: BaseException) -> str:
    """``path: no space left on device`` (the reason in lower case, as the rest of the line)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        why = os.strerror(exc.errno)
    else:
        why = str(exc)
    return f"{path}: {why[:1].lower()}{why[1:]}"


class _RawFile(io.FileIO):
    """FileIO that names the output in its errors and stays failed after the first one (a buffered writer would
    otherwise retry, and a writer that caught the error would go on as if nothing had happened)."""

    def __init__(self, fd_or_path: int | str, mode: str, shown: str) -> None:
        super().__init__(fd_or_path, mode)
        self.shown = shown
        self.failed: OSError | None = None

    def write(self, b: Any) -> int | None:
        if self.failed is not None:
            raise self.failed
        try:
            return super().write(b)
        except OSError as exc:
            self.failed = WriteFailed(exc.errno, exc.strerror, self.shown)
            raise self.failed from None


def _raw_of(f: IO[Any]) -> _RawFile | None:
    raw = getattr(getattr(f, "buffer", f), "raw", None)
    return raw if isinstance(raw, _RawFile) else None


def failure(f: IO[Any]) -> OSError | None:
    """The first write error of a file opened here (None: none, or not opened here)."""
    raw = _raw_of(f)
    return raw.failed if raw is not None else None


def _wrap_text(raw: _RawFile, buffering: int) -> IO[str]:
    return io.TextIOWrapper(io.BufferedWriter(raw, buffer_size=buffering), encoding="utf-8", newline="")


def _open_raw(path: str, force: bool) -> _RawFile:
    if os.path.isdir(path):
        raise OutputUnwritable(f"{path}: is a directory (a file name is needed)")
    check_new(path, force)
    # "x" (O_EXCL) when not forced: a file that appeared since the check is not overwritten either
    try:
        return _RawFile(path, "w" if force or is_special(path) else "x", path)
    except FileExistsError:
        raise OutputExists(path) from None
    except OSError as exc:
        raise OutputUnwritable(describe(path, exc)) from None


def open_text(path: str, force: bool = False, buffering: int = 1 << 16) -> IO[str]:
    """``path`` for writing lines (UTF-8, no newline translation), written in place (no temporary file: a
    recording is read while it grows).  After a failure: close it (:func:`close_quietly`), then
    :func:`cut_to_last_line`."""
    return _wrap_text(_open_raw(path, force), buffering)


def open_binary(path: str, force: bool = False) -> _RawFile:
    """``path`` for unbuffered binary writes (with :func:`write_all`)."""
    return _open_raw(path, force)


def close_quietly(f: IO[Any] | None) -> OSError | None:
    """Close ``f``; an error of the final flush is returned, not raised (the file descriptor is closed either
    way).  The first write error of the file wins over the close's."""
    if f is None:
        return None
    err: OSError | None = None
    try:
        f.close()
    except OSError as exc:
        err = exc
    return failure(f) or err


def cut_to_last_line(path_or_fd: str | int) -> int:
    """Truncate a line file after its last newline (a line cut by a full disk is dropped); returns the size
    kept.  Reads backwards from the end, 64 KiB at a time."""
    fd = os.open(path_or_fd, os.O_RDWR) if isinstance(path_or_fd, str) else path_or_fd
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        pos = end
        keep = 0
        while pos > 0:
            start = max(0, pos - (1 << 16))
            chunk = os.pread(fd, pos - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        if keep != end:
            os.ftruncate(fd, keep)
        return keep
    finally:
        if isinstance(path_or_fd, str):
            os.close(fd)


def write_all(fd: int, data: bytes | memoryview, size: int) -> int:
    """Write ``data`` (whole records) at the end of ``fd``, whose size is ``size``; on a failure, truncate back to
    ``size`` (the last whole record) and raise the error.  Returns the new size."""
    view = memoryview(data)
    done = 0
    try:
        while done < len(view):
            done += os.write(fd, view[done:])
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise
    return size + done


class LineLog:
    """An append-only line file written by a long run (the lab's JSONL logs: its timeline, the workload's log,
    the endpoints' snapshots) that a full disk stops cleanly instead of with an exception in a thread.  Lines
    gather in memory and go out whole with :func:`write_all` at :meth:`flush`: a failed write is cut back to the
    last whole line, the first error is kept (:attr:`failed`; its owner says it once), and the lines after it
    are counted (:attr:`dropped`), not written.  Not thread-safe: its owner holds a lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
        self.size = os.fstat(self.fd).st_size
        self.pending: list[bytes] = []
        self.failed: OSError | None = None
        self.dropped = 0

    def add(self, line: str) -> None:
        """One line (without its newline), written at the next flush."""
        if self.failed is not None or self.fd < 0:      # stopped by an error, or closed
            self.dropped += 1
        else:
            self.pending.append(line.encode("utf-8") + b"\n")

    def flush(self) -> OSError | None:
        """Write what is pending; returns the error that stopped the file (now or before), None if none."""
        if self.pending and self.failed is None:
            data, n = b"".join(self.pending), len(self.pending)
            self.pending = []
            try:
                self.size = write_all(self.fd, data, self.size)
            except OSError as exc:
                self.failed, self.dropped = exc, self.dropped + n
        return self.failed

    def close(self) -> OSError | None:
        err = self.flush()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        return err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp: str, path: str, force: bool) -> None:
    """Move the finished temporary file ``tmp`` to ``path``.  Without ``force``: a hard link, which fails if
    ``path`` exists (a file that appeared meanwhile is not replaced); where links are not supported, the check
    and a rename."""
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o666 & ~_umask())
    try:
        if not force:
            try:
                os.link(tmp, path)
                os.unlink(tmp)
                return
            except FileExistsError:
                raise OutputExists(path) from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                    raise
                check_new(path, force)
        os.replace(tmp, path)
    except OutputUnwritable:
        raise
    except OSError as exc:
        raise OutputUnwritable(describe(path, exc)) from None


class Abandon(Exception):
    """Raised inside :func:`output` to drop the output (nothing readable to report)."""


def stdout_full(exc: OSError) -> OutputIncomplete:
    """stdout could not be written: point it at /dev/null so the interpreter's last flush is quiet, and say so."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return OutputIncomplete(f"{describe('standard output', exc)}: the output is incomplete")


def _own_failure(f: IO[Any], exc: OSError, path: str) -> OSError | None:
    """The write error of output ``f`` that ``exc`` (raised inside its block) stands for, or None when ``exc`` is
    not about this output (another file's failure, a bug)."""
    err = failure(f)
    if err is not None:
        return err
    if isinstance(exc, WriteFailed) and exc.filename != path:
        return None
    return exc if exc.errno in FULL_ERRNOS else None


@contextlib.contextmanager
def output(path: str | None, force: bool = False, whole: bool = False, what: str = "-o") -> Iterator[IO[str]]:
    """stdout (``None`` or ``-``), a special file (written in place), or ``path`` written atomically: a temporary
    file in the same directory, moved to ``path`` when the block ends (also after an input error or a Ctrl-C
    the run caught: the report of the readable part is complete), removed on a crash or on :class:`Abandon`
    (then an older file at ``path`` stays as it was).

    ``whole``: the output is one document (JSON): on a write failure nothing is published.  Otherwise it is made
    of lines: on a write failure the lines written whole are published.  Either way :class:`OutputIncomplete`
    is raised, naming the file and what was kept."""
    if path is None or path == STDOUT:
        try:
            with contextlib.suppress(Abandon):
                yield sys.stdout
            sys.stdout.flush()
        except WriteFailed:
            raise
        except OSError as exc:
            if exc.errno not in FULL_ERRNOS:
                raise
            raise stdout_full(exc) from None
        return
    if os.path.isdir(path):
        raise OutputUnwritable(f"{path}: is a directory ({what} needs a file name)")
    if is_special(path):
        f = open_text(path, force=True)
        try:
            with contextlib.suppress(Abandon):
                yield f
            f.flush()
        except OSError as exc:
            err = _own_failure(f, exc, path)
            if err is None:
                raise
            raise OutputIncomplete(f"{describe(path, err)}: the output is incomplete") from None
        finally:
            close_quietly(f)
        return
    check_new(path, force)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputUnwritable(f"{path}: cannot write here: {exc.strerror or exc}") from None
    done = False
    try:
        f = _wrap_text(_RawFile(fd, "w", path), 1 << 16)
        err: OSError | None = None
        try:
            yield f
        except Abandon:
            close_quietly(f)
            return
        except OSError as exc:
            err = _own_failure(f, exc, path)
            if err is None:
                close_quietly(f)
                raise
        except BaseException:
            close_quietly(f)
            raise
        closing = close_quietly(f)
        err = err or closing
        if err is None:
            publish(tmp, path, force)
            done = True
            return
        if whole:
            older = "; the older file is unchanged" if os.path.exists(path) else ""
            raise OutputIncomplete(f"{describe(path, err)}: nothing written (a JSON document is written whole "
                                   f"or not at all{older})") from None
        kept = cut_to_last_line(tmp)
        publish(tmp, path, force)
        done = True
        raise OutputIncomplete(f"{describe(path, err)}: the output is incomplete: kept up to its last complete "
                               f"line ({kept} bytes)") from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def whole_file(path: str, force: bool = False) -> Iterator[str]:
    """A file written whole or not at all by a writer that wants a file name (matplotlib's ``savefig``): yields a
    temporary name in the same directory (with ``path``'s extension, which such writers go by), moved to
    ``path`` when the block ends; on a failure it is removed and an older ``path`` stays as it was.  A special
    ``path`` (/dev/null) is yielded as it is."""
    if is_special(path):
        try:
            yield path
        except OSError as exc:
            if exc.errno not in FULL_ERRNOS:
                raise
            raise OutputIncomplete(f"{describe(path, exc)}: the output is incomplete") from None
        return
    if os.path.isdir(path):
        raise OutputUnwritable(f"{path}: is a directory (a file name is needed)")
    check_new(path, force)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp" + os.path.splitext(path)[1], dir=os.path.dirname(os.path.abspath(path)))
        os.close(fd)
    except OSError as exc:
        raise OutputUnwritable(f"{path}: cannot write here: {exc.strerror or exc}") from None
    try:
        try:
            yield tmp
        except OSError as exc:
            if exc.errno not in FULL_ERRNOS:
                raise
            older = "; the older file is unchanged" if os.path.exists(path) else ""
            raise OutputIncomplete(f"{describe(path, exc)}: nothing written (a picture is written whole or not "
                                   f"at all{older})") from None
        publish(tmp, path, force)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
