"""``--json``: the whole report as one JSON document (docs/output.md describes every field).

Layout: one top-level key per line, and one line per entry of ``files`` and ``associations``. It is valid JSON
for any parser, easy to grep or diff per association, and written with the C encoder piece by piece (an indented
dump runs Python's pure-Python encoder and took as long as the analysis itself on a million packets). For an
indented view: ``sctpcorr pcap --json x.pcap | jq .``
"""

from __future__ import annotations

import json
from typing import Any, TextIO

__all__ = ["write"]

_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode
_PER_LINE = ("files", "associations")


def write(doc: dict[str, Any], out: TextIO) -> None:
    """Write the document followed by a newline. Keys keep the engine's order (stable output)."""
    out.write("{\n")
    last = len(doc) - 1
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < last else ""
        if key in _PER_LINE and isinstance(value, list) and value:
            out.write(f" {_encode(key)}: [\n")
            n = len(value) - 1
            for j, item in enumerate(value):
                out.write(f"  {_encode(item)}{',' if j < n else ''}\n")
            out.write(f" ]{comma}\n")
        else:
            out.write(f" {_encode(key)}: {_encode(value)}{comma}\n")
    out.write("}\n")
