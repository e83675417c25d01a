"""The one Markdown table builder: layout, escaping, alignment and its errors."""

from __future__ import annotations

import pytest

from mijabench import markdown
from mijabench.errors import MijaError


def test_table_layout_and_default_alignment():
    assert markdown.table(["a", "b"], [[1, 2.5], ["x", None]]) == (
        "| a | b |\n"
        "|---|---|\n"
        "| 1 | 2.5 |\n"
        "| x | None |")
    assert markdown.table(["only"], []) == "| only |\n|---|"


def test_cells_and_header_are_escaped():
    got = markdown.table(["a|b", "c"], [["x | y", "line 1\nline 2"], ["`p|q`", "r\r\ns"]])
    assert got.splitlines() == ["| a\\|b | c |", "|---|---|", "| x \\| y | line 1<br>line 2 |",
                                "| `p\\|q` | r<br>s |"]
    assert all(line.count(" | ") == 1 for line in got.splitlines() if line != "|---|---|")


def test_alignment_row():
    got = markdown.table(["name", "n", "mid", "left"], [["a", 1, 2, 3]], align=["", "r", "c", "l"])
    assert got.splitlines()[1] == "|---|---:|:---:|:---|"


@pytest.mark.parametrize("header, rows, align, message", [
    (["a", "b"], [["1", "2"], ["3"]], None, "row 2 has 1 cells but the header has 2"),
    (["a", "b"], [["1", "2", "3"]], None, "row 1 has 3 cells"),
    (["a", "b"], [], ["r"], "1 alignments for 2 columns"),
    (["a"], [], ["right"], "alignment 'right' is not one of"),
    ([], [], None, "the header is empty"),
])
def test_bad_shapes_raise_one_line_errors(header, rows, align, message):
    with pytest.raises(MijaError, match=message) as err:
        markdown.table(header, rows, align=align)
    assert "\n" not in str(err.value) and str(err.value).startswith("markdown.table: ")
