"""One Markdown (GitHub-flavoured) table builder for every report, card and eval summary.

Cells are escaped here, once: a ``|`` inside a cell would split it into two columns and a newline
would end the table, so model names or labels containing them used to break hand-built tables.
"""

from __future__ import annotations

from typing import Sequence

from mijabench.errors import MijaError

# Delimiter-row markers. "" keeps the renderer's default (left) and is what our tables always used.
ALIGN = {"": "---", "l": ":---", "r": "---:", "c": ":---:"}


def cell(value) -> str:
    """One cell as text: ``|`` escaped, line breaks turned into ``<br>`` (GFM's in-cell break)."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("|", "\\|").replace("\n", "<br>")


def table(header: Sequence, rows: Sequence[Sequence], align: Sequence[str] | None = None) -> str:
    """A Markdown table: header row, delimiter row, one line per row (no trailing newline).

    ``align`` gives one marker per column: ``""`` (default), ``"l"``, ``"r"`` or ``"c"``.
    Cells are converted with ``str`` - format numbers before passing them.
    """
    width = len(header)
    if width == 0:
        raise MijaError("markdown.table: the header is empty; pass at least one column name")
    align = [""] * width if align is None else list(align)
    if len(align) != width:
        raise MijaError(f"markdown.table: {len(align)} alignments for {width} columns; "
                        "give one per column")
    bad = [a for a in align if a not in ALIGN]
    if bad:
        raise MijaError(f"markdown.table: alignment {bad[0]!r} is not one of "
                        f"{', '.join(repr(a) for a in ALIGN)}")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise MijaError(f"markdown.table: row {i + 1} has {len(row)} cells but the header has "
                            f"{width}; give every row one cell per column")
    lines = [_line(header), "|" + "|".join(ALIGN[a] for a in align) + "|"]
    lines += [_line(row) for row in rows]
    return "\n".join(lines)


def _line(cells: Sequence) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"
