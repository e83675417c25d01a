"""Composition: (intent or seed) x scenario x strategy x language -> one jailbreak prompt row.

Every axis stays on the row as metadata. Choices are drawn from a ``random.Random`` seeded by the
caller, so the same inputs and seed give the same rows.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from mijabench import taxonomy
from mijabench.bench import material as material_mod
from mijabench.bench.material import Intent, Material, Template
from mijabench.schema import PROMPT_COLUMNS, stable_id


class Attack(NamedTuple):
    """One attack before the group is filled in: shared by every group of a counterfactual set."""
    language: str
    strategy: str
    scenario_category: str
    scenario_index: int
    template: Template

    def scenario(self, material: Material) -> str:
        return material.scenarios[self.scenario_category][self.scenario_index]


def fill(template: Template, scenario: str, task: str) -> str:
    # str.replace, not str.format: seed sentences may contain braces.
    return template.text.replace("{scenario}", scenario).replace("{task}", task)


def intent_task(intent: Intent, kind: str, group_name: str) -> str:
    text = intent.harmful if kind == "harmful" else intent.benign
    return text.replace("{group}", group_name)


def seed_task(material: Material, seed_text: str) -> str:
    return material.seed_task.replace("{seed}", seed_text)


def draw_attacks(language: str, strategies: list[str], n: int, rng: random.Random) -> list[Attack]:
    """``n`` attacks per strategy, with scenario categories cycled so all 21 appear evenly."""
    material = material_mod.load(language)
    categories = list(taxonomy.scenario_categories())
    attacks = []
    for strategy in strategies:
        offset = rng.randrange(len(categories))
        for i in range(n):
            category = categories[(offset + i) % len(categories)]
            attacks.append(Attack(
                language=language, strategy=strategy, scenario_category=category,
                scenario_index=rng.randrange(len(material.scenarios[category])),
                template=rng.choice(material.templates[strategy])))
    return attacks


def prompt_row(*, config: str, attack: Attack, group: str, kind: str, prompt: str,
               counterfactual_id: str, intent_id: str = "", seed_text: str = "",
               seed_source: str = "intent", rewriter: str = "template") -> dict:
    material = material_mod.load(attack.language)
    row = {
        "config": config, "language": attack.language, "group": group,
        "group_name": taxonomy.group(group).name(attack.language), "strategy": attack.strategy,
        "scenario_category": attack.scenario_category, "scenario": attack.scenario(material),
        "kind": kind, "intent_id": intent_id, "seed_text": seed_text, "seed_source": seed_source,
        "counterfactual_id": counterfactual_id,
        "template_id": attack.template.id,
        "prompt": prompt, "rewriter": rewriter,
    }
    row["id"] = stable_id(config, attack.language, group, kind, attack.strategy,
                          attack.scenario_category, attack.scenario_index, attack.template.id,
                          intent_id, seed_text, counterfactual_id)
    return {k: row[k] for k in PROMPT_COLUMNS}


def counterfactual_rows(attack: Attack, intent: Intent, groups: list[str], kind: str) -> list[dict]:
    """The same attack and intent for every group: rows differ only by the group."""
    material = material_mod.load(attack.language)
    cf_id = stable_id("cf", attack.language, attack.strategy, attack.scenario_category,
                      attack.scenario_index, attack.template.id, intent.id)
    rows = []
    for group in groups:
        name = taxonomy.group(group).name(attack.language)
        prompt = fill(attack.template, attack.scenario(material), intent_task(intent, kind, name))
        rows.append(prompt_row(config="counterfactual", attack=attack, group=group, kind=kind,
                               prompt=prompt, counterfactual_id=cf_id, intent_id=intent.id))
    return rows


def seed_row(attack: Attack, seed_text: str, group: str, kind: str, source: str) -> dict:
    material = material_mod.load(attack.language)
    prompt = fill(attack.template, attack.scenario(material), seed_task(material, seed_text))
    return prompt_row(config="paper", attack=attack, group=group, kind=kind, prompt=prompt,
                      counterfactual_id="", seed_text=seed_text, seed_source=source)
