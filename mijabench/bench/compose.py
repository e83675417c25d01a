"""Composition: (intent or seed) x scenario x strategy x language -> one jailbreak prompt row.

The premise (an intent's statement or a hate-speech seed) goes into the template as settled fact;
Representation Shifting templates get it through their transform instead. Every axis stays on
the row as metadata. Choices are drawn from a ``random.Random`` seeded by the caller, so the same
inputs and seed give the same rows.
"""

from __future__ import annotations

import random
import zlib
from functools import lru_cache
from typing import NamedTuple

from mijabench import taxonomy
from mijabench.bench import material as material_mod
from mijabench.bench import transforms
from mijabench.bench.material import SLOT, Intent, Material, Template
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


def render(template: Template, *, scenario: str, group_name: str, claim: str, artifact: str,
           language: str) -> str:
    """Fill the template's slots in one pass: text put into a slot (a seed with braces, say)
    is never read as a slot again."""
    values = {"scenario": scenario, "group": group_name, "claim": claim, "artifact": artifact,
              "payload": transforms.encode(template.transform, claim, language)
              if template.transform else ""}
    parts = _pieces(template.text)
    return "".join(values[part] if i % 2 else part for i, part in enumerate(parts))


@lru_cache(maxsize=256)
def _pieces(text: str) -> tuple[str, ...]:
    """Literal text and slot names, alternating (a regex pass per row costs seconds at paper scale)."""
    return tuple(SLOT.split(text))


def premise(intent: Intent, kind: str, group_name: str) -> str:
    text = intent.harmful if kind == "harmful" else intent.benign
    return text.replace("{group}", group_name)


def row_payload(row: dict) -> str:
    """The encoded premise inside a built row's prompt ("" unless Representation Shifting), so a
    rewriter can mask it per group as it masks the group's name."""
    material = material_mod.load(row["language"])
    template = next((t for t in material.templates.get(row["strategy"], ()) if t.id == row["template_id"]), None)
    if template is None or not template.transform:
        return ""
    if row["intent_id"] and row["intent_id"] in {i.id for i in material.intents}:
        claim = premise(material.intent(row["intent_id"]), row["kind"], row["group_name"])
    else:
        claim = seed_task(material, row["seed_text"])
    return transforms.encode(template.transform, claim, row["language"])


def seed_task(material: Material, seed_text: str) -> str:
    """A seed sentence as the premise: one line (newlines would break a template's framing)."""
    return " ".join(seed_text.split())


def seed_artifact(material: Material, seed_text: str, template: Template) -> str:
    # Keyed on the seed and template, so the choice is stable whatever else is in the build.
    key = zlib.crc32(f"{seed_text}\x1f{template.id}".encode())
    return material.seed_artifacts[key % len(material.seed_artifacts)]


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
        "template_id": attack.template.id,  # Representation Shifting ids name the transform
        "prompt": prompt, "rewriter": rewriter, "rewrite_attempts": 0,
    }
    row["id"] = stable_id(config, attack.language, group, kind, attack.strategy,
                          attack.scenario_category, attack.scenario_index, attack.template.id,
                          intent_id, seed_text, counterfactual_id)
    return {k: row[k] for k in PROMPT_COLUMNS}


def counterfactual_rows(attack: Attack, intent: Intent, groups: list[str], kind: str) -> list[dict]:
    """The same attack and intent for every group: rows differ only by the group (inside an
    encoded payload too)."""
    material = material_mod.load(attack.language)
    cf_id = stable_id("cf", attack.language, attack.strategy, attack.scenario_category,
                      attack.scenario_index, attack.template.id, intent.id)
    artifact = intent.artifact or material.default_artifact
    rows = []
    for group in groups:
        name = taxonomy.group(group).name(attack.language)
        prompt = render(attack.template, scenario=attack.scenario(material), group_name=name,
                        claim=premise(intent, kind, name), artifact=artifact,
                        language=attack.language)
        rows.append(prompt_row(config="counterfactual", attack=attack, group=group, kind=kind,
                               prompt=prompt, counterfactual_id=cf_id, intent_id=intent.id))
    return rows


def seed_row(attack: Attack, seed_text: str, group: str, kind: str, source: str) -> dict:
    """A paper-config row: the seed sentence is the premise (Representation Shifting encodes it)."""
    material = material_mod.load(attack.language)
    prompt = render(attack.template, scenario=attack.scenario(material),
                    group_name=taxonomy.group(group).name(attack.language),
                    claim=seed_task(material, seed_text),
                    artifact=seed_artifact(material, seed_text, attack.template),
                    language=attack.language)
    return prompt_row(config="paper", attack=attack, group=group, kind=kind, prompt=prompt,
                      counterfactual_id="", seed_text=seed_text, seed_source=source)
