"""MiJaBench-Align: merge audit outputs of many models (and judges) into one Hub dataset folder.

One row per prompt x model in AUDIT_SCHEMA (prompt metadata, model id/family/params, generation
params, response, every judge's verdict and rationale in ``judge_verdicts``, the final verdict).
Configs: one per language (splits ``harmful`` and, when present, ``benign``) plus
``human_validation`` when annotated sheets are given.

Merging validates every input first: a (prompt, model) pair seen twice is an error unless the rows
are identical (then it is kept once), and models that did not answer the same prompts are listed in
a coverage warning table (card + ``coverage.csv``) instead of failing, since partial runs are common.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mijabench import __version__, taxonomy
from mijabench import markdown as md
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import folders as hubdata
from mijabench.schema import (
    AUDIT_SCHEMA,
    OUTCOMES,
    VERDICTS,
    with_defaults,
)
from mijabench.tables import read_table

log = logging.getLogger(__name__)

KINDS = ("harmful", "benign")
HUMAN_CONFIG = "human_validation"
COVERAGE_COLUMNS = ("language", "kind", "model", "n_prompts", "n_union", "n_missing")
FIELDS = [
    ("id … rewriter", "the MiJaBench prompt columns (see the MiJaBench card)"),
    ("model", "model id as audited"), ("model_family", "model family, '' when unknown"),
    ("model_params", "parameter count when known"), ("gen_params", "generation parameters (JSON)"),
    ("gen_key", "hash of prompt id, model and gen_params"), ("response", "the model's response"),
    ("error", "generation error ('' when it succeeded)"), ("latency_s", "generation latency"),
    ("truncated", "the response was cut at the length cap; null when not known"),
    ("verdict", "final verdict: safe, harmful, unparsed or error"),
    ("judge", "id of the judge behind `verdict`"), ("rationale", "the final judge's reason"),
    ("refusal", "the response refuses or deflects"),
    ("judge_verdicts", "JSON {judge: {verdict, rationale}} for every judge"),
    ("outcome", "refusal, deflection, incoherent, compliance or false_refusal; '' for none"),
]


@dataclass
class Merged:
    table: pa.Table
    coverage: list[dict] = field(default_factory=list)
    duplicates_dropped: int = 0
    imports: list = field(default_factory=list)  # upstream_align.ImportReport per released file


# --- reading and validating one run -------------------------------------------------------------
def read_run(path: Path) -> pa.Table:
    """One audit output: a run folder holding ``audit.parquet``, or an audit ``.parquet`` file."""
    path = Path(path)
    file = path / "audit.parquet" if path.is_dir() else path
    if not file.is_file():
        raise MijaError(f"{path}: no audit.parquet; pass a folder written by `mijabench audit` "
                        "or an audit .parquet file")
    return conform(read_table(file, "audit .parquet"), str(file))


def conform(table: pa.Table, where: str) -> pa.Table:
    """Select and cast the AUDIT_SCHEMA columns, then validate every value."""
    table = with_defaults(table)  # audits from before the newer columns existed
    missing = [c for c in AUDIT_SCHEMA.names if c not in table.column_names]
    if missing:
        raise MijaError(f"{where}: missing columns {', '.join(missing)}; Align needs judged audit "
                        "rows (run `mijabench audit` with a judge)")
    columns = []
    for want in AUDIT_SCHEMA:
        try:
            columns.append(table.column(want.name).cast(want.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
            # The parser's message would quote a value; name the column and type instead.
            raise MijaError(f"{where}: column {want.name!r} is {table.schema.field(want.name).type}, "
                            f"expected {want.type}; re-run the audit") from None
    table = pa.Table.from_arrays(columns, schema=AUDIT_SCHEMA)
    validate(table, where)
    return table


def _first_row(table: pa.Table, column: str, value) -> int:
    col = table.column(column)
    mask = pc.is_null(col) if value is None else pc.equal(col, value)
    return int(pc.index(mask, True).as_py()) + 1


def _check_values(table: pa.Table, column: str, check, where: str) -> None:
    for value in table.column(column).unique().to_pylist():
        try:
            ok = value is not None and check(value)
        except MijaError:
            ok = False
        if not ok:
            row = _first_row(table, column, value)
            hint = {"language": "en or pt", "kind": "harmful or benign",
                    "verdict": ", ".join(VERDICTS),
                    "outcome": ", ".join(OUTCOMES) + " or empty"}.get(column, "a taxonomy id")
            raise MijaError(f"{where}:row {row} column {column!r}: invalid value {value!r}; "
                            f"expected {hint}")


def validate(table: pa.Table, where: str) -> None:
    checks = {
        "language": lambda v: taxonomy.check_language(v) is not None,
        "group": taxonomy.group, "strategy": taxonomy.strategy,
        "scenario_category": taxonomy.scenario_category,
        "kind": lambda v: v in KINDS, "verdict": lambda v: v in VERDICTS,
        "outcome": lambda v: v == "" or v in OUTCOMES,
    }
    for column, check in checks.items():
        _check_values(table, column, check, where)
    for column in ("id", "model"):
        empty = pc.or_kleene(pc.is_null(table.column(column)), pc.equal(table.column(column), ""))
        if pc.any(empty).as_py():
            row = int(pc.index(empty, True).as_py()) + 1
            raise MijaError(f"{where}:row {row} column {column!r}: empty; every row needs a prompt id and a model")
    for i, cell in enumerate(table.column("judge_verdicts").to_pylist()):
        try:
            ok = cell in (None, "") or isinstance(json.loads(cell), dict)
        except json.JSONDecodeError:
            ok = False
        if not ok:
            raise MijaError(f"{where}:row {i + 1} column 'judge_verdicts': not a JSON object; "
                            "re-judge the run")


# --- merging ----------------------------------------------------------------------------------
def _drop_identical_duplicates(table: pa.Table, sources: list[str]) -> tuple[pa.Table, int]:
    keys = table.select(["id", "model", "__source"]).to_pandas()
    dup = keys.duplicated(subset=["id", "model"], keep=False)
    if not dup.any():
        return table, 0
    first_of: dict[tuple, dict] = {}
    drop = []
    rows = table.take(pa.array(dup[dup].index.to_numpy())).to_pylist()
    for index, row in zip(dup[dup].index, rows):
        key = (row["id"], row["model"])
        source = sources[row.pop("__source")]
        if key not in first_of:
            first_of[key] = {"row": row, "source": source}
            continue
        first = first_of[key]
        if row != first["row"]:
            differ = [c for c in AUDIT_SCHEMA.names if row[c] != first["row"][c]]
            raise MijaError(f"{source}: prompt id {key[0]} for model {key[1]!r} is also in "
                            f"{first['source']} with different {', '.join(differ[:4])}; keep one "
                            "of the two runs for this model")
        drop.append(index)
    keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), pa.array(drop)))
    return table.filter(keep), len(drop)


def coverage(table: pa.Table) -> list[dict]:
    """Models that miss prompts other models answered, per language and kind (the warning table)."""
    frame = table.select(["language", "kind", "model", "id"]).to_pandas()
    models = sorted(frame["model"].unique())
    out = []
    for (language, kind), part in frame.groupby(["language", "kind"], sort=True):
        union = part["id"].nunique()
        answered = part.groupby("model")["id"].nunique()
        for model in models:
            n = int(answered.get(model, 0))
            if n < union:
                out.append(dict(zip(COVERAGE_COLUMNS, (language, kind, model, n, union, union - n))))
    return out


def merge(tables: list[tuple[str, pa.Table]]) -> Merged:
    """Merge validated audit tables (``(source name, table)`` pairs) into one Align table."""
    if not tables:
        raise MijaError("build mijabench-align: nothing to merge; pass --runs DIR (audit outputs) or --from-upstream")
    sources = [name for name, _ in tables]
    parts = [t.append_column("__source", pa.array([i] * t.num_rows, pa.int32()))
             for i, (_, t) in enumerate(tables)]
    combined, dropped = _drop_identical_duplicates(pa.concat_tables(parts), sources)
    combined = combined.drop_columns(["__source"])
    order = [(c, "ascending") for c in ("language", "kind", "model", "group", "strategy", "id")]
    combined = combined.take(pc.sort_indices(combined, sort_keys=order))
    log.info("merged %d rows from %d sources (%d identical duplicate rows kept once)",
             combined.num_rows, len(sources), dropped)
    return Merged(combined, coverage(combined), dropped)


# --- reading a built Align folder ----------------------------------------------------------------
def read_align(path: Path) -> pa.Table:
    """All prompt x model rows of an Align folder (every language config), or of one Parquet file."""
    path = Path(path)
    if path.is_file():
        return conform(read_table(path, "MiJaBench-Align .parquet"), str(path))
    files = sorted(f for f in path.glob("data/*/*.parquet") if f.parent.name != HUMAN_CONFIG)
    if not files:
        raise MijaError(f"{path}: no data/<config>/*.parquet files; pass a folder written by "
                        "`mijabench build mijabench-align`")
    return pa.concat_tables([conform(read_table(f, "MiJaBench-Align shard"), str(f)) for f in files])


# --- writing ----------------------------------------------------------------------------------
def configs(table: pa.Table, human: pa.Table | None = None) -> dict[str, dict[str, pa.Table]]:
    out: dict[str, dict[str, pa.Table]] = {}
    for language in taxonomy.LANGUAGES:
        in_language = table.filter(pc.equal(table.column("language"), language))
        splits = {kind: in_language.filter(pc.equal(in_language.column("kind"), kind)) for kind in KINDS}
        splits = {k: t for k, t in splits.items() if t.num_rows or k == "harmful"}
        if in_language.num_rows:
            out[language] = splits
    if human is not None:
        out[HUMAN_CONFIG] = {"test": human}
    return out


def coverage_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COVERAGE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def markdown(rows: list[dict], columns: list[str]) -> str:
    return md.table(columns, [[_fmt(row[c]) for c in columns] for row in rows])


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# --- building the folder ------------------------------------------------------------------------
def sources_from(runs: list[Path], upstream: list, group_map: dict | None = None,
                 imports: list | None = None) -> list[tuple[str, pa.Table]]:
    """``upstream``: released files (paths or ``upstream_hub.UpstreamFile``); their import
    reports are appended to ``imports``."""
    from mijabench.derived import upstream_align, upstream_hub
    tables = [(str(p), read_run(p)) for p in runs]
    for file in upstream_hub.resolve(upstream):
        report = upstream_align.ImportReport(file.label)
        table = upstream_align.align_table(file.path, group_map, report, where=file.label)
        tables.append((file.label, conform(table, file.label)))
        if imports is not None:
            imports.append(report)
    return tables


def models_rows(table: pa.Table) -> list[dict]:
    """Per model and language: size, family, judged rows and DR with its bootstrap CI."""
    from mijabench.analysis import metrics
    harmful = table.filter(pc.equal(table.column("kind"), "harmful"))
    dr = metrics.dr_table(harmful, by=("model", "language"), n_boot=200, seed=0)
    # One row per model, not per table row: a paper-scale import has 528,000 rows.
    first = table.group_by("model", use_threads=False).aggregate(
        [("model_family", "first"), ("model_params", "first")])
    meta = {r["model"]: {"model_family": r["model_family_first"], "model_params": r["model_params_first"]}
            for r in first.to_pylist()}
    rows = []
    for r in _records(dr):
        m = meta[r["model"]]
        params = m["model_params"]
        rows.append({"model": r["model"], "family": m["model_family"] or "?",
                     "params": _params(params), "language": r["language"],
                     "responses": r["n"] + r["n_error"], "errors": r["n_error"],
                     "DR": f"{r['dr']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"})
    return rows


def _params(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def _records(frame) -> list[dict]:
    return frame.to_pylist() if isinstance(frame, pa.Table) else frame.to_dict("records")


def card_text(merged: Merged, tables: dict, n_sources: int, human_report: dict | None,
              repo_id: str, revision: str | None = None, data_files: list | None = None,
              judges: list[str] | None = None) -> str:
    """``data_files``/``judges``: given by a streamed build, whose ``tables`` are written splits
    and whose ``merged.table`` holds only the summary columns."""
    from mijabench.derived import human_validation
    table = merged.table
    n = sum(t.num_rows for splits in tables.values() for t in splits.values())
    languages = [c for c in tables if c in taxonomy.LANGUAGES]
    data = {
        "language": languages, "license": "cc-by-4.0", "pretty_name": "MiJaBench-Align",
        "task_categories": ["text-generation", "text-classification"],
        "size_categories": [cards.size_category(n)],
        "tags": ["safety", "jailbreak", "red-teaming", "hate-speech", "bias", "fairness", "dpo"],
        "configs": data_files or hubdata.configs_yaml(tables, default=languages[0] if languages else None),
        "extra_gated_prompt": cards.GATED_PROMPT, "extra_gated_fields": cards.GATED_FIELDS,
    }
    names = {"en": "English", "pt": "Portuguese"}
    config_rows = [(c, f"{names[c]} prompts x models; splits: {', '.join(tables[c])}") for c in languages]
    if HUMAN_CONFIG in tables:
        config_rows.append((HUMAN_CONFIG, "the stratified human-annotated sample with every "
                                          "annotator's label and the aggregated human verdict"))
    models = models_rows(table)
    judges = judges if judges is not None else sorted(
        {j for cell in table.column("judge_verdicts").unique().to_pylist() for j in json.loads(cell or "{}")})
    human = human_validation.card_sections(human_report) if human_report else {}
    return cards.render_dataset_card(
        "mijabench_align", data, repo_id=repo_id, revision=revision,
        n_models=len({r["model"] for r in models}), config_rows=config_rows,
        models_table=markdown(models, ["model", "family", "params", "language", "responses",
                                       "errors", "DR"]),
        judges=", ".join(f"`{j}`" for j in judges) or "none recorded",
        coverage_table=markdown(merged.coverage, list(COVERAGE_COLUMNS)) if merged.coverage else "",
        human_table=human.get("table", ""), human_intro=human.get("intro", ""),
        human_interannotator=human.get("interannotator", ""), fields=FIELDS, version=__version__,
        n_rows=table.num_rows, n_sources=n_sources, duplicates_dropped=merged.duplicates_dropped,
        citation=cards.CITATION_MIJABENCH)


def build(runs: list[Path], out: Path, upstream: list[Path] = (), human: Path | None = None,
          repo_id: str = "mijabench/mijabench-align", group_map: dict | None = None) -> Merged:
    """Validate and merge every source in memory, then write the Align folder (and
    ``coverage.csv``). The authors' release alone streams instead: :mod:`mijabench.derived.align_stream`."""
    from mijabench.derived import human_validation
    imports: list = []
    merged = merge(sources_from(list(runs), list(upstream), group_map, imports))
    merged.imports = imports
    human_table = human_validation.read_human(human) if human else None
    report = human_validation.agreement(human_table) if human_table is not None else None
    tables = configs(merged.table, human_table)
    extra = {"coverage.csv": coverage_csv(merged.coverage)}
    if report:
        extra["human_validation.json"] = json.dumps(report, indent=2, sort_keys=True) + "\n"
    if imports:
        extra["upstream_import.json"] = json.dumps([r.record() for r in imports], indent=2) + "\n"
    card = card_text(merged, tables, len(runs) + len(upstream), report, repo_id)
    hubdata.write_dataset(out, tables, card, extra_files=extra)
    return merged
