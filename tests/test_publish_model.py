"""The aligned-model release: folder content, card, model-index, offline load, push errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dpo_fixtures import UNSEEN_GROUP, UNSEEN_STRATEGY, eval_tables, trained_model

from mijabench.train import artifacts
from mijabench.train.dpo_eval import compare, markdown_table
from mijabench.errors import MijaError


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    return trained_model(tmp_path_factory, tiny_model_dir)


@pytest.fixture
def evaluation(tmp_path):
    """A dpo-eval result computed from hand-judged rows (held-out groups: DR 0.25 -> 0.85)."""
    result = compare(*eval_tables())
    result.update(judge="intent", n_prompts={"harmful": 80, "benign": 80}, languages=["en", "pt"],
                  gen_params={"max_new_tokens": 16}, held_out_groups=["women", "elderly"],
                  held_out_strategies=["logical_rationalization"])
    path = tmp_path / "dpo_eval.json"
    path.write_text(json.dumps(result))
    return path


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
    # the before/after numbers are the evaluation JSON's, row for row
    saved = json.loads(evaluation.read_text())
    for line in markdown_table(saved).splitlines()[2:2 + len(saved["rows"])]:
        assert line in card
    assert "gap 0.250 → 0.850" in card and "Target of the protocol" in card
    # the held-out splits per language, from the training record
    assert "### Held-out splits" in card and f"| pt | `black`, `{UNSEEN_GROUP}` |" in card
    from huggingface_hub import ModelCard
    results = ModelCard.load(folder / "README.md").data.eval_results
    held_out = [r for r in results if "Held-out groups" in r.dataset_name and r.metric_type == "defense_rate"]
    assert held_out[0].metric_value == 0.85
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
