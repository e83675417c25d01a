"""judge-eval: agreement with human labels, the stored trust figures, and the outcome column."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from mijabench.derived import judge_eval as je
from mijabench.derived.mijabench_align import conform
from mijabench.errors import MijaError
from mijabench.judge.trust import trust_figures, validation_dir
from mijabench.schema import AUDIT_SCHEMA, VERDICT_SCHEMA, with_outcome

ROOT = Path(__file__).resolve().parents[1]
CASES = [json.loads(line) for line in (ROOT / "tests/data/intent_cases.jsonl").read_text("utf-8")
         .splitlines() if line.strip()]


@pytest.fixture
def labeled(tmp_path):
    """A small validation folder in the packaged format, from the hand-written intent cases."""
    folder = tmp_path / "validation"
    folder.mkdir()
    rows = [{**{k: c.get(k, "") for k in ("id", "language", "prompt", "response", "intent_id",
                                          "strategy", "kind")},
             "split": "test" if i % 2 else "dev"} for i, c in enumerate(CASES)]
    labels = [{"id": c["id"], "outcome": c["outcome"], "verdict": c["verdict"], "note": ""}
              for c in CASES]
    for name, items in ((je.RESPONSES, rows), (je.LABELS, labels)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in items), "utf-8")
    return folder


def test_scores_count_what_they_claim(labeled):
    rows = je.load_rows("all", labeled)
    predicted = [{"verdict": r["label"], "outcome": r["label_outcome"]} for r in rows]
    predicted[0] = {"verdict": "unparsed", "outcome": ""}  # one miss, no category
    s = je.scores(rows, predicted)
    assert s["n"] == len(rows) and s["accuracy"] == round(1 - 1 / len(rows), 4)
    assert s["unparsed"] == 1 and s["confusion"][rows[0]["label_outcome"]]["(none)"] == 1
    harmful = sum(r["label"] == "harmful" for r in rows)
    assert s["precision_harmful"] == 1.0
    assert s["recall_harmful"] == round((harmful - (rows[0]["label"] == "harmful")) / harmful, 4)


def test_evaluate_splits_languages_and_splits(labeled):
    test_rows = je.load_rows("test", labeled)
    assert {r["split"] for r in test_rows} == {"test"}
    result = je.evaluate(__import__("mijabench.judge.registry", fromlist=["x"]).make_judge("intent"),
                         test_rows)
    assert set(result["by_language"]) == {r["language"] for r in test_rows}
    assert sum(s["n"] for s in result["by_language"].values()) == result["overall"]["n"]
    confusion = result["overall"]["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == len(test_rows)


def test_bad_label_is_one_line_naming_the_row(labeled):
    path = labeled / je.LABELS
    lines = path.read_text("utf-8").splitlines()
    lines[2] = json.dumps({"id": "x", "outcome": "polite", "verdict": "safe", "note": ""})
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(MijaError, match=r"labels_adjudicated.jsonl:line 3: .*outcome"):
        je.load_rows("test", labeled)
    with pytest.raises(MijaError, match="--split"):
        je.load_rows("train", labeled)


def test_cli_judge_eval(labeled, tmp_path):
    out = tmp_path / "eval.json"
    result = subprocess.run([sys.executable, "-m", "mijabench", "judge-eval", "--data", str(labeled),
                             "--split", "all", "--judge", "intent", "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| intent | all |" in result.stdout and "outcome confusion, intent" in result.stdout
    saved = json.loads(out.read_text("utf-8"))
    assert saved["results"][0]["overall"]["n"] == len(CASES)
    for case in CASES:
        assert case["response"][:25] not in result.stdout + result.stderr  # no response text
    bad = subprocess.run([sys.executable, "-m", "mijabench", "judge-eval", "--data",
                          str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_stored_figures_are_a_recomputation_on_the_test_split():
    """figures.json is written by judge-eval, never by hand: recomputing gives the same file."""
    stored = json.loads((validation_dir() / "figures.json").read_text("utf-8"))
    assert stored == je.figures()
    figures = trust_figures("intent")
    assert figures["split"] == "test" and figures["n"] >= 100
    assert set(figures["by_language"]) == {"en", "pt"}
    for key in ("accuracy", "kappa", "precision_harmful", "recall_harmful", "source"):
        assert key in figures
    assert trust_figures("llm:some-model") is None


def test_audits_judged_before_outcomes_stay_readable():
    assert VERDICT_SCHEMA.names[-1] == "outcome"
    old = pa.table({name: pa.array([], type=AUDIT_SCHEMA.field(name).type)
                    for name in AUDIT_SCHEMA.names if name != "outcome"})
    assert with_outcome(old).column_names[-1] == "outcome"
    assert conform(old, "old.parquet").schema == AUDIT_SCHEMA
