"""The MiJaBench taxonomy: groups, strategies, scenario categories and languages.

The data lives in ``data/taxonomy.yaml``; this module only loads and validates names.
Every lookup of an unknown name raises :class:`MijaError` listing the valid ids.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import yaml

from mijabench.errors import MijaError, unknown_name

LANGUAGES = ("en", "pt")


@dataclass(frozen=True)
class Group:
    id: str
    languages: tuple[str, ...]
    names: dict

    def name(self, language: str = "en") -> str:
        return self.names[check_language(language)]


@dataclass(frozen=True)
class Named:
    id: str
    names: dict
    descriptions: dict = field(default_factory=dict)  # per language; scenario categories only
    aliases: tuple[str, ...] = ()  # other names that resolve to this id (see resolve_scenario_category)

    def name(self, language: str = "en") -> str:
        return self.names[check_language(language)]

    def description(self, language: str = "en") -> str:
        return self.descriptions.get(check_language(language), "")


@lru_cache(maxsize=1)
def _raw() -> dict:
    text = resources.files("mijabench").joinpath("data/taxonomy.yaml").read_text("utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def groups() -> dict[str, Group]:
    return {g["id"]: Group(g["id"], tuple(g["languages"]), g["name"]) for g in _raw()["groups"]}


@lru_cache(maxsize=1)
def strategies() -> dict[str, Named]:
    return {s["id"]: Named(s["id"], s["name"]) for s in _raw()["strategies"]}


@lru_cache(maxsize=1)
def scenario_categories() -> dict[str, Named]:
    return {s["id"]: Named(s["id"], s["name"], s.get("description", {}), tuple(s.get("aliases", ())))
            for s in _raw()["scenario_categories"]}


def fold_name(name: str) -> str:
    """Case- and accent-insensitive key, so 'Muçulmanos' and 'muculmanos' match (the one such
    folding: groups, categories, languages and judge labels all use it)."""
    decomposed = unicodedata.normalize("NFKD", str(name).strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("_", " ")


def _name_key(name: str) -> str:
    """Case-, accent- and punctuation-blind key; "and"/"e" drop so "A & B" == "A and B" == "a_b"."""
    return " ".join(w for w in re.split(r"[^a-z0-9+]+", fold_name(name)) if w and w not in ("and", "e"))


@lru_cache(maxsize=1)
def _scenario_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for c in scenario_categories().values():
        for name in (c.id, *c.names.values(), *c.aliases):
            if index.setdefault(_name_key(name), c.id) != c.id:
                raise MijaError(f"taxonomy.yaml: scenario name {name!r} maps to both "
                                f"{index[_name_key(name)]} and {c.id}; keep it on one category")
    return index


def resolve_scenario_category(name: str) -> str | None:
    """The category id for an id, EN/PT display name or alias (any case/accents); None if unknown."""
    return _scenario_index().get(_name_key(str(name or ""))) or None


def check_language(language: str, where: str = "") -> str:
    if language not in LANGUAGES:
        raise unknown_name("language", language, list(LANGUAGES), where)
    return language


def group(group_id: str, where: str = "") -> Group:
    try:
        return groups()[group_id]
    except KeyError:
        raise unknown_name("group", group_id, list(groups()), where) from None


def strategy(strategy_id: str, where: str = "") -> Named:
    try:
        return strategies()[strategy_id]
    except KeyError:
        raise unknown_name("strategy", strategy_id, list(strategies()), where) from None


def scenario_category(category_id: str, where: str = "") -> Named:
    try:
        return scenario_categories()[category_id]
    except KeyError:
        raise unknown_name("scenario category", category_id, list(scenario_categories()), where) from None


def groups_for(language: str) -> list[str]:
    """Group ids available in ``language`` (paper: 13 in EN, 9 in PT), in taxonomy order."""
    check_language(language)
    return [g.id for g in groups().values() if language in g.languages]


def parse_list(kind: str, values: Iterable[str] | str | None) -> list[str]:
    """Validate a user-given list (comma string or iterable) of ``kind`` ids.

    ``kind`` is one of group/strategy/scenario category/language.
    """
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    items = [v.strip() for v in values if v and v.strip()]
    check = {"group": group, "strategy": strategy, "scenario category": scenario_category,
             "language": check_language}.get(kind)
    if check is None:
        raise MijaError(f"unknown taxonomy kind {kind!r}")
    for item in items:
        check(item)
    return items
