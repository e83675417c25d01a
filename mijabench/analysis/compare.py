"""Several runs side by side: one report, ``compare.json``, ``summary.json`` and CSV tables.

Runs come in as judged AUDIT_SCHEMA tables with a label and their provenance (the loading is
:mod:`mijabench.derived.results`'s job). Each run's model is shown under its label (a run of
several models: ``label/model``), so the combined rows go through the audit report's own numbers
(:func:`mijabench.analysis.metrics.summarize`): per-group DR with exact Clopper-Pearson intervals,
deviations, the heatmap with one column per model x language, DR by strategy.

What only a comparison has: for prompts two models both answered (same prompt ``id``), exact
McNemar tests per language x group between the two models, Holm-corrected within each model pair
x language (the groups are the family), with Newcombe's paired interval of the difference; the same
test pooled over all groups of a language is reported beside them (one test, uncorrected). The
pairing is :func:`mijabench.analysis.metrics.paired_group_tests` with the models in the role of
the groups and the prompt id as the pair key, so both reports share one implementation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mijabench import atomic
from mijabench.analysis import exports, metrics, report, viewer
from mijabench.analysis.document import Doc, ci, n_, pct, pts
from mijabench.errors import MijaError

ALL_GROUPS = "all"  # the pooled test's group value
TEST_COLUMNS = ["language", "group", "model_a", "model_b", "n_pairs", "dr_a", "dr_b", "diff", "diff_low",
                "diff_high", "a_only_safe", "b_only_safe", "p_value", "p_holm", "significant"]
MAX_TEST_ROWS = 60


@dataclass
class Run:
    """One run to compare: its rows, its label and where it came from."""
    table: pa.Table
    label: str | None = None
    provenance: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # original model -> name shown (set by combine)


# --- naming and combining ------------------------------------------------------------------------
def _models(table: pa.Table) -> list[str]:
    return sorted({str(m) for m in table.column("model").to_pylist() if m})


def name_models(runs: list[Run]) -> None:
    """Give every run's models a distinct display name: the label (``label/model`` for a run of
    several models), else the model id; a name used twice gets its run's number."""
    for run in runs:
        models = _models(run.table)
        if run.label:
            run.names = {m: run.label if len(models) == 1 else f"{run.label}/{m}" for m in models}
        else:
            run.names = {m: m for m in models}
    seen: dict[str, int] = {}
    for run in runs:
        for name in run.names.values():
            seen[name] = seen.get(name, 0) + 1
    for i, run in enumerate(runs, 1):
        run.names = {m: (f"{n} (run {i})" if seen[n] > 1 else n) for m, n in run.names.items()}


def combine(runs: list[Run], languages: list[str] | None = None) -> pa.Table:
    """The runs' rows in one table, ``model`` replaced by the display names."""
    if not runs or (len(runs) < 2 and len(_models(runs[0].table)) < 2):
        raise MijaError("compare: pass at least two runs (or one source holding several models)")
    name_models(runs)
    parts = []
    for run in runs:
        table = run.table
        if languages:
            table = table.filter(pc.fill_null(pc.is_in(table.column("language"), pa.array(languages)), False))
        names = [run.names.get(str(m), str(m)) for m in table.column("model").to_pylist()]
        parts.append(table.set_column(table.column_names.index("model"), "model", pa.array(names, pa.string())))
    combined = pa.concat_tables(parts, promote_options="default")
    if combined.num_rows == 0:
        raise MijaError(f"compare: no rows in language(s) {', '.join(languages or [])}; check --languages")
    return combined


# --- model-vs-model paired tests -----------------------------------------------------------------
def model_tests(table: pa.Table, alpha: float = 0.05) -> pd.DataFrame:
    """Exact McNemar per language x group between every two models on the prompts both answered,
    Holm-corrected within model pair x language; plus one pooled test per pair x language
    (``group == "all"``). Error rows and benign twins are left out."""
    table = metrics.harmful_rows(table)
    keep = pc.fill_null(pc.not_equal(table.column("verdict"), "error"), False)
    table = table.filter(keep)
    if table.num_rows == 0:
        return pd.DataFrame(columns=TEST_COLUMNS)

    def view(target) -> pa.Table:  # models play the groups; the prompt id is the pair key
        return pa.table({"language": table.column("language"), "target": target,
                         "group": table.column("model"), metrics.PAIR_KEY: table.column("id"),
                         "verdict": table.column("verdict")})

    per_group = metrics.paired_group_tests(view(table.column("group")), by=("language", "target"), alpha=alpha)
    pooled = metrics.paired_group_tests(view(pa.array([ALL_GROUPS] * table.num_rows, pa.string())),
                                        by=("language", "target"), alpha=alpha)
    out = pd.concat([per_group, pooled], ignore_index=True).rename(
        columns={"target": "group", "group_a": "model_a", "group_b": "model_b"})
    if out.empty:
        return pd.DataFrame(columns=TEST_COLUMNS)
    groups = out["group"] != ALL_GROUPS
    out.loc[~groups, "p_holm"] = out.loc[~groups, "p_value"]  # one test per family: nothing to adjust
    for idx in out[groups].groupby(["model_a", "model_b", "language"]).groups.values():
        out.loc[idx, "p_holm"] = metrics.holm(out.loc[idx, "p_value"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    out = out.sort_values(["model_a", "model_b", "language", "group"], key=_all_first).reset_index(drop=True)
    return out[TEST_COLUMNS]


def _all_first(col: pd.Series) -> pd.Series:
    return col.map(lambda v: ("" if v == ALL_GROUPS else "~") + str(v)) if col.name == "group" else col


# --- tables ----------------------------------------------------------------------------------------
def side_by_side(by_group: pd.DataFrame) -> pd.DataFrame:
    """One row per language x group, per model: n, DR and its exact interval (shares)."""
    if by_group.empty:
        return pd.DataFrame(columns=["language", "group"])
    wide = by_group.pivot_table(index=["language", "group"], columns="model",
                                values=["n", "dr", "ci_low", "ci_high"], aggfunc="first")
    wide.columns = [f"{stat}:{model}" for stat, model in wide.columns]
    models = sorted(by_group["model"].unique())
    order = [f"{stat}:{m}" for m in models for stat in ("n", "dr", "ci_low", "ci_high")]
    return wide.reindex(columns=order).reset_index()


def summaries(runs: list[Run], languages: list[str] | None = None, min_n: int = metrics.MIN_N,
              provenance_info: dict | None = None) -> tuple[pa.Table, dict, dict, list[str]]:
    """(combined rows, summary.json content, compare.json content, judges)."""
    table = combine(runs, languages)
    run_rows = [_run_record(r) for r in runs]
    s, judges = report.build_summary(table, min_n=min_n, provenance_info={**(provenance_info or {}),
                                                                           "runs": run_rows})
    tests = model_tests(table)
    wide = side_by_side(pd.DataFrame(s["by_group"]))
    c = {"schema_version": exports.SCHEMA_VERSION, "runs": run_rows, "models": s["models"],
         "languages": s["languages"], "side_by_side": records(wide),
         "model_tests": records(tests), "headline": headline(tests, run_rows)}
    return table, s, c, judges


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows (NaN -> None, numpy scalars -> Python)."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def _run_record(run: Run) -> dict:
    prov = {k: v for k, v in run.provenance.items() if v not in (None, "")}
    judges = sorted({str(j) for j in run.table.column("judge").to_pylist() if j})
    return {"label": run.label or ", ".join(run.names.values()), **prov,
            "source": str(prov.get("source", "a table")), "format": str(prov.get("format", "table")),
            "models": sorted(run.names.values()), "original_models": sorted(run.names),
            "judges": judges, "rows": run.table.num_rows}


def headline(tests: pd.DataFrame, runs: list[dict]) -> list[str]:
    """Per model pair x language: the pooled paired result and the groups that differ."""
    if tests.empty:
        return [("No prompt was answered by two of the models (no shared prompt id), so no paired test "
                "is possible; the per-group rates below are side by side but untested.")]
    lines = []
    if len({tuple(r["judges"]) for r in runs}) > 1:
        lines.append("**The runs were judged by different judges**: a difference below may be the judges', "
                     "not the models'.")
    for (a, b, lang), part in tests.groupby(["model_a", "model_b", "language"], sort=True):
        pooled = part[part["group"] == ALL_GROUPS].iloc[0]
        groups = part[(part["group"] != ALL_GROUPS)]
        sig = groups[groups["significant"]].sort_values("p_holm")
        where = f"**{a} vs {b} · {lang.upper()}**"
        text = (f"{where}: on {n_(pooled['n_pairs'])} shared prompts DR {pct(pooled['dr_a'])} vs "
                f"{pct(pooled['dr_b'])} (difference {pts(pooled['diff'])} pts [{pts(pooled['diff_low'])}, "
                f"{pts(pooled['diff_high'])}], exact McNemar p = {pooled['p_value']:.2g}). ")
        if sig.empty:
            text += (f"No group differs significantly between the two ({len(groups)} exact McNemar tests, "
                     "Holm-corrected).")
        else:
            text += f"{len(sig)} of {len(groups)} groups differ (Holm-corrected p < 0.05): " + "; ".join(
                f"{report.group_label(r['group'])} {pct(r['dr_a'])} vs {pct(r['dr_b'])} "
                f"(n={n_(r['n_pairs'])}, p = {r['p_holm']:.2g})" for _, r in sig.iterrows()) + "."
        lines.append(text)
    models = sorted({m for r in runs for m in r["models"]})
    tested = set(zip(tests["model_a"], tests["model_b"]))
    untested = [f"{a} / {b}" for i, a in enumerate(models) for b in models[i + 1:] if (a, b) not in tested]
    if untested:
        lines.append("No shared prompt, so no paired test (rates below are side by side, untested): "
                     + "; ".join(untested) + ".")
    return lines


# --- the report ------------------------------------------------------------------------------------
def _runs_section(doc: Doc, runs: list[dict], s: dict):
    doc.h(2, "Runs compared")
    doc.table(["Label", "Source", "Format", "Revision", "Models (shown as)", "Judges", "Rows"],
              [[r["label"], r["source"], r["format"], r.get("commit") or r.get("revision") or "–",
                ", ".join(r["models"]), ", ".join(r["judges"]) or "–", n_(r["rows"])] for r in runs])
    prov = s["provenance"]
    keys = ("date", "command", "dataset_source", "dataset_revision")  # what each run's own audit recorded
    details = [f"**{r['label']}**: " + "; ".join(f"{k} {report.plain_text(r[k])}" for k in keys if r.get(k))
               for r in runs if any(r.get(k) for k in keys)]
    doc.ul(details)
    doc.p(f"mijabench {prov['mijabench_version']}; generation parameters: "
          f"{report.plain_text(prov.get('generation')) or 'not recorded'}; dataset configs: "
          f"{report.plain_text(prov.get('dataset_config')) or '–'}.")


def _side_by_side_section(doc: Doc, s: dict):
    doc.h(2, "Per-group Defense Rate side by side")
    doc.p(f"DR with its 95% {metrics.CI_METHOD} interval and n (judged responses to harmful prompts) for "
          "every model; '–': the model has no row of that group in that language.")
    by_group = pd.DataFrame(s["by_group"])
    if by_group.empty:
        doc.p("_No judged rows._")
        return
    models = sorted(by_group["model"].unique())
    cells = {(r["model"], r["language"], r["group"]): r for r in s["by_group"]}
    keys = sorted({(r["language"], r["group"]) for r in s["by_group"]})
    doc.table(["Language", "Group", *models],
              [[lang.upper(), report.group_label(g),
                *[(f"{ci(cells[(m, lang, g)])} (n={n_(cells[(m, lang, g)]['n'])})" if (m, lang, g) in cells
                   else "–") for m in models]] for lang, g in keys])


def _tests_section(doc: Doc, tests: pd.DataFrame):
    doc.h(2, "Model against model on the same prompts")
    if tests.empty:
        doc.p("_No prompt id was answered by two models: nothing to pair._")
        return
    doc.p("Two responses pair when two models answered the same prompt (same id). Exact McNemar test per "
          "language × group, Holm-corrected within each model pair × language; 'all' pools every group of "
          "the language (one test). The difference (A − B, points) has Newcombe's paired 95% interval on "
          f"Clopper-Pearson margins. Showing up to {MAX_TEST_ROWS} rows, pooled rows first, then the "
          "smallest corrected p-values; compare.json and model_tests.csv hold them all.")
    shown = pd.concat([tests[tests["group"] == ALL_GROUPS],
                       tests[tests["group"] != ALL_GROUPS].sort_values(["p_holm", "language", "group"])])
    doc.table(["Model A", "Model B", "Language", "Group", "Pairs", "DR A", "DR B", "Diff (pts) [95% CI]",
               "Only A safe", "Only B safe", "p", "p (Holm)"],
              [[t["model_a"], t["model_b"], t["language"].upper(),
                "all groups" if t["group"] == ALL_GROUPS else report.group_label(t["group"]),
                n_(t["n_pairs"]), pct(t["dr_a"]), pct(t["dr_b"]),
                f"{pts(t['diff'])} [{pts(t['diff_low'])}, {pts(t['diff_high'])}]", n_(t["a_only_safe"]),
                n_(t["b_only_safe"]), f"{t['p_value']:.3g}", f"{t['p_holm']:.3g}"]
               for _, t in shown.head(MAX_TEST_ROWS).iterrows()])


def write_compare(runs: list[Run], out_dir, languages: list[str] | None = None, min_n: int = metrics.MIN_N,
                  title: str | None = None, provenance_info: dict | None = None, samples: bool = True,
                  max_samples: int = viewer.MAX_ROWS) -> tuple[dict[str, Path], dict, dict]:
    """Write report.md, report.html, compare.json, summary.json, the CSV tables and figures/;
    return the files by name, the summary.json content and the compare.json content."""
    out_dir = Path(out_dir)
    table, s, c, judges = summaries(runs, languages, min_n, provenance_info)
    written = dict(exports.write_summary(s, out_dir))
    written["compare.json"] = atomic.write_text(
        out_dir / "compare.json", json.dumps(c, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    from mijabench.tables import write_table
    for key, name in (("model_tests", "model_tests.csv"), ("side_by_side", "side_by_side.csv")):
        written[name] = write_table(out_dir / name, exports.records_table(c[key], key), name)
    figs = report.figures_for(s, out_dir)
    written.update({rel: out_dir / rel for rel in figs.values()})

    title = title or f"MiJaBench comparison: {' vs '.join(s['models'])}"
    doc = Doc()
    doc.h(1, title)
    doc.ul(c["headline"])
    doc.p(f"{s['n_rows']:,} responses ({s['n_harmful_rows']:,} to harmful prompts) of {len(s['models'])} "
          f"models in {', '.join(x.upper() for x in s['languages'])}. Defense Rate (DR) = share of responses "
          "to harmful prompts judged safe; unparsed verdicts count as not safe, generation errors are "
          f"excluded and counted. Every rate has a 95% {metrics.CI_METHOD} interval.")
    _runs_section(doc, c["runs"], s)
    report.trust_section(doc, s["judge_validation"])
    _side_by_side_section(doc, s)
    _tests_section(doc, pd.DataFrame(c["model_tests"], columns=TEST_COLUMNS))
    report.deviation_section(doc, s, figs.get("heatmap"))
    report.axis_section(doc, s, "by_strategy", "strategy", "DR by jailbreak strategy", figs.get("strategy"))
    report.axis_section(doc, s, "by_scenario", "scenario_category", "DR by scenario category", figs.get("scenario"))
    report.outcome_section(doc, s)
    doc.h(2, "Group differences within each model")
    doc.ul(s["headline"])
    if samples:
        doc.h(2, "Sample viewer")
        fragment, shown = viewer.sample_viewer(table, max_samples)
        doc.raw(fragment, f"_{shown:,} prompts and responses of every model, filterable by model, group, "
                          "strategy, language, outcome and verdict, are in report.html (content warning: "
                          "hateful text)._")
    report.quality_section(doc, s, judges)
    written["report.md"] = atomic.write_text(out_dir / "report.md", doc.markdown())
    written["report.html"] = atomic.write_text(out_dir / "report.html", doc.html(title, out_dir, viewer.CSS))
    return written, s, c


def write_compare_folder(runs: list[Run], out, overwrite: bool = False,
                         **options) -> tuple[dict[str, Path], dict, dict]:
    """:func:`write_compare` into a fresh folder put in place whole (``--out`` rules of every build)."""
    out = Path(out)
    atomic.claim_output(out, overwrite)
    with atomic.staged_folder(out) as tmp:
        written, s, c = write_compare(runs, tmp, **options)
    return {name: out / path.relative_to(tmp) for name, path in written.items()}, s, c
