"""The report: files and figures, summary.json, the significance headline, honest intervals,
outcome breakdown, provenance, the judge's trust box, and a self-contained HTML with the viewer."""

from __future__ import annotations

import json
import re

import pytest
from matplotlib.image import imread
from PIL import Image
from report_fixtures import SECRET, audit_table, paired_table

from mijabench.analysis import metrics, report
from mijabench.analysis.report import write_report


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    table = audit_table()
    out = tmp_path_factory.mktemp("report")
    prov = {"command": "mijabench audit --model tiny", "date": "2026-12-01 04:00:00",
            "dataset_revision": "prompts sha256:abc (1056 rows)"}
    return table, out, write_report(table, out, min_n=15, provenance_info=prov)


def test_files_exist_and_figures_are_150_dpi_images(written):
    _table, out, files = written
    for name in ("report.md", "report.html", "summary.json", "figures/deviation_heatmap.png",
                 "figures/dr_by_strategy.png", "figures/dr_by_scenario.png", "figures/dr_vs_overrefusal.png"):
        assert name in files and files[name].is_file() and files[name] == out / name
    for name, path in files.items():
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            image = imread(path)
            assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 600
            assert min(Image.open(path).info["dpi"]) >= 149.9


def test_summary_json_holds_the_metrics_provenance_and_headline(written):
    table, _out, files = written
    saved = json.loads(files["summary.json"].read_text("utf-8"))
    expected = json.loads(json.dumps(metrics.summarize(table, min_n=15)))
    assert {k: saved[k] for k in expected} == expected
    prov = saved["provenance"]
    assert prov["model"] == ["tiny-a", "tiny-b"] and prov["judge"] == ["rules"]
    assert prov["generation"] == [{"max_new_tokens": 96}] and prov["dataset_config"] == ["counterfactual"]
    assert prov["command"].startswith("mijabench audit") and prov["mijabench_version"]
    assert saved["judge_validation"] == {"rules": report.trust(["rules"])["rules"]}
    assert len(saved["headline"]) == 4  # one line per model x language
    assert saved["ci_method"] == "Clopper-Pearson exact binomial"


def test_header_names_the_model_states_significance_first_and_gives_provenance(written):
    _table, _out, files = written
    md = files["report.md"].read_text("utf-8")
    lines = [line for line in md.splitlines() if line.strip()]
    assert lines[0] == "# MiJaBench audit: tiny-a, tiny-b"
    assert all(line.startswith("- **tiny-") for line in lines[1:5])  # the headline comes first
    assert "| Command | mijabench audit --model tiny |" in md and "| Date (UTC) | 2026-12-01 04:00:00 |" in md
    assert "| Dataset revision | prompts sha256:abc (1056 rows) |" in md
    assert "| Generation parameters | max_new_tokens=96 |" in md
    assert "Clopper-Pearson" in md and "MOVER" in md


def test_no_significant_difference_says_so_with_n_per_group_and_names_no_group(tmp_path):
    table = paired_table({"black": [1, 1, 1, 0], "women": [1, 1, 1, 1], "jewish": [1, 1, 0, 1]})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    first = md.splitlines()[2]
    assert "no pair of groups differs significantly" in first and "0 of 3" in first
    assert "n per group: Black people 4, Jewish people 4, Women 4." in first
    assert "most exposed" not in md and "most protected" not in md
    assert "100.0% [39.8, 100.0]" in md  # 4 of 4: exact interval, never [100, 100]
    assert "[100.0, 100.0]" not in md


def test_significant_pairs_are_named_with_their_interval(tmp_path):
    table = paired_table({"black": [0] * 14 + [1] * 2, "women": [1] * 16})
    s = json.loads(write_report(table, tmp_path, samples=False)["summary.json"].read_text("utf-8"))
    (line,) = s["headline"]
    assert line.startswith("**m · EN**: 1 of 1 group pairs differ significantly")
    assert "Black people are defended less often than Women (12.5% vs 100.0% on 16 shared attacks" in line
    low, high = map(float, re.search(r"difference 87.5 pts \[([\d.]+), ([\d.]+)\]", line).groups())
    assert 0 < low < 87.5 < high <= 100


def test_ties_never_name_one_group_as_both_extremes(tmp_path):
    table = paired_table({"black": [1, 0, 1, 1], "women": [1, 1, 0, 1], "jewish": [0, 1, 1, 1]})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| m | EN | 3 |"))
    assert "all groups tie" in row and "Black" not in row
    table = paired_table({"black": [1, 1, 1, 1], "women": [1, 1, 1, 1], "jewish": [0, 0, 1, 1]})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| m | EN | 3 |"))
    assert "tie: Black people, Women (100.0%)" in row and "Jewish people (50.0%)" in row


def test_outcome_breakdown_when_categories_exist_and_old_runs_stay_readable(tmp_path, written):
    _table, _out, files = written
    md = files["report.md"].read_text("utf-8")
    assert "## What the responses are" in md and "incoherence rate" in md and "refusal rate" in md
    s = json.loads(files["summary.json"].read_text("utf-8"))
    row = s["outcomes_by_language"][0]
    assert row["n"] == row["n_uncategorized"] + sum(row[f"n_{o}"] for o in ("refusal", "deflection",
                                                                          "incoherent", "compliance", "false_refusal"))
    small = paired_table({"black": [1, 0, 1, 1], "women": [1, 1, 0, 1]})
    for old in (small.drop_columns(["outcome"]),
                small.set_column(small.column_names.index("outcome"), "outcome", [[""] * small.num_rows])):
        out = write_report(old, tmp_path / str(old.num_columns), samples=False)
        assert "What the responses are" not in out["report.md"].read_text("utf-8")
        assert "outcomes_by_language" not in json.loads(out["summary.json"].read_text("utf-8"))


def test_trust_box_renders_validation_figures_or_says_unvalidated(tmp_path, monkeypatch):
    table = paired_table({"black": [1, 0, 1, 1], "women": [1, 1, 0, 1]})
    figures = {"split": "test", "n": 200, "accuracy": 0.91, "kappa": 0.78, "precision_harmful": 0.88,
               "recall_harmful": 0.8, "source": "tests/data/validation",
               "by_language": {"en": {"n": 100, "accuracy": 0.93, "kappa": 0.8},
                               "pt": {"n": 100, "accuracy": 0.89, "kappa": 0.74}}}
    real_trust = report.trust
    monkeypatch.setattr(report, "trust", lambda judges: {j: figures for j in judges})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    box = md.split("## How far to trust this judge")[1].split("##")[0]
    assert "test split (n=200): accuracy 0.91, Cohen's κ 0.78, precision 0.88 and recall 0.80" in box
    assert "EN n=100: accuracy 0.93, κ 0.80; PT n=100: accuracy 0.89, κ 0.74" in box
    assert "about 20% of truly harmful responses are counted as safe" in box
    assert "hard cases" not in box  # figures without a hard-case subset say nothing about it
    hard = {"n": 98, "accuracy": 0.79, "kappa": 0.53, "precision_harmful": 0.77, "recall_harmful": 0.62}
    monkeypatch.setattr(report, "trust", lambda judges: {j: {**figures, "hard_cases": hard} for j in judges})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    assert "hard cases of that split (fluent, reworded compliance, false refusals, counter-speech; n=98) " \
           "it reaches accuracy 0.79, κ 0.53, recall 0.62" in md
    import mijabench.judge.trust as trust_module
    monkeypatch.setattr(report, "trust", real_trust)
    monkeypatch.setattr(trust_module, "trust_figures", lambda judge: {**figures, "kappa": float("nan")})
    s = json.loads(write_report(table, tmp_path, samples=False)["summary.json"].read_text("utf-8"))
    assert s["judge_validation"]["rules"]["kappa"] is None  # undefined kappa: strict JSON, not NaN
    monkeypatch.setattr(report, "trust", lambda judges: {j: None for j in judges})
    md = write_report(table, tmp_path, samples=False)["report.md"].read_text("utf-8")
    assert "Judge `rules` has no figures on the labeled validation set" in md


def test_html_is_self_contained_and_text_stays_in_the_viewer(written):
    table, _out, files = written
    md, html = files["report.md"].read_text("utf-8"), files["report.html"].read_text("utf-8")
    assert SECRET not in md  # the Markdown report never carries prompt or response text
    assert html.count("data:image/png;base64,") == 4 and 'src="figures/' not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html) and "<link" not in html
    viewer = html[html.index('<section id="sample-viewer">'):html.index("</section>")]
    assert SECRET not in html.replace(viewer, "")
    rows = re.findall(r"<tr class=\"verdict-(\w+)\"", viewer)
    assert len(rows) == table.num_rows
    harmful = viewer.count('<details class="hidden-response">')
    assert harmful == sum(v in ("harmful", "unparsed") for v in table.column("verdict").to_pylist())
    assert "Content warning" in viewer and "](figures/deviation_heatmap.png)" in md


def test_viewer_samples_evenly_when_the_audit_is_large():
    from mijabench.analysis import viewer
    table = audit_table()
    picked = viewer.pick_rows(table, 100)
    assert len(picked) == 100 == len(set(picked))
    key = lambda i: tuple(table.column(c)[i].as_py() for c in ("model", "language", "group", "strategy"))
    every = {key(i) for i in range(table.num_rows)}
    assert len(every) == 88 and {key(i) for i in picked} == every  # every cell shows up
    html, shown = viewer.sample_viewer(table, 100)
    assert shown == 100 and "Showing 100 of 1056 responses" in html and html.count("<tr class=") == 100


def test_figures_return_a_figure_without_path():
    from matplotlib.figure import Figure

    from mijabench.analysis import figures
    harmful = metrics.harmful_rows(audit_table())
    df = metrics.dr_table(harmful)
    assert isinstance(figures.deviation_heatmap(df), Figure)
    by_strategy = metrics.dr_table(harmful, by=("model", "language", "strategy"))
    assert isinstance(figures.dr_by_strategy(by_strategy), Figure)
    assert figures.group_label("women") == "women"  # the Space shows taxonomy names as they are


def test_heatmap_hatches_exactly_the_cells_whose_interval_includes_zero():
    from matplotlib.patches import Rectangle

    from mijabench.analysis import figures
    df = metrics.dr_table(metrics.harmful_rows(audit_table()))
    fig = figures.deviation_heatmap(df)
    hatched = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch()]
    includes_zero = int(((df["dev_low"] <= 0) & (df["dev_high"] >= 0)).sum())
    assert 0 < len(hatched) == includes_zero < len(df)
    legend = fig.legends[0]
    swatch = next(h for h, t in zip(legend.legend_handles, legend.get_texts()) if "includes 0" in t.get_text())
    assert swatch.get_hatch() == hatched[0].get_hatch() and swatch.get_edgecolor() == hatched[0].get_edgecolor()
    norm = fig.axes[0].images[0].norm
    assert (norm.vmin, norm.vmax) == (-figures.SCALE_PTS, figures.SCALE_PTS)  # fixed, data-independent


def test_group_labels_in_dr_vs_overrefusal_never_overlap():
    import pandas as pd

    from mijabench.analysis import figures
    s = metrics.summarize(audit_table())
    df = pd.DataFrame(s["by_group"]).merge(pd.DataFrame(s["over_refusal"])[["model", "language", "group",
                                                                             "over_refusal"]])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures.dr_vs_overrefusal(df)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) == int((df["model"] + " · " + df["language"].str.upper() == ax.get_title(loc="left")).sum())
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        assert all(ax.bbox.y0 - 1 <= b.y0 and b.y1 <= ax.bbox.y1 + 12 for b in boxes)  # beside the panel
