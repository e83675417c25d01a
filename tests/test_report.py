"""The report: files exist, figures are real PNGs, summary.json equals the metrics, no text leaks."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.image import imread

from mijabench.analysis import metrics
from mijabench import taxonomy
from mijabench.analysis.report import write_report
from mijabench.schema import AUDIT_SCHEMA

SECRET = "SECRET-TEXT"


def audit_table(seed: int = 0) -> pa.Table:
    """A small synthetic audit (AUDIT_SCHEMA): 2 models x EN/PT x their groups, counterfactual sets,
    benign twins, some unparsed and error rows; per-group safe rates differ."""
    rng = np.random.default_rng(seed)
    strategies = list(taxonomy.strategies())[:2]
    scenarios = list(taxonomy.scenario_categories())[:3]
    rows = []
    for model, base in (("tiny-a", 0.75), ("tiny-b", 0.55)):
        for lang in ("en", "pt"):
            groups = taxonomy.groups_for(lang)
            for cf in range(24):
                strategy, scenario = strategies[cf % 2], scenarios[cf % 3]
                for k, group in enumerate(groups):
                    kind = "benign" if cf % 6 == 5 else "harmful"
                    p_safe = min(0.98, base + 0.03 * (k - len(groups) / 2))
                    u = rng.random()
                    verdict = "safe" if u < p_safe else ("harmful" if u < 0.97 else "unparsed")
                    error = "HTTP 500" if rng.random() < 0.02 else ""
                    if error:
                        verdict = "error"
                    rows.append({
                        "id": f"{model}-{lang}-{cf}-{group}", "config": "counterfactual", "language": lang,
                        "group": group, "group_name": taxonomy.group(group).name(lang), "strategy": strategy,
                        "scenario_category": scenario, "scenario": f"{SECRET} scenario", "kind": kind,
                        "intent_id": "i1", "seed_text": "", "seed_source": "intent",
                        "counterfactual_id": f"{lang}-{cf}", "template_id": "t1",
                        "prompt": f"{SECRET} prompt {cf}", "rewriter": "template", "model": model,
                        "model_family": "tiny", "model_params": 1000, "gen_params": "{}", "gen_key": "k",
                        "response": "" if error else f"{SECRET} response {cf}", "error": error,
                        "latency_s": 0.1, "verdict": verdict, "judge": "rules", "rationale": "refusal",
                        "refusal": bool(kind == "benign" and rng.random() < 0.2),
                        "judge_verdicts": "{}"})
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    table = audit_table()
    out = tmp_path_factory.mktemp("report")
    return table, out, write_report(table, out, n_boot=200, seed=3, min_n=15)


def test_files_exist_and_pngs_are_images(report):
    _table, out, written = report
    for name in ("report.md", "report.html", "summary.json", "figures/deviation_heatmap.png",
                 "figures/dr_by_strategy.png", "figures/dr_by_scenario.png", "figures/dr_vs_overrefusal.png"):
        assert name in written and written[name].is_file() and written[name] == out / name
    for name, path in written.items():
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            image = imread(path)
            assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300


def test_summary_json_equals_metrics(report):
    table, _out, written = report
    saved = json.loads(written["summary.json"].read_text("utf-8"))
    expected = json.loads(json.dumps(metrics.summarize(table, n_boot=200, seed=3, min_n=15)))
    assert saved == expected
    harmful = metrics.harmful_rows(table)
    df = metrics.dr_table(harmful, by=("model", "language", "group"), n_boot=200, seed=3, min_n=15)
    first = df.iloc[0]
    row = next(r for r in saved["by_group"] if (r["model"], r["language"], r["group"]) ==
               (first["model"], first["language"], first["group"]))
    assert row["n"] == first["n"] and row["dr"] == pytest.approx(first["dr"])
    assert row["ci_low"] == pytest.approx(first["ci_low"])
    assert row["deviation"] == pytest.approx(first["deviation"])
    assert saved["verdict_counts"]["error"] > 0 and saved["verdict_counts"]["unparsed"] > 0


def test_report_leads_with_protected_and_exposed_and_never_leaks_text(report):
    _table, _out, written = report
    md = written["report.md"].read_text("utf-8")
    html = written["report.html"].read_text("utf-8")
    assert SECRET not in md and SECRET not in html
    lines = md.splitlines()
    first_h2 = next(line for line in lines if line.startswith("## "))
    assert first_h2 == "## Who is protected and who is exposed"
    assert "most protected" in md and "most exposed" in md and "small cell" in md
    assert "Unparsed" in md and "Errors" in md and "Paired counterfactual tests" in md
    assert "Over-refusal on benign twins" in md and "DR by jailbreak strategy" in md
    # the per-model group table is sorted from protected to exposed
    start = lines.index("### tiny-a · EN")
    table_rows = [line for line in lines[start + 1:start + 30] if line.startswith("| ") and "Group" not in line]
    devs = [float(r.split("|")[4].strip().replace("−", "-")) for r in table_rows[:13]]
    assert devs == sorted(devs, reverse=True)
    # self-contained HTML: images embedded, no relative image links
    assert html.count("data:image/png;base64,") == 4 and 'src="figures/' not in html
    assert "](figures/deviation_heatmap.png)" in md


def test_figures_return_a_figure_without_path():
    from matplotlib.figure import Figure

    from mijabench.analysis import figures
    harmful = metrics.harmful_rows(audit_table())
    df = metrics.dr_table(harmful, n_boot=50)
    assert isinstance(figures.deviation_heatmap(df), Figure)
    by_strategy = metrics.dr_table(harmful, by=("model", "language", "strategy"), n_boot=50)
    assert isinstance(figures.dr_by_strategy(by_strategy), Figure)
    assert figures.group_label("women") == "women"  # the Space shows taxonomy names as they are
