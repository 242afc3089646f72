"""Read capture files as byte blocks for the wire engine.

This is the only place that opens capture files. It does not parse pcap or pcapng (the C engine does that, by
magic, from any block size); it only

* opens a path (or ``-`` for standard input) and turns every OS error into :class:`FileUnreadable`,
* recognises gzip by its magic ``1f 8b`` (never by the file name) and decompresses it as a stream, turning a
  corrupt or cut-off gzip stream into :class:`CorruptCapture` after the bytes before the damage were handed out,
* hands out blocks of ``block_size`` bytes (1 MiB by default) and says how far into the file it is, for a
  progress bar (for gzip: the position in the compressed file).
"""

from __future__ import annotations

import gzip
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from sctpcorr.errors import CorruptCapture, FileUnreadable
from sctpcorr.sources import read_size

__all__ = ["BLOCK_SIZE", "GZIP_MAGIC", "STDIN", "CaptureReader", "check_readable"]

BLOCK_SIZE = 1 << 20
PIECE = 64 << 10     # the least one read asks for (a pipe's buffer): read(n) allocates n bytes (read_size)
GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"


def _os_reason(exc: OSError) -> str:
    """'No such file or directory' rather than '[Errno 2] No such file or directory: 'x''."""
    return exc.strerror or str(exc)


def check_readable(path: str) -> None:
    """Raise :class:`FileUnreadable` unless ``path`` is a regular file (or FIFO, or ``-``) we may open.

    Used to refuse a mistyped name before a long analysis of the files given before it.
    """
    if path == STDIN:
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FileUnreadable(path, _os_reason(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise FileUnreadable(path, "is a directory")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise FileUnreadable(path, _os_reason(exc)) from None


class _Prefixed:
    """A read-only stream that returns ``prefix`` (the sniffed magic) and then the rest of ``raw``.

    With ``partial`` (pipes), a read returns what has arrived, up to ``size``, instead of waiting for ``size``
    bytes: the engine sees a pipe's bytes as soon as they come, so Ctrl-C on ``tcpdump -w - | sctpcorr pcap -``
    loses nothing that was written. Short reads are fine for gzip's reader too.
    """

    def __init__(self, prefix: bytes, raw: BinaryIO, partial: bool = False) -> None:
        self._prefix = prefix
        self._raw = raw
        self._partial = partial and hasattr(raw, "read1")
        self.consumed = 0  # bytes returned so far (prefix included)

    def _raw_read(self, size: int) -> bytes:
        if self._partial and size > 0:
            return self._raw.read1(size)  # type: ignore[attr-defined,no-any-return]
        return self._raw.read(size)

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                out, self._prefix = self._prefix + self._raw.read(), b""
            else:
                out, self._prefix = self._prefix[:size], self._prefix[size:]
                if len(out) < size:
                    out += self._raw_read(size - len(out))
        else:
            out = self._raw_read(-1 if size is None else size)
        self.consumed += len(out)
        return out

    read1 = read


class CaptureReader:
    """One capture file, read as blocks of (decompressed) bytes.

    >>> with CaptureReader("x.pcap.gz") as r:          # doctest: +SKIP
    ...     for block in r.blocks():
    ...         analyzer.feed_capture(block)

    ``size`` is the file size on disk (``None`` for a pipe), ``position`` how many bytes of the file on disk have
    been consumed so far, ``compressed`` whether it is gzip, ``bytes_out`` how many (decompressed) capture bytes
    were handed out.
    """

    def __init__(self, path: str, block_size: int = BLOCK_SIZE) -> None:
        self.path = path
        self.block_size = block_size
        self.size: int | None = None
        self.compressed = False
        self.bytes_out = 0
        self._raw: BinaryIO | None = None
        self._stream: _Prefixed | gzip.GzipFile | None = None
        self._prefixed: _Prefixed | None = None

    # -- context manager ---------------------------------------------------------------------------------------
    def __enter__(self) -> CaptureReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            if self.path == STDIN:
                self._raw = sys.stdin.buffer
            else:
                self._raw = open(self.path, "rb")  # noqa: SIM115 (closed in close())
                st = os.fstat(self._raw.fileno())
                if stat.S_ISDIR(st.st_mode):
                    raise IsADirectoryError(21, "is a directory")
                if stat.S_ISREG(st.st_mode):
                    self.size = st.st_size
            head = self._raw.read(2)
        except OSError as exc:
            self.close()
            raise FileUnreadable(self.path, _os_reason(exc)) from None
        self._prefixed = _Prefixed(head, self._raw, partial=self.size is None)
        if head == GZIP_MAGIC:
            self.compressed = True
            self._stream = gzip.GzipFile(fileobj=self._prefixed, mode="rb")  # type: ignore[arg-type]
        else:
            self._stream = self._prefixed

    def close(self) -> None:
        if self._stream is not None and isinstance(self._stream, gzip.GzipFile):
            self._stream.close()
        if self._raw is not None and self.path != STDIN:
            self._raw.close()
        self._stream = None
        self._raw = None

    # -- reading -------------------------------------------------------------------------------------------------
    @property
    def position(self) -> int:
        """Bytes of the file on disk consumed so far (compressed bytes for gzip), for progress display."""
        return self._prefixed.consumed if self._prefixed is not None else 0

    def blocks(self) -> Iterator[bytes]:
        """Yield the capture bytes in blocks; raise FileUnreadable / CorruptCapture on damage, after yielding
        every byte that decompressed cleanly before it."""
        if self._stream is None:
            raise RuntimeError("CaptureReader.blocks() before open()")
        # A regular file is read in full blocks; a pipe in whatever has arrived (up to a block). Gzip is
        # decompressed piecewise (read1) so a damaged stream loses only the piece that failed.
        stream = self._stream
        piecewise = self.compressed or self.size is None
        while True:
            pending: list[bytes] = []
            got = 0
            error: Exception | None = None
            try:
                if piecewise:
                    while got < self.block_size:
                        # no more than is likely to come (read_size says why): a pipe's buffer, or 8 times
                        # the gzip bytes left (a small file), up to the block
                        want = (max(PIECE, 8 * read_size(self._raw, self.block_size)) if self.compressed
                                else PIECE)
                        piece = stream.read1(min(want, self.block_size - got))  # type: ignore[union-attr]
                        if not piece:
                            break
                        pending.append(piece)
                        got += len(piece)
                        if self.size is None and not self.compressed:
                            break  # a plain pipe: hand over what arrived
                else:
                    # what the file has left, no more (at least a PIECE: it may still grow; read_size says why)
                    piece = stream.read(read_size(self._raw, self.block_size, PIECE))
                    if piece:
                        pending.append(piece)
                        got = len(piece)
            except (gzip.BadGzipFile, zlib.error) as exc:
                error = CorruptCapture(self.path, f"corrupt gzip data after {self.bytes_out + got} "
                                                  f"decompressed bytes ({exc})")
            except EOFError:
                error = CorruptCapture(self.path, f"gzip stream cut short after {self.bytes_out + got} "
                                                  "decompressed bytes (file truncated?)")
            except OSError as exc:
                error = FileUnreadable(self.path, f"read error: {_os_reason(exc)}")
            if got:
                self.bytes_out += got
                yield b"".join(pending)
            if error is not None:
                raise error
            if not got:
                return
