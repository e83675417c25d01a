"""What a report folder exports besides the report: ``summary.json`` (checked against its JSON
Schema) and CSV files of its tables, for spreadsheets and pandas.

* ``summary.json`` follows ``mijabench/data/schemas/summary.schema.json`` (JSON Schema draft
  2020-12, version :data:`SCHEMA_VERSION`, also written into the file). A summary that does not
  validate is never written: that is a bug in mijabench, reported with the failing path.
* ``by_group.csv``, ``by_strategy.csv``, ``by_scenario.csv`` (plus ``by_language.csv`` and, when
  present, ``paired_tests.csv`` and ``over_refusal.csv``): one row per cell of the summary's table
  of the same name, the same numbers (rates as shares in [0, 1]).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa

from mijabench import atomic
from mijabench.errors import MijaError

SCHEMA_VERSION = 1
SCHEMA_FILE = "schemas/summary.schema.json"
CSV_TABLES = {"by_group": "by_group.csv", "by_strategy": "by_strategy.csv",
              "by_scenario": "by_scenario.csv", "by_language": "by_language.csv",
              "paired_tests": "paired_tests.csv", "over_refusal": "over_refusal.csv"}
REQUIRED_CSV = ("by_group", "by_strategy", "by_scenario")


@lru_cache(maxsize=1)
def schema() -> dict:
    """The summary.json JSON Schema shipped in the package."""
    return json.loads(resources.files("mijabench").joinpath(f"data/{SCHEMA_FILE}").read_text("utf-8"))


def schema_path() -> Path:
    return Path(str(resources.files("mijabench").joinpath(f"data/{SCHEMA_FILE}")))


def validate_summary(summary: dict, where: str = "summary.json") -> None:
    """Raise a one-line MijaError naming the first field that breaks the schema."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    error = next(iter(sorted(validator.iter_errors(summary), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise MijaError(f"{where}: field {path} breaks {SCHEMA_FILE} version {SCHEMA_VERSION} "
                        f"({error.validator} {_short(error.validator_value)}); this is a mijabench bug, "
                        "please report it")


def _short(value) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def write_summary(summary: dict, out_dir) -> dict[str, Path]:
    """Validate and write ``summary.json`` and the CSV tables into ``out_dir``; return them by name."""
    out_dir = Path(out_dir)
    summary.setdefault("schema_version", SCHEMA_VERSION)
    validate_summary(summary, str(out_dir / "summary.json"))
    written = {"summary.json": atomic.write_text(
        out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n")}
    written.update(write_csv_tables(summary, out_dir))
    return written


def write_csv_tables(summary: dict, out_dir) -> dict[str, Path]:
    """One CSV per summary table; the three per-axis tables always exist (a header when empty)."""
    from mijabench.tables import write_table

    written = {}
    for key, name in CSV_TABLES.items():
        if key not in summary and key not in REQUIRED_CSV:
            continue
        written[name] = write_table(Path(out_dir) / name, records_table(summary.get(key) or [], key), name)
    return written


def records_table(records: list[dict], key: str = "") -> pa.Table:
    """Summary records as an Arrow table (every key of every record; empty: the axis header)."""
    if not records:
        axis = {"by_group": "group", "by_strategy": "strategy", "by_scenario": "scenario_category"}.get(key)
        names = ["model", "language", axis] if axis else ["model", "language"]
        return pa.table({n: pa.array([], pa.string()) for n in names})
    keys = list(dict.fromkeys(k for r in records for k in r))
    try:
        return pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in records])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # a mixed-type column: a bug upstream
        raise MijaError(f"{key}: cannot export as CSV ({type(exc).__name__}); please report it") from None
