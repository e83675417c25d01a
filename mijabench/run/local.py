"""In-process generation with Transformers: batched by length, left-padded, greedy by default.

Speed on CPU (``benchmarks/bench_generate.py`` holds the figures): prompts are sorted by token
length and neighbours share a batch (little padding; a batch's members depend only on the prompt
set, not on its order), a batch holds at most ``batch_size`` rows and ``batch_tokens`` padded
tokens (prompt + new), results go back in prompt order. On CPU the KV cache is preallocated
(``static``: the default growing cache re-copies itself every step, up to half the decode time in
bfloat16), the weights are bfloat16 where the CPU computes it natively (avx512_bf16/AMX: prefill
about 2x faster) and float32 elsewhere. A batch stops as soon as every row has ended (EOS).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from mijabench.errors import MijaError
from mijabench.run.types import Generation, GenParams, chat

# Measured on 2 CPU cores, SmolLM2-135M, bfloat16, 300-token prompts + 96 new tokens, CPU seconds
# per prompt: batch 4 1.97, 8 1.41, 16 1.25, 24 1.08, 32 1.02 (prefill ~600 tokens/s/core at any
# batch size; a decode step costs 61 ms for 4 rows, 173 ms for 32).
DEFAULT_BATCH_SIZE = 32
# Padded tokens per batch (rows x (longest prompt + max_new_tokens)): bounds the KV cache (~23 KB
# per token for SmolLM2 in bfloat16) and the prefill's memory; 32 paper-length prompts (~380
# tokens) with 96 new tokens fit, 25 with 256.
DEFAULT_BATCH_TOKENS = 16384
# A row joins a batch only if its length + new tokens is at least this share of the longest's.
MIN_FILL = 0.75
DTYPES = ("auto", "float32", "bfloat16", "float16")


def _family(name: str, model_type: str) -> str:
    """A readable model family from the folder name (SmolLM2-135M -> smollm2), else the
    architecture (llama)."""
    m = re.match(r"([a-z]+[0-9]*(?:\.[0-9]+)?)", name.lower())
    word = m.group(1) if m else ""
    return word if word and word not in ("models", "snapshot", "tmp", "model") else model_type


class TransformersBackend:
    """``dtype``: ``auto`` (default: bfloat16 on GPUs and on CPUs with native bfloat16, else
    float32), ``float32``, ``bfloat16`` or ``float16``. ``batch_size``: most rows per batch;
    ``batch_tokens``: most padded tokens per batch. ``threads``: see :func:`set_cpu_threads`."""

    def __init__(self, model_dir: Path | str, device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, dtype=None, threads: int | None = None,
                 batch_tokens: int = DEFAULT_BATCH_TOKENS):
        path = Path(model_dir).expanduser()
        if not (path / "config.json").is_file():
            raise MijaError(f"{path}: not a Hugging Face model folder (no config.json); pass a "
                            "folder saved with save_pretrained or downloaded with `hf download`")
        if int(batch_size) < 1:
            raise MijaError("--batch-size must be >= 1")
        if int(batch_tokens) < 1:
            raise MijaError(f"batch_tokens {batch_tokens}: must be >= 1 (padded tokens per batch)")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
        if not getattr(tokenizer, "chat_template", None):
            raise MijaError(f"{path}: the tokenizer has no chat template; add chat_template.jinja "
                            "(or tokenizer_config.json 'chat_template') to the folder, or audit an "
                            "instruct/chat model")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generation appends on the right: pads go left
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threads = set_cpu_threads(threads) if self.device.type == "cpu" else None
        self.dtype = _dtype(dtype, self.device)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=self.dtype)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.batch_size, self.batch_tokens = int(batch_size), int(batch_tokens)
        # a preallocated KV cache on CPU (measured); GPUs keep the default growing cache
        self.static_cache = (self.device.type == "cpu"
                             and bool(getattr(model, "_can_compile_fullgraph", False)))
        self.path = path
        self.model_id = path.name
        self.meta = {"model_family": _family(path.name, model.config.model_type),
                     "model_params": int(sum(p.numel() for p in model.parameters()))}
        self.last_run: dict = {}  # token counts of the last generate() call (benchmarks read it)
        self._lock = threading.Lock()  # one generation at a time (a Space shares one backend)

    def __repr__(self) -> str:
        return (f"TransformersBackend({str(self.path)!r}, device={self.device.type!r}, "
                f"dtype={str(self.dtype).removeprefix('torch.')!r})")

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
        if self.static_cache:
            config.cache_implementation = "static"
        config.disable_compile = True  # never an unasked-for torch.compile on the first batch
        return config

    def generate(self, prompts: list[str], params: GenParams,
                 progress: bool = True) -> list[Generation]:
        import torch
        from tqdm.auto import tqdm

        prompts = list(prompts)
        if not prompts:
            return []
        texts = self._texts(prompts)
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        lengths = [len(x) for x in ids]
        batches = length_batches(lengths, self.batch_size, self.batch_tokens,
                                 int(params.max_new_tokens), keys=texts)
        results: list[Generation | None] = [None] * len(texts)
        config = self._generation_config(params)
        self.last_run = {"prompts": len(texts), "prompt_tokens": sum(lengths), "new_tokens": 0,
                         "padded_tokens": sum(len(b) * max(lengths[i] for i in b) for b in batches),
                         "batches": len(batches)}
        bar = tqdm(total=len(texts), desc=f"generating ({self.model_id})", unit="prompt",
                   disable=not progress)
        with self._lock:
            torch.manual_seed(params.seed)
            for batch in batches:
                for i, gen in zip(batch, self._batch([ids[i] for i in batch], config)):
                    results[i] = gen
                bar.update(len(batch))
        bar.close()
        return results  # type: ignore[return-value]

    def _batch(self, rows: list[list[int]], config) -> list[Generation]:
        """One padded batch; if it fails (e.g. out of memory), each row alone, and a row that still
        fails gets its error recorded instead of stopping the run."""
        start = time.perf_counter()
        try:
            outs = self._run(rows, config)
        except (RuntimeError, ValueError, IndexError) as exc:
            if config.cache_implementation == "static":  # an architecture without it: default cache
                self.static_cache, config.cache_implementation = False, None
                return self._batch(rows, config)
            if len(rows) > 1:
                return [g for r in rows for g in self._batch([r], config)]
            return [Generation("", f"local generation failed ({type(exc).__name__})",
                               time.perf_counter() - start)]
        per_row = (time.perf_counter() - start) / len(rows)
        return [Generation(text, "", per_row) for text in outs]

    def _run(self, rows: list[list[int]], config) -> list[str]:
        import torch
        enc = self.tokenizer.pad({"input_ids": rows}, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model.generate(**enc, generation_config=config)
        new = out[:, enc["input_ids"].shape[1]:]
        self.last_run["new_tokens"] += _count_new(new, config)
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


def length_batches(lengths: list[int], batch_size: int, batch_tokens: int, max_new_tokens: int,
                   keys: list | None = None) -> list[list[int]]:
    """Prompt indices in batches of neighbours by length, longest first (ties by ``keys``, so a
    batch depends on the prompt set, not its order). A batch takes rows while it holds at most
    ``batch_size`` rows and rows x (its longest prompt + ``max_new_tokens``) <= ``batch_tokens``;
    a row alone over the budget still gets its own batch. A row much shorter than the batch's
    longest starts a new batch: its padding would cost more than the smaller batch."""
    keys = keys if keys is not None else list(range(len(lengths)))
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], keys[i]))
    batches: list[list[int]] = []
    for i in order:
        current = batches[-1] if batches else None
        width = lengths[current[0]] + max_new_tokens if current else 0
        if current and len(current) < batch_size and (len(current) + 1) * width <= batch_tokens \
                and lengths[i] + max_new_tokens >= MIN_FILL * width:
            current.append(i)
        else:
            batches.append([i])
    return batches


def _count_new(new, config) -> int:
    """Tokens generated per row up to and including its EOS (padding after it not counted)."""
    import torch
    eos = config.eos_token_id
    eos = torch.tensor(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    ended = torch.isin(new, eos.to(new.device)) if eos.numel() else torch.zeros_like(new, dtype=torch.bool)
    # position of the first EOS + 1, else the full width
    first = torch.where(ended.any(1), ended.int().argmax(1) + 1, torch.full_like(ended[:, 0], new.shape[1], dtype=torch.long))
    return int(first.sum())


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
        threads = max(1, min(cores or 1, round((cores or 1) - busy)))
    return _set(torch, threads)


def _set(torch, threads: int) -> int:
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (avx512_bf16 or AMX); elsewhere bfloat16 is
    emulated and slower than float32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _dtype(dtype, device):
    import torch
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16() else torch.float32
    if isinstance(dtype, str):
        value = getattr(torch, dtype, None) if dtype in DTYPES else None
        if not isinstance(value, torch.dtype):
            raise MijaError(f"--dtype {dtype!r}: use auto, float32, bfloat16 or float16")
        return value
    if not isinstance(dtype, torch.dtype):
        raise MijaError(f"--dtype {dtype!r}: use auto, float32, bfloat16 or float16")
    return dtype
