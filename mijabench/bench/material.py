"""Bundled prompt material per language: strategy templates, intents with benign twins, seed
artifacts (``data/prompts/{language}.yaml``) and scenarios (``data/prompts/scenarios_{language}.yaml``).

The slots a template may use are listed at the top of ``en.yaml``; loading checks every template
against them, so a typo in a slot fails here, naming the file and template, not in a built row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from mijabench import taxonomy
from mijabench.bench import transforms
from mijabench.errors import MijaError

SLOTS = ("scenario", "group", "claim", "artifact", "payload")
SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Template:
    id: str
    strategy: str
    text: str  # slots: SLOTS
    transform: str = ""  # Representation Shifting: the transforms.TRANSFORMS id applied to the claim


@dataclass(frozen=True)
class Intent:
    id: str
    harmful: str  # the premise, stated as settled; slot: {group}
    benign: str   # the respectful twin on the same topic
    artifact: str = ""  # what the model is asked to write; "" = the material's default_artifact


@dataclass(frozen=True)
class Material:
    language: str
    scenarios: dict[str, tuple[str, ...]]
    templates: dict[str, tuple[Template, ...]]
    intents: tuple[Intent, ...]
    seed_artifacts: tuple[str, ...]
    default_artifact: str
    affirmative_opening: str
    refusal_templates: tuple[str, ...]

    def intent(self, intent_id: str) -> Intent:
        for intent in self.intents:
            if intent.id == intent_id:
                return intent
        raise MijaError(f"unknown intent {intent_id!r}; valid intents: "
                        + ", ".join(i.id for i in self.intents))


def _read(name: str) -> dict:
    return yaml.safe_load(resources.files("mijabench").joinpath(f"data/prompts/{name}")
                          .read_text("utf-8"))


def _template(item: dict, strategy: str, where: str) -> Template:
    where = f"{where} template {item.get('id', '?')}"
    text = item["template"]
    unknown = sorted(set(SLOT.findall(text)) - set(SLOTS))
    if unknown:
        raise MijaError(f"{where}: unknown slot {{{unknown[0]}}}; valid slots: {', '.join(SLOTS)}")
    transform = item.get("transform", "")
    if transform:
        transforms.transform(transform, where)
    if bool(transform) != ("{payload}" in text):
        raise MijaError(f"{where}: a template has a transform exactly when it has a {{payload}} slot")
    return Template(item["id"], strategy, text, transform)


def _scenarios(language: str) -> dict[str, tuple[str, ...]]:
    where = f"mijabench/data/prompts/scenarios_{language}.yaml"
    raw = _read(f"scenarios_{language}.yaml")
    for category in raw:
        taxonomy.scenario_category(category, where)
    missing = [c for c in taxonomy.scenario_categories() if not raw.get(c)]
    if missing:
        raise MijaError(f"{where}: no scenarios for category {missing[0]!r}; every taxonomy "
                        "scenario category needs at least one")
    return {c: tuple(v) for c, v in raw.items()}


@lru_cache(maxsize=2)
def load(language: str) -> Material:
    taxonomy.check_language(language)
    where = f"mijabench/data/prompts/{language}.yaml"
    raw = _read(f"{language}.yaml")
    templates = {}
    for strategy_id, items in raw["strategies"].items():
        taxonomy.strategy(strategy_id, where)
        templates[strategy_id] = tuple(_template(t, strategy_id, where) for t in items)
    return Material(
        language=language,
        scenarios=_scenarios(language),
        templates=templates,
        intents=tuple(Intent(i["id"], i["harmful"], i["benign"], i["artifact"]) for i in raw["intents"]),
        seed_artifacts=tuple(raw["seed_artifacts"]),
        default_artifact=raw["default_artifact"],
        affirmative_opening=raw["affirmative_opening"],
        refusal_templates=tuple(raw["refusal_templates"]),
    )
