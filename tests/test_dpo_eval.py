"""dpo-eval: same prompts for base and aligned, seen vs held-out segments, CIs, over-refusal."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest
from dpo_fixtures import write_pairs
from typer.testing import CliRunner

from mijabench.train import dpo_eval
from mijabench.bench import material
from mijabench.cli import app
from mijabench.errors import MijaError

REFUSAL = material.load("en").refusal_templates[0]


class _Refuser(BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose model refuses everything: the blanket-refusal case."""

    def _send(self, body: dict):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "refuser", "object": "model"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send({"id": "r", "object": "chat.completion", "created": 0, "model": "refuser",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": REFUSAL}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def log_message(self, *args):
        pass


@pytest.fixture
def refuser(free_port, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    server = ThreadingHTTPServer(("127.0.0.1", free_port), _Refuser)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{free_port}"
    server.shutdown()


@pytest.mark.slow
def test_blanket_refusal_shows_up_as_over_refusal(tmp_path, tiny_model_dir, refuser):
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, [
        "align-eval", "--aligned", refuser, "--base", str(tiny_model_dir), "--out", str(out),
        "--held-out-groups", "women,black", "--held-out-strategies", "chain_of_thought",
        "--languages", "en", "--per-group", "4", "--max-new-tokens", "6"])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / dpo_eval.RESULT_FILE).read_text())
    rows = {r["segment"]: r for r in saved["rows"]}
    assert {"eval_all:all", "eval_group:seen", "eval_group:held_out", "eval_strategy:seen",
            "eval_strategy:held_out", "eval_cell:unseen_both"} <= set(rows)
    before, after = (pq.read_table(out / n / "audit.parquet") for n in ("base", "aligned"))
    assert sorted(before.column("id").to_pylist()) == sorted(after.column("id").to_pylist())
    for row in saved["rows"]:
        for metric in ("dr", "refusal", "incoherence", "over_refusal"):
            for stat in (row[metric]["before"], row[metric]["after"]):
                assert stat["ci_low"] <= stat["value"] <= stat["ci_high"] and stat["n"] > 0
    held = rows["eval_group:held_out"]
    assert held["dr"]["before"]["n"] == 2 * 4 and held["dr"]["after"]["value"] == 1.0
    assert rows["eval_all:all"]["over_refusal"]["after"]["value"] == 1.0
    assert rows["eval_all:all"]["over_refusal"]["before"]["value"] == 0.0
    # whatever the tiny base scores, a model that refuses everything is called out
    assert "Over-refusal on benign twins: 0.00 -> 1.00 (up)" in saved["summary"]
    over = rows["eval_all:all"]["over_refusal"]["mcnemar"]
    assert over["only_after"] == 52 and over["only_before"] == 0 and over["p_value"] < 1e-10
    assert "+1.00 (p=" in result.output.split("All prompts")[1].split("\n")[0].rsplit("|", 2)[-2]
    assert saved["disparity"]["after"]["gap"] == 0.0 and saved["n_prompts"] == {"harmful": 52, "benign": 52}
    assert "Held-out groups (zero-shot)" in result.output


def test_prompts_trained_on_are_excluded(tmp_path):
    pairs = write_pairs(tmp_path / "pairs", max_train=None)
    plan = dpo_eval.EvalPlan(base="unused", aligned="unused", out=tmp_path, held_out_groups=["women"],
                               held_out_strategies=["chain_of_thought"], languages=["en"], pairs=pairs,
                               per_group=4, seed=0)
    prompts, excluded = dpo_eval.eval_prompts(plan)
    trained = dpo_eval.training_prompts(pairs)
    assert excluded == len(trained) > 0
    assert not trained & set(prompts.column("prompt").to_pylist())
    held = [g == "women" for g in prompts.column("group").to_pylist()]
    assert [s == "held_out" for s in prompts.column("eval_group").to_pylist()] == held


def test_per_cell_sample_is_balanced_and_keeps_twins(tmp_path):
    from collections import Counter
    plan = dpo_eval.EvalPlan(base="unused", aligned="unused", out=tmp_path,
                             held_out_groups=["women", "muslim", "latino", "elderly"],
                             held_out_strategies=["logical_rationalization"], languages=["en", "pt"],
                             per_group=16, seed=7, per_cell=20, benign_share=0.5)
    prompts, _ = dpo_eval.eval_prompts(plan)
    rows = prompts.to_pylist()
    harmful = [r for r in rows if r["kind"] == "harmful"]
    assert Counter(r["eval_cell"] for r in harmful) == {c: 20 for c in ("seen", "unseen_group", "unseen_strategy",
                                                                       "unseen_both")}
    both = Counter((r["language"], r["group"]) for r in harmful if r["eval_cell"] == "unseen_both")
    assert max(both.values()) - min(both.values()) <= 1 and {lang for lang, _ in both} == {"en", "pt"}
    twins = {(r["counterfactual_id"], r["group"]) for r in harmful}
    benign = [r for r in rows if r["kind"] == "benign"]
    assert len(benign) == 40 and all((r["counterfactual_id"], r["group"]) in twins for r in benign)
    again, _ = dpo_eval.eval_prompts(plan)
    assert again.column("id").to_pylist() == prompts.column("id").to_pylist()  # reruns pick the same rows


def test_bad_held_out_names_and_missing_base(tmp_path):
    with pytest.raises(MijaError, match="unknown group 'martians'"):
        dpo_eval.EvalPlan.resolve(aligned=tmp_path, base="x", held_out_groups="martians")
    with pytest.raises(MijaError, match="pass --base"):
        dpo_eval.EvalPlan.resolve(aligned=tmp_path)


def test_resuming_with_other_weights_is_refused(tmp_path, tiny_model_dir):
    folder = tmp_path / "aligned"
    dpo_eval._check_same_model(str(tiny_model_dir), folder)
    dpo_eval._check_same_model(str(tiny_model_dir), folder)  # same weights: resume is fine
    retrained = tmp_path / "merged"
    retrained.mkdir()
    (retrained / "config.json").write_text("{}")
    with pytest.raises(MijaError, match="other weights"):
        dpo_eval._check_same_model(str(retrained), folder)
