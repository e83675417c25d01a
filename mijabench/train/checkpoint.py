"""A trained DPO model folder: its record, the merge of its adapter, the base model it names.

Shared by training, the before/after evaluation and the model card, so none of them imports
another for these.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mijabench import atomic
from mijabench.errors import MijaError
from mijabench.specs import EMBEDDED, FOLDER, HUB, parse_model_spec

RECORD = "mijabench_dpo.json"
MERGED = "merged"


def resolve_model_path(name: str | None, where: str = "--model_name_or_path",
                       kinds: tuple[str, ...] = (EMBEDDED, FOLDER, HUB)) -> str:
    """A model spec (:mod:`mijabench.specs`) as a path or id to load; ``embedded`` becomes the
    folder of the SmolLM2 shipped with mijabench (converted once, offline). Training needs
    weights, so endpoints are refused unless ``kinds`` allows them (evaluation)."""
    if not name:
        raise MijaError(f"{where}: required (a local model folder, a Hub model id or "
                        "embedded:smollm2)")
    spec = parse_model_spec(name, where, kinds=kinds)
    if spec.kind == EMBEDDED:
        from mijabench.run.embedded import default_model_dir
        return str(default_model_dir())
    return str(spec)


def merge_adapter(adapter_dir: Path, out_dir: Path) -> Path:
    """Merge the LoRA adapter into its base (in fp32, saved in the base dtype) with the tokenizer."""
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    from mijabench.hub.folders import swap_folder
    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise MijaError(f"{adapter_dir}: no adapter_config.json; pass the output_dir of align/dpo.py")
    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype=torch.float32)
    base_dtype = getattr(model.get_base_model().config, "dtype", None)
    merged = model.merge_and_unload()
    if isinstance(base_dtype, torch.dtype):
        merged = merged.to(base_dtype)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(str(tmp))
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(tmp))
    if (adapter_dir / RECORD).is_file():
        shutil.copy2(adapter_dir / RECORD, tmp / RECORD)
    swap_folder(tmp, out_dir)
    return out_dir


def write_record(output_dir: Path, record: dict) -> None:
    atomic.write_text(Path(output_dir) / RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_record(model_dir: Path) -> dict:
    path = Path(model_dir) / RECORD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MijaError(f"{path}: not valid JSON (line {exc.lineno}); re-run align/dpo.py") from None
