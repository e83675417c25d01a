"""Seed importers: ToxiGen-style text files, ToxSyn-PT-style tables, and the authors' released rows.

Every importer validates the whole input before returning and raises a one-line MijaError naming
file:line (or file:row/column) on bad input; nothing is written anywhere, so a bad file changes
nothing on disk. Seed text never appears in messages: it is hateful by design.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import yaml

from mijabench import taxonomy
from mijabench.errors import MijaError
from mijabench.tables import read_table
from mijabench.taxonomy import fold_name

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


PEOPLE_WORDS = {"person": "people", "persons": "people", "peoples": "people"}
SOURCES = ("toxigen", "toxsyn-pt", "upstream")  # sections of group_aliases.yaml besides `common`


def _singular(word: str) -> str:
    """Crude EN/PT singular, applied to both sides of every lookup (so it only has to be stable)."""
    if word in PEOPLE_WORDS:
        return PEOPLE_WORDS[word]
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"          # disabilities -> disability
    if word.endswith(("res", "zes")):
        return word[:-2]                # mulheres -> mulher
    return word[:-1]                    # jews -> jew, pessoas negras -> pessoa negra


def name_key(name: object) -> str:
    """The matching key of a group name: case, accents, separators and plurals ignored."""
    words = re.sub(r"[\s_\-/]+", " ", fold_name(str(name))).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(_singular(w) for w in words)


@cache
def _builtin(source: str) -> dict[str, str | None]:
    """Every accepted spelling for ``source``: ids, display names, common and source labels."""
    aliases = group_aliases()
    index: dict[str, str | None] = {}
    for group in taxonomy.groups().values():
        for name in (group.id, *group.names.values()):
            index[name_key(name)] = group.id
    for section in ("common", *SOURCES):
        for name, target in (aliases.get(section) or {}).items():
            if target is not None:
                index.setdefault(name_key(name), target)
    index.update({name_key(k): v for k, v in (aliases.get(source) or {}).items()})
    return index


def map_group(source: str, name: str, where: str, group_map: dict | None = None) -> str | None:
    """Map a group name as written in ``source`` to a taxonomy id (None = known, not imported).

    ``group_map`` (from :func:`read_group_map`) is consulted first, then the built-in names.
    """
    key = name_key(name)
    for table in ({name_key(k): v for k, v in (group_map or {}).items()}, _builtin(source)):
        if key in table:
            return table[key]
    raise MijaError(f"{where}: unknown group {str(name)!r}; valid groups: "
                    f"{', '.join(taxonomy.groups())} (ids, their EN/PT names or common spellings); "
                    "map other names with --group-map FILE.yaml (one `name: group id` a line)")


def read_group_map(path: Path) -> dict[str, str | None]:
    """A ``--group-map`` YAML file: ``name: group`` lines (a group id or any accepted name; null
    skips that group). An optional top-level ``groups:`` key may hold the mapping."""
    path = Path(path)
    where = f"--group-map {path}"
    if not path.is_file():
        raise MijaError(f"{where}: file not found; pass a YAML file of `name: group id` lines")
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except UnicodeDecodeError:
        raise MijaError(f"{where}: not valid UTF-8; re-save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise MijaError(f"{where}: not valid YAML{at}; write one `name: group id` a line") from None
    if isinstance(raw, dict) and set(raw) == {"groups"}:
        raw = raw["groups"]
    if not isinstance(raw, dict) or not raw:
        raise MijaError(f"{where}: expected a mapping of group name -> taxonomy group id "
                        "(`Roma people: null` skips a group); got no mapping")
    out: dict[str, str | None] = {}
    for name, target in raw.items():
        if not isinstance(name, (str, int)) or not isinstance(target, (str, type(None))):
            raise MijaError(f"{where}: entry {str(name)!r}: expected `name: group id` (text) or "
                            "`name: null`")
        out[str(name)] = None if target is None else _map_target(target, f"{where}: entry {str(name)!r}")
    return out


def _map_target(target: str, where: str) -> str:
    try:
        group = _builtin("upstream")[name_key(target)]
    except KeyError:
        raise MijaError(f"{where}: unknown group {target!r}; map names onto one of: "
                        f"{', '.join(taxonomy.groups())} (or null to skip them)") from None
    if group is None:  # not reachable today: the upstream section maps every name it lists
        raise MijaError(f"{where}: {target!r} is not imported; write null to skip it")
    return group


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


def read_toxigen(path: Path, group_map: dict | None = None) -> pa.Table:
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
        group = map_group("toxigen", name, str(file), group_map)
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


def read_toxsyn(path: Path, group_map: dict | None = None) -> pa.Table:
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
        group = map_group("toxsyn-pt", name, f"{where} column 'group'", group_map)
        stance = "hate" if _truthy(toxic, f"{where} column 'is_toxic'") else "neutral"
        if group is None:
            continue
        for key, value in zip(SEED_SCHEMA.names, (str(text).strip(), group, "pt", "toxsyn-pt", stance)):
            rows[key].append(value)
    return _table(rows)


def read_seeds(paths: list[Path], group_map: dict | None = None) -> pa.Table:
    """Read several seed sources; a folder is ToxiGen-style, a table file is ToxSyn-PT-style."""
    tables = [read_toxigen(p, group_map) if Path(p).is_dir() else read_toxsyn(p, group_map)
              for p in paths]
    return pa.concat_tables(tables) if tables else _table({k: [] for k in SEED_SCHEMA.names})
