"""SecureBreak import: read annotated CSV / JSONL / Parquet files through a column-mapping YAML.

Every row is validated (empty response, missing or unknown label, unknown category; an unmapped
column or an empty file fails before any row) and gets its final label by the mapping's rule
(:func:`mijabench.derived.securebreak.final_label`). Errors name the file, line and field, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mijabench.derived.securebreak import (
    HUMAN,
    RULES,
    check_splits,
    final_label,
    label_key,
    make_row,
    parse_category,
    parse_label,
)
from mijabench.errors import MijaError, unknown_name
from mijabench.risk import LABELS, yaml_load
from mijabench.tables import read_rows

# --- the column mapping ------------------------------------------------------------------------
FIELDS = ("prompt", "response", "risk_category", "source_model", "attack_type", "language",
          # optional: the annotators' outcome category, an adjudication (label + the note saying
          # why; together they decide the row) and the source's own split (its test rows stay test)
          "outcome", "adjudicated_label", "adjudication_note", "source_split")
REQUIRED = ("prompt", "response", "risk_category")
MAPPING_KEYS = ("columns", "constants", "rule", "splits", "seed", "source", "category_aliases",
                "label_aliases")


@dataclass
class Mapping:
    """Where each SecureBreak field is in the input files (loaded from a small YAML)."""
    columns: dict                       # field -> input column name
    label_columns: list                 # one column per annotator (or one list-valued column)
    constants: dict = field(default_factory=dict)  # field -> value for fields absent from files
    rule: str = "conservative"
    splits: dict = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    seed: int = 0
    source: str = "securebreak"
    category_aliases: dict = field(default_factory=dict)
    label_aliases: dict = field(default_factory=dict)  # alias -> safe|unsafe
    path: str = "mapping"


def load_mapping(path: Path) -> Mapping:
    where = str(path)
    try:
        raw = yaml_load(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise MijaError(f"{where}: mapping file not found; pass --mapping FILE.yaml") from None
    except Exception as exc:  # yaml.YAMLError: report the position, not the content
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise MijaError(f"{where}:{line} is not valid YAML; fix the mapping file") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
        raise MijaError(f"{where}: expected a YAML mapping with a 'columns:' section "
                        "(field: input column); see dataset_builders/securebreak/README.md")
    for key in raw:
        if key not in MAPPING_KEYS:
            raise unknown_name("mapping key", key, list(MAPPING_KEYS), where)
    columns = dict(raw["columns"])
    labels = columns.pop("labels", None)
    for name in columns:
        if name not in FIELDS:
            raise unknown_name("field", name, list(FIELDS) + ["labels"], f"{where}: columns")
    constants = {k: str(v) for k, v in (raw.get("constants") or {}).items()}
    for name in constants:
        if name not in FIELDS or name in ("prompt", "response"):
            raise unknown_name("constant field", name,
                               [f for f in FIELDS if f not in ("prompt", "response")], where)
    if not labels:
        raise MijaError(f"{where}: columns.labels is missing; list the annotator label column(s)")
    for name in REQUIRED:
        if name not in columns and name not in constants:
            raise MijaError(f"{where}: columns.{name} is missing; map it to an input column")
    mapping = Mapping(columns=columns, label_columns=[labels] if isinstance(labels, str) else list(labels),
                      constants=constants, path=where,
                      **{k: raw[k] for k in ("rule", "splits", "seed", "source") if k in raw},
                      category_aliases=dict(raw.get("category_aliases") or {}),
                      label_aliases=_label_aliases(raw.get("label_aliases") or {}, where))
    if mapping.rule not in RULES:
        raise unknown_name("rule", mapping.rule, list(RULES), where)
    check_splits(mapping.splits, where)
    return mapping


def _label_aliases(raw: dict, where: str) -> dict:
    out = {}
    for label, aliases in raw.items():
        if label not in LABELS:
            raise unknown_name("label", label, list(LABELS), f"{where}: label_aliases")
        out.update({label_key(a): label for a in ([aliases] if isinstance(aliases, str) else aliases)})
    return out


def import_file(path: Path, mapping: Mapping) -> list[dict]:
    """Validated SecureBreak rows (dicts in SECUREBREAK_SCHEMA order) from one input file."""
    return import_rows(read_rows(path, "annotated SecureBreak file"), mapping, path)


def import_rows(rows: list[tuple[str, dict]], mapping: Mapping, path: Path | str) -> list[dict]:
    """The same from ``(where, row)`` pairs already read (``where`` names file and line)."""
    if not rows:
        raise MijaError(f"{path}: no rows to import")
    available = set(rows[0][1])
    for name, column in list(mapping.columns.items()) + [("labels", c) for c in mapping.label_columns]:
        if column not in available:
            raise MijaError(f"{path}: mapping {mapping.path} maps {name} to column {column!r}, which "
                            f"the file lacks; file columns: {', '.join(sorted(map(str, available)))}")
    name = Path(path).name
    return [_import_row(where, row, mapping, where.replace(str(path), name, 1)) for where, row in rows]


def _cell(row: dict, mapping: Mapping, name: str) -> str:
    if name in mapping.columns:
        value = row.get(mapping.columns[name])
        return "" if value is None else str(value)
    return mapping.constants.get(name, "")


def _votes(where: str, row: dict, mapping: Mapping) -> list[dict]:
    votes = []
    for column in mapping.label_columns:
        value = row.get(column)
        cells = value if isinstance(value, (list, tuple)) else [value]
        for i, cell in enumerate(cells):
            label = parse_label(cell, f"{where}: column {column}", mapping.label_aliases)
            if label is not None:
                name = column if len(cells) == 1 else f"{column}[{i}]"
                votes.append({"annotator": name, "label": label})
    if not votes:
        raise MijaError(f"{where}: missing label (no annotator labeled this row in "
                        f"{', '.join(mapping.label_columns)}); label it or drop the row")
    return votes


def _import_row(where: str, row: dict, mapping: Mapping, origin: str) -> dict:
    prompt, response = _cell(row, mapping, "prompt"), _cell(row, mapping, "response")
    if not response.strip():
        raise MijaError(f"{where}: field response is empty; every row needs the model output")
    category = parse_category(_cell(row, mapping, "risk_category"), f"{where}: field risk_category",
                              mapping.category_aliases)
    votes = _votes(where, row, mapping)
    adjudicated = parse_label(_cell(row, mapping, "adjudicated_label") or None,
                              f"{where}: field adjudicated_label", mapping.label_aliases) or ""
    note = _cell(row, mapping, "adjudication_note").strip()
    source_split = _cell(row, mapping, "source_split").strip().lower()
    final = final_label([v["label"] for v in votes], mapping.rule, where, adjudicated, note)
    return make_row(prompt, response, category, final, source=mapping.source,
                    origin=origin,
                    language=_cell(row, mapping, "language"),
                    source_model=_cell(row, mapping, "source_model"),
                    attack_type=_cell(row, mapping, "attack_type"),
                    annotator_labels=votes, label_source=HUMAN, label_rule=mapping.rule,
                    outcome=_cell(row, mapping, "outcome").strip().lower(), adjudicated_label=adjudicated,
                    adjudication_note=note, source_split=source_split)
