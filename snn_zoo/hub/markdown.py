"""Generated blocks inside hand-written markdown files (README tables)."""

from __future__ import annotations


def replace_marked_block(text: str, marker: str, block: str) -> str:
    """Replace what lies between ``<!-- {marker}:start -->`` and ``<!-- {marker}:end -->``."""
    start_line, end_line = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    start, end = text.find(start_line), text.find(end_line)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"expected the lines {start_line!r} and then {end_line!r} in the file.")
    return f"{text[: start + len(start_line)]}\n{block}{text[end:]}"
