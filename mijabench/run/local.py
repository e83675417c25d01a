"""In-process generation with Transformers: batched, left-padded, greedy by default.

Prompts are sorted by token length before batching (less padding, and a batch's members depend
only on the prompt set, not on its order), then results are put back in prompt order.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Iterator

from mijabench.errors import MijaError
from mijabench.run.types import Generation, GenParams, chat


def _family(name: str, model_type: str) -> str:
    """A readable model family from the folder name (SmolLM2-135M -> smollm2), else the
    architecture (llama)."""
    m = re.match(r"([a-z]+[0-9]*(?:\.[0-9]+)?)", name.lower())
    word = m.group(1) if m else ""
    return word if word and word not in ("models", "snapshot", "tmp", "model") else model_type


class TransformersBackend:
    def __init__(self, model_dir: Path | str, device: str | None = None, batch_size: int = 8,
                 dtype=None, threads: int | None = None):
        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise MijaError(f"{path}: not a Hugging Face model folder (no config.json); pass a "
                            "folder saved with save_pretrained or downloaded with `hf download`")
        if batch_size < 1:
            raise MijaError("--batch-size must be >= 1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
        if not getattr(tokenizer, "chat_template", None):
            raise MijaError(f"{path}: the tokenizer has no chat template; add chat_template.jinja "
                            "(or tokenizer_config.json 'chat_template') to the folder, or audit an "
                            "instruct/chat model")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cpu":
            set_cpu_threads(threads)
        dtype = _dtype(dtype, self.device)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.path = path
        self.model_id = path.name
        self.meta = {"model_family": _family(path.name, model.config.model_type),
                     "model_params": int(sum(p.numel() for p in model.parameters()))}
        self._lock = threading.Lock()  # one generation at a time (a Space shares one backend)

    def __repr__(self) -> str:
        return f"TransformersBackend({str(self.path)!r}, device={self.device.type!r})"

    def _texts(self, prompts: list[str]) -> list[str]:
        return [self.tokenizer.apply_chat_template(chat(p), tokenize=False, add_generation_prompt=True)
                for p in prompts]

    def _generation_config(self, params: GenParams):
        import copy
        config = copy.deepcopy(self.model.generation_config)
        config.max_new_tokens = int(params.max_new_tokens)
        config.pad_token_id = self.tokenizer.pad_token_id
        config.do_sample = params.temperature > 0
        if config.do_sample:
            config.temperature, config.top_p = float(params.temperature), float(params.top_p)
        else:
            config.temperature = config.top_p = config.top_k = None
        return config

    def generate(self, prompts: list[str], params: GenParams,
                 progress: bool = True) -> list[Generation]:
        import torch
        from tqdm.auto import tqdm

        prompts = list(prompts)
        if not prompts:
            return []
        texts = self._texts(prompts)
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], texts[i]))
        results: list[Generation | None] = [None] * len(texts)
        config = self._generation_config(params)
        bar = tqdm(total=len(texts), desc=f"generating ({self.model_id})", unit="prompt",
                   disable=not progress)
        with self._lock:
            torch.manual_seed(params.seed)
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                for i, gen in zip(batch, self._batch([texts[i] for i in batch], config)):
                    results[i] = gen
                bar.update(len(batch))
        bar.close()
        return results  # type: ignore[return-value]

    def _batch(self, texts: list[str], config) -> list[Generation]:
        """One padded batch; if it fails (e.g. out of memory), each row alone, and a row that still
        fails gets its error recorded instead of stopping the run."""
        start = time.perf_counter()
        try:
            outs = self._run(texts, config)
        except (RuntimeError, ValueError, IndexError) as exc:
            if len(texts) > 1:
                return [g for t in texts for g in self._batch([t], config)]
            return [Generation("", f"local generation failed ({type(exc).__name__})",
                               time.perf_counter() - start)]
        per_row = (time.perf_counter() - start) / len(texts)
        return [Generation(text, "", per_row) for text in outs]

    def _run(self, texts: list[str], config) -> list[str]:
        import torch
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model.generate(**enc, generation_config=config)
        new = out[:, enc["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    def stream(self, prompt: str, params: GenParams) -> Iterator[str]:
        """Text chunks as they are generated (a helper thread runs ``generate``)."""
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        enc = self.tokenizer(self._texts([prompt]), return_tensors="pt", add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        config = self._generation_config(params)
        errors: list[BaseException] = []

        def work():
            try:
                with self._lock, torch.inference_mode():
                    torch.manual_seed(params.seed)
                    self.model.generate(**enc, generation_config=config, streamer=streamer)
            except BaseException as exc:  # noqa: BLE001 -- re-raised in the caller's thread
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for chunk in streamer:
            if chunk:
                yield chunk
        thread.join()
        if errors:
            raise errors[0]


def set_cpu_threads(threads: int | None = None) -> int:
    """Torch CPU threads: ``threads``, else ``$MIJABENCH_THREADS``/``$OMP_NUM_THREADS`` when set,
    else the cores that are idle now. On a busy shared machine one thread is much faster than
    two: OpenMP threads spin-wait for each other while the OS runs someone else."""
    import os

    import torch
    if threads is None:
        for name in ("MIJABENCH_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(name, "").isdigit():
                return torch.get_num_threads() if name == "OMP_NUM_THREADS" else \
                    _set(torch, int(os.environ[name]))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
        threads = max(1, min(cores or 1, int(round((cores or 1) - busy))))
    return _set(torch, threads)


def _set(torch, threads: int) -> int:
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def _dtype(dtype, device):
    import torch
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, str):
        value = getattr(torch, dtype, None)
        if not isinstance(value, torch.dtype):
            raise MijaError(f"--dtype {dtype!r}: use float32, bfloat16 or float16")
        return value
    return dtype
