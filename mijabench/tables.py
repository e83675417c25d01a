"""The one reader/writer for user tables: Parquet, CSV and JSON Lines, chosen by file suffix.

Every reader in the package goes through here, so every bad file gets the same kind of one-line
``MijaError``: ``<file>:line N: what is wrong; what to do``. pyarrow does the fast typed read; when
it fails, its messages either lack a usable line (JSON row numbers count within a block) or quote
the offending row, so the stdlib ``csv``/``json`` modules re-read the file only to find the line.
Row text never reaches a message: the data is hateful by design.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from mijabench import atomic
from mijabench.errors import MijaError

CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")  # .json is read as JSON Lines, one object a line
PARQUET_SUFFIXES = (".parquet",)
FORMATS = ".parquet, .csv or .jsonl"


def _format(path: Path, verb: str, what: str) -> str:
    """``parquet`` | ``csv`` | ``jsonl`` from the suffix, or a one-line error saying what to do."""
    suffix = path.suffix.lower()
    for name, suffixes in (("parquet", PARQUET_SUFFIXES), ("csv", CSV_SUFFIXES), ("jsonl", JSONL_SUFFIXES)):
        if suffix in suffixes:
            return name
    raise MijaError(f"{path}: unsupported file type {suffix or '(none)'!r}; {verb} the {what} as {FORMATS}")


def _existing(path: Path, what: str) -> tuple[Path, str]:
    path = Path(path)
    kind = _format(path, "save", what)  # a wrong suffix is reported even before a missing file
    if not path.is_file():
        raise MijaError(f"{path}: file not found; pass the {what}")
    return path, kind


# --- typed reads ---------------------------------------------------------------------------------
def read_table(path: Path, what: str = "table") -> pa.Table:
    """The whole file as a typed ``pa.Table``; ``what`` names the expected file in errors."""
    path, kind = _existing(path, what)
    if kind == "parquet":
        return _read_parquet(path, what)
    try:
        if kind == "csv":
            # Model responses often hold newlines inside quoted fields.
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
        else:
            table = pajson.read_json(path)
        # pyarrow keeps bad UTF-8 as binary columns (CSV) or defers the error to first use (JSON).
        table.validate(full=True)
        if any(pa.types.is_binary(f.type) for f in table.schema):
            raise pa.ArrowInvalid("binary column")
    except (pa.ArrowInvalid, OSError) as exc:
        raise _parse_error(path, kind, what, exc) from None
    return table


def _read_parquet(path: Path, what: str) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise MijaError(f"{path}: not a readable Parquet file ({type(exc).__name__}); pass the {what} "
                        "as written by pyarrow or pandas, or convert it to .csv/.jsonl") from None


def _parse_error(path: Path, kind: str, what: str, exc: Exception) -> MijaError:
    if str(exc).startswith("Empty"):  # pyarrow: "Empty CSV file" / "Empty JSON file"
        return MijaError(f"{path}: the file is empty; pass the {what} with a header row and data")
    found = _locate_csv(path) if kind == "csv" else _locate_jsonl(path)
    if found:
        line, problem = found
        return MijaError(f"{path}:line {line}: cannot parse the {what} as {kind.upper()}: {problem}")
    # Not located: name only the exception kind, since pyarrow's text can quote a row.
    return MijaError(f"{path}: cannot parse the {what} as {kind.upper()} ({type(exc).__name__}); "
                     "check the file format (same columns in every row)")


# --- locating a bad line with the stdlib ---------------------------------------------------------
def _bad_utf8_line(path: Path) -> int | None:
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return lineno
    return None


UTF8_PROBLEM = "not valid UTF-8; re-save the file as UTF-8"


def _locate_csv(path: Path) -> tuple[int, str] | None:
    """``(line, problem)`` for the first record the stdlib ``csv`` module finds wrong, else None."""
    bad = _bad_utf8_line(path)
    if bad:
        return bad, UTF8_PROBLEM
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        width = None
        try:
            for start, record in _csv_records(reader):
                if width is None:  # the header
                    width = len(record)
                elif len(record) != width:
                    return start, _ragged(len(record), width)
        except csv.Error:
            return reader.line_num, "malformed quoting; quote fields that hold commas, quotes or newlines"
    return None


def _csv_records(reader):
    """``(first line, record)`` for each non-blank record; quoted newlines make records span lines."""
    start = 1
    for record in reader:
        if record:  # a blank line reads as [] and is skipped, as pyarrow does
            yield start, record
        start = reader.line_num + 1


def _ragged(got: int, width: int) -> str:
    return (f"row has {got} fields but the header has {width}; "
            "quote fields that hold commas and give every row the same columns")


def _json_kind(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _locate_jsonl(path: Path) -> tuple[int, str] | None:
    """``(line, problem)``: bad UTF-8, bad JSON, a non-object, or a field changing type."""
    kinds: dict[str, tuple[str, int]] = {}  # field -> (JSON kind, line it was first seen)
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            row = _json_line(raw, lineno)
        except UnicodeDecodeError:
            return lineno, UTF8_PROBLEM
        except ValueError:
            return lineno, "not valid JSON; write one JSON object per line"
        if row is None:
            continue
        if not isinstance(row, dict):
            return lineno, "expected a JSON object per line"
        for key, value in row.items():
            kind = _json_kind(value)
            first = kinds.setdefault(key, (kind, lineno)) if kind else None
            if first and first[0] != kind:
                return lineno, (f"field {key!r} is a {kind} here but a {first[0]} on line {first[1]}; "
                                "use one type per field")
    return None


def _json_line(raw: bytes, lineno: int):
    """One decoded JSON value, or None for a blank line (raises UnicodeDecodeError / ValueError)."""
    text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    return json.loads(text) if text.strip() else None


# --- rows with their locations -------------------------------------------------------------------
def read_rows(path: Path, what: str = "table") -> list[tuple[str, dict]]:
    """``[(where, row)]`` for importers that validate row by row.

    ``where`` is ``<file>:line N`` for CSV/JSONL (the line the row starts on) and ``<file>:row N``
    for Parquet. CSV cells stay the strings written in the file; JSONL keeps JSON types.
    """
    path, kind = _existing(path, what)
    if kind == "parquet":
        rows = [(f"{path}:row {i}", r) for i, r in enumerate(_read_parquet(path, what).to_pylist(), 1)]
    else:
        rows = _csv_rows(path, what) if kind == "csv" else _jsonl_rows(path, what)
    if not rows:
        raise MijaError(f"{path}: the file has no data rows; check the export")
    return rows


def _line_error(path: Path, line: int, kind: str, what: str, problem: str) -> MijaError:
    return MijaError(f"{path}:line {line}: cannot parse the {what} as {kind}: {problem}")


def _csv_rows(path: Path, what: str) -> list[tuple[str, dict]]:
    bad = _bad_utf8_line(path)
    if bad:
        raise _line_error(path, bad, "CSV", what, UTF8_PROBLEM)
    rows: list[tuple[str, dict]] = []
    header = None
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            for start, record in _csv_records(reader):
                if header is None:
                    header = record
                elif len(record) != len(header):
                    raise _line_error(path, start, "CSV", what, _ragged(len(record), len(header)))
                else:
                    rows.append((f"{path}:line {start}", dict(zip(header, record))))
        except csv.Error:
            raise _line_error(path, reader.line_num, "CSV", what,
                              "malformed quoting; quote fields that hold commas, quotes or newlines") from None
    return rows


def _jsonl_rows(path: Path, what: str) -> list[tuple[str, dict]]:
    rows: list[tuple[str, dict]] = []
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            row = _json_line(raw, lineno)
        except UnicodeDecodeError:
            raise _line_error(path, lineno, "JSONL", what, UTF8_PROBLEM) from None
        except ValueError:
            raise _line_error(path, lineno, "JSONL", what,
                              "not valid JSON; write one JSON object per line") from None
        if row is None:
            continue
        if not isinstance(row, dict):
            raise _line_error(path, lineno, "JSONL", what, "expected a JSON object per line")
        rows.append((f"{path}:line {lineno}", row))
    return rows


# --- writing -------------------------------------------------------------------------------------
def write_table(path: Path, table: pa.Table, what: str = "output") -> Path:
    """Write ``table`` as Parquet, CSV or JSON Lines by suffix, atomically (old or new, never half)."""
    path = Path(path)
    kind = _format(path, "write", what)
    if kind == "parquet":
        return atomic.write_parquet(path, table)
    if kind == "csv":
        return atomic.write_bytes(path, _csv_bytes(path, table))
    # default=str: timestamps and other non-JSON scalars become their text form, not a crash.
    lines = (json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in table.to_pylist())
    return atomic.write_text(path, "".join(lines))


def _csv_bytes(path: Path, table: pa.Table) -> bytes:
    for field in table.schema:
        if pa.types.is_nested(field.type):
            raise MijaError(f"{path}: column {field.name!r} holds {field.type}, which CSV cannot store; "
                            "write .parquet or .jsonl instead")
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()
