"""What every model backend shares: generation parameters, one generated row, the protocol.

Every backend turns each prompt into a one-user-turn chat and returns :class:`Generation` rows
in prompt order.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable


@dataclass
class GenParams:
    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        # one check for every caller (CLI, API, Space): a bad value fails before any generation
        from mijabench.errors import MijaError
        if not int(self.max_new_tokens) >= 1:
            raise MijaError(f"--max-new-tokens {self.max_new_tokens}: must be >= 1")
        if not float(self.temperature) >= 0:
            raise MijaError(f"--temperature {self.temperature}: must be >= 0 (0 = greedy)")
        if not 0 < float(self.top_p) <= 1:
            raise MijaError(f"--top-p {self.top_p}: must be in (0, 1]")

    def to_dict(self) -> dict:
        """Canonical, typed values: part of every response's resume key (``schema.gen_key``)."""
        d = asdict(self)
        return {"max_new_tokens": int(d["max_new_tokens"]), "temperature": float(d["temperature"]),
                "top_p": float(d["top_p"]), "seed": int(d["seed"])}


@dataclass
class Generation:
    text: str
    error: str = ""        # "" when generation succeeded; else a short reason (no dataset text)
    latency_s: float = 0.0
    truncated: bool = False  # the text was cut at the backend's response-length cap


@runtime_checkable
class Backend(Protocol):
    """What the audit needs from a model. Optional extras: ``check()`` (fail-fast probe),
    ``meta`` (model_family/model_params), ``stream(prompt, params) -> Iterator[str]`` (text chunks,
    for the Space) and ``generate_iter(prompts, params) -> Iterator[(index, Generation)]``."""

    model_id: str

    def generate(self, prompts: list[str], params: GenParams,
                 progress: bool = True) -> list[Generation]:
        ...


def chat(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def run_sync(coro):
    """Run a coroutine to completion from sync code, even when an event loop is already running
    in this thread (Jupyter, Gradio): then it runs on a private loop in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
