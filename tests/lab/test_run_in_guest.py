"""runner.run_in_guest without a guest: vng is replaced by a shell command, so the boot watchdog (a guest that
prints nothing hung at boot: kill it, boot once more, then give up with one line) and the exit code are checked."""
from __future__ import annotations

from pathlib import Path

import pytest

from sctpcorr.lab import runner


@pytest.fixture()
def fake_vng(monkeypatch):
    def use(script: str) -> None:
        monkeypatch.setattr(runner, "check_prerequisites",
                            lambda: runner.Prerequisites(ok=True, kernel=("test", Path("/boot/vmlinuz-test"))))
        monkeypatch.setattr(runner, "vng_command", lambda kernel, rwdirs, exec_cmd, memory="2G": ["sh", "-c", script])
    return use


def test_a_guest_that_prints_returns_its_exit_code(fake_vng, tmp_path):
    fake_vng("echo '[lab-probe] up'; sleep 1.5; exit 3")
    assert runner.run_in_guest("x", tmp_path, boot_silence_s=1.0) == 3
    text = (tmp_path / "console.log").read_text()
    assert "[lab-probe] up" in text and text.count("# attempt") == 1


def test_a_silent_guest_is_booted_again_then_reported(fake_vng, tmp_path):
    fake_vng("sleep 30")
    with pytest.raises(runner.LabError, match="hung at boot twice"):
        runner.run_in_guest("x", tmp_path, boot_silence_s=1.0)
    text = (tmp_path / "console.log").read_text()
    assert text.count("# attempt") == 2 and text.count("hung at boot, killed") == 2


def test_the_overall_timeout_kills_and_says_so(fake_vng, tmp_path):
    fake_vng("echo up; sleep 30")
    with pytest.raises(runner.LabError, match="still running after 2 s"):
        runner.run_in_guest("x", tmp_path, timeout_s=2, boot_silence_s=1.0)
