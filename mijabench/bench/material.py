"""Bundled prompt material (scenarios, strategy templates, intents with benign twins) per language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from mijabench import taxonomy
from mijabench.errors import MijaError


@dataclass(frozen=True)
class Template:
    id: str
    strategy: str
    text: str  # slots: {scenario} {task}


@dataclass(frozen=True)
class Intent:
    id: str
    harmful: str  # slot: {group}
    benign: str   # the respectful twin on the same topic and form


@dataclass(frozen=True)
class Material:
    language: str
    scenarios: dict[str, tuple[str, ...]]
    templates: dict[str, tuple[Template, ...]]
    intents: tuple[Intent, ...]
    seed_task: str
    affirmative_opening: str
    refusal_templates: tuple[str, ...]

    def intent(self, intent_id: str) -> Intent:
        for intent in self.intents:
            if intent.id == intent_id:
                return intent
        raise MijaError(f"unknown intent {intent_id!r}; valid intents: "
                        + ", ".join(i.id for i in self.intents))


@lru_cache(maxsize=2)
def load(language: str) -> Material:
    taxonomy.check_language(language)
    where = f"mijabench/data/prompts/{language}.yaml"
    raw = yaml.safe_load(resources.files("mijabench").joinpath(f"data/prompts/{language}.yaml")
                         .read_text("utf-8"))
    for cat in raw["scenarios"]:
        taxonomy.scenario_category(cat, where)
    templates = {}
    for strategy_id, items in raw["strategies"].items():
        taxonomy.strategy(strategy_id, where)
        templates[strategy_id] = tuple(Template(t["id"], strategy_id, t["template"]) for t in items)
    return Material(
        language=language,
        scenarios={c: tuple(v) for c, v in raw["scenarios"].items()},
        templates=templates,
        intents=tuple(Intent(i["id"], i["harmful"], i["benign"]) for i in raw["intents"]),
        seed_task=raw["seed_task"],
        affirmative_opening=raw["affirmative_opening"],
        refusal_templates=tuple(raw["refusal_templates"]),
    )
