"""Threads inside network namespaces, so the guest needs no `ip netns exec` process per task.

Starting a process costs seconds in a TCG guest (the root filesystem is 9p and every page is emulated), so the
guest runs captures, snapshots and the workload as threads of one Python process.  setns(2) with
CLONE_NEWNET moves only the calling thread; a socket belongs to the namespace it was created in, for good.
Never call ``enter`` on the main thread (subprocesses forked from a moved thread would inherit its namespace).
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Callable

__all__ = ["enter", "spawn"]

CLONE_NEWNET = 0x40000000
_libc = None


def enter(name: str) -> None:
    """Move the calling thread into the named namespace (/var/run/netns/NAME, as made by `ip netns add`)."""
    global _libc
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("netns.enter() on the main thread")
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def spawn(name: str, netns: str, fn: Callable[..., Any], *args: Any) -> threading.Thread:
    """Start a daemon thread that enters ``netns`` and runs ``fn(*args)``; its exception is kept in
    ``thread.error`` and its return value in ``thread.result``."""
    def body() -> None:
        try:
            enter(netns)
            th.result = fn(*args)  # type: ignore[attr-defined]
        except BaseException as e:  # noqa: BLE001 - handed to the joiner
            th.error = e  # type: ignore[attr-defined]

    th = threading.Thread(target=body, name=name, daemon=True)
    th.result = None  # type: ignore[attr-defined]
    th.error = None  # type: ignore[attr-defined]
    th.start()
    return th
