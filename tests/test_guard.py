"""Detector training (align/guard.py): both recipes train a few steps, evaluate before/after and
write the table into the model card; config YAML parsing; push without a token fails early."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from guard_fixtures import shared_guard, train_guard
from hub_fixtures import recording_hub

from mijabench.judge import guard as guard_model
from mijabench.train import guard_eval
from mijabench.train import guard as guard_training
from mijabench.errors import MijaError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[Path, Path]:
    return shared_guard(tmp_path_factory)


@pytest.fixture(scope="module")
def dataset(shared) -> Path:
    return shared[0]


def _check_detector_folder(out: Path, recipe: str) -> dict:
    meta = json.loads((out / guard_model.GUARD_META).read_text())
    assert meta["recipe"] == recipe and meta["n_train"] == 36
    results = json.loads((out / "eval_results.json").read_text())
    for stage in ("before", "after"):
        overall = results[stage]["overall"]
        assert overall["n"] == meta["n_eval"]
        assert all(0.0 <= overall[k] <= 1.0 for k in ("accuracy", "precision", "recall", "f1"))
        assert overall["fnr"] == pytest.approx(1 - overall["recall"])
    change = results["f1_change"]  # paired comparison; per-row predictions stay out of the JSON
    assert change["f1_delta"] == pytest.approx(results["after"]["overall"]["f1"] - results["before"]["overall"]["f1"])
    assert change["ci_low"] <= change["ci_high"] and "predicted" not in results["after"]
    pred = json.loads((out / guard_training.PREDICTIONS).read_text())  # per-row labels, no text
    assert set(pred) == {"id", "language", "truth", "before", "after"} and len(pred["after"]) == meta["n_eval"]
    assert guard_eval.binary_scores(pred["truth"], pred["after"]) == pytest.approx(results["after"]["overall"])
    card = (out / "README.md").read_text()
    assert "| before fine-tuning |" in card and "| after fine-tuning |" in card and "F1 change: " in card
    assert "FNR (unsafe missed)" in card and "human (conservative): 36 training rows" in card
    assert not list(out.parent.glob(f"{out.name}.checkpoints"))  # finished runs leave no checkpoints
    return results


@pytest.mark.slow
def test_classifier_recipe_on_minilm_improves_and_writes_card(shared):
    out = shared[1]  # MiniLM, 10 steps (see guard_fixtures.train_guard)
    results = _check_detector_folder(out, "classifier")
    before, after = results["before"], results["after"]
    assert set(after["per_category"]) == {"hate_speech", "harassment", "violence", "self_harm",
                                          "illegal_activity", "privacy"}
    # A random head scores no better than chance; four steps on this easy fixture separate it.
    assert after["overall"]["f1"] > before["overall"]["f1"]
    assert after["overall"]["fnr"] < 0.5
    card = (out / "README.md").read_text()
    assert "| hate_speech | 2 | 1 |" in card  # per-category rows
    assert "pipeline_tag: text-classification" in card


@pytest.mark.slow
def test_classifier_recipe_on_a_decoder_backbone(dataset, tmp_path, tiny_model_dir):
    out = train_guard(dataset, tmp_path / "guard-tiny", model_name_or_path=str(tiny_model_dir),
                      max_steps=2, input_format="prompt_response")
    _check_detector_folder(out, "classifier")
    loaded = guard_model.load_guard(out)
    preds = loaded.predict(["p one", "p two"], ["a reply", "another reply"])
    assert [p.label in ("safe", "unsafe") for p in preds] == [True, True]


@pytest.mark.slow
def test_sft_recipe_on_smollm2_writes_before_after(dataset, tmp_path, smollm2_dir):
    out = train_guard(dataset, tmp_path / "guard-sft", recipe="sft", model_name_or_path=str(smollm2_dir),
                      max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3, lora_r=4,
                      lora_alpha=8, max_eval_samples=4)
    results = _check_detector_folder(out, "sft")
    assert results["after"]["overall"]["n"] == 4
    assert not (out / "adapter_config.json").exists()  # merged: loads without peft or the base path
    card = (out / "README.md").read_text()
    assert "lora" in card and "`safe`, or `unsafe` and a risk category" in card


def test_sft_records_put_the_answer_after_a_truncated_prompt(smollm2_dir):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    rows = [{"prompt": "p", "response": "word " * 500, "final_label": "unsafe", "risk_category": "privacy"},
            {"prompt": "q", "response": "short", "final_label": "safe", "risk_category": "other"}]
    recs = guard_training.sft_records(tok, rows, "response", 128)
    assert recs[0]["completion"][0]["content"] == "unsafe\nprivacy"
    assert recs[1]["completion"][0]["content"] == "safe"
    full = tok.apply_chat_template(recs[0]["prompt"] + recs[0]["completion"], tokenize=True,
                                   return_dict=True)["input_ids"]
    assert len(full) <= 128  # the long reply was cut so the answer is never truncated away
    with pytest.raises(MijaError, match="max_length 40: too short"):
        guard_training.sft_records(tok, rows, "response", 40)


def test_config_yaml_and_push_without_token_fail_before_training(dataset, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored login either
    out = tmp_path / "never"
    with recording_hub("hf_test_token") as hub:
        argv = ["--config", str(ROOT / "align/configs/guard_classifier.yaml"), "--dataset_name", str(dataset),
                "--output_dir", str(out), "--push_to_hub", "true", "--hub_model_id", "someone/guard",
                "--hub_endpoint", hub.url]
        with pytest.raises(MijaError, match="no Hugging Face token found") as exc:
            guard_training.main(argv)
    assert "\n" not in str(exc.value) and hub.requests == []
    assert not out.exists() and not guard_training.checkpoint_dir(
        guard_training.GuardArguments(output_dir=str(out))).exists()


@pytest.mark.slow
def test_push_uploads_the_finished_detector_folder(dataset, tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with recording_hub("hf_test_token") as hub:
        out = train_guard(dataset, tmp_path / "pushed", model_name_or_path=str(tiny_model_dir), max_steps=1,
                          push_to_hub=True, hub_model_id="someone/guard", hub_endpoint=hub.url)
    assert hub.created["someone/guard"]["visibility"] == "private"
    files = hub.commits["someone/guard"][0]["files"]
    assert {"README.md", guard_model.GUARD_META, "model.safetensors", "eval_results.json"} <= set(files)
    assert files["README.md"] == (out / "README.md").read_bytes()
    assert all(r.authorized for r in hub.requests)
    assert b"hf_test_token" not in files[guard_model.GUARD_META]


@pytest.mark.parametrize("override, expect", [
    ({"recipe": "rlhf"}, "--recipe 'rlhf'"),
    ({"input_format": "prompt"}, "input_format 'prompt'"),
    ({"dataset_name": ""}, "--dataset_name: required"),
])
def test_bad_options_are_one_line_errors(dataset, tmp_path, override, expect):
    args = guard_training.GuardArguments(dataset_name=str(dataset), output_dir=str(tmp_path / "g"))
    for k, v in override.items():
        setattr(args, k, v)
    with pytest.raises(MijaError, match=expect):
        guard_training.train(args)


def test_missing_split_is_a_clear_error(dataset):
    with pytest.raises(MijaError, match="split 'holdout'"):
        guard_eval.load_rows(dataset, "human", "holdout")


def test_scores_per_category_and_fnr():
    rows = [{"final_label": t, "risk_category": c} for t, c in
            [("unsafe", "violence"), ("unsafe", "violence"), ("safe", "violence"), ("unsafe", "privacy"),
             ("safe", "privacy")]]
    preds = [guard_model.Prediction(p, 0.9 if p == "unsafe" else 0.1, "") for p in
             ["unsafe", "safe", "unsafe", "unsafe", "safe"]]
    result = guard_eval.score(rows, preds)
    overall = result["overall"]
    assert overall["precision"] == pytest.approx(2 / 3) and overall["recall"] == pytest.approx(2 / 3)
    assert overall["fnr"] == pytest.approx(1 / 3) and overall["accuracy"] == pytest.approx(3 / 5)
    assert result["per_category"]["violence"]["fnr"] == pytest.approx(0.5)
    assert result["per_category"]["privacy"]["f1"] == 1.0
    table = guard_eval.before_after(result, result)
    assert table.count("| 5 | 0.600 | 0.667 | 0.667 | 0.667 | 0.333 |") == 2


def test_f1_change_is_a_paired_bootstrap_interval():
    truth = ["unsafe"] * 10 + ["safe"] * 30
    perfect, missed_all = list(truth), ["safe"] * 40
    gain = guard_eval.f1_change(truth, missed_all, perfect, n_boot=500)
    assert gain["f1_delta"] == 1.0 and gain["ci_low"] > 0.5 and gain["p_not_better"] == 0.0
    same = guard_eval.f1_change(truth, perfect, perfect, n_boot=500)
    assert same["f1_delta"] == same["ci_low"] == same["ci_high"] == 0.0 and same["p_not_better"] == 1.0
    one_hit = ["unsafe"] + ["safe"] * 39  # 1 of 10 unsafe caught: a small gain, uncertain
    small = guard_eval.f1_change(truth, missed_all, one_hit, n_boot=500)
    assert small["f1_delta"] == pytest.approx(2 / 11) and small["ci_low"] <= small["f1_delta"] <= small["ci_high"]
    assert small["ci_low"] < gain["ci_low"]
    with pytest.raises(MijaError, match="equal length"):
        guard_eval.f1_change(truth, perfect[:5], perfect)


def test_paired_bootstrap_scores_every_metric_with_intervals_and_direction():
    truth = ["unsafe"] * 10 + ["safe"] * 30
    missed_all, found_half = ["safe"] * 40, ["unsafe"] * 5 + ["safe"] * 35
    result = guard_eval.paired_bootstrap(truth, missed_all, found_half, n_boot=400)
    fnr, recall = result["metrics"]["fnr"], result["metrics"]["recall"]
    assert (fnr["before"], fnr["after"], fnr["delta"]) == (1.0, 0.5, -0.5)
    assert fnr["ci_low"] <= -0.5 <= fnr["ci_high"] < 0 and fnr["p_not_better"] == 0.0  # lower FNR is better
    assert recall["after_ci"][0] <= 0.5 <= recall["after_ci"][1] and recall["p_not_better"] == 0.0
    assert result["metrics"]["precision"]["after"] == 1.0 and result["n_unsafe"] == 10
    same = guard_eval.paired_bootstrap(truth, found_half, found_half, n_boot=200)["metrics"]
    assert all(same[m]["delta"] == same[m]["ci_low"] == same[m]["ci_high"] == 0.0 for m in guard_eval.METRICS)
    per = guard_eval.by_language(["en"] * 20 + ["pt"] * 20, truth, missed_all, found_half, n_boot=200)
    assert set(per) == {"all", "en", "pt"} and per["pt"]["n_unsafe"] == 0
    assert per["pt"]["metrics"]["fnr"]["after"] is None and per["pt"]["metrics"]["fnr"]["ci_low"] is None
    table = guard_eval.comparison_table(per, "untuned", "tuned")
    assert "| all | 40 | 10 | fnr | 1.000 [1.00, 1.00] | 0.500 [" in table and "| pt | 20 | 0 | fnr | – – |" in table


def test_balance_labels_oversamples_the_rare_label():
    rows = [{"final_label": "safe", "i": i} for i in range(7)] + [{"final_label": "unsafe", "i": i} for i in range(2)]
    out = guard_training.balanced(rows, seed=0)
    assert sum(r["final_label"] == "unsafe" for r in out) == 7 == sum(r["final_label"] == "safe" for r in out)
    assert {r["i"] for r in out if r["final_label"] == "unsafe"} == {0, 1}  # cycles through the rare rows
    assert guard_training.balanced(rows[:3]) == rows[:3]  # a single label is left alone
