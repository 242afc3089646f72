"""The exceptions sctpcorr raises on purpose.

Everything here is an *expected* failure: bad input, a missing capability, a refused operation. The command line
prints such an error as one line (``sctpcorr: error: ...``) and exits with ``exit_code``. Any other exception is
a bug and is allowed to crash with a traceback (h11's rule: "any exception besides RemoteProtocolError is a bug").

Standard library only: every layer may import this module.
"""

from __future__ import annotations

__all__ = [
    "SctpcorrError",
    "InputError",
    "FileUnreadable",
    "NotACapture",
    "CorruptCapture",
    "TruncatedCapture",
    "EngineUnavailable",
    "OutputUnwritable",
    "EXIT_OK",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
]

EXIT_OK = 0
EXIT_INPUT = 2  # bad input file (also click's code for a usage error)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


class SctpcorrError(Exception):
    """Base of every error sctpcorr raises deliberately."""

    exit_code = 1


class InputError(SctpcorrError):
    """A capture file sctpcorr cannot (completely) read. ``path`` names the file, ``reason`` says why."""

    exit_code = EXIT_INPUT

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FileUnreadable(InputError):
    """The file does not exist, is a directory, or cannot be opened or read (permissions, I/O error)."""


class NotACapture(InputError):
    """The bytes are neither pcap nor pcapng (nor a gzip of either): nothing of the file was analysed."""


class CorruptCapture(InputError):
    """A format error or a corrupt gzip stream part-way through: what came before it was analysed."""


class TruncatedCapture(InputError):
    """The file ends inside a record (a capture copied while still being written, or cut short):
    every complete record before the cut was analysed."""


class EngineUnavailable(SctpcorrError):
    """The C wire engine (sctpcorr.wire._engine) is not built or does not load: an installation problem."""


class OutputUnwritable(SctpcorrError):
    """``-o FILE`` cannot be written (missing directory, permissions, a directory of that name)."""

    exit_code = EXIT_INPUT
