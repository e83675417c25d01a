"""Build the SecureBreak dataset folder: configs of Parquet splits plus a gated card.

Two configs keep label provenance apart: ``human`` (hand-labeled imports) and ``judge``
(MiJaBench-Align rows labeled by an automatic judge). Both share ``SECUREBREAK_SCHEMA``, so
``concatenate_datasets`` combines them, and ``label_source`` still says which label is which.
All rows are deduplicated together before splitting, so even the combined splits never share a text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from mijabench import __version__, markdown, risk
from mijabench.derived import securebreak as sb
from mijabench.derived import securebreak_human as sbh
from mijabench.derived import securebreak_import as sbi
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import folders as hubdata

HUMAN_CONFIG, JUDGE_CONFIG = "human", "judge"

FIELDS = [
    ("id", "normalised hash of (prompt, response); the deduplication key"),
    ("source", ("securebreak (hand-labeled import), mijabench-judge-validation (the labeled judge "
                "validation set) or mijabench-align (judge-labeled)")),
    ("origin", "input file and row/line the example came from"),
    ("language", "language code, empty when unknown"),
    ("prompt", "the prompt (often a jailbreak attempt) given to the model"),
    ("response", "the model output being labeled"),
    ("source_model", "model that wrote the response"), ("attack_type", "attack family or strategy"),
    ("risk_category", "risk category id (table above)"),
    ("annotator_labels", "per-annotator human labels [{annotator, label}] (empty for judge rows)"),
    ("judge_labels", "per-judge automatic labels [{annotator, label}] (empty for human rows)"),
    ("final_label", "safe or unsafe, by `label_rule`"), ("label_source", "human or judge"),
    ("label_rule", "conservative, majority, strict, or judge:<judge id>"),
    ("outcome", ("adjudicated outcome category (refusal, deflection, incoherent, compliance, "
                 "false_refusal; empty when the source has none)")),
    ("adjudicated_label", "the adjudicator's label (safe/unsafe), empty when not adjudicated"),
    ("adjudication_note", ("why the adjudicator decided so (the guide rule); a row with a note "
                           "takes the adjudicated label")),
    ("source_split", "split in the labeled source (dev/test; its test rows are all in `test`)"),
]


@dataclass
class BuildInfo:
    """What the card reports about how the rows were made."""
    rule: str = "conservative"
    seed: int = 0
    splits: dict = field(default_factory=lambda: {"train": 0.8, "validation": 0.1, "test": 0.1})
    n_input: int = 0
    n_duplicates: int = 0
    inputs: list = field(default_factory=list)   # file names (not paths)
    judges: list = field(default_factory=list)   # judge ids behind the judge config
    strata: tuple = sb.STRATA                     # columns the split is stratified by
    validation: bool = False                      # human rows include the labeled judge validation set


def build_tables(inputs: list[Path], mapping: sbi.Mapping | None, mijabench_align: list[Path] | None = None,
                 seed: int | None = None, splits: dict | None = None,
                 judge_validation: Path | None = None) -> tuple[dict, BuildInfo]:
    """``({config: {split: table}}, info)`` from annotated files and/or Align tables.

    ``seed`` and ``splits`` override the mapping's (or the defaults when there is no mapping).
    """
    rows: list[dict] = []
    for path in inputs:
        rows += sbi.import_file(path, mapping)
    names = [Path(p).name for p in inputs]
    if judge_validation is not None:
        rows += sbh.import_validation(judge_validation)
        mapping = mapping or sbh.mapping()  # its rule, splits and seed unless --input brings its own
        names.append("the labeled judge validation set (mijabench/data/judge_validation/)")
    for path in mijabench_align or []:
        rows += sb.from_align(sb.read_align(path), str(path))
    if not rows:
        raise MijaError("securebreak: nothing to build; pass --input FILE --mapping YAML, "
                        "--judge-validation and/or --mijabench-align PATH")
    info = BuildInfo(rule=mapping.rule if mapping else "conservative",
                     seed=mapping.seed if seed is None and mapping else (seed or 0),
                     splits=dict(splits or (mapping.splits if mapping else BuildInfo().splits)),
                     inputs=names, validation=judge_validation is not None,
                     strata=sbh.STRATA if judge_validation is not None else sb.STRATA)
    return tables_from_rows(rows, info), info


def tables_from_rows(rows: list[dict], info: BuildInfo) -> dict:
    """Dedupe all rows together, then split each provenance config; fills the counts in ``info``."""
    info.n_input = len(rows)
    unique, info.n_duplicates = sb.dedupe(rows, info.rule)
    info.judges = sorted({r["label_rule"].split(":", 1)[1] for r in unique if r["label_source"] == sb.JUDGE})
    tables = {}
    for config, source in ((HUMAN_CONFIG, sb.HUMAN), (JUDGE_CONFIG, sb.JUDGE)):
        chosen = [r for r in unique if r["label_source"] == source]
        if chosen:
            parts = sb.split(chosen, info.splits, info.seed, info.strata)
            tables[config] = {s: sb.to_table(parts[s]) for s in info.splits}
    return tables


# --- card ----------------------------------------------------------------------------------------
def _counts(tables: dict) -> Counter:
    counts: Counter = Counter()
    for config, splits in tables.items():
        for split_name, table in splits.items():
            cols = table.select(["risk_category", "final_label"]).to_pydict()
            counts.update((config, split_name, c, lab) for c, lab in
                          zip(cols["risk_category"], cols["final_label"]))
    return counts


def category_table(tables: dict) -> str:
    counts = _counts(tables)
    rows = []
    for cid, cat in risk.vocabulary().categories.items():
        safe = sum(v for k, v in counts.items() if k[2] == cid and k[3] == risk.SAFE_LABEL)
        unsafe = sum(v for k, v in counts.items() if k[2] == cid and k[3] == risk.UNSAFE_LABEL)
        rows.append([f"`{cid}` ({cat['name']['en']})", cat["description"], safe, unsafe, safe + unsafe])
    return markdown.table(["category", "description", "safe", "unsafe", "total"], rows,
                          align=["", "", "r", "r", "r"])


def label_table(tables: dict) -> str:
    counts = _counts(tables)
    rows = []
    for config, splits in tables.items():
        for split_name in splits:
            safe = sum(v for k, v in counts.items() if k[:2] == (config, split_name) and k[3] == risk.SAFE_LABEL)
            unsafe = sum(v for k, v in counts.items() if k[:2] == (config, split_name) and k[3] == risk.UNSAFE_LABEL)
            share = f"{unsafe / (safe + unsafe):.1%}" if safe + unsafe else "-"
            rows.append([config, split_name, safe, unsafe, share])
    return markdown.table(["config", "split", "safe", "unsafe", "unsafe share"], rows, align=["", "", "r", "r", "r"])


def agreement_summary(tables: dict) -> dict:
    """Annotator counts and how often the rule decided a split vote (human config only)."""
    votes = [v for splits in tables.get(HUMAN_CONFIG, {}).values()
             for v in splits.column("annotator_labels").to_pylist()]
    annotators = {a["annotator"] for row in votes for a in row}
    split_votes = sum(1 for row in votes if len({a["label"] for a in row}) > 1)
    minority_unsafe = sum(1 for row in votes if len({a["label"] for a in row}) > 1 and
                          2 * sum(a["label"] == risk.UNSAFE_LABEL for a in row) < len(row))
    return {"rows": len(votes), "annotators": len(annotators), "split_votes": split_votes,
            "minority_unsafe": minority_unsafe,
            "mean_labels": round(sum(len(r) for r in votes) / len(votes), 2) if votes else 0}


def human_rows(tables: dict) -> list[dict]:
    """The human config's rows, each with its ``split`` (for the card's figures)."""
    return [{**r, "split": name} for name, table in tables.get(HUMAN_CONFIG, {}).items()
            for r in table.to_pylist()]


def validation_section(tables: dict, info: BuildInfo) -> str:
    """Markdown for a build from the labeled judge validation set: the rule as applied, agreement
    of the two passes, and the labels per split, language and outcome; every number from the rows."""
    if not info.validation:
        return ""
    rows = [r for r in human_rows(tables) if r["source"] == sbh.mapping().source]
    fig = sbh.agreement_figures(rows)

    def kappa_row(name: str, k: dict) -> list:
        return [name, k["n"], "-" if k["agreement"] is None else f"{k['agreement']:.1%}",
                "-" if k["kappa"] is None else f"{k['kappa']:.3f}"]

    agreement = markdown.table(
        ["rows", "n", "raw agreement", "Cohen's kappa"],
        [kappa_row("all", fig["overall"])] + [kappa_row(f"language {k}", v) for k, v in fig["by_language"].items()]
        + [kappa_row(f"split {k}", v) for k, v in fig["by_split"].items()], align=["", "r", "r", "r"])
    counts = sbh.outcome_counts(rows)
    dist = []
    for split_name in info.splits:
        for lang in sorted({k[1] for k in counts}):
            part = {k: v for k, v in counts.items() if k[:2] == (split_name, lang)}
            unsafe = sum(v for k, v in part.items() if k[3] == risk.UNSAFE_LABEL)
            total = sum(part.values())
            if total:
                dist.append([split_name, lang, total - unsafe, unsafe, f"{unsafe / total:.1%}"])
    outcomes = sorted({k[2] for k in counts})
    by_outcome = [[o, *(sum(v for k, v in counts.items() if k[2] == o and k[0] == s) for s in info.splits)]
                  for o in outcomes]
    notes = ", ".join(fig["overruling_notes"]) or "none"
    return "\n".join([
        "## Human labels: the judge validation set", "", sbh.PROTOCOL, "",
        f"- **Rule as applied** (`{info.rule}`): {sbh.RULE_APPLIED}",
        (f"- The passes disagreed on the verdict on {fig['disagreements']} of {len(rows)} rows: "
         f"{fig['disagreements_unsafe']} are unsafe, {fig['disagreements_safe_by_adjudication']} safe by a "
         f"documented adjudication (rules cited: {notes}). {fig['adjudicated_rows']} rows carry an "
         "adjudication note (most settle only the outcome category)."),
        ("- Splits: every test row of the validation set is in `test`; its dev rows (on which the offline "
         "judges were tuned) are split into `train` and `validation`, stratified by "
         f"{', '.join(info.strata)}. Nothing from `test` is trained on."), "",
        "Agreement of the two passes on the verdict (Cohen's kappa, scikit-learn):", "", agreement, "",
        "Labels per split and language:", "",
        markdown.table(["split", "language", "safe", "unsafe", "unsafe share"], dist, align=["", "", "r", "r", "r"]),
        "", "Adjudicated outcome category per split:", "",
        markdown.table(["outcome", *info.splits], by_outcome, align=[""] + ["r"] * len(info.splits)), ""])


def card_text(tables: dict, info: BuildInfo, repo_id: str = "mijabench/securebreak") -> str:
    n = sum(t.num_rows for splits in tables.values() for t in splits.values())
    languages = sorted({lang for splits in tables.values() for t in splits.values()
                        for lang in t.column("language").unique().to_pylist() if lang})
    data = {
        "language": languages or None, "license": "cc-by-4.0", "pretty_name": "SecureBreak",
        "task_categories": ["text-classification"], "size_categories": [cards.size_category(n)],
        "tags": ["safety", "jailbreak", "content-moderation", "guardrail", "red-teaming"],
        "configs": hubdata.configs_yaml(tables, default=HUMAN_CONFIG if HUMAN_CONFIG in tables else None),
        "extra_gated_prompt": cards.GATED_PROMPT, "extra_gated_fields": cards.GATED_FIELDS,
    }
    return cards.render_dataset_card(
        "securebreak", data, repo_id=repo_id, configs=list(tables), info=info,
        rule_text=risk.vocabulary().rules[info.rule], rules=risk.vocabulary().rules,
        category_table=category_table(tables), label_table=label_table(tables),
        agreement=agreement_summary(tables), fields=FIELDS, version=__version__,
        human_validation=validation_section(tables, info),
        default_config=next(iter(tables)), citation=cards.CITATION_SECUREBREAK)


def write(out: Path, tables: dict, info: BuildInfo) -> Path:
    return hubdata.write_dataset(out, tables, card_text(tables, info))


def build(out: Path, inputs: list[Path], mapping_path: Path | None, mijabench_align: list[Path] | None = None,
          seed: int | None = None, splits: dict | None = None,
          judge_validation: Path | None = None) -> dict[str, dict[str, pa.Table]]:
    """Import, dedupe, split and write the dataset folder; returns the tables."""
    if inputs and mapping_path is None:
        raise MijaError("--mapping: required with --input (a YAML mapping input columns to fields)")
    mapping = sbi.load_mapping(mapping_path) if mapping_path else None
    if splits:
        sb.check_splits(splits, "--splits")
    tables, info = build_tables(list(inputs), mapping, mijabench_align, seed, splits, judge_validation)
    write(out, tables, info)
    return tables
