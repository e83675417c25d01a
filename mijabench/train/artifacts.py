"""The aligned-model release: one folder (weights + tokenizer + chat template + card), then a push.

``build_folder`` writes the exact repo content: merged weights (default) or the LoRA adapter, the
tokenizer with its chat template, ``mijabench_dpo.json`` (the training record), ``dpo_eval.json``
(the before/after evaluation, when given) and a model card rendered from ``cards/aligned_model.md``
with ``model-index`` results in its YAML. The folder is staged beside ``out``, validated, then
swapped in. ``release`` builds it and pushes it with :func:`mijabench.hub.publish.push_folder`
(private by default); ``--local-dir`` writes the identical folder instead of pushing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from mijabench import atomic
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import publish as hub_publish
from mijabench.sources import hub_id
from mijabench.train.checkpoint import RECORD, merge_adapter, read_record

EVAL_FILE = "dpo_eval.json"
MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors.index.json")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MEMORY_LABELS = {"peak_gpu_gib": "GPU (peak allocated)", "peak_rss_gib": "process RSS (peak)"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "chat_template.jinja", "chat_template.json", "tokenizer.model", "vocab.json",
                   "merges.txt", "added_tokens.json")


def model_kind(model_dir: Path) -> str:
    """``merged`` (a full causal LM folder) or ``adapter`` (a PEFT LoRA folder)."""
    model_dir = Path(model_dir)
    if (model_dir / "config.json").is_file() and any(model_dir.glob("*.safetensors")):
        return "merged"
    if (model_dir / "adapter_config.json").is_file():
        return "adapter"
    raise MijaError(f"{model_dir}: neither model weights (config.json + *.safetensors) nor a LoRA "
                    "adapter (adapter_config.json); pass the output_dir of align/dpo.py or its merged/")


def read_evaluation(path: Path | None) -> dict | None:
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        path = path / EVAL_FILE
    if not path.is_file():
        raise MijaError(f"{path}: evaluation not found; run `mijabench dpo-eval` first")
    try:
        data = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MijaError(f"{path}: not valid JSON (line {exc.lineno}); re-run `mijabench dpo-eval`") from None
    if not isinstance(data, dict) or "rows" not in data:
        raise MijaError(f"{path}: field 'rows' missing; this is not an dpo-eval result")
    return data


# --- folder ----------------------------------------------------------------------------------------
def build_folder(model_dir: Path, out: Path, evaluation: Path | None = None, repo_id: str | None = None,
                 adapter_only: bool = False, base_model_id: str | None = None,
                 license: str | None = None) -> Path:
    """Write the complete repo folder at ``out`` (staged, validated, swapped in)."""
    from mijabench.hub.folders import swap_folder
    model_dir, out = Path(model_dir), Path(out)
    kind = model_kind(model_dir)
    record = read_record(model_dir)
    if not record:
        raise MijaError(f"{model_dir}: no {RECORD}; release a model trained with align/dpo.py "
                        "(the card needs its data, held-out splits and hyper-parameters)")
    record["base_model_id"] = base_model_id or record.get("base_model_id")
    comparison = read_evaluation(evaluation)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        kind = _stage_weights(model_dir, stage, kind, adapter_only, record)
        atomic.write_text(stage / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
        if comparison is not None:
            atomic.write_text(stage / EVAL_FILE, json.dumps(comparison, indent=2, sort_keys=True) + "\n")
        card = card_text(record, comparison, repo_id or f"YOUR_NAME/{out.name}", kind, license)
        atomic.write_text(stage / "README.md", card)
        validate_folder(stage, kind, expect_results=comparison is not None)
        swap_folder(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def _stage_weights(model_dir: Path, stage: Path, kind: str, adapter_only: bool, record: dict) -> str:
    if kind == "adapter" and not adapter_only:
        merge_adapter(model_dir, stage)  # swaps the merged model into the (empty) stage folder
        return "merged"
    names = ADAPTER_FILES if kind == "adapter" else MODEL_FILES
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and (path.name in names + TOKENIZER_FILES or
                               (kind == "merged" and path.suffix == ".safetensors")):
            shutil.copyfile(path, stage / path.name)
    if kind == "adapter":
        _point_adapter_at_hub(stage, record)
    return kind


def _point_adapter_at_hub(stage: Path, record: dict) -> None:
    """An adapter must name its base as a Hub id, or users cannot load it."""
    base = record.get("base_model_id")
    if not base:
        raise MijaError("adapter release: the base model was a local path; pass --base-model-id "
                        "(its Hub id) or release merged weights (the default)")
    path = stage / "adapter_config.json"
    config = json.loads(path.read_text("utf-8"))
    config["base_model_name_or_path"] = base
    atomic.write_text(path, json.dumps(config, indent=2, sort_keys=True) + "\n")


def validate_folder(folder: Path, kind: str, expect_results: bool = False) -> None:
    """Check what a user's ``from_pretrained`` needs, before anything is published."""
    from huggingface_hub import ModelCard
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer

    folder = Path(folder)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise MijaError(f"{folder}: no *.safetensors weights; rebuild the release")
    for path in weights:
        with safe_open(str(path), framework="pt") as handle:
            if not list(handle.keys()):
                raise MijaError(f"{path}: holds no tensors; rebuild the release")
    if kind == "merged":
        AutoConfig.from_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    if not tokenizer.chat_template:
        raise MijaError(f"{folder}: the tokenizer has no chat template; release from an -Instruct base")
    data = ModelCard.load(folder / "README.md").data.to_dict()
    if expect_results and not data.get("model-index"):
        raise MijaError(f"{folder}/README.md: model-index missing although an evaluation was given")


# --- card ------------------------------------------------------------------------------------------
def card_text(record: dict, comparison: dict | None, repo_id: str, kind: str,
              license: str | None = None) -> str:
    from mijabench.train.dpo_eval import eval_results
    model_name = repo_id.split("/")[-1]
    base_id = record.get("base_model_id")
    data = {
        "library_name": "peft" if kind == "adapter" else "transformers",
        "tags": ["mijabench", "safety", "alignment", "dpo", "trl", "peft", "lora"],
        "language": record.get("languages") or None, "license": license,
        "base_model": base_id, "pipeline_tag": "text-generation",
        "datasets": [record["dataset"]] if hub_id(record.get("dataset")) else None,
    }
    if comparison:
        data.update(model_name=model_name, eval_results=eval_results(comparison))
    data = {k: v for k, v in data.items() if v not in (None, [], "")}
    return cards.render_model_card("aligned_model", data, **_context(record, comparison, repo_id, kind,
                                                                      model_name, base_id))


def _context(record, comparison, repo_id, kind, model_name, base_id) -> dict:
    from mijabench.train.dpo_eval import disparity_text, markdown_table
    hyper = record.get("hyperparameters", {})
    throughput = record.get("throughput") or {}
    comparison = comparison or {}
    return dict(
        model_name=model_name, repo_id=repo_id, kind=kind, method=record.get("method", "DPO"),
        lora="lora_r" in hyper, base_label=f"`{base_id}`" if base_id else
        f"a local base model (`{Path(record.get('base_model', '?')).name}`)",
        results_table=markdown_table(comparison) if comparison else "",
        disparity_text=disparity_text(comparison) if comparison else "",
        summary=comparison.get("summary", ""), judge=comparison.get("judge", "rules"),
        n_harmful=comparison.get("n_prompts", {}).get("harmful", 0),
        n_benign=comparison.get("n_prompts", {}).get("benign", 0),
        languages=", ".join(comparison.get("languages", [])),
        gen_params=f"`{json.dumps(comparison.get('gen_params', {}), sort_keys=True)}`",
        excluded=comparison.get("excluded_train_prompts", 0),
        dataset=_dataset_label(record.get("dataset")), train_split=record.get("train_split", "train"),
        n_train_pairs=record.get("n_train_pairs"), n_removed=record.get("n_removed_held_out", 0),
        train_languages=", ".join(record.get("languages", [])) or "n/a",
        seen_groups=_names(record.get("seen_groups")), seen_strategies=_names(record.get("seen_strategies")),
        held_out_groups=_names(record.get("held_out_groups")),
        held_out_strategies=_names(record.get("held_out_strategies")),
        hyperparameters=sorted((k, _fmt(v)) for k, v in hyper.items()),
        throughput=throughput, global_step=record.get("global_step"),
        memory=", ".join(f"{MEMORY_LABELS.get(k, k)} {v} GiB" for k, v in throughput.items()
                         if k in MEMORY_LABELS),
        versions=", ".join(f"{k} {v}" for k, v in sorted(record.get("versions", {}).items())),
        citation=cards.CITATION_MIJABENCH, target=comparison.get("target"),
        held_out_by_language=_held_out_by_language(record, comparison), **_training_data(record))


def _held_out_by_language(record: dict, comparison: dict) -> list[tuple[str, str]]:
    from mijabench import taxonomy
    held = record.get("held_out_groups") or comparison.get("held_out_groups") or []
    languages = comparison.get("languages") or record.get("languages") or []
    return [(language, _names([g for g in held if g in taxonomy.groups_for(language)]))
            for language in languages]


def _training_data(record: dict) -> dict:
    """Pair counts by kind and the pair recipe (from the pairs folder's pairs.json, when local)."""
    kinds = record.get("train_pair_kinds") or {}
    text = ", ".join(f"{n} {k} pairs" for k, n in sorted(kinds.items())) + "." if kinds else ""
    folder = Path(record["dataset"]) if record.get("dataset") else None
    summary = folder / "pairs.json" if folder and folder.is_dir() else None
    recipe = json.loads(summary.read_text("utf-8")).get("recipe", {}) if summary and summary.is_file() else {}
    return {"pair_kinds": text, "recipe": ", ".join(f"{k}={v}" for k, v in sorted(recipe.items())),
            "incoherent_rejected": recipe.get("incoherent_rejected", False)}


def _dataset_label(name: str | None) -> str:
    """A Hub id as is; a local folder by its name only (a card must not leak local paths)."""
    if not name:
        return "unknown"
    return f"`{name}`" if hub_id(name) else f"a local folder `{Path(name).name}`"


def _names(values) -> str:
    return ", ".join(f"`{v}`" for v in values) if values else "none"


def _fmt(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


# --- release ---------------------------------------------------------------------------------------
def publish_model(model_dir: Path, repo_id: str | None, private: bool = True, token: str | None = None,
            local_dir: Path | None = None, evaluation: Path | None = None, adapter_only: bool = False,
            base_model_id: str | None = None, license: str | None = None,
            endpoint: str | None = None) -> tuple[Path | None, str | None]:
    """Build the folder; write it to ``local_dir`` or push it. Returns ``(local_dir, commit_url)``.

    When pushing, the repo id and token are checked before any work, and the folder is built and
    validated completely before the first request, so a failure never leaves a half-uploaded repo.
    """
    args = dict(evaluation=evaluation, adapter_only=adapter_only, base_model_id=base_model_id,
                license=license)
    model_kind(Path(model_dir))  # local problems first: they need no token to report
    if local_dir is not None:
        if repo_id:
            hub_publish.check_repo_id(repo_id, "publish-model")
        return build_folder(model_dir, Path(local_dir), repo_id=repo_id, **args), None
    hub_publish.check_repo_id(repo_id, "publish-model")
    token = hub_publish.resolve_token(token, "publish-model")
    with tempfile.TemporaryDirectory(prefix="mijabench-release-") as tmp:
        folder = build_folder(model_dir, Path(tmp) / repo_id.split("/")[-1], repo_id=repo_id, **args)
        url = hub_publish.push_folder(folder, repo_id, "model", private=private, token=token,
                                      commit_message="Aligned model (mijabench DPO release)",
                                      endpoint=endpoint)
    return None, url
