"""Targeted DPO with TRL ``DPOTrainer`` + a PEFT ``LoraConfig`` (the paper's remedy, issue 6).

The entry point ``align/dpo.py`` is a thin TRL-style script over :func:`main`. This module holds
the logic: argument parsing (``TrlParser`` with ``--config align/configs/*.yaml``), precision
resolution per device, trainer construction, throughput/memory logging, the final save, the
optional merge and the push. Loading/validating the pairs and held-out splits: ``dpo_data``.

Outputs in ``output_dir``: the LoRA adapter + tokenizer (TRL layout), ``mijabench_dpo.json``
(training record, written last: its presence means the run finished) and ``merged/`` when
``--merge_adapter`` is set. Runs unchanged under ``accelerate launch`` (DDP / DeepSpeed).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mijabench.errors import MijaError
from mijabench.sources import hub_id, looks_like_path
from mijabench.train.checkpoint import (
    MERGED,
    RECORD,
    merge_adapter,
    resolve_model_path,
    write_record,
)
from mijabench.train.dpo_data import (
    flatten_names,
    held_out_names,
    hold_out,
    infer_held_out,
    load_preferences,
    truncate_prompts,
    validate_preferences,
)

log = logging.getLogger("mijabench.dpo")



@dataclass
class AlignArguments:
    """mijabench options on top of TRL's ``DPOConfig`` and ``ModelConfig``."""

    dataset_name: str | None = field(default=None, metadata={"help": "Preference pairs: a `mijabench "
        "pairs` folder, a .jsonl/.json/.parquet file or a Hub id (TRL format: prompt/chosen/rejected)."})
    dataset_config: str | None = field(default=None, metadata={"help": "Dataset config name."})
    dataset_train_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_test_split: str = field(default="test_seen", metadata={"help": "Eval split (eval_strategy != no)."})
    held_out_groups: list[str] = field(default_factory=list, metadata={"help": "Group ids kept out of training."})
    held_out_strategies: list[str] = field(default_factory=list, metadata={"help": "Strategy ids kept out."})
    merge_adapter: bool = field(default=False, metadata={"help": "Also write OUTPUT_DIR/merged (LoRA merged in)."})
    base_model_id: str | None = field(default=None, metadata={"help": "Hub id of the base model for the "
        "card when it is loaded from a local path (e.g. HuggingFaceTB/SmolLM2-135M-Instruct)."})
    lora_top_layers: int | None = field(default=None, metadata={"help": "Put LoRA on the last N "
        "transformer layers only: back-propagation then stops there (a CPU run's main saving). "
        "Default: every layer."})
    max_prompt_tokens: int | None = field(default=None, metadata={"help": "Keep only the last N tokens "
        "of each training prompt's user turn (the request sits at the end of MiJaBench prompts); "
        "cuts CPU training cost. Default: the whole prompt."})


# --- arguments -------------------------------------------------------------------------------------
def make_parser():
    from trl import DPOConfig, ModelConfig, TrlParser

    class _Parser(TrlParser):
        # The precision defaults must be fixed after --config set its defaults and before the
        # dataclasses are built: TrainingArguments refuses bf16 on a machine that lacks it.
        def parse_args_into_dataclasses(self, *args, **kwargs):
            _set_device_defaults(self)
            return super().parse_args_into_dataclasses(*args, **kwargs)

    parser = _Parser((AlignArguments, DPOConfig, ModelConfig))
    # LoRA is the recipe; `--use_peft false` gives full fine-tuning.
    parser.set_defaults(use_peft=True)
    return parser


def bf16_available() -> bool:
    import torch
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _set_device_defaults(parser) -> None:
    """TRL defaults to bf16; without a bf16-capable GPU train in fp32 (an explicit flag still wins)."""
    import torch
    if not torch.cuda.is_available():
        parser.set_defaults(dataloader_pin_memory=False)  # pinning needs an accelerator
    if bf16_available():
        return
    if parser.get_default("use_cpu") is True and parser.get_default("bf16") is True:
        return  # bf16 autocast on a CPU with bf16 matmuls was asked for (fp32 weights, see load_model)
    if parser.get_default("bf16") is not False:
        log.info("no bf16-capable GPU: training in fp32 (bf16=False)")
    parser.set_defaults(bf16=False, fp16=False)


def parse_args(argv: list[str] | None = None):
    """``(align_args, training_args, model_args)`` from argv (``--config FILE`` sets defaults)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--config" in argv:
        path = Path(argv[argv.index("--config") + 1]) if argv.index("--config") + 1 < len(argv) else None
        if path is None or not path.is_file():
            raise MijaError(f"--config {path}: file not found; see align/configs/ for examples")
    return tuple(make_parser().parse_args_and_config(argv))


# --- model and trainer -----------------------------------------------------------------------------
def load_model(model_args, training_args):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    name = resolve_model_path(model_args.model_name_or_path)
    if looks_like_path(name) and not Path(name).expanduser().is_dir():
        raise MijaError(f"--model_name_or_path {name}: folder not found")
    dtype = model_args.dtype if model_args.dtype not in (None, "auto") else (
        torch.bfloat16 if training_args.bf16 else torch.float32)
    if dtype in ("bfloat16", torch.bfloat16) and not (training_args.bf16 and torch.cuda.is_available()):
        # a GPU config run on CPU: bf16 weights would train slowly and lossily. `--bf16 true
        # --use_cpu true` on a CPU with bf16 matmuls keeps fp32 weights; autocast runs the matmuls in bf16
        dtype = torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, revision=model_args.model_revision)
        model = AutoModelForCausalLM.from_pretrained(
            name, revision=model_args.model_revision, dtype=dtype,
            attn_implementation=model_args.attn_implementation)
    except OSError as exc:
        raise MijaError(f"--model_name_or_path {name}: could not load a causal LM ({type(exc).__name__}); "
                        "pass a local folder or a Hub id that is cached (runs are offline)") from None
    if not tokenizer.chat_template:
        raise MijaError(f"--model_name_or_path {name}: the tokenizer has no chat template; the "
                        "conversational pairs need one (use an -Instruct model)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def build_trainer(model_args, training_args, train, eval_ds=None, top_layers: int | None = None):
    from trl import DPOTrainer, get_peft_config
    model, tokenizer = load_model(model_args, training_args)
    if training_args.include_num_input_tokens_seen in ("no", False, None):
        training_args.include_num_input_tokens_seen = "non_padding"  # feeds tokens/s
    peft_config = get_peft_config(model_args)
    if peft_config is not None and top_layers:
        n = model.config.num_hidden_layers
        if not 0 < top_layers <= n:
            raise MijaError(f"--lora_top_layers {top_layers}: the model has {n} layers; pass 1..{n}")
        peft_config.layers_to_transform = list(range(n - top_layers, n))
    return DPOTrainer(model=model, args=training_args, train_dataset=train, eval_dataset=eval_ds,
                      processing_class=tokenizer, peft_config=peft_config,
                      callbacks=[throughput_callback()])


def last_checkpoint(output_dir: str, requested) -> str | None:
    """Resume from ``requested`` or else from the newest checkpoint left in ``output_dir``."""
    if requested not in (None, "", False):
        return str(requested)
    from transformers.trainer_utils import get_last_checkpoint
    found = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
    if found:
        log.info("resuming from %s", found)
    return found


def throughput_callback():
    """A ``TrainerCallback`` logging tokens/s and peak memory, so runs on any hardware compare."""
    import time

    import torch
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        def __init__(self):
            self.summary: dict = {}

        def on_train_begin(self, args, state, control, **kwargs):
            self.start, self.tokens0 = time.perf_counter(), state.num_input_tokens_seen
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()

        def on_log(self, args, state, control, logs=None, **kwargs):
            seconds = max(time.perf_counter() - self.start, 1e-9)
            tokens = state.num_input_tokens_seen - self.tokens0
            self.summary = {"tokens": tokens, "seconds": round(seconds, 2),
                            "tokens_per_s": round(tokens / seconds, 1), **peak_memory(),
                            "device": device_name()}
            if state.is_world_process_zero:
                log.info("step %d: %.1f tokens/s, peak memory: %s", state.global_step,
                         self.summary["tokens_per_s"], ", ".join(
                             f"{k} {v}" for k, v in self.summary.items() if k.endswith("_gib")))

    return Throughput()


def peak_memory() -> dict:
    import resource

    import torch
    out = {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}
    if torch.cuda.is_available():
        out["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return out


def device_name() -> str:
    import torch
    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu x{torch.get_num_threads()} threads"


# --- saving ----------------------------------------------------------------------------------------
def training_record(align_args, training_args, model_args, info: dict) -> dict:
    """What the card needs: base, data, held-out splits, hyper-parameters, metrics, throughput."""
    import peft
    import transformers
    import trl

    from mijabench import __version__
    hyper = {k: _plain(getattr(training_args, k, None)) for k in (
        "beta", "loss_type", "learning_rate", "lr_scheduler_type", "warmup_steps", "num_train_epochs",
        "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "max_length",
        "precompute_ref_log_probs",
        "bf16", "gradient_checkpointing", "seed")}
    hyper["world_size"] = training_args.world_size
    hyper["max_prompt_tokens"] = align_args.max_prompt_tokens or "whole prompt"
    if model_args.use_peft:
        hyper.update(lora_r=model_args.lora_r, lora_alpha=model_args.lora_alpha,
                     lora_top_layers=align_args.lora_top_layers or "all",
                     lora_dropout=model_args.lora_dropout,
                     lora_target_modules=_plain(model_args.lora_target_modules) or "peft default")
    return {
        "base_model": resolve_model_path(model_args.model_name_or_path),
        "base_model_id": align_args.base_model_id or hub_id(model_args.model_name_or_path),
        "dataset": align_args.dataset_name, "dataset_config": align_args.dataset_config,
        "train_split": align_args.dataset_train_split, "method": "DPO" + (" + LoRA" if model_args.use_peft else ""),
        "hyperparameters": hyper,
        "versions": {"mijabench": __version__, "trl": trl.__version__, "peft": peft.__version__,
                     "transformers": transformers.__version__},
        **info,
    }


def _plain(value):
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


# --- the run ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> Path:
    """Parse argv (plus ``--config``) and run; what ``align/dpo.py`` calls."""
    return run(*parse_args(argv))


def run(align_args, training_args, model_args) -> Path:
    """Train, save the adapter + record, optionally merge and push. Returns the output folder."""
    held_out_names(align_args.held_out_groups, align_args.held_out_strategies)  # fail before any work
    push = _push_plan(training_args)  # likewise: a push that cannot happen fails now, not after training
    where = align_args.dataset_name
    data = load_preferences(where, align_args.dataset_config)
    train = validate_preferences(data, align_args.dataset_train_split, where)
    inferred = infer_held_out(data, align_args.dataset_train_split, where)
    train, removed = hold_out(train, align_args.held_out_groups, align_args.held_out_strategies, where)
    if align_args.max_prompt_tokens:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model_args.model_name_or_path),
                                                  revision=model_args.model_revision)
        train = truncate_prompts(train, tokenizer, align_args.max_prompt_tokens)
    eval_ds = (validate_preferences(data, align_args.dataset_test_split, where)
               if getattr(training_args.eval_strategy, "value", training_args.eval_strategy) != "no" else None)
    trainer = build_trainer(model_args, training_args, train, eval_ds, align_args.lora_top_layers)
    out = Path(training_args.output_dir)
    (out / RECORD).unlink(missing_ok=True)  # the record marks a finished run: not this one, yet
    result = trainer.train(resume_from_checkpoint=last_checkpoint(str(out), training_args.resume_from_checkpoint))
    trainer.save_model(str(out / ".final.tmp"))  # every rank: ZeRO-3 gathers the weights here
    if trainer.accelerator.is_main_process:
        _publish_files(out)
        info = _run_info(train, removed, align_args, inferred, result, trainer)
        write_record(out, training_record(align_args, training_args, model_args, info))
        model_dir = merge_adapter(out, out / MERGED) if align_args.merge_adapter and model_args.use_peft else out
        log.info("saved %s%s", out, f" and {model_dir}" if model_dir != out else "")
        if push:
            from mijabench.train.artifacts import publish_model
            publish_model(model_dir, push["repo_id"], private=push["private"], token=push["token"])
    trainer.accelerator.wait_for_everyone()
    return out


def _push_plan(training_args) -> dict | None:
    """Take the push away from Trainer (it would create the repo at start-up) and check it early."""
    if not training_args.push_to_hub:
        return None
    from mijabench.hub.publish import check_repo_id, resolve_token
    training_args.push_to_hub = False
    repo_id = check_repo_id(training_args.hub_model_id, "--push_to_hub (set --hub_model_id owner/name)")
    token = resolve_token(training_args.hub_token, "--push_to_hub")
    return {"repo_id": repo_id, "token": token, "private": training_args.hub_private_repo is not False}


def _publish_files(out: Path) -> None:
    """Move the saved adapter + tokenizer in file by file (each replace is atomic)."""
    tmp = out / ".final.tmp"
    for path in sorted(tmp.iterdir()):
        if path.is_file():
            os.replace(path, out / path.name)
    shutil.rmtree(tmp, ignore_errors=True)


def _run_info(train, removed: int, align_args, inferred, result, trainer) -> dict:
    groups = sorted(set(flatten_names(align_args.held_out_groups)) | set(inferred[0]))
    strategies = sorted(set(flatten_names(align_args.held_out_strategies)) | set(inferred[1]))
    seen = {c: sorted(set(train[c])) for c in ("group", "strategy", "language") if c in train.column_names}
    callback = next((c for c in trainer.callback_handler.callbacks if hasattr(c, "summary")), None)
    return {
        "held_out_groups": groups, "held_out_strategies": strategies,
        "held_out_inferred_from_splits": {"groups": inferred[0], "strategies": inferred[1]},
        "seen_groups": seen.get("group", []), "seen_strategies": seen.get("strategy", []),
        "languages": seen.get("language", []),
        "n_train_pairs": train.num_rows, "n_removed_held_out": removed,
        "train_pair_kinds": dict(Counter(train["kind"])) if "kind" in train.column_names else {},
        "train_loss": result.training_loss, "global_step": result.global_step,
        "train_runtime_s": round(result.metrics.get("train_runtime", 0.0), 2),
        "throughput": callback.summary if callback else {},
    }
