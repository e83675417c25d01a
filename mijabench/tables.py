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
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:  # bad bytes in a header
        raise _parse_error(path, kind, what, exc) from None
    return table


def _parquet_error(path: Path, what: str, exc: Exception) -> MijaError:
    return MijaError(f"{path}: not a readable Parquet file ({type(exc).__name__}); pass the {what} "
                     "as written by pyarrow or pandas, or convert it to .csv/.jsonl")


def _refuse_bytes(path: Path, table: pa.Table, what: str) -> None:
    """Text must be text: a bytes-typed column is refused, naming it."""
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise MijaError(f"{path}: column {field.name!r} holds bytes, not text; write the {what} "
                            "with UTF-8 string columns")


def _read_parquet(path: Path, what: str) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _parquet_error(path, what, exc) from None
    _refuse_bytes(path, table, what)
    for field in table.schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            try:
                table.column(field.name).validate(full=True)
            except pa.ArrowInvalid:
                raise MijaError(f"{path}: column {field.name!r} is not valid UTF-8; re-write the "
                                f"{what} as UTF-8") from None
    return table


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


def _has_bad_bytes(text: str) -> bool:
    """Undecodable bytes survive ``surrogateescape`` decoding as lone surrogates U+DC80..U+DCFF."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _bad_csv_column(path: Path) -> tuple[int, str] | None:
    """``(record start line, column)`` of the first CSV field holding bytes that are not UTF-8."""
    with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        header = None
        try:
            for start, record in _csv_records(reader):
                for i, cell in enumerate(record):
                    if _has_bad_bytes(cell):
                        name = "the header" if header is None else (
                            f"column {header[i]!r}" if i < len(header) else f"column {i + 1}")
                        return start, name
                header = header or record
        except csv.Error:
            return None
    return None


def _utf8_problem(path: Path) -> tuple[int, str] | None:
    """``(line, problem naming the column)`` for CSV bytes that are not UTF-8, else None."""
    bad = _bad_utf8_line(path)
    if bad is None:
        return None
    found = _bad_csv_column(path)
    line, column = found or (bad, "")
    return line, f"{column + ' is ' if column else ''}{UTF8_PROBLEM}"


def _locate_csv(path: Path) -> tuple[int, str] | None:
    """``(line, problem)`` for the first record the stdlib ``csv`` module finds wrong, else None."""
    bad = _utf8_problem(path)
    if bad:
        return bad
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
            return lineno, _bad_json_field(raw) + UTF8_PROBLEM
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


def _bad_json_field(raw: bytes) -> str:
    """``column 'x' is `` for the field whose value holds non-UTF-8 bytes, else ""."""
    try:
        row = json.loads(raw.decode("utf-8", errors="surrogateescape"))
    except ValueError:
        return ""
    if isinstance(row, dict):
        for key, value in row.items():
            if _has_bad_bytes(json.dumps(value, ensure_ascii=False)) or _has_bad_bytes(key):
                return f"column {key!r} is "
    return ""


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
    bad = _utf8_problem(path)
    if bad:
        raise _line_error(path, bad[0], "CSV", what, bad[1])
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
            raise _line_error(path, lineno, "JSONL", what, _bad_json_field(raw) + UTF8_PROBLEM) from None
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


# --- record batches: files too big for memory ---------------------------------------------------
CSV_BLOCK_BYTES = 16 << 20  # pyarrow's streaming CSV reader works a block at a time


def iter_batches(path: Path, batch_rows: int = 1024, what: str = "table"):
    """Yield the file as ``pa.Table`` batches of at most ``batch_rows`` rows, so peak memory is
    about one batch (CSV: one ~16 MB block). The first batch always comes, even with no data rows,
    so callers see the columns. CSV cells stay text (a later block cannot change a column's type);
    JSONL keeps JSON scalars (nested values come as JSON text); Parquet keeps its types. Bad
    files get :func:`read_table`'s errors."""
    path, kind = _existing(path, what)
    batches = {"parquet": _parquet_batches, "csv": _csv_batches, "jsonl": _jsonl_batches}[kind]
    yielded = False
    try:
        for table in batches(path, batch_rows, what):
            _check_text(path, table, what)
            for start in range(0, max(table.num_rows, 1), batch_rows):
                yield table.slice(start, batch_rows)
                yielded = True
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        if kind == "parquet":
            raise _parquet_error(path, what, exc) from None
        raise _parse_error(path, kind, what, exc) from None
    if not yielded:
        raise MijaError(f"{path}: the file is empty; pass the {what} with a header row and data")


def _check_text(path: Path, table: pa.Table, what: str) -> None:
    _refuse_bytes(path, table, what)
    table.validate(full=True)  # raises ArrowInvalid on bad UTF-8: located by the caller


def _parquet_batches(path: Path, batch_rows: int, what: str):
    # No pre-buffering: read a column chunk a page at a time instead of a whole row group at once.
    reader = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    yield reader.schema_arrow.empty_table()
    for batch in reader.iter_batches(batch_size=batch_rows):
        yield pa.Table.from_batches([batch])


def _csv_batches(path: Path, batch_rows: int, what: str):
    parse = pacsv.ParseOptions(newlines_in_values=True)  # responses hold newlines
    read = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)  # it reads a few blocks ahead: ~150 MB
    names = pacsv.open_csv(path, read_options=read, parse_options=parse).schema.names
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names})
    reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    yield reader.schema.empty_table()
    for batch in reader:
        yield pa.Table.from_batches([batch])


def _jsonl_batches(path: Path, batch_rows: int, what: str):
    """JSON Lines, ``batch_rows`` lines at a time. A nested value (object or list) comes back as
    its JSON text: exports mix objects and plain strings in one field, which a typed column
    cannot hold."""
    rows: list[dict] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            row = _jsonl_record(path, raw, lineno, what)
            if row is not None:
                rows.append(row)
            if len(rows) == batch_rows:
                yield _rows_table(rows)
                rows = []
    if rows:
        yield _rows_table(rows)


def _rows_table(rows: list[dict]) -> pa.Table:
    names = dict.fromkeys(k for row in rows for k in row)  # every field of the chunk, in order
    return pa.table({name: [row.get(name) for row in rows] for name in names})


def _jsonl_record(path: Path, raw: bytes, lineno: int, what: str) -> dict | None:
    try:
        row = _json_line(raw, lineno)
    except UnicodeDecodeError:
        raise _line_error(path, lineno, "JSONL", what, _bad_json_field(raw) + UTF8_PROBLEM) from None
    except ValueError:
        raise _line_error(path, lineno, "JSONL", what, "not valid JSON; write one JSON object per line") from None
    if row is None:
        return None
    if not isinstance(row, dict):
        raise _line_error(path, lineno, "JSONL", what, "expected a JSON object per line")
    return {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
            for k, v in row.items()}
