"""The veth pair the live tests capture on (session scope: made once, removed at the end)."""
from __future__ import annotations

import pytest

from livenet import Veth, have_netns


@pytest.fixture(scope="session")
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
