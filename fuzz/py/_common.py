"""What the atheris targets share: instrumented imports when fuzzing, a replay mode without atheris, and a
scratch file on tmpfs for the readers that take a path.

A target is ``fuzz_NAME.py`` with ``test_one_input(data: bytes)``: it raises only when the code under test broke
its contract (an exception the callers do not handle, a wrong answer); the documented input errors are caught.

    python fuzz/py/fuzz_NAME.py [libFuzzer flags] CORPUS...   fuzz (atheris; ./scripts/fuzz NAME)
    python fuzz/py/fuzz_NAME.py --replay FILE_OR_DIR...        run each input once (no atheris needed)
"""
from __future__ import annotations

import contextlib
import ctypes
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


def _leak_free_trace_cmp() -> None:
    """atheris (3.0.0, and its main branch as of 3.1.0) leaks one reference to the result of every instrumented
    comparison: native/core.cc's ``_trace_cmp`` returns the new reference ``PyObject_RichCompare`` gave it as a
    ``py::handle``, and pybind11 takes another reference when it hands a handle back. Invisible for ``a == b``
    between numbers (a bool), it keeps the whole result of ``array == value`` alive: the ``pcapfile`` target grew
    by ~0.8 KB an input (telecom/core.py's numpy masks) and would have reached its RSS limit within 3M of its 10M
    inputs. The instrumented code looks ``atheris._trace_cmp`` up at each comparison, and ``atheris.Fuzz()``
    installs the native one just before the first input: replaced then by one that drops the extra reference of a
    result that is not a bool (those are shared objects, nothing to free)."""
    native = atheris._trace_cmp
    if getattr(native, "_drops_extra_ref", False):
        return
    decref = ctypes.pythonapi.Py_DecRef
    decref.argtypes, decref.restype = [ctypes.py_object], None

    def _trace_cmp(left, right, opid, idx, left_is_const):  # type: ignore[no-untyped-def]
        r = native(left, right, opid, idx, left_is_const)
        if type(r) is not bool:
            decref(r)
        return r

    _trace_cmp._drops_extra_ref = True  # type: ignore[attr-defined]
    atheris._trace_cmp = _trace_cmp


def main(test_one_input: Callable[[bytes], None]) -> None:
    try:
        if "--replay" in sys.argv or atheris is None:
            sys.exit(replay(test_one_input, [a for a in sys.argv[1:] if not a.startswith("-")]))

        def one(data: bytes) -> None:
            if not getattr(atheris._trace_cmp, "_drops_extra_ref", False):
                _leak_free_trace_cmp()
            test_one_input(data)

        atheris.Setup(sys.argv, one)
        atheris.Fuzz()
    finally:
        for suffix in ("", ".gz", ".jsonl"):
            with contextlib.suppress(OSError):
                os.unlink(str(_SCRATCH) + suffix)
