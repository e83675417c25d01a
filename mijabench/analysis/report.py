"""The audit report: ``report.md``, a self-contained ``report.html``, ``summary.json`` and figures.

It leads with who is protected and who is exposed (groups sorted by deviation from their model's
mean DR), shows group sizes everywhere, flags small cells, counts unparsed and error rows, and
gives per-language, per-strategy, per-scenario, over-refusal and paired-test tables. Every number
comes from :func:`mijabench.analysis.metrics.summarize` (the same dict is written to ``summary.json``).
Prompt and response text never appear: only ids, display names and counts.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
from jinja2 import Environment

from mijabench import atomic
from mijabench import markdown as md
from mijabench.analysis import figures, metrics
from mijabench.analysis.figures import axis_label
from mijabench.analysis.figures import group_label as _group_label

MAX_PAIRED_ROWS = 25


def group_label(group_id: str) -> str:
    return _group_label(group_id, capitalize=True)


# --- formatting ----------------------------------------------------------------------------------
def _pct(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def _ci(row: dict) -> str:
    if row.get("dr") is None or pd.isna(row.get("dr")):
        return "–"
    if row.get("ci_low") is None or pd.isna(row.get("ci_low")):
        return _pct(row["dr"])
    return f"{_pct(row['dr'])} [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"


def _pts(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:+.1f}".replace("-", "−")


def _n(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{int(x):,}"


def _flag(row: dict) -> str:
    return "small cell" if row.get("small_cell") else ""


def _ml(row: dict) -> tuple[str, str]:
    return str(row["model"]), str(row["language"]).upper()


# --- document model: blocks rendered to Markdown and HTML ------------------------------------------
class Doc:
    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def ul(self, items: list[str]):
        if items:
            self.blocks.append(("ul", items))

    def table(self, headers: list[str], rows: list[list], note: str = ""):
        if rows:
            self.blocks.append(("table", headers, [[str(c) for c in r] for r in rows], note))
        else:
            self.blocks.append(("p", "_No rows._"))

    def img(self, rel: str, alt: str):
        self.blocks.append(("img", rel, alt))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"{'#' * b[1]} {b[2]}")
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {item}" for item in b[1]))
            elif b[0] == "table":
                out.append(md.table(b[1], b[2]) + (f"\n\n{b[3]}" if b[3] else ""))
            elif b[0] == "img":
                out.append(f"![{b[2]}]({b[1]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str, out_dir: Path) -> str:
        blocks = []
        for b in self.blocks:
            if b[0] == "img":
                data = base64.b64encode((out_dir / b[1]).read_bytes()).decode("ascii")
                blocks.append(("img", f"data:image/png;base64,{data}", b[2]))
            else:
                blocks.append(b)
        return _HTML.render(title=title, blocks=blocks)


_HTML = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
.note{color:#555;font-size:.85em}h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
</style></head><body>
{% for b in blocks %}
{% if b[0] == "h" %}<h{{ b[1] }}>{{ b[2] }}</h{{ b[1] }}>
{% elif b[0] == "p" %}<p>{{ b[1] | replace("**", "") }}</p>
{% elif b[0] == "ul" %}<ul>{% for item in b[1] %}<li>{{ item | replace("**", "") }}</li>{% endfor %}</ul>
{% elif b[0] == "table" %}<table><thead><tr>{% for h in b[1] %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b[2] %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% if b[3] %}<p class="note">{{ b[3] }}</p>{% endif %}
{% elif b[0] == "img" %}<img src="{{ b[1] }}" alt="{{ b[2] }}">
{% endif %}
{% endfor %}
</body></html>
""")


# --- sections ------------------------------------------------------------------------------------
def _by_model_language(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        out.setdefault((r["model"], r["language"]), []).append(r)
    return dict(sorted(out.items()))


def _protected_exposed(doc: Doc, s: dict, heatmap: str | None):
    doc.h(2, "Who is protected and who is exposed")
    doc.p("Each group's Defense Rate (DR: share of responses judged safe) minus its model's mean group "
          "DR in the same language. Positive = protected more than the model's average group; negative = "
          "exposed. Groups are sorted from most protected to most exposed; n is the number of judged "
          f"responses. Cells with fewer than {s['min_n']} responses are flagged as small.")
    dis = {(d["model"], d["language"]): d for d in s["disparity"]}
    summary_lines = []
    for (model, lang), rows in _by_model_language(s["by_group"]).items():
        d = dis.get((model, lang))
        if d:
            hi = next(r for r in rows if r["group"] == d["max_group"])
            lo = next(r for r in rows if r["group"] == d["min_group"])
            summary_lines.append(
                f"**{model} · {lang.upper()}**: mean group DR {_pct(d['mean_dr'])}; most protected "
                f"{group_label(hi['group'])} ({_pts(hi['deviation'])} pts, n={_n(hi['n'])}); most exposed "
                f"{group_label(lo['group'])} ({_pts(lo['deviation'])} pts, n={_n(lo['n'])}); gap "
                f"{100 * d['gap']:.1f} pts.")
    doc.ul(summary_lines)
    if heatmap:
        doc.img(heatmap, "Deviation of each group's DR from its model's mean (points)")
    for (model, lang), rows in _by_model_language(s["by_group"]).items():
        doc.h(3, f"{model} · {lang.upper()}")
        rows = sorted(rows, key=lambda r: -(r["deviation"] if r["deviation"] is not None else -1e9))
        doc.table(["Group", "n", "DR [95% CI]", "Deviation (pts)", "Unparsed", "Errors", "Note"],
                  [[group_label(r["group"]), _n(r["n"]), _ci(r), _pts(r["deviation"]), _n(r["n_unparsed"]),
                    _n(r["n_error"]), _flag(r)] for r in rows])


def _overall(doc: Doc, s: dict):
    doc.h(2, "Defense Rate per model and language")
    doc.p("A model that handles one language worse shows it here: compare its rows across languages.")
    doc.table(["Model", "Language", "n", "DR [95% CI]", "Unparsed", "Errors", "Note"],
              [[*_ml(r), _n(r["n"]), _ci(r), _n(r["n_unparsed"]), _n(r["n_error"]), _flag(r)]
               for r in s["by_language"]])
    doc.table(["Model (all languages)", "n", "DR [95% CI]", "Unparsed", "Errors"],
              [[r["model"], _n(r["n"]), _ci(r), _n(r["n_unparsed"]), _n(r["n_error"])] for r in s["overall"]])


def _disparity(doc: Doc, s: dict):
    doc.h(2, "Disparity across groups")
    doc.table(["Model", "Language", "Groups", "Gap (pts)", "Std (pts)", "Highest DR", "Lowest DR",
               "Small cells"],
              [[*_ml(d), d["n_cells"], f"{100 * d['gap']:.1f}", f"{100 * d['std']:.1f}",
                f"{group_label(d['max_group'])} ({_pct(d['max_dr'])})",
                f"{group_label(d['min_group'])} ({_pct(d['min_dr'])})", d["n_small"]] for d in s["disparity"]],
              note="Gap = highest minus lowest group DR; std = population standard deviation of group DRs.")


def _axis_section(doc: Doc, s: dict, key: str, axis: str, heading: str, fig: str | None):
    if key not in s:
        return
    doc.h(2, heading)
    if fig:
        doc.img(fig, heading)
    doc.table(["Model", "Language", axis.replace("_", " ").capitalize(), "n", "DR [95% CI]",
               "Deviation (pts)", "Note"],
              [[*_ml(r), axis_label(axis, r[axis]), _n(r["n"]), _ci(r), _pts(r["deviation"]), _flag(r)]
               for r in s[key]])


def _over_refusal(doc: Doc, s: dict, fig: str | None):
    if "over_refusal" not in s:
        return
    doc.h(2, "Over-refusal on benign twins")
    doc.p("Share of responses to the benign twin of each prompt (same topic and form, respectful intent) "
          "that refuse or deflect. High DR with high over-refusal is not protection, it is avoidance.")
    if not s["over_refusal"]:
        doc.p("_No benign-twin rows in this audit._")
        return
    if fig:
        doc.img(fig, "DR against over-refusal per group")
    doc.table(["Model", "Language", "n", "Refusals", "Over-refusal [95% CI]", "Note"],
              [[*_ml(r), _n(r["n"]), _n(r["n_refusal"]), _or(r), _flag(r)] for r in s["over_refusal_by_language"]])
    doc.table(["Model", "Language", "Group", "n", "Over-refusal [95% CI]", "Note"],
              [[*_ml(r), group_label(r["group"]), _n(r["n"]), _or(r), _flag(r)] for r in s["over_refusal"]])


def _or(r: dict) -> str:
    return _ci({"dr": r["over_refusal"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]})


def _paired(doc: Doc, s: dict):
    if "paired_tests" not in s:
        return
    doc.h(2, "Paired counterfactual tests")
    tests = s["paired_tests"]
    if not tests:
        doc.p("_No counterfactual pairs (rows sharing a counterfactual_id across groups) in this audit._")
        return
    significant = [t for t in tests if t["significant"]]
    doc.p(f"{len(tests):,} group pairs tested with the exact McNemar test on the same attacks "
          f"(same counterfactual_id), Holm-corrected within each model × language: "
          f"{len(significant):,} differ at p < 0.05. Showing the {MAX_PAIRED_ROWS} smallest corrected p-values.")
    shown = sorted(tests, key=lambda t: (t["p_holm"], -abs(t["diff"])))[:MAX_PAIRED_ROWS]
    doc.table(["Model", "Language", "Group A", "Group B", "Pairs", "DR A", "DR B", "Diff (pts)",
               "Only A safe", "Only B safe", "p (Holm)"],
              [[*_ml(t), group_label(t["group_a"]), group_label(t["group_b"]), _n(t["n_pairs"]), _pct(t["dr_a"]),
                _pct(t["dr_b"]), _pts(t["diff"]), _n(t["a_only_safe"]), _n(t["b_only_safe"]),
                f"{t['p_holm']:.3g}"] for t in shown])


def _quality(doc: Doc, s: dict, judges: list[str]):
    doc.h(2, "Data quality and definitions")
    counts = s["verdict_counts"]
    small = sum(1 for r in s["by_group"] if r["small_cell"])
    doc.ul([f"Judge(s): {', '.join(judges) if judges else 'unknown'}.",
            f"Verdicts on harmful prompts: {counts['safe']:,} safe, {counts['harmful']:,} harmful, "
            f"{counts['unparsed']:,} unparsed (counted as not safe), {counts['error']:,} errors "
            "(generation failed; excluded from DR and counted apart).",
            f"Small cells (n < {s['min_n']}): {small} of {len(s['by_group'])} model × language × group cells."])
    doc.ul([f"**{k}**: {v}" for k, v in s["definitions"].items()])


# --- entry point ---------------------------------------------------------------------------------
def write_report(table: pa.Table, out_dir, n_boot: int = metrics.N_BOOT, seed: int = 0,
                 min_n: int = metrics.MIN_N, title: str = "MiJaBench audit report") -> dict[str, Path]:
    """Write report.md, report.html, summary.json and figures/*.png; return their paths by name."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    out_dir = Path(out_dir)
    s = metrics.summarize(table, n_boot=n_boot, seed=seed, min_n=min_n)
    written: dict[str, Path] = {}
    written["summary.json"] = atomic.write_text(
        out_dir / "summary.json", json.dumps(s, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    figs = _figures(s, out_dir)
    written.update({rel: out_dir / rel for rel in figs.values() if rel})
    judges = sorted(set(table.column("judge").to_pylist())) if "judge" in table.column_names else []

    doc = Doc()
    doc.h(1, title)
    doc.p(f"{s['n_rows']:,} responses ({s['n_harmful_rows']:,} to harmful prompts, {s['n_benign_rows']:,} "
          f"to benign twins) from {len(s['models'])} model(s) in {', '.join(x.upper() for x in s['languages'])}. "
          "Defense Rate (DR) = share of responses to harmful prompts judged safe; unparsed verdicts count "
          "as not safe, generation errors are excluded and counted.")
    _protected_exposed(doc, s, figs.get("heatmap"))
    _overall(doc, s)
    _disparity(doc, s)
    _axis_section(doc, s, "by_strategy", "strategy", "DR by jailbreak strategy", figs.get("strategy"))
    _axis_section(doc, s, "by_scenario", "scenario_category", "DR by scenario category", figs.get("scenario"))
    _over_refusal(doc, s, figs.get("over_refusal"))
    _paired(doc, s)
    _quality(doc, s, judges)
    written["report.md"] = atomic.write_text(out_dir / "report.md", doc.markdown())
    written["report.html"] = atomic.write_text(out_dir / "report.html", doc.html(title, out_dir))
    return written


def _figures(s: dict, out_dir: Path) -> dict[str, str]:
    figs: dict[str, str] = {}
    by_group = pd.DataFrame(s["by_group"])
    if len(by_group) and by_group["dr"].notna().any():
        figs["heatmap"] = "figures/deviation_heatmap.png"
        figures.deviation_heatmap(by_group, out_dir / figs["heatmap"])
    for key, axis, name in (("by_strategy", "strategy", "strategy"),
                            ("by_scenario", "scenario_category", "scenario")):
        df = pd.DataFrame(s.get(key, []))
        if len(df) and df["dr"].notna().any():
            figs[name] = f"figures/dr_by_{name}.png"
            figures.dr_by_strategy(df, out_dir / figs[name], axis=axis)
    over = pd.DataFrame(s.get("over_refusal", []))
    if len(over) and len(by_group):
        merged = by_group.merge(over[["model", "language", "group", "over_refusal"]],
                                on=["model", "language", "group"])
        if len(merged.dropna(subset=["dr", "over_refusal"])):
            figs["over_refusal"] = "figures/dr_vs_overrefusal.png"
            figures.dr_vs_overrefusal(merged, out_dir / figs["over_refusal"])
    return figs
