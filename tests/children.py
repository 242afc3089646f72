"""Child processes a test will interrupt start with SIGINT and SIGTERM at their defaults.

A shell without job control starts a background command (``./scripts/test &``) with SIGINT ignored, every child
inherits that, and Python then never raises KeyboardInterrupt: the Ctrl-C tests of ``pcap`` and ``lab run`` got
exit 0 instead of 130 that way while passing in the foreground.  A terminal's Ctrl-C reaches a foreground job
whose disposition is the default, so that is the disposition the tests give the process they interrupt.
"""
from __future__ import annotations

import signal


def default_signals() -> None:
    """``preexec_fn`` for ``subprocess.Popen``: runs in the child before exec."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
