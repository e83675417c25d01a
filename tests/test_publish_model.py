"""The aligned-model release: folder content, card, model-index, offline load, push errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dpo_fixtures import UNSEEN_GROUP, UNSEEN_STRATEGY, trained_model

from mijabench.train import artifacts
from mijabench.train.dpo_eval import markdown_table, summarize
from mijabench.errors import MijaError


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    return trained_model(tmp_path_factory, tiny_model_dir)


def _stat(value, n=40, half=0.08):
    return {"value": value, "ci_low": max(0.0, value - half), "ci_high": min(1.0, value + half), "n": n}


def _row(segment, label, dr, ref):
    return {"segment": segment, "label": label,
            "dr": {"before": _stat(dr[0]), "after": _stat(dr[1])},
            "over_refusal": {"before": _stat(ref[0]), "after": _stat(ref[1])}}


@pytest.fixture
def evaluation(tmp_path):
    """An dpo-eval result (its format, written by hand): a gain that comes with over-refusal."""
    rows = [_row("eval_all:all", "All prompts", (0.40, 0.80), (0.05, 0.60)),
            _row("eval_group:seen", "Seen groups", (0.42, 0.85), (0.05, 0.62)),
            _row("eval_group:held_out", "Held-out groups (zero-shot)", (0.35, 0.45), (0.04, 0.50))]
    disparity = {"before": 0.30, "after": 0.12, "definition": "max - min group DR"}
    result = {"rows": rows, "disparity": disparity, "summary": summarize(rows, disparity),
              "judge": "rules", "n_prompts": {"harmful": 40, "benign": 40}, "languages": ["en"],
              "gen_params": {"max_new_tokens": 16}}
    path = tmp_path / "dpo_eval.json"
    path.write_text(json.dumps(result))
    return path


def test_summary_calls_out_blanket_refusal_and_null_results():
    gain = [_row("eval_all:all", "All", (0.4, 0.8), (0.05, 0.6))]
    assert "refusing legitimate requests" in summarize(gain, {})
    flat = [_row("eval_all:all", "All", (0.4, 0.42), (0.05, 0.06))]
    assert "null result" in summarize(flat, {})
    worse = [_row("eval_all:all", "All", (0.8, 0.3), (0.05, 0.06))]
    assert "negative result" in summarize(worse, {})


@pytest.mark.slow
def test_local_release_folder_is_complete_and_loads_offline(trained, evaluation, tmp_path):
    folder, url = artifacts.publish_model(trained, "mijabench/tiny-dpo", local_dir=tmp_path / "repo",
                                        evaluation=evaluation, license="apache-2.0")
    assert url is None and folder == tmp_path / "repo"
    names = {p.name for p in folder.iterdir()}
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
            "mijabench_dpo.json", "dpo_eval.json"} <= names
    assert not names & {"training_args.bin", "adapter_config.json"}
    card = (folder / "README.md").read_text()
    assert f"`{UNSEEN_GROUP}`" in card and "`black`" in card and f"`{UNSEEN_STRATEGY}`" in card
    assert "base_model: HuggingFaceTB/SmolLM2-135M-Instruct" in card and "model-index:" in card
    assert markdown_table(json.loads(evaluation.read_text())).splitlines()[2] in card
    assert "refusing legitimate requests" in card and "0.300 before → 0.120 after" in card
    from huggingface_hub import ModelCard
    results = ModelCard.load(folder / "README.md").data.eval_results
    held_out = [r for r in results if "Held-out groups" in r.dataset_name and r.metric_type == "defense_rate"]
    assert held_out[0].metric_value == 0.45
    script = ("import sys\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
              "m = AutoModelForCausalLM.from_pretrained(sys.argv[1]); t = AutoTokenizer.from_pretrained(sys.argv[1])\n"
              "ids = t.apply_chat_template([{'role': 'user', 'content': 'hi'}], add_generation_prompt=True,"
              " return_tensors='pt', return_dict=True)\n"
              "print(m.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] - ids['input_ids'].shape[1])")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(folder)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "3"


@pytest.mark.slow
def test_adapter_release_names_its_base_on_the_hub(trained, tmp_path):
    from typer.testing import CliRunner

    from mijabench.cli import app
    folder = tmp_path / "adapter"
    result = CliRunner().invoke(app, ["publish-model", str(trained), "--local-dir", str(folder), "--adapter-only"])
    assert result.exit_code == 0 and f"wrote {folder}" in result.output, result.output
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    card = (folder / "README.md").read_text()
    assert "library_name: peft" in card and "unmeasured" in card and "model-index" not in card
    assert not (folder / "config.json").exists()


def test_release_errors(tmp_path, monkeypatch):
    from huggingface_hub import constants
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    with pytest.raises(MijaError, match="neither model weights"):
        artifacts.publish_model(tmp_path, "me/aligned", token="hf_x")
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(MijaError, match="no Hugging Face token found.*nothing was created"):
        artifacts.publish_model(tmp_path, "me/aligned", endpoint="http://127.0.0.1:9")
    with pytest.raises(MijaError, match="owner/name"):
        artifacts.publish_model(tmp_path, "aligned", token="hf_x")
    with pytest.raises(MijaError, match="no mijabench_dpo.json"):
        artifacts.publish_model(tmp_path, None, local_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


class _Refuse(BaseHTTPRequestHandler):
    """A Hub stand-in that refuses every request (expired token)."""
    calls: list = []

    def _answer(self):
        self.calls.append((self.command, self.path))
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "Invalid credentials"}')

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


def test_push_refused_by_the_hub_is_one_line_without_the_token(tmp_path, free_port, monkeypatch):
    from mijabench.hub.publish import push_folder
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    (tmp_path / "README.md").write_text("x")
    server = HTTPServer(("127.0.0.1", free_port), _Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(MijaError) as err:
            push_folder(tmp_path, "me/aligned", token="hf_secret_value", endpoint=f"http://127.0.0.1:{free_port}")
    finally:
        server.shutdown()
    assert "HTTP 401" in str(err.value) and "hf_secret_value" not in str(err.value)
    assert _Refuse.calls[0][0] == "POST" and _Refuse.calls[0][1] == "/api/repos/create"
