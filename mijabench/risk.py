"""SecureBreak's vocabulary: risk categories, label aliases and label rules (data/securebreak.yaml).

A base module because both the SecureBreak dataset and the guard classifier judge read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

SAFE_LABEL, UNSAFE_LABEL = "safe", "unsafe"
LABELS = (SAFE_LABEL, UNSAFE_LABEL)


@dataclass(frozen=True)
class Vocabulary:
    categories: dict       # id -> {"name": {...}, "description": str}
    category_aliases: dict  # alias -> id
    label_aliases: dict     # alias -> safe | unsafe
    rules: dict             # rule -> description


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    raw = yaml_load(resources.files("mijabench").joinpath("data/securebreak.yaml").read_text("utf-8"))
    labels = {str(a).strip().lower(): lab for lab, aliases in raw["labels"].items() for a in aliases}
    labels.update({lab: lab for lab in LABELS})
    return Vocabulary({c["id"]: c for c in raw["categories"]}, dict(raw["category_aliases"]),
                      labels, dict(raw["rules"]))


def yaml_load(text: str):
    import yaml
    return yaml.safe_load(text)
