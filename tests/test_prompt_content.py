"""The prompt material shows each strategy's real mechanics (cases in
tests/data/strategy_mechanics.yaml), and the built prompts keep the premise, name the group in
plain text and differ only by the group inside a counterfactual set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mijabench import taxonomy
from mijabench.bench import compose, configs, material, transforms

ROOT = Path(__file__).resolve().parent.parent
CASES = yaml.safe_load((ROOT / "tests" / "data" / "strategy_mechanics.yaml").read_text("utf-8"))
PAPER = ROOT.parent / "shared" / "paper" / "mijabench_v1_results.yaml"
STEP = re.compile(r"^(\d+)\. ", re.MULTILINE)
TEMPLATES = [(lang, strategy, t) for lang in taxonomy.LANGUAGES
             for strategy, items in material.load(lang).templates.items() for t in items]


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_every_strategy_has_enough_templates(language):
    templates = material.load(language).templates
    assert set(templates) == set(taxonomy.strategies())
    for strategy, items in templates.items():
        assert len(items) >= CASES["min_templates"], strategy
        assert len({t.id for t in items}) == len(items)


@pytest.mark.parametrize("language, strategy, template", TEMPLATES, ids=[t.id for _, _, t in TEMPLATES])
def test_template_is_premise_phrased_and_woven(language, strategy, template):
    text = template.text
    assert not text.rstrip().endswith("?")
    assert text.count("{scenario}") == 1 and "{group}" in text and "{artifact}" in text
    # The premise enters once: quoted as settled fact, or encoded as the payload.
    if template.transform:
        assert "{payload}" in text and "{claim}" not in text
    else:
        assert text.count('"{claim}"') == 1 and "{payload}" not in text
    assert not re.search(CASES["forbidden"], text) and not text.startswith("{scenario}")
    rules = CASES["strategies"][strategy][language]
    for key in ("role", "same_logic", "framing", "decode"):
        if key in rules:
            assert re.search(rules[key], text), key
    assert bool(template.transform) == (strategy == "representation_shifting")
    if "steps" in rules:
        check_steps(text, *rules["steps"])


def check_steps(text: str, low: int, high: int) -> None:
    """4-6 numbered steps, in order; the premise comes late and a step at or after it draws the
    conclusion about the group."""
    lines = [line for line in text.splitlines() if STEP.match(line)]
    assert [int(STEP.match(line).group(1)) for line in lines] == list(range(1, len(lines) + 1))
    assert low <= len(lines) <= high
    at = next(i for i, line in enumerate(lines) if "{claim}" in line)
    assert at >= 1 and any("{group}" in line for line in lines[at:])
    assert "{scenario}" in "".join(lines[:2])  # it starts harmless, inside the scenario


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_representation_shifting_uses_every_transform(language):
    used = {t.transform for t in material.load(language).templates["representation_shifting"]}
    assert used == set(transforms.TRANSFORMS)


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_intents_are_premises_with_twins(language):
    m = material.load(language)
    assert len(m.intents) >= 25 and m.seed_artifacts and m.default_artifact
    for intent in m.intents:
        assert intent.artifact
        for text in (intent.harmful, intent.benign):
            assert text.count("{group}") == 1 and not text.rstrip().endswith("?")
        assert intent.harmful != intent.benign
    assert [i.id for i in m.intents] == [i.id for i in material.load("en").intents]


# --- built prompts ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(toxigen_dir, tmp_path_factory):
    pt = tmp_path_factory.mktemp("seeds") / "pt.csv"
    pt.write_text("text,group,is_toxic\n" + "".join(
        f"frase {{sintética}} {i} sobre o grupo,{g},{i % 2}\n"
        for g in ("mulheres", "idosos", "imigrantes", "pcd", "judeus", "muçulmanos", "indígenas",
                  "pessoas negras", "lgbtqia+") for i in range(8)), "utf-8")
    return configs.build_configs(("counterfactual", "paper"), ("en", "pt"), seed=3, per_group=None,
                                 seeds=[toxigen_dir, pt])


def rows(built, config=None):
    for name, splits in built.items():
        if config in (None, name):
            for table in splits.values():
                yield from table.to_pylist()


def test_every_prompt_names_its_group_and_ends_on_an_instruction(built):
    all_rows = list(rows(built))
    assert len(all_rows) > 5000
    for row in all_rows:
        assert row["group_name"] in row["prompt"], row["id"]
        assert not row["prompt"].rstrip().endswith("?"), row["id"]
        assert not re.search(r"\{(scenario|group|claim|artifact|payload)\}", row["prompt"]), row["id"]


def premise_of(row: dict) -> str:
    if row["seed_text"]:
        return " ".join(row["seed_text"].split())
    intent = material.load(row["language"]).intent(row["intent_id"])
    text = intent.harmful if row["kind"] == "harmful" else intent.benign
    return text.replace("{group}", row["group_name"])


def transform_of(row: dict) -> str:
    templates = material.load(row["language"]).templates[row["strategy"]]
    return next(t.transform for t in templates if t.id == row["template_id"])


def test_the_premise_is_in_every_prompt_plain_or_encoded(built):
    seen = set()
    for row in rows(built):
        premise, transform = premise_of(row), transform_of(row)
        assert compose.row_payload(row) == (transforms.encode(transform, premise, row["language"])
                                            if transform else "")
        if transform:
            payload = transforms.encode(transform, premise, row["language"])
            assert payload in row["prompt"], row["id"]
            if transform != "leetspeak" or not set("013457") & set(premise):  # its domain
                assert transforms.decode(transform, payload, row["language"]) == premise
            seen.add((row["config"], row["language"], transform))
        else:
            assert f'"{premise}"' in row["prompt"], row["id"]
    assert len(seen) >= 3 * len(transforms.TRANSFORMS)  # most transforms in most config x language


def test_counterfactual_sets_differ_only_by_the_group(built):
    sets: dict[tuple, set] = {}
    for row in rows(built, "counterfactual"):
        name, transform = row["group_name"], transform_of(row)
        masked, decoded = row["prompt"], ""
        if transform:
            payload = transforms.encode(transform, premise_of(row), row["language"])
            masked = masked.replace(payload, "\x00PAYLOAD\x00")
            decoded = transforms.decode(transform, payload, row["language"]).replace(name, "\x00GROUP\x00")
        masked = masked.replace(name, "\x00GROUP\x00")
        sets.setdefault((row["counterfactual_id"], row["kind"]), set()).add((masked, decoded))
    assert len(sets) > 400
    for key, variants in sets.items():
        assert len(variants) == 1, key


def test_the_21_paper_categories_in_both_languages(built):
    for language in taxonomy.LANGUAGES:
        for config in ("counterfactual",):
            present = {r["scenario_category"] for r in rows(built, config) if r["language"] == language}
            assert present == set(taxonomy.scenario_categories()) and len(present) == 21
    if PAPER.is_file():  # the paper's own names (Appendix A), read in place
        paper = yaml.safe_load(PAPER.read_text("utf-8"))["scenario_categories"]
        ours = [c.name("en") for c in taxonomy.scenario_categories().values()]
        assert sorted(fold(n) for n in ours) == sorted(fold(n) for n in paper)


def fold(name: str) -> str:
    return re.sub(r"\W+", " ", name.lower().replace("&", "and")).strip()
