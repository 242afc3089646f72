"""The two options that say when an association leaves the wire engine's memory (wire/_engine/fold.c,
docs/limits.md), shared by the commands that feed it a capture: ``sctpcorr pcap`` and ``sctpcorr live``."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def fold_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--linger`` and ``--idle-timeout`` (seconds, 0: never), ``what`` ending the first one's help."""
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--idle-timeout", type=click.FloatRange(min=0), default=600.0, show_default=True,
                         metavar="SECONDS",
                         help="Likewise an association without a packet for SECONDS; a later packet of it starts a "
                              "new one. 0: never.")(f)
        return click.option("--linger", type=click.FloatRange(min=0), default=10.0, show_default=True,
                            metavar="SECONDS",
                            help="An association that ended (SHUTDOWN-COMPLETE or ABORT) leaves memory SECONDS of "
                                 f"capture time after its last packet: {what} (docs/limits.md). 0: never.")(f)
    return deco
