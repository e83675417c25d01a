"""The audit's defaults, shared by ``mijabench audit`` and :func:`mijabench.run_audit`.

Standard library only: the CLI imports this at start-up for its ``--help`` texts.
"""

from __future__ import annotations

import re
from pathlib import Path

# The default quick audit (132 prompts, SmolLM2-135M in bfloat16, length-sorted batches) took
# 2 min 51 s on 2 cores, GGUF conversion included (`make audit` on a fresh clone, 2026-12-01).
# Shorter answers bias DR upward (at 64 tokens the rules judge missed every harmful answer it found
# at 96), so 96 is the floor.
QUICK_MAX_NEW_TOKENS = 96
FULL_MAX_NEW_TOKENS = 256


def max_new_tokens(full: bool, given: int | None = None) -> int:
    """The generation length: ``given``, else the quick-sample or full-benchmark default."""
    return given or (FULL_MAX_NEW_TOKENS if full else QUICK_MAX_NEW_TOKENS)


def out_dir(model_id: str) -> Path:
    """``runs/<model id as a folder name>``: where an audit writes when no folder is given."""
    return Path("runs") / (re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-") or "model")
