"""What the atheris targets share: instrumented imports when fuzzing, a replay mode without atheris, and a
scratch file on tmpfs for the readers that take a path.

A target is ``fuzz_NAME.py`` with ``test_one_input(data: bytes)``: it raises only when the code under test broke
its contract (an exception the callers do not handle, a wrong answer); the documented input errors are caught.

    python fuzz/py/fuzz_NAME.py [libFuzzer flags] CORPUS...   fuzz (atheris; ./scripts/fuzz NAME)
    python fuzz/py/fuzz_NAME.py --replay FILE_OR_DIR...        run each input once (no atheris needed)
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import atheris
except ImportError:  # replay works without it
    atheris = None

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fuzzing(name: str) -> bool:
    return name == "__main__" and "--replay" not in sys.argv and atheris is not None


def imports(name: str) -> contextlib.AbstractContextManager[object]:
    """``with imports(__name__): import ...``: the sctpcorr modules imported inside are instrumented for
    coverage when the file runs as a fuzzer."""
    if fuzzing(name):
        return atheris.instrument_imports(include=["sctpcorr"])
    return contextlib.nullcontext()


_SCRATCH = Path("/dev/shm" if os.path.isdir("/dev/shm") else "/tmp") / f"sctpcorr-fuzz-{os.getpid()}"


def scratch(data: bytes, suffix: str = "") -> str:
    """``data`` in a file (on tmpfs when there is one), for readers that open a path; the same path each time."""
    p = str(_SCRATCH) + suffix
    with open(p, "wb") as f:
        f.write(data)
    return p


def _inputs(args: list[str]) -> Iterator[Path]:
    for a in args:
        p = Path(a)
        if p.is_dir():
            yield from sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
        else:
            yield p


def replay(test_one_input: Callable[[bytes], None], args: list[str]) -> int:
    n = 0
    for p in _inputs(args):
        test_one_input(p.read_bytes())
        n += 1
    print(f"replayed {n} inputs")
    return 0


def main(test_one_input: Callable[[bytes], None]) -> None:
    try:
        if "--replay" in sys.argv or atheris is None:
            sys.exit(replay(test_one_input, [a for a in sys.argv[1:] if not a.startswith("-")]))
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
    finally:
        for suffix in ("", ".gz", ".jsonl"):
            with contextlib.suppress(OSError):
                os.unlink(str(_SCRATCH) + suffix)
