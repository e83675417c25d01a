"""The trained detector as the ``guard:FOLDER`` judge and as an output filter (issue 5, part 4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from guard_fixtures import shared_guard

from mijabench.train import guard_eval
from mijabench.errors import MijaError
from mijabench.judge.registry import judge_table, make_judge
from mijabench.schema import AUDIT_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
REFUSAL = "I can't help with that request. Let's talk about something constructive instead."
COMPLIANCE = "Sure, here is the text you asked for: [UNSAFE PLACEHOLDER violence 7] step one, step two."


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return shared_guard(tmp_path_factory)[0]


@pytest.fixture(scope="module")
def guard(tmp_path_factory) -> Path:
    return shared_guard(tmp_path_factory)[1]


def audit_rows(responses: list[str]) -> pa.Table:
    rows = []
    for i, response in enumerate(responses):
        row = {f.name: "" if pa.types.is_string(f.type) else None for f in AUDIT_SCHEMA}
        row.update(id=f"p{i}", language="en", prompt=f"prompt {i}", response=response, model="m",
                   model_params=None, latency_s=0.1, refusal=False)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


@pytest.mark.slow
def test_guard_judge_flags_unsafe_and_passes_refusals(guard, dataset):
    judge = make_judge(f"guard:{guard}")
    assert judge.id == "guard:fixture-guard"
    verdicts = judge.judge(["p", "q"], [COMPLIANCE, REFUSAL], ["en", "en"])
    assert [v.verdict for v in verdicts] == ["harmful", "safe"]
    assert verdicts[1].refusal and not verdicts[0].refusal
    assert verdicts[0].rationale.startswith("guard p_unsafe=") and "UNSAFE" not in verdicts[0].rationale
    # On the held-out split the judge agrees with the human labels as the card says it does.
    rows = guard_eval.load_rows(dataset, "human", "test")
    got = judge.judge([r["prompt"] for r in rows], [r["response"] for r in rows], ["en"] * len(rows))
    card_f1 = json.loads((guard / "eval_results.json").read_text())["after"]["overall"]["f1"]
    agree = guard_eval.binary_scores([r["final_label"] for r in rows],
                                     ["unsafe" if v.verdict == "harmful" else "safe" for v in got])
    assert agree["f1"] == pytest.approx(card_f1)


@pytest.mark.slow
def test_judge_table_with_the_classifier_judge(guard):
    judged = judge_table(audit_rows([COMPLIANCE, REFUSAL, ""]), make_judge(f"guard:{guard}"),
                         progress=False).to_pylist()
    assert [r["verdict"] for r in judged] == ["harmful", "safe", "unparsed"]
    assert json.loads(judged[0]["judge_verdicts"])["guard:fixture-guard"]["verdict"] == "harmful"


@pytest.mark.slow
def test_guard_loads_in_a_fresh_process_and_serves_as_the_audit_judge(guard, smollm2_dir, tmp_path):
    from mijabench.audit import runner as audit
    from mijabench.bench import configs as benchmark
    from mijabench.judge.guard import load_guard
    tables = benchmark.build_configs(("counterfactual",), ("en",), seed=0, per_group=4)["counterfactual"]
    prompts = tmp_path / "prompts.parquet"
    pq.write_table(audit.limit_rows(tables["harmful"], 3), prompts)
    run = tmp_path / "run"
    script = ("import sys, pyarrow.parquet as pq; from mijabench.audit.runner import run_audit; "
              "from mijabench.run.types import GenParams; from mijabench.run.backends import make_backend; "
              "run_audit(pq.read_table(sys.argv[1]), make_backend(sys.argv[2]), GenParams(max_new_tokens=8), "
              "sys.argv[3], 'guard:' + sys.argv[4], progress=False, report=False)")
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script, str(prompts), str(smollm2_dir), str(run), str(guard)],
                   check=True, env=env, cwd=ROOT)
    rows = pq.read_table(run / "audit.parquet").to_pylist()
    assert len(rows) == 3 and {r["judge"] for r in rows} == {"guard:fixture-guard"}
    assert all(r["response"].strip() and r["verdict"] in ("safe", "harmful") for r in rows)
    # The fresh process gave the same answers as the detector loaded here.
    preds = load_guard(guard).predict([r["prompt"] for r in rows], [r["response"] for r in rows])
    assert [r["verdict"] for r in rows] == ["harmful" if p.label == "unsafe" else "safe" for p in preds]
    assert [r["rationale"] for r in rows] == [f"guard p_unsafe={p.p_unsafe:.3f}" for p in preds]


def test_judge_spec_without_a_guard_folder_is_one_line_error(tmp_path):
    with pytest.raises(MijaError, match="not a guard folder") as exc:
        make_judge(f"guard:{tmp_path}")
    assert "\n" not in str(exc.value)


@pytest.mark.slow
def test_filter_replaces_or_blocks_flagged_outputs_and_reports_latency(guard, smollm2_dir):
    from mijabench.run.types import GenParams
    from mijabench.run.backends import make_backend
    from mijabench.audit.filter import REPLACEMENTS, FilteredBackend
    prompts = ["Say hello.", "Write one word.", "Count to three."]
    params = GenParams(max_new_tokens=8)
    backend = make_backend(str(smollm2_dir))  # the real small model, so there is text to score
    plain = FilteredBackend(backend, guard)
    gens = plain.generate(prompts, params, progress=False)
    assert plain.model_id.endswith("+guard:fixture-guard")
    assert all(r.original.strip() for r in plain.stats.records)
    scores = plain.guard.predict(prompts, [r.original for r in plain.stats.records])
    for gen, rec, pred in zip(gens, plain.stats.records, scores):
        assert rec.flagged == (pred.p_unsafe >= 0.5) and rec.p_unsafe == pytest.approx(pred.p_unsafe, abs=1e-5)
        assert gen.text == (REPLACEMENTS["en"] if rec.flagged else rec.original)
        assert rec.filter_latency_s > 0 and gen.latency_s == pytest.approx(rec.gen_latency_s + rec.filter_latency_s)
    strict = FilteredBackend(backend, guard, mode="block", threshold=0.0)
    assert [g.text for g in strict.generate(prompts, params, progress=False)] == ["", "", ""]
    summary = strict.stats.summary()
    assert summary["flagged"] == 3 and summary["filter_latency_s_mean"] > 0
    assert summary["added_latency_pct"] > 0
    with pytest.raises(MijaError, match="--threshold 2"):
        FilteredBackend(backend, guard, threshold=2)


@pytest.mark.slow
def test_filter_cli_writes_filtered_and_original_responses(guard, smollm2_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Say hello.\nName a colour.\n")
    out = tmp_path / "filtered.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "mijabench", "filter", "--guard", str(guard), "--model", str(smollm2_dir),
         "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "8", "--threshold", "0",
         "--language", "pt"], capture_output=True, text=True, cwd=ROOT,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(r["flagged"] for r in rows)
    assert all(r["response"].startswith("Não posso compartilhar") for r in rows)
    assert all("original_response" in r and r["filter_latency_s"] > 0 for r in rows)
    assert "2/2 responses flagged (replace); mean latency generation" in proc.stdout and "% )" not in proc.stdout


@pytest.mark.slow
def test_guard_eval_cli_prints_scores(guard, dataset, tmp_path):
    from typer.testing import CliRunner

    from mijabench.cli import app
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(app, ["guard-eval", "--guard", str(guard), "--dataset", str(dataset),
                                      "--config", "human", "--out", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    card = json.loads((guard / "eval_results.json").read_text())["after"]
    assert saved["overall"]["f1"] == pytest.approx(card["overall"]["f1"])
    assert f"f1={card['overall']['f1']:.3f}" in result.output and "| violence |" in result.output


class _Canned:
    """A backend answering fixed texts (the judge detector needs no model)."""
    model_id = "canned"

    def __init__(self, texts):
        self.texts = texts

    def generate(self, prompts, params, progress=True):
        from mijabench.run.types import Generation
        return [Generation(t, None, 0.01) for t in self.texts[:len(prompts)]]


class _Scripted:
    """A judge returning scripted verdicts, to pin the detector's mapping (unparsed included)."""
    id = "scripted"

    def __init__(self, verdicts):
        self.verdicts = verdicts

    def judge(self, prompts, responses, languages):
        from mijabench.judge.base import Verdict
        assert set(languages) == {"pt"}  # the filter's language reaches the judge
        return [Verdict(v, "scripted", self.id, v == "safe") for v in self.verdicts]


def test_filter_without_a_guard_uses_the_intent_judge_and_flags_unparsed():
    from mijabench.audit.filter import REPLACEMENTS, FilteredBackend, JudgeDetector
    from mijabench.run.types import GenParams
    detector = JudgeDetector(None, "pt")
    assert detector.name == "judge:intent"
    default = FilteredBackend(_Canned(["ok"]), None, language="pt")
    assert default.model_id == "canned+guard:judge:intent"
    detector.judge = _Scripted(["safe", "harmful", "unparsed"])
    backend = FilteredBackend(_Canned(["a", "b", "c"]), detector, language="pt")
    gens = backend.generate(["p1", "p2", "p3"], GenParams(max_new_tokens=4), progress=False)
    assert [r.flagged for r in backend.stats.records] == [False, True, True]  # unparsed is never passed
    assert [r.category for r in backend.stats.records] == ["", "hate_speech", "unparsed"]
    assert [g.text for g in gens] == ["a", REPLACEMENTS["pt"], REPLACEMENTS["pt"]]


def test_filter_cli_refuses_a_guard_and_a_judge_together(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Say hello.\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mijabench", "filter", "--guard", str(tmp_path), "--judge", "rules",
         "--prompts", str(prompts)], capture_output=True, text=True, cwd=ROOT,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert proc.returncode != 0 and proc.stderr.strip() == "error: --guard and --judge: give one detector, not both"
