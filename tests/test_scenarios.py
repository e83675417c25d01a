"""The paper's 21 scenario categories, their bundled scenarios and name resolution (data-driven)."""

from __future__ import annotations

import csv
import re
import unicodedata
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mijabench import taxonomy
from mijabench.errors import MijaError

DATA = Path(__file__).parent / "data"
PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "mijabench_v1_results.yaml"
# The form the templates rely on (stated at the top of each scenarios_<lang>.yaml).
ARTICLES = {"en": ("a ", "an "), "pt": ("um ", "uma ")}


def _scenarios(language: str) -> dict[str, list[str]]:
    path = resources.files("mijabench").joinpath(f"data/prompts/scenarios_{language}.yaml")
    return yaml.safe_load(path.read_text("utf-8"))


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _group_names() -> set[str]:
    """Every way the project spells a group: display names in both languages and all aliases."""
    names = {n for g in taxonomy.groups().values() for n in g.names.values()}
    names |= set(taxonomy.groups())
    aliases = yaml.safe_load(resources.files("mijabench").joinpath("data/group_aliases.yaml").read_text("utf-8"))
    for table in aliases.values():
        names |= {str(k) for k in table}
    return {_plain(n).replace("_", " ") for n in names}


GROUP_PATTERNS = [re.compile(rf"(?<!\w){re.escape(n)}(?!\w)") for n in sorted(_group_names())]
CATEGORIES = list(taxonomy.scenario_categories())


def test_the_papers_21_categories_with_names_and_descriptions_in_both_languages():
    assert len(CATEGORIES) == 21 and len(set(CATEGORIES)) == 21
    for cat in taxonomy.scenario_categories().values():
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cat.id)
        for language in taxonomy.LANGUAGES:
            assert cat.name(language).strip(), (cat.id, language)
            assert 20 <= len(cat.description(language)) <= 120, (cat.id, language)
        assert cat.description("en") != cat.description("pt")


def test_paper_category_names_resolve_one_to_one():
    if not PAPER.is_file():
        pytest.skip(f"{PAPER} not present (it sits beside the checkout in CI)")
    paper = yaml.safe_load(PAPER.read_text("utf-8"))["scenario_categories"]
    resolved = [taxonomy.resolve_scenario_category(name) for name in paper]
    assert None not in resolved and sorted(resolved) == sorted(CATEGORIES)
    assert [taxonomy.scenario_category(c).name("en") for c in resolved] == paper


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_every_category_has_at_least_ten_distinct_scenarios_in_the_stated_form(language):
    scenarios = _scenarios(language)
    assert set(scenarios) == set(CATEGORIES)
    everything = [s for cat in CATEGORIES for s in scenarios[cat]]
    for cat in CATEGORIES:
        assert len(scenarios[cat]) >= 10, (language, cat)
    assert len({_plain(s) for s in everything}) == len(everything), "duplicate scenario"
    for s in everything:
        assert isinstance(s, str) and s.startswith(ARTICLES[language]), s
        assert s == s.strip() and s[-1].isalnum() and "\n" not in s, s
        assert 25 <= len(s) <= 160, s


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_no_scenario_names_a_group(language):
    for cat, items in _scenarios(language).items():
        for s in items:
            hits = [p.pattern for p in GROUP_PATTERNS if p.search(_plain(s)) or p.search(s.lower())]
            assert not hits, (language, cat, s, hits)


def test_group_check_catches_a_group_name():
    # Guard the guard: a scenario that names a group must be caught, in either language.
    planted = ["a harbour where Muslims gather", "uma feira de pessoas idosas", "um bairro de muculmanos"]
    for s in planted:
        assert any(p.search(_plain(s)) for p in GROUP_PATTERNS), s


def test_en_and_pt_scenarios_are_written_separately():
    en, pt = _scenarios("en"), _scenarios("pt")
    assert not {_plain(s) for v in en.values() for s in v} & {_plain(s) for v in pt.values() for s in v}


def _name_cases() -> list[tuple[str, str | None]]:
    with open(DATA / "scenario_category_names.csv", newline="", encoding="utf-8") as fh:
        return [(r["name"], r["expected"] or None) for r in csv.DictReader(fh)]


@pytest.mark.parametrize("name, expected", _name_cases())
def test_resolve_scenario_category(name, expected):
    assert taxonomy.resolve_scenario_category(name) == expected


def test_every_id_name_and_alias_resolves_to_its_own_category():
    for cat in taxonomy.scenario_categories().values():
        for name in (cat.id, *cat.names.values(), *cat.aliases, cat.id.upper(), cat.name("pt").upper()):
            assert taxonomy.resolve_scenario_category(name) == cat.id, name
    assert taxonomy.resolve_scenario_category(None) is None


def test_strict_lookup_still_takes_ids_only():
    assert taxonomy.scenario_category("economy_work").name("pt") == "Economia e Trabalho"
    with pytest.raises(MijaError, match="unknown scenario category 'workplace'"):
        taxonomy.scenario_category("workplace")
