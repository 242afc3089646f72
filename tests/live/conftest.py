"""The veth pair the live tests capture on: made per test module and removed after it, so no namespace outlives
the module (tests/lab/test_lab_offline.py refuses to touch a host where namespaces exist)."""
from __future__ import annotations

import pytest

from livenet import Veth, have_netns


@pytest.fixture(scope="module")
def veth():
    why = have_netns()
    if why:
        pytest.skip(why)
    v = Veth()
    try:
        v.up()
    except RuntimeError as exc:
        pytest.skip(f"cannot make a veth pair here: {exc}")
    yield v
    v.down()
