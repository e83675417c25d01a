"""Import the MiJaBench authors' published ("upstream") rows as benchmark prompts.

A released row carries the seed (``text`` or ``seed_text``), ``group``, ``language``, the scenario
(``scenario_theme`` or ``scenario_category`` plus ``scenario``), ``jb_strategy`` and the composed
``jb_prompt``. Names are taken as written in the wild: groups through
:func:`mijabench.bench.seeds.map_group` (plus a user ``--group-map``), languages as en/pt/English/
Portuguese/inglês/português, strategies and categories by id or EN/PT name. A missing or unknown
scenario category becomes ``unknown`` (:data:`UNKNOWN_CATEGORY`), counted in the dataset card. Align releases add one ``jb_response_<model>`` column per model and one
``jb_cls_<judge>_<model>`` column per (judge, model): a JSON string whose ``class`` is
safe/dangerous (EN) or segura/perigosa (PT).

* :func:`prompt_table` -> finished benchmark prompts (PROMPT_SCHEMA, config ``upstream``), used by
  the MiJaBench builder; :func:`prompt_rows_table` does the same for rows already in memory (an
  audited dataset config in the authors' format).
* :mod:`mijabench.derived.upstream_align` turns the same rows, with their responses and judge
  classes, into MiJaBench-Align rows.

The whole input is validated before anything is returned; messages name file, row and column,
never the (hateful by design) text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from mijabench import taxonomy
from mijabench.bench.seeds import map_group
from mijabench.errors import MijaError
from mijabench.schema import PROMPT_COLUMNS, PROMPT_SCHEMA, stable_id
from mijabench.tables import read_table
from mijabench.taxonomy import fold_name

log = logging.getLogger(__name__)

RESPONSE_PREFIX, CLS_PREFIX = "jb_response_", "jb_cls_"
UNKNOWN_CATEGORY = "unknown"  # scenario category of rows that give none (or one we cannot place)
LANGUAGE_NAMES = {"en": "en", "english": "en", "ingles": "en", "eng": "en", "en us": "en", "en gb": "en",
                  "pt": "pt", "portuguese": "pt", "portugues": "pt", "por": "pt", "pt br": "pt",
                  "pt pt": "pt"}
PROMPT_COLUMNS_IN = ("jb_prompt", "prompt")


@dataclass(frozen=True)
class ReleaseColumns:
    seed: str | None                  # None: the release has no seed column (rows get "")
    scenario_category: str | None     # None: no category column (rows get UNKNOWN_CATEGORY)
    models: tuple[str, ...]           # from jb_response_<model>
    judges: tuple[tuple[str, str, str], ...]  # (column, judge, model) from jb_cls_<judge>_<model>
    strategy: str = "jb_strategy"
    prompt: str = "jb_prompt"


@lru_cache(maxsize=8192)  # per row and per taxonomy name: millions of calls in a paper-scale import
def _name_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", fold_name(name)).strip()


def _taxonomy_id(kind: str, items: dict, name, where: str) -> str:
    """Map a released strategy/scenario name onto a taxonomy id (by id or EN/PT display name)."""
    key = _name_key(str(name or ""))
    for item in items.values():
        if key in {_name_key(item.id), *(_name_key(n) for n in item.names.values())}:
            return item.id
    raise MijaError(f"{where}: unknown {kind} {name!r}; valid {kind}s: {', '.join(items)} "
                    "(ids or their EN/PT display names)")


def strategy_id(name, where: str) -> str:
    return _taxonomy_id("strategy", taxonomy.strategies(), name, where)


def scenario_category_id(name) -> str:
    """A category id, or UNKNOWN_CATEGORY when the name is empty or matches no category/alias."""
    if name is None or not str(name).strip():
        return UNKNOWN_CATEGORY
    return taxonomy.resolve_scenario_category(str(name)) or UNKNOWN_CATEGORY  # ids, names, aliases


def language_id(name, where: str) -> str:
    """en/pt from a language as written: en, pt, English, Portuguese, inglês, português, pt-BR..."""
    try:
        return LANGUAGE_NAMES[_name_key(str(name or ""))]
    except KeyError:
        raise MijaError(f"{where}: unknown language {name!r}; valid languages: en, pt "
                        "(or English, Portuguese)") from None


def _pick(columns: list[str], options: tuple[str, ...], path: Path, required: bool = True) -> str | None:
    for option in options:
        if option in columns:
            return option
    if not required:
        return None
    raise MijaError(f"{path}: missing column {' or '.join(map(repr, options))}; "
                    f"found: {', '.join(columns)}")


def release_columns(columns: list[str], path: Path, need_models: bool) -> ReleaseColumns:
    """Check the released column layout; model and judge names come from the column names."""
    if not any(c in columns for c in PROMPT_COLUMNS_IN):
        raise MijaError(f"{path}: no prompt column; the authors' rows keep the jailbreak prompt in "
                        f"'jb_prompt' (found: {', '.join(columns)}); rename that column to jb_prompt")
    for required in ("group", "language"):
        _pick(columns, (required,), path)
    models = tuple(c[len(RESPONSE_PREFIX):] for c in columns if c.startswith(RESPONSE_PREFIX))
    if any(not m for m in models):
        raise MijaError(f"{path}: column {RESPONSE_PREFIX!r} has no model name; "
                        f"name it {RESPONSE_PREFIX}<model>")
    if need_models and not models:
        raise MijaError(f"{path}: no {RESPONSE_PREFIX}<model> columns; an Align release needs one "
                        "response column per model")
    judges = []
    for column in (c for c in columns if c.startswith(CLS_PREFIX)):
        rest = column[len(CLS_PREFIX):]
        # Longest model suffix wins: model and judge names may both contain underscores.
        owners = sorted((m for m in models if rest.endswith("_" + m) and len(rest) > len(m) + 1),
                        key=len, reverse=True)
        if not owners:
            raise MijaError(f"{path}: column {column!r} does not match {CLS_PREFIX}<judge>_<model> "
                            f"for any model with a {RESPONSE_PREFIX}<model> column "
                            f"({', '.join(models) or 'none'}); rename or drop it")
        judges.append((column, rest[: -len(owners[0]) - 1], owners[0]))
    return ReleaseColumns(seed=_pick(columns, ("seed_text", "text"), path, required=False),
                          scenario_category=_pick(columns, ("scenario_category", "scenario_theme"),
                                                  path, required=False),
                          strategy=_pick(columns, ("jb_strategy", "strategy"), path),
                          prompt=_pick(columns, PROMPT_COLUMNS_IN, path),
                          models=models, judges=tuple(judges))


def _text(value, where: str, column: str) -> str:
    if value is None or not str(value).strip():
        raise MijaError(f"{where}: empty {column!r}; fill it or drop the row")
    return str(value)


def _optional(raw: dict, column: str | None) -> str:
    value = raw.get(column) if column else None
    return "" if value is None else str(value)


def released_row(raw: dict, cols: ReleaseColumns, where: str, group_map: dict | None) -> dict | None:
    """One released (authors'-format) row as a MiJaBench prompt row; None for a group that is known
    but deliberately not imported."""
    group = map_group("upstream", _text(raw["group"], where, "group"), f"{where} column 'group'",
                      group_map)
    if group is None:  # known, deliberately not imported
        return None
    language = language_id(raw["language"], f"{where} column 'language'")
    if language not in taxonomy.group(group).languages:
        raise MijaError(f"{where} column 'group': group {group!r} is not part of MiJaBench-{language}; "
                        f"valid groups: {', '.join(taxonomy.groups_for(language))}; map the name "
                        "with --group-map FILE.yaml (`name: group id`, or null to skip it)")
    row = {
        "config": "upstream", "language": language, "group": group,
        "group_name": taxonomy.group(group).name(language),
        "strategy": strategy_id(raw[cols.strategy], f"{where} column {cols.strategy!r}"),
        "scenario_category": scenario_category_id(_optional(raw, cols.scenario_category)),
        "scenario": _optional(raw, "scenario"), "kind": "harmful", "intent_id": "",
        "seed_text": _optional(raw, cols.seed), "seed_source": "mijabench-upstream",
        "counterfactual_id": "", "template_id": "",
        "prompt": _text(raw[cols.prompt], where, cols.prompt), "rewriter": "upstream",
        "rewrite_attempts": 0,
    }
    row["id"] = stable_id("upstream", language, group, row["strategy"], row["scenario_category"],
                          row["scenario"], row["seed_text"], row["prompt"])
    return {k: row[k] for k in PROMPT_COLUMNS}


def _read_release(path: Path) -> pa.Table:
    return read_table(path, "released MiJaBench table (.parquet/.csv/.jsonl)")


def upstream_rows(path: Path, need_models: bool, group_map: dict | None = None):
    """(columns, [(where, raw row, prompt row)]) for every imported released row of ``path``."""
    path = Path(path)
    return _convert(_read_release(path), path, need_models, group_map)


def _convert(table: pa.Table, path, need_models: bool, group_map: dict | None):
    cols = release_columns(table.column_names, path, need_models)
    seen: set[str] = set()
    skipped = duplicates = 0
    out = []
    for i, raw in enumerate(table.to_pylist()):
        where = f"{path}:row {i + 1}"
        row = released_row(raw, cols, where, group_map)
        if row is None:
            skipped += 1
        elif row["id"] in seen:
            duplicates += 1  # the release repeats some rows verbatim; keep the first
        else:
            seen.add(row["id"])
            out.append((where, raw, row))
    if skipped or duplicates:
        log.info("%s: skipped %d rows of groups outside the taxonomy, %d duplicate rows",
                 path, skipped, duplicates)
    return cols, out


def prompt_table(path: Path, group_map: dict | None = None) -> pa.Table:
    """Released rows as finished benchmark prompts (config ``upstream``, kind ``harmful``)."""
    _, rows = upstream_rows(path, need_models=False, group_map=group_map)
    return pa.Table.from_pylist([row for _, _, row in rows], schema=PROMPT_SCHEMA)


def is_release_table(columns: list[str]) -> bool:
    """Rows in the authors' format (``jb_prompt``, ``jb_strategy``...) rather than PROMPT_SCHEMA."""
    return "jb_prompt" in columns or ("prompt" not in columns and "jb_strategy" in columns)


def prompt_rows_table(table: pa.Table, where: str, group_map: dict | None = None) -> pa.Table:
    """Authors'-format rows already in memory (e.g. one config of a Hub dataset) as prompts."""
    _, rows = _convert(table, where, need_models=False, group_map=group_map)
    return pa.Table.from_pylist([row for _, _, row in rows], schema=PROMPT_SCHEMA)
