"""Representation Shifting transforms: every one round-trips, and the examples the templates give
to the model are what the code really does."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from mijabench import taxonomy
from mijabench.bench import material, transforms
from mijabench.errors import MijaError

TRICKY = [
    "plain sentence about a town.",
    "Pessoas idosas são ótimas: ação, coração, pão e maçã!",
    "co-pay a-ay well-known  double  spaces  ",
    "rhythm by y; qu'est-ce? <tag> & \"quotes\" {braces} 'single'",
    "- starts like a YAML list: key: value # not a comment",
    "",
]
DIGITS = set("013457")  # leetspeak's own symbols: text holding them is outside its domain


def premises() -> list[str]:
    """Every intent premise of both languages, with every group's name filled in."""
    out = []
    for language in taxonomy.LANGUAGES:
        for intent in material.load(language).intents:
            for group in taxonomy.groups_for(language):
                name = taxonomy.group(group).name(language)
                out += [intent.harmful.replace("{group}", name), intent.benign.replace("{group}", name)]
    return out


@pytest.fixture(scope="module")
def texts(toxigen_dir) -> list[str]:
    seeds = [line for path in sorted(toxigen_dir.glob("*.txt")) if path.name != "LICENSE.txt"
             for line in path.read_text("utf-8").splitlines() if line.strip()]
    return seeds + premises() + TRICKY


@pytest.mark.parametrize("transform_id", sorted(transforms.TRANSFORMS))
@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_round_trip(transform_id, language, texts):
    domain = [t for t in texts if transform_id != "leetspeak" or not DIGITS & set(t)]
    assert len(domain) > 500
    for text in domain:
        payload = transforms.encode(transform_id, text, language)
        assert transforms.decode(transform_id, payload, language) == text


@pytest.mark.parametrize("transform_id", sorted(transforms.TRANSFORMS))
def test_payload_hides_the_plain_sentence(transform_id):
    text = "the lighthouse keepers are certain the storm will pass"
    payload = transforms.encode(transform_id, text)
    if transform_id in ("json", "xml", "yaml"):
        assert text in payload and payload != text  # the premise sits in a field; others are empty
    else:
        assert "lighthouse keepers" not in payload


def test_the_examples_the_templates_give_are_true():
    assert transforms.pig_latin("group") == "oup-gray"
    assert transforms.pig_latin("are") == "are-ay"
    assert transforms.pig_latin("grupo") == "upo-gray" and transforms.pig_latin("são") == "ão-say"
    assert transforms.chain("group are") == "are-ay oup-gray"
    assert transforms.atbash("abc mn") == "zyx nm"
    assert transforms.leetspeak("aeiost") == "431057"
    assert transforms.reverse_words("one two three") == "three two one"
    assert transforms.rot13("abc") == "nop"


@pytest.mark.parametrize("language", taxonomy.LANGUAGES)
def test_structured_formats_leave_fields_to_fill(language):
    fields = transforms.FIELDS[language]
    text = "a premise: with a colon & an ampersand"
    as_json = json.loads(transforms.to_json(text, language))
    as_yaml = yaml.safe_load(transforms.to_yaml(text, language))
    root = ET.fromstring(transforms.to_xml(text, language))
    for doc in (as_json, as_yaml):
        assert doc[fields["premise"]] == text
        assert [doc[slot] for slot in fields["slots"]] == [""] * len(fields["slots"])
    assert root.tag == fields["root"]
    assert [child.tag for child in root] == [fields["premise"], *fields["slots"]]


def test_yaml_never_wraps_a_long_premise():
    # A wrap point that moved with the group's name would break the counterfactual invariant.
    text = "word " * 200
    assert transforms.to_yaml(text).count("\n") == len(transforms.FIELDS["en"]["slots"])


def test_unknown_transform_lists_the_valid_ones():
    with pytest.raises(MijaError) as err:
        transforms.encode("morse", "x")
    message = str(err.value)
    assert "unknown transform 'morse'" in message and "base64" in message and "\n" not in message
