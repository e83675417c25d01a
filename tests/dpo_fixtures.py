"""Small preference-pair datasets in the `mijabench pairs` layout, built in the test itself.

chosen = a bundled refusal template, rejected = a short compliant opener (no hateful text is
needed to exercise the training code). Splits follow the pairs builder: train holds only the seen
groups/strategies; the unseen splits hold the rest.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import yaml

from mijabench.bench import configs as benchmark
from mijabench.hub import folders as hubdata
from mijabench.bench import material

UNSEEN_GROUP, UNSEEN_STRATEGY = "women", "chain_of_thought"


def pair_rows(prompts: pa.Table) -> list[dict]:
    rows = []
    for i, r in enumerate(prompts.to_pylist()):
        m = material.load(r["language"])
        refusal = m.refusal_templates[i % len(m.refusal_templates)]
        rows.append({
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "chosen": [{"role": "assistant", "content": refusal}],
            "rejected": [{"role": "assistant", "content": f"{m.affirmative_opening} the text."}],
            "id": r["id"], "language": r["language"], "group": r["group"], "strategy": r["strategy"],
            "scenario_category": r["scenario_category"], "templated": True})
    return rows


def split_of(row: dict) -> str:
    unseen_g, unseen_s = row["group"] == UNSEEN_GROUP, row["strategy"] == UNSEEN_STRATEGY
    return {(False, False): "train", (True, False): "test_unseen_group",
            (False, True): "test_unseen_strategy", (True, True): "test_unseen_both"}[(unseen_g, unseen_s)]


def write_pairs(out: Path, languages=("en",), per_group: int = 4, max_train: int | None = 16) -> Path:
    prompts = benchmark.build_configs(("counterfactual",), languages, seed=0,
                                      per_group=per_group)["counterfactual"]["harmful"]
    splits: dict[str, list[dict]] = {}
    for row in pair_rows(prompts):
        splits.setdefault(split_of(row), []).append(row)
    splits["test_seen"], splits["train"] = splits["train"][-4:], splits["train"][:-4]
    if max_train:
        splits["train"] = splits["train"][:max_train]
    tables = {"default": {s: pa.Table.from_pylist(rows) for s, rows in splits.items()}}
    # Exact shard files, as our builders write them: a glob card would let `load_dataset` serve a
    # cached copy of an earlier build of the same folder name.
    card = "---\n" + yaml.safe_dump({"configs": hubdata.configs_yaml(tables)}, sort_keys=False)
    return hubdata.write_dataset(out, tables, card + "---\n# test pairs\n")


def dpo_args(pairs: Path, model: Path, out: Path, *extra: str) -> list[str]:
    """A few-step CPU run; the high learning rate makes the merged model visibly differ from the base."""
    return ["--dataset_name", str(pairs), "--model_name_or_path", str(model), "--output_dir", str(out),
            "--max_steps", "4", "--per_device_train_batch_size", "2", "--learning_rate", "5e-2",
            "--max_length", "512", "--lora_r", "4", "--lora_alpha", "8", "--logging_steps", "1",
            "--gradient_checkpointing", "false", "--save_strategy", "no", "--report_to", "none",
            "--dataset_num_proc", "1", "--seed", "0", *extra]


def trained_model(tmp_path_factory, tiny_model_dir: Path) -> Path:
    """Train once per session (tests in several modules share it through the session's basetemp)."""
    from mijabench.train.checkpoint import RECORD
    from mijabench.train.dpo import main
    root = tmp_path_factory.getbasetemp() / "dpo-trained"
    out = root / "out"
    if not (out / RECORD).is_file():
        pairs = write_pairs(root / "pairs")
        main(dpo_args(pairs, tiny_model_dir, out, "--held_out_groups", "black",
                      "--merge_adapter", "true", "--base_model_id", "HuggingFaceTB/SmolLM2-135M-Instruct"))
    return out


def align_table(languages=("en",), per_group: int = 4) -> pa.Table:
    """A two-model MiJaBench-Align table (AUDIT_SCHEMA): one model refuses, one complies."""
    from mijabench.schema import AUDIT_SCHEMA
    built = benchmark.build_configs(("counterfactual",), languages, seed=0, per_group=per_group)["counterfactual"]
    rows = []
    for kind in ("harmful", "benign"):
        for r in built[kind].to_pylist():
            m = material.load(r["language"])
            for model, text, verdict, refusal in (
                    ("refuser", m.refusal_templates[0], "safe", True),
                    ("complier", f"{m.affirmative_opening} the text.", "harmful" if kind == "harmful" else "safe", False)):
                rows.append({**r, "model": model, "model_family": "", "model_params": None, "gen_params": "{}",
                             "gen_key": f"{r['id']}-{model}", "response": text, "error": "", "latency_s": 0.0,
                             "verdict": verdict, "judge": "rules", "rationale": "fixture", "refusal": refusal,
                             "judge_verdicts": "{}"})
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


def eval_tables(n: int = 40) -> tuple[pa.Table, pa.Table]:
    """Judged base/aligned rows of one held-out-group segment and one seen segment, by hand:
    held-out harmful: before 10 safe of n (all incoherent), after 34 safe (30 refusals, 4
    incoherent), 2 prompts got worse; benign twins: 2 refusals before, 4 after."""
    from mijabench.schema import COMPLIANCE, INCOHERENT, REFUSAL
    rows_b, rows_a = [], []
    for seg, group in (("held_out", "women"), ("seen", "black")):
        for i in range(n):
            base = {"id": f"{group}-h{i}", "kind": "harmful", "language": "en", "group": group,
                    "counterfactual_id": f"cf{i}", "eval_all": "all", "eval_group": seg,
                    "eval_strategy": "seen", "eval_cell": "seen" if seg == "seen" else "unseen_group"}
            before = (INCOHERENT if i < 10 else COMPLIANCE) if seg == "held_out" else COMPLIANCE
            after = before if seg == "seen" else (REFUSAL if 10 <= i < 40 else INCOHERENT if i < 4 else COMPLIANCE)
            for out, outcome in ((rows_b, before), (rows_a, after)):
                out.append({**base, "verdict": "harmful" if outcome == COMPLIANCE else "safe",
                            "outcome": outcome, "refusal": outcome == REFUSAL})
            twin = {**base, "id": f"{group}-b{i}", "kind": "benign"}
            rows_b.append({**twin, "verdict": "safe", "outcome": COMPLIANCE, "refusal": i < 2})
            rows_a.append({**twin, "verdict": "safe", "outcome": COMPLIANCE, "refusal": i < 4})
    return pa.Table.from_pylist(rows_b), pa.Table.from_pylist(rows_a)
