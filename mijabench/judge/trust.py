"""How far to trust a judge: its measured agreement with human labels, for reports.

The figures are computed by ``mijabench judge-eval --write-figures`` (:mod:`mijabench.derived.
judge_eval`) on the test split of the packaged judge validation set and stored in
``mijabench/data/judge_validation/figures.json``; nothing here is typed in by hand, and a test
recomputes the file. Judges without measured figures (an LLM endpoint, a guard folder) get None.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

FIGURES_FILE = "figures.json"


def validation_dir() -> Path:
    """``mijabench/data/judge_validation`` (the labeled judge validation set)."""
    return Path(str(resources.files("mijabench").joinpath("data/judge_validation")))


@lru_cache(maxsize=1)
def _figures() -> dict:
    path = validation_dir() / FIGURES_FILE
    try:
        return json.loads(path.read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def trust_figures(judge_id: str) -> dict | None:
    """Test-split figures of ``judge_id`` (as a verdict's ``judge`` column names it), or None.

    ``{"split": "test", "n", "accuracy", "kappa", "precision_harmful", "recall_harmful",
    "by_language": {"en": {...}, "pt": {...}}, "hard_cases": {...}, "source"}``; ``hard_cases`` holds
    the same scores on the split's hand-written hard cases."""
    entry = _figures().get(judge_id)
    return dict(entry) if entry else None
