"""mijabench.tables: one reader/writer for Parquet, CSV and JSON Lines, errors naming file and line."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mijabench import tables
from mijabench.errors import MijaError

SECRET = "SECRET-ROW-TEXT"  # stands in for the (hateful by design) row text: must never be echoed

GOOD = pa.table({"id": ["a", "b", "c"], "text": ["plain", "with, comma", "two\nlines"],
                 "score": [1.5, 2.0, -0.25], "flag": [True, False, True]})


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_round_trip(tmp_path, suffix):
    path = tables.write_table(tmp_path / f"t{suffix}", GOOD)
    assert tables.read_table(path).to_pylist() == GOOD.to_pylist()
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temp file behind


@pytest.mark.parametrize("suffix, where", [(".parquet", "row 2"), (".csv", "line 3"), (".jsonl", "line 2")])
def test_read_rows_names_each_row(tmp_path, suffix, where):
    path = tables.write_table(tmp_path / f"t{suffix}", GOOD)
    rows = tables.read_rows(path)
    assert [r["id"] for _, r in rows] == ["a", "b", "c"]
    assert rows[1][0] == f"{path}:{where}"
    if suffix == ".csv":  # the quoted newline in row 3 keeps it on its own (starting) line
        assert rows[2][0] == f"{path}:line 4" and rows[2][1]["score"] == "-0.25"


# (file name, file content, expected message part): each bad file must name its line.
BAD_FILES = [
    ("broken.jsonl", '{"text": "ok"}\n{"text": "ok"}\n{"text": "' + SECRET + '"\n{"text": "ok"}\n',
     "broken.jsonl:line 3: cannot parse the test table as JSONL: not valid JSON"),
    ("array.jsonl", '{"text": "ok"}\n["' + SECRET + '"]\n',
     "array.jsonl:line 2: cannot parse the test table as JSONL: expected a JSON object per line"),
    ("types.jsonl", '{"n": 1}\n{"n": 2}\n{"n": "' + SECRET + '"}\n',
     "types.jsonl:line 3: cannot parse the test table as JSONL: field 'n' is a string here but a number on line 1"),
    ("ragged.csv", "id,text\n1,ok\n2,ok\n3," + SECRET + ",extra\n",
     "ragged.csv:line 4: cannot parse the test table as CSV: row has 3 fields but the header has 2"),
    ("short.csv", 'id,text,label\n1,"multi\nline",x\n2,' + SECRET + "\n",
     "short.csv:line 4: cannot parse the test table as CSV: row has 2 fields but the header has 3"),
]


@pytest.mark.parametrize("name, content, expected", BAD_FILES, ids=[c[0] for c in BAD_FILES])
@pytest.mark.parametrize("reader", [tables.read_table, tables.read_rows], ids=["read_table", "read_rows"])
def test_bad_file_names_file_and_line_never_text(tmp_path, reader, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    if name == "types.jsonl" and reader is tables.read_rows:
        assert reader(path, "test table")[2][1]["n"] == SECRET  # rows keep JSON types as written
        return
    with pytest.raises(MijaError) as err:
        reader(path, "test table")
    message = str(err.value)
    assert message.startswith(f"{path.parent}/{expected}")
    assert "\n" not in message and SECRET not in message


def test_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,text\n1,ok\n2,caf\xe9\n")
    for reader in (tables.read_table, tables.read_rows):
        with pytest.raises(MijaError, match=r"latin1\.csv:line 3: .*not valid UTF-8; re-save the file as UTF-8"):
            reader(path)


@pytest.mark.parametrize("reader", [tables.read_table, tables.read_rows])
def test_unknown_suffix_says_what_to_do(tmp_path, reader):
    path = tmp_path / "prompts.xlsx"
    path.write_text("x")
    with pytest.raises(MijaError) as err:
        reader(path, "prompts file")
    assert str(err.value) == (f"{path}: unsupported file type '.xlsx'; "
                              "save the prompts file as .parquet, .csv or .jsonl")


def test_missing_empty_and_corrupt_files(tmp_path):
    with pytest.raises(MijaError, match=r"nope\.csv: file not found; pass the sheet"):
        tables.read_table(tmp_path / "nope.csv", "sheet")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(MijaError, match=r"empty\.csv: the file is empty"):
        tables.read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("id,text\n")
    with pytest.raises(MijaError, match=r"header\.csv: the file has no data rows"):
        tables.read_rows(tmp_path / "header.csv")
    (tmp_path / "bad.parquet").write_bytes(SECRET.encode())
    with pytest.raises(MijaError, match=r"bad\.parquet: not a readable Parquet file"):
        tables.read_table(tmp_path / "bad.parquet")


def test_write_refuses_unknown_suffix_and_nested_csv(tmp_path):
    with pytest.raises(MijaError, match=r"out\.txt: unsupported file type '\.txt'; write the output as"):
        tables.write_table(tmp_path / "out.txt", GOOD)
    nested = pa.table({"votes": [["safe", "unsafe"]]})
    with pytest.raises(MijaError, match=r"out\.csv: column 'votes' holds list<item: string>.*write \.parquet or \.jsonl"):
        tables.write_table(tmp_path / "out.csv", nested)
    assert not (tmp_path / "out.csv").exists()
    assert tables.read_table(tables.write_table(tmp_path / "out.jsonl", nested)).to_pylist() == nested.to_pylist()
