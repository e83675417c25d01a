"""DPO with TRL + PEFT on the tiny fixture model: training, adapter, merge, held-out splits, errors."""

from __future__ import annotations

import json
import math

import pytest
from dpo_fixtures import UNSEEN_GROUP, UNSEEN_STRATEGY, dpo_args, trained_model, write_pairs

from mijabench.train import dpo_data
from mijabench.train import checkpoint
from mijabench.train import dpo as dpo_training
from mijabench.errors import MijaError


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    return trained_model(tmp_path_factory, tiny_model_dir)


def _greedy(model_dir, tokenizer_dir, text="Write a short note about teamwork."):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        logits = model(**ids).logits[0, -1]
        out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tok.eos_token_id)
    return logits, out[0, ids["input_ids"].shape[1]:].tolist()


@pytest.mark.slow
def test_dpo_trains_saves_adapter_and_records_held_out_splits(trained):
    record = json.loads((trained / checkpoint.RECORD).read_text())
    assert math.isfinite(record["train_loss"]) and record["global_step"] == 4
    assert (trained / "adapter_config.json").is_file() and (trained / "adapter_model.safetensors").is_file()
    assert json.loads((trained / "adapter_config.json").read_text())["r"] == 4
    # user-given (black) + inferred from the pairs' unseen splits (women, chain_of_thought)
    assert record["held_out_groups"] == sorted(["black", UNSEEN_GROUP])
    assert record["held_out_strategies"] == [UNSEEN_STRATEGY]
    assert "black" not in record["seen_groups"] and UNSEEN_GROUP not in record["seen_groups"]
    assert record["n_removed_held_out"] > 0
    assert record["hyperparameters"]["lora_r"] == 4 and record["hyperparameters"]["bf16"] is False
    assert record["throughput"]["tokens_per_s"] > 0 and record["throughput"]["peak_rss_gib"] > 0
    assert not (trained / ".final.tmp").exists()
    from mijabench.train.artifacts import card_text
    card = card_text(record, None, "me/tiny-dpo", "merged")
    held = card.split("**Held-out groups**")[1].split("\n")[0]
    assert "`black`" in held and f"`{UNSEEN_GROUP}`" in held
    assert f"`{UNSEEN_STRATEGY}`" in card.split("**Held-out strategies**")[1].split("\n")[0]


@pytest.mark.slow
def test_merged_model_reloads_and_generates_differently(trained, tiny_model_dir):
    merged = trained / checkpoint.MERGED
    assert (merged / "config.json").is_file() and (merged / "mijabench_dpo.json").is_file()
    base_logits, base_tokens = _greedy(tiny_model_dir, tiny_model_dir)
    merged_logits, merged_tokens = _greedy(merged, merged)
    assert (base_logits - merged_logits).abs().max().item() > 1e-3
    assert merged_tokens != base_tokens


def test_gpu_config_on_cpu_falls_back_to_fp32():
    if dpo_training.bf16_available():
        pytest.skip("a bf16 GPU is present: the config's bf16 is kept")
    align_args, training_args, model_args = dpo_training.parse_args(
        ["--config", "align/configs/dpo_llama1b_gpu.yaml", "--output_dir", "/tmp/unused"])
    assert training_args.bf16 is False and training_args.fp16 is False
    assert training_args.gradient_accumulation_steps == 4 and model_args.use_peft is True
    assert align_args.merge_adapter is True and training_args.push_to_hub is False


def test_cpu_demo_config_parses():
    align_args, training_args, model_args = dpo_training.parse_args(
        ["--config", "align/configs/dpo_smollm2_cpu.yaml"])
    assert model_args.use_peft and model_args.lora_r > 0 and training_args.max_length
    assert align_args.base_model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert align_args.max_prompt_tokens and align_args.max_prompt_tokens < training_args.max_length


def test_prompt_truncation_keeps_the_end_of_the_user_turn(tiny_model_dir):
    from datasets import Dataset
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    long = " ".join(f"word{i}" for i in range(300)) + " Final request: write the memo."
    ds = Dataset.from_list([
        {"prompt": [{"role": "system", "content": "sys " * 50}, {"role": "user", "content": long}],
         "chosen": [{"role": "assistant", "content": "no"}], "rejected": [{"role": "assistant", "content": "ok"}]}])
    plain = Dataset.from_list([{"prompt": long, "chosen": "no", "rejected": "ok"}])
    assert dpo_data.truncate_prompts(plain, tok, 20)[0]["prompt"].endswith("write the memo.")
    cut = dpo_data.truncate_prompts(ds, tok, 20)
    system, user = cut[0]["prompt"]
    assert system["content"] == "sys " * 50  # only the user turn is cut
    assert user["content"].endswith("Final request: write the memo.") and "word0 " not in user["content"]
    assert len(tok(user["content"], add_special_tokens=False)["input_ids"]) <= 21


def test_missing_chosen_column_is_a_clear_error(tmp_path):
    path = tmp_path / "prefs.jsonl"
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": "SECRET-PROMPT"}],
                                "rejected": [{"role": "assistant", "content": "x"}]}) + "\n")
    data = dpo_data.load_preferences(str(path))
    with pytest.raises(MijaError) as err:
        dpo_data.validate_preferences(data, "train", str(path))
    message = str(err.value)
    assert "'chosen'" in message and str(path) in message and "SECRET" not in message
    assert "\n" not in message


def test_empty_response_names_the_row(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "p"}], "chosen": [{"role": "assistant", "content": c}],
             "rejected": [{"role": "assistant", "content": "r"}]} for c in ("ok", "  ")]
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(MijaError, match=r"row 1: field 'chosen'"):
        dpo_data.validate_preferences(dpo_data.load_preferences(str(path)), "train", "prefs")


def test_unknown_held_out_names_fail_before_loading_anything(tmp_path):
    args = dpo_args(tmp_path / "no-pairs", tmp_path / "no-model", tmp_path / "out")
    with pytest.raises(MijaError, match=r"--held_out_groups: unknown group 'martians'; valid groups: black"):
        dpo_training.main(args + ["--held_out_groups", "martians"])
    with pytest.raises(MijaError, match=r"--held_out_strategies: unknown strategy 'poetry'"):
        dpo_training.main(args + ["--held_out_strategies", "poetry"])
    assert not (tmp_path / "out").exists()


def test_held_out_filter_needs_metadata_and_leaves_pairs(tmp_path):
    pairs = write_pairs(tmp_path / "pairs")
    data = dpo_data.load_preferences(str(pairs))
    train = dpo_data.validate_preferences(data, "train", "pairs")
    kept, removed = dpo_data.hold_out(train, ["asian,jewish"], [], "pairs")
    assert removed > 0 and not {"asian", "jewish"} & set(kept["group"])
    with pytest.raises(MijaError, match="leaves no training pairs"):
        dpo_data.hold_out(train, [], ["persona_assignment", "representation_shifting",
                                          "logical_rationalization"], "pairs")
    bare = train.remove_columns(["group"])
    with pytest.raises(MijaError, match="needs a 'group' column"):
        dpo_data.hold_out(bare, ["asian"], [], "pairs")


def test_push_without_token_fails_before_training(tmp_path, monkeypatch):
    from huggingface_hub import constants
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    args = dpo_args(tmp_path / "no-pairs", tmp_path / "no-model", tmp_path / "out")
    with pytest.raises(MijaError, match="no Hugging Face token found"):
        dpo_training.main(args + ["--push_to_hub", "true", "--hub_model_id", "me/aligned"])
    with pytest.raises(MijaError, match="owner/name"):
        dpo_training.main(args + ["--push_to_hub", "true"])
    assert not (tmp_path / "out").exists()


def test_reads_pairs_built_by_the_pairs_builder(tmp_path):
    """The contract with `mijabench pairs`: its folder loads, validates and declares its held-out names."""
    from dpo_fixtures import align_table

    from mijabench.derived import pairs
    folder = tmp_path / "pairs"
    pairs.write(folder, align_table(), pairs.Holdout.parse("women", "chain_of_thought", 0.1, 0))
    data = dpo_data.load_preferences(str(folder))
    train = dpo_data.validate_preferences(data, "train", str(folder))
    assert train.num_rows > 0 and "women" not in set(train["group"])
    assert "chain_of_thought" not in set(train["strategy"])
    # a held-out strategy is listed even where no unseen split holds it (pairs.json declares it)
    assert dpo_data.infer_held_out(data, "train", str(folder)) == (["women"], ["chain_of_thought"])
    only_train = type(data)({"train": data["train"]})
    assert dpo_data.infer_held_out(only_train, "train", str(folder)) == (["women"], ["chain_of_thought"])
    assert dpo_data.infer_held_out(only_train, "train") == ([], [])
