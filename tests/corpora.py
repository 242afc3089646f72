"""Where the test captures live. A plain module, not conftest: test files import these names, and with several
conftest.py files in the tree (tests/lab has one) `from corpora import ...` resolves to whichever was loaded
last, so shared helpers must have a name of their own.

The third-party corpus lives outside the repository at ``../shared/pcaps`` (test data only, never copied in); tests
that need it skip cleanly when it is absent. The captures the project makes itself live in ``pcaps/``.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SCTPCORR_CORPUS", ROOT.parent / "shared" / "pcaps")).resolve()
OWN_PCAPS = ROOT / "pcaps"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")


def capture_files(folder: Path) -> list[Path]:
    """Every capture under ``folder`` (by name; README/truth files excluded), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def corpus_files() -> list[Path]:
    return capture_files(CORPUS)


def own_files() -> list[Path]:
    return capture_files(OWN_PCAPS)


def file_id(p: Path) -> str:
    for base in (CORPUS, OWN_PCAPS):
        try:
            return str(p.relative_to(base))
        except ValueError:
            pass
    return p.name


def analysed(path: Path | str, piece: int | None = None, **kw):
    """The engine's Analyzer(**kw) fed a capture (finished; a damaged one up to where it breaks: what was read is
    reported); ``piece`` bytes at a time when given (what happens between feeds then happens often)."""
    from sctpcorr.sources.pcapfile import CaptureReader
    from sctpcorr.wire.engine import Analyzer

    a = Analyzer(**kw)
    try:
        with CaptureReader(str(path)) as r:
            for b in r.blocks():
                for i in range(0, len(b), piece or len(b) or 1):
                    a.feed_capture(b[i:i + piece] if piece else b)
        a.finish_capture()
    except ValueError:
        pass
    return a
