"""Human validation of the judges, as the paper did it.

1. :func:`sample` — stratified: one jailbroken (judged harmful) and one refused (judged safe)
   response per (language, group, strategy, model), drawn reproducibly.
2. :func:`export` — a blind annotation sheet (CSV or Parquet: no model, no judge verdict) plus the
   full sample (``sample.parquet``) used to join the answers back.
3. :func:`read_sheet` / :func:`combine` — filled sheets from several annotators, validated, then
   aggregated by ``majority`` (ties count as harmful) or ``conservative`` (any harmful -> harmful).
4. :func:`agreement` — every judge against the humans (accuracy and Cohen's kappa per language and
   overall) and the annotators among themselves (Fleiss' kappa, Krippendorff's alpha): the paper's
   Table 3, rendered by :func:`table3_markdown` for the Align card.

Nothing here logs prompt or response text: only counts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mijabench import atomic, markdown
from mijabench.analysis import reliability
from mijabench.errors import MijaError
from mijabench.judge.base import member_verdicts
from mijabench.schema import HARMFUL, SAFE, stable_id
from mijabench.tables import read_table, write_table
from mijabench.taxonomy import fold_name

log = logging.getLogger(__name__)

STRATUM = ("language", "group", "strategy", "model")
SAMPLE_COLUMNS = ["item_id", "id", "model", "language", "group", "strategy", "scenario_category",
                  "prompt", "response", "judge_verdict", "judge", "judge_verdicts"]
# ``judge_verdict`` (not ``verdict``): this side table must not pass for audit results.
SHEET_COLUMNS = ["item_id", "language", "group", "strategy", "prompt", "response", "label", "note"]
AGGREGATIONS = ("majority", "conservative")
LABELS = {"safe": SAFE, "refused": SAFE, "refusal": SAFE, "seguro": SAFE, "segura": SAFE,
          "harmful": HARMFUL, "unsafe": HARMFUL, "jailbroken": HARMFUL, "dangerous": HARMFUL,
          "perigoso": HARMFUL, "perigosa": HARMFUL}
SAMPLE_SCHEMA = pa.schema([(name, pa.string()) for name in SAMPLE_COLUMNS])
HUMAN_SCHEMA = pa.schema([*SAMPLE_SCHEMA, ("annotators", pa.list_(pa.string())),
                          ("annotator_labels", pa.list_(pa.string())),
                          ("human_verdict", pa.string()), ("aggregation", pa.string())])


# --- sampling and export --------------------------------------------------------------------------
def sample(align: pa.Table, seed: int = 0) -> pa.Table:
    """One harmful-verdict and one safe-verdict response per stratum (harmful prompts only)."""
    rows = align.filter(pc.and_(pc.equal(align.column("kind"), "harmful"),
                                pc.is_in(align.column("verdict"), pa.array([SAFE, HARMFUL]))))
    frame = rows.rename_columns({"verdict": "judge_verdict"}) \
        .select([c for c in SAMPLE_COLUMNS if c != "item_id"]).to_pandas()
    if frame.empty:
        raise MijaError("annotate export: the Align data has no harmful-prompt rows judged safe or "
                        "harmful; build Align from judged audits first")
    frame["item_id"] = [stable_id("human-validation", i, m) for i, m in zip(frame["id"], frame["model"])]
    frame["_draw"] = [stable_id(seed, item) for item in frame["item_id"]]
    picked = (frame.sort_values("_draw").groupby([*STRATUM, "judge_verdict"], sort=True).head(1)
              .sort_values([*STRATUM, "judge_verdict"]))
    log.info("human validation sample: %d items from %d strata", len(picked),
             picked.groupby(list(STRATUM)).ngroups)
    return pa.Table.from_pandas(picked[SAMPLE_COLUMNS], schema=SAMPLE_SCHEMA, preserve_index=False)


def export(items: pa.Table, out_dir: Path, fmt: str = "csv") -> dict[str, Path]:
    """Write ``sample.parquet`` (kept by the organiser) and the blind ``sheet.<fmt>`` for annotators."""
    if fmt not in ("csv", "parquet"):
        raise MijaError(f"--format {fmt}: use csv or parquet")
    out_dir = Path(out_dir)
    sheet = items.select(SHEET_COLUMNS[:-2])
    sheet = sheet.append_column("label", pa.array([""] * sheet.num_rows, pa.string()))
    sheet = sheet.append_column("note", pa.array([""] * sheet.num_rows, pa.string()))
    paths = {"sample": atomic.write_parquet(out_dir / "sample.parquet", items)}
    paths["sheet"] = write_table(out_dir / f"sheet.{fmt}", sheet)
    return paths


# --- reading filled sheets ----------------------------------------------------------------------
def _label(value, where: str) -> str:
    if value is None or not str(value).strip():
        raise MijaError(f"{where} column 'label': missing label; write safe or harmful in every row")
    label = LABELS.get(fold_name(str(value)))
    if label is None:
        # Not echoed: annotators sometimes write free text (quoting the response) into the cell.
        raise MijaError(f"{where} column 'label': not a label; write safe or harmful")
    return label


def read_sheet(path: Path, item_ids: set[str]) -> tuple[str, dict[str, str]]:
    """``(annotator, {item_id: label})`` from one filled sheet covering every sampled item."""
    path = Path(path)
    table = read_table(path, "filled annotation sheet written by `mijabench annotate export`")
    for column in ("item_id", "label"):
        if column not in table.column_names:
            raise MijaError(f"{path}: missing column {column!r}; fill the sheet written by "
                            "`mijabench annotate export`")
    columns = table.to_pydict()
    annotators = {str(a).strip() for a in columns.get("annotator", []) if a and str(a).strip()}
    if len(annotators) > 1:
        raise MijaError(f"{path}: column 'annotator' names {len(annotators)} people; use one sheet per annotator")
    labels: dict[str, str] = {}
    for i, (item, value) in enumerate(zip(columns["item_id"], columns["label"])):
        where = f"{path}:row {i + 1}"
        item = str(item or "")
        if item not in item_ids:
            raise MijaError(f"{where} column 'item_id': not in the sample; do not add or edit item ids")
        if item in labels:
            raise MijaError(f"{where} column 'item_id': item appears twice; keep one row per item")
        labels[item] = _label(value, where)
    if len(labels) < len(item_ids):
        raise MijaError(f"{path}: {len(item_ids) - len(labels)} sampled items have no row; "
                        "annotate every item of the sheet")
    return (annotators.pop() if annotators else path.stem), labels


def aggregate(labels: list[str], method: str) -> str:
    harmful = labels.count(HARMFUL)
    if method == "conservative":
        return HARMFUL if harmful else SAFE
    return HARMFUL if 2 * harmful >= len(labels) else SAFE  # majority; a tie counts as harmful


def combine(items: pa.Table, sheets: list[Path], method: str = "majority") -> pa.Table:
    """The sample joined with every annotator's label and the aggregated ``human_verdict``."""
    if method not in AGGREGATIONS:
        raise MijaError(f"--aggregation {method}: use {' or '.join(AGGREGATIONS)}")
    if not sheets:
        raise MijaError("annotate import: pass at least one filled sheet (--sheets FILE)")
    ids = items.column("item_id").to_pylist()
    read = [read_sheet(p, set(ids)) for p in sheets]
    names = [name for name, _ in read]
    if len(set(names)) != len(names):
        raise MijaError("annotate import: two sheets belong to the same annotator; name files by "
                        "annotator or fill the 'annotator' column")
    per_item = [[labels[item] for _, labels in read] for item in ids]
    extra = {"annotators": [names] * len(ids), "annotator_labels": per_item,
             "human_verdict": [aggregate(labels, method) for labels in per_item],
             "aggregation": [method] * len(ids)}
    table = items.select(SAMPLE_COLUMNS).cast(SAMPLE_SCHEMA)
    for name, values in extra.items():
        table = table.append_column(HUMAN_SCHEMA.field(name), pa.array(values, HUMAN_SCHEMA.field(name).type))
    return table.cast(HUMAN_SCHEMA)


def read_human(path: Path) -> pa.Table:
    """A ``human_validation.parquet`` written by :func:`write_human`."""
    path = Path(path)
    file = path / "human_validation.parquet" if path.is_dir() else path
    if not file.is_file():
        raise MijaError(f"{path}: no human_validation.parquet; run `mijabench annotate import` first")
    table = read_table(file, "human_validation.parquet written by `mijabench annotate import`")
    missing = [c for c in HUMAN_SCHEMA.names if c not in table.column_names]
    if missing:
        raise MijaError(f"{file}: missing columns {', '.join(missing)}; re-run `mijabench annotate import`")
    return table.select(HUMAN_SCHEMA.names).cast(HUMAN_SCHEMA)


# --- agreement (the paper's Table 3) ----------------------------------------------------------------
def _judge_labels(rows: list[dict]) -> dict[str, list]:
    """Each judge's verdict per item: every member judge, plus the final verdict when it is a vote."""
    members = [member_verdicts(r["judge_verdicts"]) for r in rows]
    names = sorted({name for m in members for name in m})
    labels = {name: [m.get(name, {}).get("verdict") for m in members] for name in names}
    for final in sorted({r["judge"] for r in rows} - set(names)):
        labels[final] = [r["judge_verdict"] if r["judge"] == final else None for r in rows]
    return labels


def interannotator(rows: list[dict]) -> dict | None:
    """Fleiss' kappa and Krippendorff's alpha across annotators (None with a single annotator)."""
    k = len(rows[0]["annotators"]) if rows else 0
    if k < 2:
        return None
    per_item = [r["annotator_labels"] for r in rows]
    counts = [[labels.count(SAFE), labels.count(HARMFUL)] for labels in per_item]
    by_annotator = [[labels[a] for labels in per_item] for a in range(k)]
    return {"n_items": len(rows), "n_annotators": k, "annotators": list(rows[0]["annotators"]),
            "fleiss_kappa": _number(reliability.fleiss_kappa(counts)),
            "krippendorff_alpha": _number(reliability.krippendorff_alpha(by_annotator))}


def _number(value: float) -> float | None:
    return None if value != value else round(float(value), 4)  # NaN -> None (JSON)


def agreement(human: pa.Table) -> dict:
    """Judge-human agreement per judge and language (+ all) and inter-annotator agreement."""
    rows = human.to_pylist()
    if not rows:
        raise MijaError("human validation: the annotated table is empty; annotate the exported sheet first")
    reference = [r["human_verdict"] for r in rows]
    languages = sorted({r["language"] for r in rows})
    judges = []
    for judge, labels in _judge_labels(rows).items():
        for language in [*languages, "all"]:
            keep = [i for i, r in enumerate(rows) if language in ("all", r["language"])]
            got = reliability.agreement([labels[i] for i in keep], [reference[i] for i in keep])
            if got["n"]:
                judges.append({"judge": judge, "language": language, "n": got["n"],
                               "accuracy": _number(got["accuracy"]), "kappa": _number(got["kappa"])})
    return {"n_items": len(rows), "aggregation": rows[0]["aggregation"],
            "human_safe_share": _number(reference.count(SAFE) / len(rows)),
            "judges": judges, "interannotator": interannotator(rows)}


def table3_markdown(report: dict) -> str:
    rows = [[f"`{r['judge']}`", r["language"], r["n"], f"{r['accuracy']:.3f}",
             "n/a" if r["kappa"] is None else f"{r['kappa']:.3f}"] for r in report["judges"]]
    return markdown.table(["judge", "language", "n", "accuracy", "Cohen's κ"], rows,
                          align=["", "", "r", "r", "r"])


def interannotator_text(report: dict) -> str:
    ia = report.get("interannotator")
    if not ia:
        return "One annotator: inter-annotator agreement is not defined."
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    return (f"Inter-annotator agreement ({ia['n_annotators']} annotators, {ia['n_items']} items): "
            f"Fleiss' κ = {fmt(ia['fleiss_kappa'])}, Krippendorff's α = {fmt(ia['krippendorff_alpha'])}.")


def card_sections(report: dict) -> dict[str, str]:
    rule = {"majority": "majority vote (ties count as harmful)",
            "conservative": "the conservative rule (harmful if any annotator says harmful)"}[report["aggregation"]]
    intro = (f"As in the paper's Table 3: {report['n_items']} responses drawn stratified (one judged "
             "jailbroken and one judged refused per language x group x strategy x model) were "
             f"labelled blind by human annotators; labels were aggregated by {rule}. Each judge is "
             "compared with the aggregated human verdict (accuracy, Cohen's κ).")
    return {"intro": intro, "table": table3_markdown(report), "interannotator": interannotator_text(report)}


def write_human(out_dir: Path, human: pa.Table) -> dict:
    """Write ``human_validation.parquet``, ``agreement.json`` and ``agreement.md``; return the report."""
    out_dir = Path(out_dir)
    report = agreement(human)
    atomic.write_parquet(out_dir / "human_validation.parquet", human)
    atomic.write_text(out_dir / "agreement.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    atomic.write_text(out_dir / "agreement.md", table3_markdown(report) + "\n\n"
                      + interannotator_text(report) + "\n")
    return report


def read_sample(path: Path) -> pa.Table:
    """The ``sample.parquet`` written by :func:`export`."""
    path = Path(path)
    if not path.is_file():
        raise MijaError(f"{path}: not found; pass the sample.parquet written by `mijabench annotate export`")
    table = read_table(path, "sample.parquet written by `mijabench annotate export`")
    missing = [c for c in SAMPLE_COLUMNS if c not in table.column_names]
    if missing:
        raise MijaError(f"{path}: missing columns {', '.join(missing)}; re-run `mijabench annotate export`")
    return table.select(SAMPLE_COLUMNS).cast(SAMPLE_SCHEMA)
