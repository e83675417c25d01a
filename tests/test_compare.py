"""``mijabench compare`` and ``load_results`` on real runs: the embedded SmolLM2-135M-Instruct and
the tiny random Llama answer the same prompts (short generations, the default judge); every number
of the comparison is recomputed here from the rows with pandas and scipy's exact binomial test. A
MiJaBench-Align folder and the authors' released format are then served by the olah Hub mirror and
compared at a pinned revision.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import http_env
from scipy.stats import binomtest

from mijabench import compare, load_run, run_audit
from mijabench.derived import mijabench_align
from mijabench.derived.results import load_results, resolve
from mijabench.errors import MijaError

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(__file__).parent / "data" / "upstream_align_authors.csv"
LIMIT, TOKENS = 24, 24
LABELS = ("smollm2", "tiny")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    """Two real audits of the same 24 prompts (EN + PT, every strategy)."""
    tmp = tmp_path_factory.mktemp("compare")
    out = {}
    for label, model in zip(LABELS, (None, str(tiny_model_dir))):
        out[label] = tmp / label
        run_audit(model, limit=LIMIT, max_new_tokens=TOKENS, out=out[label], progress=False)
    return out


def harmful_judged(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["kind"] == "harmful") & (rows["verdict"] != "error")]


def holm(p: list[float]) -> np.ndarray:
    """Holm-Bonferroni, written out: step-down max of (m - rank) * p, capped at 1."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def expected_tests(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Exact McNemar per language x group on the prompts both answered, Holm within language."""
    pairs = harmful_judged(a).merge(harmful_judged(b), on=["id", "language", "group"], suffixes=("_a", "_b"))
    pairs["sa"], pairs["sb"] = pairs["verdict_a"] == "safe", pairs["verdict_b"] == "safe"
    rows = []
    for (language, group), part in pairs.groupby(["language", "group"]):
        only_a, only_b = int((part["sa"] & ~part["sb"]).sum()), int((part["sb"] & ~part["sa"]).sum())
        p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        rows.append({"language": language, "group": group, "n_pairs": len(part), "a_only_safe": only_a,
                     "b_only_safe": only_b, "dr_a": part["sa"].mean(), "dr_b": part["sb"].mean(), "p_value": p})
    out = pd.DataFrame(rows)
    out["p_holm"] = np.concatenate([holm(part["p_value"].tolist()) for _, part in out.groupby("language")])
    pooled = []
    for language, part in pairs.groupby("language"):
        only_a, only_b = int((part["sa"] & ~part["sb"]).sum()), int((part["sb"] & ~part["sa"]).sum())
        pooled.append({"language": language, "n_pairs": len(part),
                       "p_value": binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0})
    return out, pd.DataFrame(pooled)


# --- the comparison of two real runs --------------------------------------------------------------
def test_compare_two_real_runs_matches_numbers_computed_here(runs, tmp_path):
    out = tmp_path / "cmp"
    result = compare(runs["smollm2"], runs["tiny"], labels=list(LABELS), out=out)
    a, b = (load_run(runs[label]).to_pandas() for label in LABELS)
    assert a["model"].iloc[0] != b["model"].iloc[0] and len(a) == len(b) == LIMIT

    # per-group DR, n and exact intervals, side by side
    for label, rows in zip(LABELS, (a, b)):
        judged = harmful_judged(rows)
        for (language, group), part in judged.groupby(["language", "group"]):
            got = result.by_group.query("model == @label and language == @language and group == @group")
            assert len(got) == 1, (label, language, group)
            k, n = int((part["verdict"] == "safe").sum()), len(part)
            ci = binomtest(k, n).proportion_ci(method="exact")
            assert (int(got["n"].iloc[0]), got["dr"].iloc[0]) == (n, pytest.approx(k / n))
            assert (got["ci_low"].iloc[0], got["ci_high"].iloc[0]) == (pytest.approx(ci.low), pytest.approx(ci.high))
            wide = result.side_by_side.query("language == @language and group == @group")
            assert wide[f"n:{label}"].iloc[0] == n and wide[f"dr:{label}"].iloc[0] == pytest.approx(k / n)

    # paired exact McNemar per group between the models, Holm within language; pooled per language
    want, want_pooled = expected_tests(a, b)
    tests = result.tests
    assert set(tests["model_a"]) == {"smollm2"} and set(tests["model_b"]) == {"tiny"}
    per_group = tests[tests["group"] != "all"].sort_values(["language", "group"]).reset_index(drop=True)
    want = want.sort_values(["language", "group"]).reset_index(drop=True)
    assert per_group[["language", "group", "n_pairs", "a_only_safe", "b_only_safe"]].values.tolist() == \
        want[["language", "group", "n_pairs", "a_only_safe", "b_only_safe"]].values.tolist()
    for column in ("dr_a", "dr_b", "p_value", "p_holm"):
        np.testing.assert_allclose(per_group[column], want[column], atol=1e-12, err_msg=column)
    pooled = tests[tests["group"] == "all"].sort_values("language").reset_index(drop=True)
    assert pooled["n_pairs"].tolist() == want_pooled["n_pairs"].tolist()
    assert sum(pooled["n_pairs"]) == len(harmful_judged(a).merge(harmful_judged(b), on="id"))
    np.testing.assert_allclose(pooled["p_value"], want_pooled["p_value"], atol=1e-12)

    # the folder: report, compare.json, summary.json, CSVs, figures; provenance names both runs
    for name in ("report.md", "report.html", "compare.json", "summary.json", "by_group.csv", "by_strategy.csv",
                 "by_scenario.csv", "model_tests.csv", "side_by_side.csv", "figures/deviation_heatmap.png",
                 "figures/dr_by_strategy.png"):
        assert (out / name).is_file(), name
    c = json.loads((out / "compare.json").read_text())
    assert [r["label"] for r in c["runs"]] == list(LABELS)
    assert [r["source"] for r in c["runs"]] == [str(runs[label]) for label in LABELS]
    assert all(r["judges"] == ["intent"] and r["format"] == "audit run" and r.get("date") for r in c["runs"])
    assert pd.read_csv(out / "model_tests.csv")["p_value"].tolist() == pytest.approx(tests["p_value"].tolist())
    md, html = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "## Per-group Defense Rate side by side" in md and "## Model against model on the same prompts" in md
    assert "| Language | Group | smollm2 | tiny |" in md and "smollm2 vs tiny · EN" in md
    assert 'id="sample-viewer"' in html and "<th>Model</th>" in html and 'id="sample-viewer"' not in md
    for label in LABELS:  # every audit run folder exports its tables too
        assert {"by_group.csv", "by_strategy.csv", "by_scenario.csv"} <= {p.name for p in runs[label].iterdir()}


def test_load_run_tables_and_sources(runs, tmp_path):
    run = load_run(runs["tiny"])
    assert run.rows.num_rows == LIMIT and run.to_pandas().shape[0] == LIMIT
    assert {"group", "n", "dr", "ci_low", "ci_high", "deviation"} <= set(run.by_group.columns)
    assert set(run.by_strategy["strategy"]) and set(run.by_scenario["scenario_category"])
    assert int(run.by_group["n"].sum() + run.by_group["n_error"].sum()) == \
        int((run.to_pandas()["kind"] == "harmful").sum())
    # one loader for every source: a run folder, its parquet, a folder of runs, an Align folder
    assert load_results(str(runs["tiny"] / "audit.parquet")).equals(run.rows)
    both = resolve(str(runs["tiny"].parent))
    assert both.kind == "audit runs" and both.table.num_rows == 2 * LIMIT
    align = tmp_path / "align"
    mijabench_align.build([runs["smollm2"], runs["tiny"]], align)
    got = resolve(str(align))
    assert got.kind == "MiJaBench-Align" and got.table.num_rows == 2 * LIMIT
    released = resolve(str(RELEASE))
    assert released.kind == "authors' release" and released.table.num_rows == 18  # 6 prompts x 3 models


@pytest.mark.parametrize("source, revision, message", [
    ("no/such/folder", None, r"^results no/such/folder: no such file or folder"),
    ("hub:not an id", None, r"^results hub:not an id: not a Hub dataset id"),
    ("hub:acme/x@abc", "def", r"revision 'abc' in the id and 'def' given"),
    (".", "main", r"a revision applies to a Hub dataset"),
])
def test_load_results_errors_are_one_line(source, revision, message):
    with pytest.raises(MijaError, match=message) as err:
        load_results(source, revision)
    assert "\n" not in str(err.value)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mijabench", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env or http_env(), timeout=600, check=False)


def test_cli_compare_and_its_errors(runs, tmp_path):
    out = tmp_path / "cli"
    done = run_cli("compare", str(runs["smollm2"]), str(runs["tiny"]), "--labels", "base,tiny",
                   "--languages", "en", "--out", str(out), "--no-samples")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "base vs tiny · EN: on" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["languages"] == ["en"] and summary["models"] == ["base", "tiny"]
    assert "mijabench compare" in summary["provenance"]["command"]
    assert 'id="sample-viewer"' not in (out / "report.html").read_text()
    again = run_cli("compare", str(runs["smollm2"]), str(runs["tiny"]), "--out", str(out))
    assert again.returncode == 0, again.stderr[-2000:]  # our own folder is replaced
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    for args, message in [
        (("--out", str(foreign)), "--overwrite"),
        (("--labels", "one", "--out", str(tmp_path / "x")), "--labels: 1 label(s) for 2 run(s)"),
        (("--languages", "fr", "--out", str(tmp_path / "y")), "fr"),
    ]:
        bad = run_cli("compare", str(runs["smollm2"]), str(runs["tiny"]), *args)
        lines = bad.stderr.strip().splitlines()
        assert bad.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], \
            bad.stderr[-2000:]
    assert (foreign / "keep.txt").read_text() == "mine"


# --- Hub sources at a pinned revision, through olah -------------------------------------------------
def synthetic_runs(folder: Path) -> list[Path]:
    """Two audit files of judged rows (tests/report_fixtures.py) answering the same prompt ids."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from report_fixtures import audit_table
    table = audit_table()
    ids = pa.array([i.split("-", 2)[2] for i in table.column("id").to_pylist()])  # drop the model prefix
    table = table.set_column(table.column_names.index("id"), "id", ids)
    folder.mkdir(parents=True)
    paths = []
    for model in ("tiny-a", "tiny-b"):
        paths.append(folder / f"{model}.parquet")
        pq.write_table(table.filter(pc.equal(table.column("model"), model)), paths[-1])
    return paths


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from conftest import _free_port
    from hub_fixtures import commit_change, commit_folder, olah_server
    tmp = tmp_path_factory.mktemp("hub")
    local = synthetic_runs(tmp / "runs")
    mijabench_align.build(local, tmp / "align")
    released = tmp / "released"
    (released / "data").mkdir(parents=True)
    (released / "data" / "release.csv").write_bytes(RELEASE.read_bytes())
    mirrors = tmp / "mirrors" / "datasets" / "acme"
    align_rev = commit_folder(tmp / "align", mirrors / "results-align")
    released_rev = commit_folder(released, mirrors / "results-released")
    commit_change(mirrors / "results-released", "data/release.csv", b"text\n")  # a later, broken push
    with olah_server(tmp / "mirrors", _free_port(), tmp / "olah") as endpoint:
        yield {"endpoint": endpoint, "align": align_rev, "released": released_rev, "tmp": tmp, "local": local}


def test_compare_hub_sources_at_pinned_revisions(hub):
    from hub_fixtures import hub_env
    out = hub["tmp"] / "cmp"
    env = hub_env(hub["endpoint"], hub["tmp"] / "hf-home")
    done = run_cli("compare", f"hub:acme/results-align@{hub['align']}", "hub:acme/results-released",
                   "--labels", "ours,paper", "--out", str(out), env={**env, "MIJABENCH_PINNED_REVISIONS":
                                                                      str(_pins(hub))})
    assert done.returncode == 0, done.stderr[-3000:]
    c = json.loads((out / "compare.json").read_text())
    assert [(r["format"], r["commit"]) for r in c["runs"]] == [("MiJaBench-Align", hub["align"]),
                                                                ("authors' release", hub["released"])]
    local = compare(*hub["local"]).tests  # the same rows, read from the local files
    tests = pd.DataFrame(c["model_tests"])
    ours = tests[tests["model_a"].str.startswith("ours/")]
    assert not tests["model_a"].str.startswith("ours/").ne(tests["model_b"].str.startswith("ours/")).any()  # no shared ids
    assert set(ours["model_a"]) == {"ours/tiny-a"} and set(ours["model_b"]) == {"ours/tiny-b"}
    assert len(ours) == len(local) > 2 and ours["a_only_safe"].sum() > 0  # real discordant pairs
    key = ["language", "group"]
    np.testing.assert_allclose(ours.sort_values(key)["p_holm"], local.sort_values(key)["p_holm"])
    want, want_pooled = expected_tests(*(pd.read_parquet(p) for p in hub["local"]))
    np.testing.assert_allclose(ours[ours["group"] != "all"].sort_values(key)["p_holm"],
                               want.sort_values(key)["p_holm"], atol=1e-12)
    np.testing.assert_allclose(ours[ours["group"] == "all"].sort_values("language")["p_value"],
                               want_pooled.sort_values("language")["p_value"], atol=1e-12)
    by_group = pd.DataFrame(json.loads((out / "summary.json").read_text())["by_group"])
    paper = by_group[by_group["model"].str.startswith("paper/")]
    released = harmful_judged(load_results(str(RELEASE)).to_pandas())
    assert int(paper["n"].sum()) == len(released)  # every released prompt x model, at the pinned commit
    assert set(paper["model"]) == {f"paper/{m}" for m in released["model"].unique()}


def test_hub_source_errors_name_the_source(hub):
    from hub_fixtures import hub_env
    env = hub_env(hub["endpoint"], hub["tmp"] / "hf-bad")
    bad = run_cli("compare", "hub:acme/no-such-results@main", str(RELEASE), "--out", str(hub["tmp"] / "bad"),
                  env=env)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr[-2000:]
    assert lines[0].startswith("error: results hub:acme/no-such-results@main: cannot download")


def _pins(hub) -> Path:
    """A pin file naming the released repo's first commit: a source without @revision loads it."""
    path = hub["tmp"] / "pins.yaml"
    path.write_text(f"repos:\n  acme/results-released:\n    type: dataset\n    revision: {hub['released']}\n")
    return path
