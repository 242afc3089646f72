"""The fuzz targets' short run in the suite (docs/fuzz.md): every seed and every regression input through each
target once.

C targets: the libFuzzer harnesses of fuzz/c/ built by fuzz/build.py with gcc's ASan + UBSan and
fuzz/c/replay_main.c (no clang needed), so a read past a buffer, a signed overflow or a leak fails the test.  Python targets: fuzz/py/fuzz_*.py
imported and their ``test_one_input`` called (no atheris needed).  The seeds are made from the repository's
own captures and recordings by fuzz/make_seeds.py; the regressions are the committed inputs of every crash the
fuzzers found (fuzz/regressions/TARGET/)."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "fuzz"
C_TARGETS = ("pcap", "frames", "ringbuf", "telecom")
PY_TARGETS = sorted(p.stem[len("fuzz_"):] for p in (FUZZ / "py").glob("fuzz_*.py"))
EMBEDS_PYTHON = {"ringbuf", "telecom"}   # the interpreter's own allocations at exit are not ours to check


def _make_seeds(out: Path, targets: list[str]) -> None:
    sys.path.insert(0, str(FUZZ))
    try:
        spec = importlib.util.spec_from_file_location("sctpcorr_fuzz_make_seeds", FUZZ / "make_seeds.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        mod.write(out, targets)
    finally:
        sys.path.remove(str(FUZZ))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fuzz-seeds")
    _make_seeds(out, list(C_TARGETS) + PY_TARGETS)
    return out


@pytest.fixture(scope="module")
def harnesses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the fuzz harnesses")
    inc = sysconfig.get_paths()["include"]
    if not (Path(inc) / "Python.h").is_file():
        pytest.skip(f"no Python.h in {inc} (python3-dev)")
    out = tmp_path_factory.mktemp("fuzz-bin")
    r = subprocess.run([sys.executable, str(FUZZ / "build.py"), "replay", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def _inputs(seeds: Path, target: str) -> list[str]:
    dirs = [seeds / target, FUZZ / "regressions" / target]
    return [str(d) for d in dirs if d.is_dir() and any(d.iterdir())]


@pytest.mark.parametrize("target", C_TARGETS)
def test_c_target_replays_clean(target: str, harnesses: Path, seeds: Path) -> None:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "abort_on_error=0:detect_leaks=" + ("0" if target in EMBEDS_PYTHON else "1")
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    env.pop("PYTHONPATH", None)       # the telecom harness finds the tree it was built from
    r = subprocess.run([str(harnesses / f"replay_{target}"), *_inputs(seeds, target)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "runtime error" not in r.stderr, r.stderr[-4000:]
    assert r.stdout.startswith("replayed "), r.stdout


def _load(target: str):  # noqa: ANN202
    sys.path.insert(0, str(FUZZ / "py"))
    try:
        spec = importlib.util.spec_from_file_location(f"sctpcorr_fuzz_{target}", FUZZ / "py" / f"fuzz_{target}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod
    finally:
        sys.path.remove(str(FUZZ / "py"))


@pytest.mark.parametrize("target", PY_TARGETS)
def test_python_target_replays_clean(target: str, seeds: Path) -> None:
    mod = _load(target)
    files = [f for d in _inputs(seeds, target) for f in sorted(Path(d).iterdir()) if f.is_file()]
    assert files, f"no seeds for {target}"
    for f in files:
        try:
            mod.test_one_input(f.read_bytes())
        except Exception as exc:  # noqa: BLE001 - say which input
            raise AssertionError(f"{target}: {f} raised {exc!r}") from exc


def test_every_target_has_seeds(seeds: Path) -> None:
    for t in list(C_TARGETS) + PY_TARGETS:
        assert any((seeds / t).iterdir()), t
