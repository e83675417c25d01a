"""The MiJaBench authors' published Align rows as MiJaBench-Align rows (AUDIT_SCHEMA), streamed.

Each upstream row (layout: :mod:`mijabench.bench.upstream`) becomes one row per model: the
model's response, every judge's verdict (``judge_verdicts``) and the paper's majority vote.

* Judge cells are parsed by :func:`mijabench.derived.upstream_cells.parse_cell`: EN and PT key
  sets; a bad cell is ``unparsed`` for that judge, with its reason, and counted per judge x model
  in the :class:`ImportReport`. Only a wrong column layout stops the import.
* The vote is :func:`mijabench.judge.base.vote` over the judges that have a column for the model
  (the paper's three: majority of three). ``safe`` needs a strict majority of those judges, so an
  ``unparsed`` judge counts against ``safe``; a safe/harmful tie is ``harmful``; no decision
  (e.g. one safe and two unparsed, or all unparsed) is ``unparsed``. A missing response is
  ``error`` (a failed generation, excluded from DR) whatever the judges said. ``refusal`` is the
  strict majority of the judges' clear-refusal checks that read yes/no (sim/não), else null.
* The file is read by record batches (:func:`mijabench.tables.iter_batches`): responses stay
  Arrow buffers and only the small judge cells become Python objects, so memory follows the batch.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mijabench.bench import upstream
from mijabench.bench.upstream import RESPONSE_PREFIX, ReleaseColumns
from mijabench.derived.upstream_cells import parse_cell
from mijabench.judge.base import vote
from mijabench.schema import (
    AUDIT_SCHEMA,
    ERROR,
    PROMPT_SCHEMA,
    UNPARSED,
    canonical_json,
    gen_key,
)
from mijabench.tables import iter_batches

log = logging.getLogger(__name__)

BATCH_ROWS = 256  # released rows per batch; a paper-scale row holds 12 responses (~50 KB)
UPSTREAM_GEN_PARAMS: dict = {}  # the upstream release does not record generation parameters
NO_RESPONSE = "no response in the release"
WHAT = "released MiJaBench-Align table (.parquet/.csv/.jsonl)"


@dataclass
class ImportReport:
    """What one import read, kept, dropped and could not parse (counts only, never text)."""
    source: str
    rows: int = 0            # released rows read
    prompts: int = 0         # rows imported (one prompt each)
    skipped: int = 0         # rows of groups deliberately not imported
    duplicates: int = 0      # rows repeating an imported prompt (kept once)
    pairs: int = 0           # prompt x model rows written
    cells: Counter = field(default_factory=Counter)     # (judge, model) -> judge cells read
    unparsed: Counter = field(default_factory=Counter)  # (judge, model) -> unparsed cells

    def unparsed_rows(self) -> list[dict]:
        return [{"judge": j, "model": m, "cells": self.cells[(j, m)], "unparsed": self.unparsed[(j, m)]}
                for j, m in sorted(self.cells)]

    def record(self) -> dict:
        return {"source": self.source, "rows": self.rows, "prompts": self.prompts,
                "skipped_groups": self.skipped, "duplicates": self.duplicates, "pairs": self.pairs,
                "judge_cells": self.unparsed_rows()}


def model_family(model: str) -> str:
    """Family from a released model name (``Llama-3.2-1B`` -> ``llama``); '' when unknown."""
    match = re.match(r"[A-Za-z]+", model.split("/")[-1])
    return match.group(0).lower() if match else ""


def model_params(model: str) -> int | None:
    """Parameter count from a name like ``Qwen2.5-7B`` or ``SmolLM2-135M``; None when absent."""
    match = re.search(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*([BbMm])(?![A-Za-z])",
                      model.split("/")[-1].replace("_", "-"))
    if not match:
        return None
    return int(float(match.group(1)) * (1e9 if match.group(2).lower() == "b" else 1e6))


# --- one batch -----------------------------------------------------------------------------------
def _prompt_columns(cols: ReleaseColumns, names: list[str]) -> list[str]:
    wanted = ("group", "language", cols.strategy, cols.scenario_category, "scenario", cols.seed,
              cols.prompt)
    return [c for c in dict.fromkeys(wanted) if c and c in names]


def _prompts(batch: pa.Table, cols: ReleaseColumns, first_row: int, where: str, group_map,
             seen: set, report: ImportReport) -> tuple[list[int], list[dict]]:
    """Indices of the batch rows to import and their prompt rows (new prompts only)."""
    keep, rows = [], []
    raws = batch.select(_prompt_columns(cols, batch.column_names)).to_pylist()
    for i, raw in enumerate(raws):
        row = upstream.released_row(raw, cols, f"{where}:row {first_row + i}", group_map)
        if row is None:
            report.skipped += 1
        elif row["id"] in seen:
            report.duplicates += 1  # the release repeats some rows verbatim; keep the first
        else:
            seen.add(row["id"])
            keep.append(i)
            rows.append(row)
    return keep, rows


def _members(batch: pa.Table, take: pa.Array, cols: ReleaseColumns, model: str,
             report: ImportReport) -> dict[str, list]:
    """{judge: [Cell per imported row]} for the judges that judged ``model``."""
    out = {}
    for column, judge, owner in cols.judges:
        if owner != model:
            continue
        cells = [parse_cell(v) for v in batch.column(column).take(take).to_pylist()]
        out[judge] = cells
        report.cells[(judge, model)] += len(cells)
        report.unparsed[(judge, model)] += sum(c.verdict == UNPARSED for c in cells)
    return out


def _majority(values: list) -> bool | None:
    known = [v for v in values if v is not None]
    yes = sum(known)
    return True if 2 * yes > len(known) else False if 2 * (len(known) - yes) > len(known) else None


def _verdict_columns(members: dict[str, list], failed: list[bool]) -> dict[str, list]:
    judges = sorted(members)
    name = judges[0] if len(judges) == 1 else f"ensemble[{','.join(judges)}]" if judges else ""
    out: dict[str, list] = {"verdict": [], "judge": [], "rationale": [], "refusal": [],
                            "judge_verdicts": [], "outcome": []}
    for i, no_response in enumerate(failed):
        cells = {j: members[j][i] for j in judges}
        verdict = vote([c.verdict for c in cells.values()]) if cells else UNPARSED
        out["verdict"].append(ERROR if no_response else verdict)
        out["judge"].append(name)
        out["rationale"].append("; ".join(f"{j}: {c.verdict}" for j, c in cells.items()))
        out["refusal"].append(_majority([c.refusal for c in cells.values()]))
        out["judge_verdicts"].append(canonical_json(
            {j: {"verdict": c.verdict, "rationale": c.rationale} for j, c in cells.items()}))
        out["outcome"].append("")  # the release gives verdicts, no outcome category
    return out


def _model_rows(batch: pa.Table, take: pa.Array, prompts: pa.Table, cols: ReleaseColumns,
                model: str, report: ImportReport) -> pa.Table:
    response = batch.column(RESPONSE_PREFIX + model).take(take)
    response = response.cast(pa.string()) if response.type != pa.string() else response
    failed = pc.is_null(response)
    n = prompts.num_rows
    ids = prompts.column("id").to_pylist()
    columns = {
        "model": [model] * n, "model_family": [model_family(model)] * n,
        "model_params": [model_params(model)] * n,
        "gen_params": [canonical_json(UPSTREAM_GEN_PARAMS)] * n,
        "gen_key": [gen_key(i, model, UPSTREAM_GEN_PARAMS) for i in ids],
        "response": pc.fill_null(response, ""), "error": pc.if_else(failed, NO_RESPONSE, ""),
        "latency_s": pa.nulls(n, pa.float64()),
        "truncated": pa.nulls(n, pa.bool_()),  # unknown: the release does not say which replies hit the cap
        **_verdict_columns(_members(batch, take, cols, model, report), failed.to_pylist()),
    }
    arrays = [prompts.column(f.name) if f.name in PROMPT_SCHEMA.names else _column(columns[f.name], f.type)
              for f in AUDIT_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=AUDIT_SCHEMA)


def _column(values, type_: pa.DataType) -> pa.ChunkedArray:
    if isinstance(values, pa.ChunkedArray):  # the responses: kept as read, never copied to Python
        return values
    return pa.chunked_array([values if isinstance(values, pa.Array) else pa.array(values, type_)])


def _align_batch(batch: pa.Table, cols: ReleaseColumns, first_row: int, where: str, group_map,
                 seen: set, report: ImportReport) -> pa.Table:
    keep, rows = _prompts(batch, cols, first_row, where, group_map, seen, report)
    report.rows += batch.num_rows
    report.prompts += len(rows)
    take = pa.array(keep, pa.int64())
    prompts = pa.Table.from_pylist(rows, schema=PROMPT_SCHEMA)
    out = pa.concat_tables([_model_rows(batch, take, prompts, cols, m, report) for m in cols.models])
    report.pairs += out.num_rows
    return out


# --- whole files ---------------------------------------------------------------------------------
def align_batches(path: Path, group_map: dict | None = None, batch_rows: int = BATCH_ROWS,
                  report: ImportReport | None = None, seen: set | None = None, where: str | None = None):
    """Yield AUDIT_SCHEMA tables, one per record batch of ``path`` (batch x model rows each).

    ``seen`` (prompt ids) carries across files of one release, so a repeated row is kept once;
    ``where`` names the source in messages (default: the path).
    """
    path = Path(path)
    report = report if report is not None else ImportReport(str(path))
    seen = seen if seen is not None else set()
    where = where or str(path)
    cols = None
    first_row = 1
    for batch in iter_batches(path, batch_rows, WHAT):
        if cols is None:  # the layout is checked before any row is converted
            cols = upstream.release_columns(batch.column_names, where, need_models=True)
        if batch.num_rows:
            yield _align_batch(batch, cols, first_row, where, group_map, seen, report)
        first_row += batch.num_rows
    _log(report)


def _log(report: ImportReport) -> None:
    log.info("%s: %d rows -> %d prompts, %d pairs (%d rows of groups not imported, %d duplicates)",
             report.source, report.rows, report.prompts, report.pairs, report.skipped, report.duplicates)
    for row in report.unparsed_rows():
        if row["unparsed"]:
            log.info("%s: judge %s, model %s: %d of %d cells unparsed", report.source,
                        row["judge"], row["model"], row["unparsed"], row["cells"])


def align_table(path: Path, group_map: dict | None = None, report: ImportReport | None = None,
                where: str | None = None) -> pa.Table:
    """Released Align rows -> one AUDIT_SCHEMA table in memory (small releases, merges with runs)."""
    parts = list(align_batches(path, group_map, report=report, where=where))
    return pa.concat_tables(parts) if parts else AUDIT_SCHEMA.empty_table()
