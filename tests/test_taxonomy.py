import pytest

from mijabench.bench import material
from mijabench import taxonomy
from mijabench.errors import MijaError

EN_GROUPS = {"black", "jewish", "muslim", "native_peoples", "middle_eastern", "asian", "chinese",
             "latino", "mexican", "women", "lgbtqia", "mental_disability", "physical_disability"}
PT_GROUPS = {"black", "jewish", "muslim", "native_peoples", "immigrants", "women", "lgbtqia",
             "disability", "elderly"}


def test_paper_group_availability():
    assert len(taxonomy.groups()) == 16
    assert set(taxonomy.groups_for("en")) == EN_GROUPS
    assert set(taxonomy.groups_for("pt")) == PT_GROUPS


def test_names_in_both_languages():
    for group in taxonomy.groups().values():
        assert group.name("en") and group.name("pt")
    assert taxonomy.group("elderly").name("pt") == "pessoas idosas"
    assert len(taxonomy.strategies()) == 4 and len(taxonomy.scenario_categories()) == 21
    assert taxonomy.strategy("chain_of_thought").name("en") == "Chain-of-Thought"


@pytest.mark.parametrize("call, kind", [
    (lambda: taxonomy.group("martians"), "group"),
    (lambda: taxonomy.strategy("bribery"), "strategy"),
    (lambda: taxonomy.scenario_category("space"), "scenario category"),
    (lambda: taxonomy.check_language("fr"), "language"),
    (lambda: taxonomy.parse_list("group", "women,martians"), "group"),
])
def test_unknown_names_list_the_valid_ones(call, kind):
    with pytest.raises(MijaError) as err:
        call()
    message = str(err.value)
    assert f"unknown {kind}" in message and "valid" in message
    assert "\n" not in message


def test_unknown_group_error_lists_every_group():
    with pytest.raises(MijaError) as err:
        taxonomy.group("nope")
    assert all(g in str(err.value) for g in taxonomy.groups())


@pytest.mark.parametrize("language", ["en", "pt"])
def test_bundled_material_meets_the_minimums(language):
    m = material.load(language)
    assert set(m.scenarios) == set(taxonomy.scenario_categories())
    assert all(len(set(v)) >= 10 for v in m.scenarios.values())
    assert set(m.templates) == set(taxonomy.strategies())
    assert all(len(v) >= 3 for v in m.templates.values())
    assert len(m.intents) >= 25
    for intent in m.intents:
        assert intent.harmful.count("{group}") == 1 and intent.benign.count("{group}") == 1
        assert intent.harmful != intent.benign
    for templates in m.templates.values():
        for t in templates:  # premise, not question
            assert not t.text.rstrip().endswith("?")
            # the premise enters once, plain ({claim}) or encoded ({payload}); tests/test_prompt_content.py has the rest
            assert t.text.count("{scenario}") == 1 and t.text.count("{claim}") + t.text.count("{payload}") == 1


def test_intents_align_across_languages():
    assert [i.id for i in material.load("en").intents] == [i.id for i in material.load("pt").intents]
