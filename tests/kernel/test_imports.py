"""Import rules of sctpcorr.kernel (style 9.2): recorded files decode anywhere, BCC is touched in one place."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import sctpcorr.kernel as kernel

KDIR = Path(kernel.__file__).parent
STDLIB = set(sys.stdlib_module_names)
PURE = ("abi.py", "diag.py", "probes.py", "recorder.py", "view.py")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) of every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module.split(".")[0] if node.level == 0 else "sctpcorr", id(node) in top))
    return out


def test_pure_modules_use_the_standard_library_only():
    for name in PURE:
        for mod, _top in _imports(KDIR / name):
            assert mod in STDLIB or mod == "sctpcorr", f"{name} imports {mod}"


def test_only_the_loader_imports_bcc_and_only_inside_a_function():
    for path in KDIR.rglob("*.py"):
        for mod, top in _imports(path):
            if mod == "bcc":
                assert path.name == "loader.py" and not top, path


def test_importing_the_cli_does_not_import_bcc():
    import importlib

    sys.modules.pop("bcc", None)
    importlib.import_module("sctpcorr.kernel.cli")
    importlib.import_module("sctpcorr.kernel.run")
    assert "bcc" not in sys.modules
