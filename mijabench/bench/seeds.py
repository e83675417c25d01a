"""Seed importers: ToxiGen-style text files, ToxSyn-PT-style tables, and the authors' released rows.

Every importer validates the whole input before returning and raises a one-line MijaError naming
file:line (or file:row/column) on bad input; nothing is written anywhere, so a bad file changes
nothing on disk. Seed text never appears in messages: it is hateful by design.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import yaml

from mijabench import taxonomy
from mijabench.errors import MijaError
from mijabench.tables import read_table

SEED_SCHEMA = pa.schema([
    ("seed_text", pa.string()),
    ("group", pa.string()),
    ("language", pa.string()),
    ("source", pa.string()),
    ("stance", pa.string()),  # hate | neutral
])
STANCES = ("hate", "neutral")


@lru_cache(maxsize=1)
def group_aliases() -> dict[str, dict[str, str | None]]:
    text = resources.files("mijabench").joinpath("data/group_aliases.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def fold_name(name: str) -> str:
    """Case- and accent-insensitive key, so 'Muçulmanos' and 'muculmanos' match."""
    decomposed = unicodedata.normalize("NFKD", str(name).strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("_", " ")


def map_group(source: str, name: str, where: str) -> str | None:
    """Map a source's group name to a taxonomy id (None = known but not imported)."""
    table = {fold_name(k): v for k, v in group_aliases()[source].items()}
    key = fold_name(name)
    if key in table:
        return table[key]
    if name in taxonomy.groups():  # our own ids are always accepted
        return name
    valid = sorted(set(list(group_aliases()[source]) + list(taxonomy.groups())))
    raise MijaError(f"{where}: unknown group {name!r}; valid groups: {', '.join(valid)}")


def _table(rows: dict[str, list]) -> pa.Table:
    return pa.table(rows, schema=SEED_SCHEMA)


def _clean_line(raw: bytes, where: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MijaError(f"{where}: not valid UTF-8; re-save the file as UTF-8") from None
    text = text.rstrip("\r\n")
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in text):
        raise MijaError(f"{where}: control character in line; remove binary data from the file")
    return text.strip()


def read_toxigen(path: Path) -> pa.Table:
    """ToxiGen-style folder of ``hate_<group>.txt`` / ``neutral_<group>.txt`` (one sentence a line)."""
    path = Path(path)
    if not path.is_dir():
        raise MijaError(f"{path}: not a folder; pass a ToxiGen-style folder of hate_<group>.txt files")
    files = sorted(p for p in path.glob("*.txt") if p.name.split("_", 1)[0] in STANCES)
    if not files:
        raise MijaError(f"{path}: no hate_<group>.txt or neutral_<group>.txt files found")
    rows: dict[str, list] = {k: [] for k in SEED_SCHEMA.names}
    for file in files:
        stance, name = file.stem.split("_", 1)
        group = map_group("toxigen", name, str(file))
        if group is None:
            continue
        for lineno, raw in enumerate(file.read_bytes().splitlines(keepends=True), start=1):
            text = _clean_line(raw, f"{file}:{lineno}")
            if text:
                for key, value in zip(SEED_SCHEMA.names, (text, group, "en", "toxigen", stance)):
                    rows[key].append(value)
    return _table(rows)


def _require(table: pa.Table, columns: list[str], path: Path) -> None:
    for column in columns:
        if column not in table.column_names:
            raise MijaError(f"{path}: missing column {column!r}; found: {', '.join(table.column_names)}")


def _truthy(value, where: str) -> bool:
    folded = fold_name(str(value))
    if folded in ("1", "true", "yes", "sim", "1.0", "t"):
        return True
    if folded in ("0", "false", "no", "nao", "0.0", "f"):
        return False
    raise MijaError(f"{where}: is_toxic must be true/false or 1/0")


def read_toxsyn(path: Path) -> pa.Table:
    """ToxSyn-PT-style Parquet/CSV/JSONL with ``text``, ``group`` and ``is_toxic`` columns."""
    path = Path(path)
    table = read_table(path, "ToxSyn-PT-style table")
    _require(table, ["text", "group", "is_toxic"], path)
    rows: dict[str, list] = {k: [] for k in SEED_SCHEMA.names}
    columns = table.select(["text", "group", "is_toxic"]).to_pydict()
    for i, (text, name, toxic) in enumerate(zip(columns["text"], columns["group"], columns["is_toxic"])):
        where = f"{path}:row {i + 1}"  # 1-based data row (CSV header excluded)
        if text is None or not str(text).strip():
            raise MijaError(f"{where}: empty text; remove the row or fill it")
        if name is None:
            raise MijaError(f"{where}: empty group; fill it with a taxonomy group")
        group = map_group("toxsyn-pt", name, f"{where} column 'group'")
        stance = "hate" if _truthy(toxic, f"{where} column 'is_toxic'") else "neutral"
        if group is None:
            continue
        for key, value in zip(SEED_SCHEMA.names, (str(text).strip(), group, "pt", "toxsyn-pt", stance)):
            rows[key].append(value)
    return _table(rows)


def read_seeds(paths: list[Path]) -> pa.Table:
    """Read several seed sources; a folder is ToxiGen-style, a table file is ToxSyn-PT-style."""
    tables = [read_toxigen(p) if Path(p).is_dir() else read_toxsyn(p) for p in paths]
    return pa.concat_tables(tables) if tables else _table({k: [] for k in SEED_SCHEMA.names})
