"""The README shows real output: every `$ .venv/bin/sctpcorr ...` example on the bundled captures, and the demo,
must print what the README says. When the analysis changes, re-run the commands and paste the new output."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cli_helpers import ROOT

README = (ROOT / "README.md").read_text()
SCTPCORR = ROOT / ".venv" / "bin" / "sctpcorr"


def examples() -> list[tuple[str, str, bool]]:
    """(command, the output printed under it, whether that is an excerpt) for each README example that runs on
    a bundled capture."""
    blocks: list[list[str]] = []
    inside = False
    for line in README.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    out = []
    for lines in blocks:
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.startswith("$ "):
                i += 1
                continue
            cmd = line[2:]
            excerpt = "(excerpt)" in line
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1] + lines[i].strip()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("$ "):
                j += 1
            text = "\n".join(lines[i + 1:j]).rstrip("\n")
            if cmd.startswith("./scripts/demo"):
                cmd = cmd.split("# = ", 1)[1]
            cmd = cmd.split("  #", 1)[0].strip()
            if cmd.startswith(".venv/bin/sctpcorr") and "pcaps/" in cmd and " > " not in cmd:
                out.append((cmd, text, excerpt))
            i = j
    return out


EXAMPLES = examples()


def test_readme_has_examples():
    assert len(EXAMPLES) >= 5
    assert any(cmd.endswith("ngap-lossy-multihomed.pcapng.gz") for cmd, _, _ in EXAMPLES)  # the demo


@pytest.mark.skipif(not SCTPCORR.exists(), reason="run ./scripts/setup first")
@pytest.mark.parametrize("cmd, expected, excerpt", EXAMPLES, ids=[c for c, _, _ in EXAMPLES])
def test_readme_output_is_real(cmd, expected, excerpt):
    if "| jq" in cmd and shutil.which("jq") is None:
        pytest.skip("jq not installed")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    got = r.stdout.rstrip("\n")
    if excerpt:
        assert expected in got
    else:
        assert got == expected
