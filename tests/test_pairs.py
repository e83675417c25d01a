"""Preference pairs from Align: held-out groups/strategies never reach train; TRL format; templates."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datasets import load_dataset as _load_dataset

from mijabench_align_fixtures import audit_rows, comply, prompts, two_model_align
from mijabench.bench import material
from mijabench.derived import pairs
from mijabench.errors import MijaError

def load_dataset(folder: str, config: str | None = None):
    # A private cache per folder: datasets keys a local folder's cache by its name and card
    # configs, not its files, so a shared cache could serve rows of an earlier build.
    return _load_dataset(folder, config, cache_dir=str(Path(folder).parent / ".hf-cache"))


HELD_GROUPS, HELD_STRATEGIES = ("women", "jewish"), ("chain_of_thought",)


@pytest.fixture(scope="module")
def align() -> pa.Table:
    return two_model_align(per_group=8)


@pytest.fixture(scope="module")
def built(align, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "pairs"
    holdout = pairs.Holdout.parse(",".join(HELD_GROUPS), HELD_STRATEGIES, test_fraction=0.3, seed=0)
    stats = pairs.write(out, align, holdout)
    return out, stats


def test_no_heldout_group_or_strategy_in_train(built):
    out, stats = built
    data = load_dataset(str(out))
    train = data["train"]
    assert train.num_rows > 0
    assert not set(train["group"]) & set(HELD_GROUPS)
    assert not set(train["strategy"]) & set(HELD_STRATEGIES)
    # Each unseen split holds exactly its kind of held-out rows, and all of them exist.
    unseen_g, unseen_s, both = (data[s] for s in ("test_unseen_group", "test_unseen_strategy", "test_unseen_both"))
    assert set(unseen_g["group"]) <= set(HELD_GROUPS) and not set(unseen_g["strategy"]) & set(HELD_STRATEGIES)
    assert set(unseen_s["strategy"]) <= set(HELD_STRATEGIES) and not set(unseen_s["group"]) & set(HELD_GROUPS)
    assert set(both["group"]) <= set(HELD_GROUPS) and set(both["strategy"]) <= set(HELD_STRATEGIES)
    assert min(d.num_rows for d in (unseen_g, unseen_s, both)) > 0
    # test_seen takes whole counterfactual sets: none of its prompts' twins is trained on.
    seen = data["test_seen"]
    assert seen.num_rows > 0 and not set(seen["group"]) & set(HELD_GROUPS)
    assert sum(stats.pairs.values()) == sum(d.num_rows for d in data.values())
    summary = json.loads((out / "pairs.json").read_text())
    assert summary["heldout_groups"] == sorted(HELD_GROUPS) and summary["pairs"] == dict(stats.pairs)


def test_test_seen_keeps_counterfactual_sets_whole(align):
    holdout = pairs.Holdout.parse(None, None, test_fraction=0.4, seed=3)
    tables, _ = pairs.build_pairs(align, holdout)
    cf = {r["id"]: r["counterfactual_id"] for r in align.select(["id", "counterfactual_id"]).to_pylist()}
    train_sets = {cf[i] for i in tables["pairs"]["train"].column("id").to_pylist()}
    seen_sets = {cf[i] for i in tables["pairs"]["test_seen"].column("id").to_pylist()}
    assert seen_sets and train_sets and not train_sets & seen_sets


def test_chosen_is_safe_and_rejected_is_harmful(built, align):
    out, _ = built
    verdict = {(r["id"], r["model"]): (r["verdict"], r["response"])
               for r in align.select(["id", "model", "verdict", "response"]).to_pylist()}
    from trl.data_utils import is_conversational
    for split in load_dataset(str(out)).values():
        for row in split:
            assert is_conversational(row)
            assert row["prompt"][0]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
            assert verdict[(row["id"], row["rejected_model"])] == ("harmful", row["rejected"][0]["content"])
            assert not row["templated"]
            assert verdict[(row["id"], row["chosen_model"])] == ("safe", row["chosen"][0]["content"])


def test_no_safe_response_uses_a_refusal_template_in_the_prompt_language():
    table = prompts(per_group=4, kinds=("harmful",))
    align = audit_rows(table, "always-comply", lambda i, r: comply(r["language"]))
    assert set(align.column("verdict").to_pylist()) == {"harmful"}
    tables, stats = pairs.build_pairs(align, pairs.Holdout.parse(None, None, test_fraction=0.0))
    rows = tables["pairs"]["train"].to_pylist()
    assert len(rows) == table.num_rows == stats.templated
    for row in rows:
        assert row["templated"] and row["chosen_model"] == pairs.TEMPLATE_MODEL
        assert from_template(row["chosen"][0]["content"], row["language"], "refusals")
    assert {r["language"] for r in rows} == {"en", "pt"}


def from_template(text: str, language: str, kind: str) -> bool:
    """``text`` is one of the written templates with some group name in its {group} slots."""
    for template in pairs.templates(language, kind):
        pieces, at = template.split("{group}"), 0
        if text.startswith(pieces[0]) and text.endswith(pieces[-1]):
            for piece in pieces:
                at = text.find(piece, at)
                if at < 0:
                    break
                at += len(piece)
            else:
                return True
    return False


def test_templates_name_what_they_decline_in_both_languages():
    for language in ("en", "pt"):
        refusals, helpful = pairs.templates(language, "refusals"), pairs.templates(language, "helpful")
        assert len(refusals) >= 10 and len(set(refusals)) == len(refusals) and helpful
        assert all("{group}" in t for t in refusals + helpful)


def _judged(table: pa.Table, outcomes: dict[str, str], helpful_benign: bool) -> pa.Table:
    """Set hand-written outcomes (by strategy) on harmful rows; benign rows helpful or refused."""
    rows = table.to_pylist()
    for r in rows:
        if r["kind"] == "harmful":
            r["outcome"] = outcomes[r["strategy"]]
            r["verdict"] = "harmful" if r["outcome"] in ("compliance", "false_refusal") else "safe"
            r["refusal"] = r["outcome"] == "refusal"
        else:
            r["outcome"], r["verdict"], r["refusal"] = ("compliance", "safe", False) if helpful_benign \
                else ("refusal", "safe", True)
    return pa.Table.from_pylist(rows, schema=table.schema)


OUTCOMES = {"persona_assignment": "compliance", "representation_shifting": "incoherent",
            "chain_of_thought": "false_refusal", "logical_rationalization": "refusal"}


@pytest.mark.parametrize("incoherent_rejected", [False, True])
def test_recipe_rejects_by_outcome_and_adds_contrast_pairs(incoherent_rejected):
    table = _judged(audit_rows(prompts(per_group=8), "m", lambda i, r: comply(r["language"])), OUTCOMES, True)
    holdout = pairs.Holdout.parse("women,latino,elderly", "logical_rationalization", test_fraction=0.0)
    recipe = pairs.Recipe(incoherent_rejected=incoherent_rejected, contrast=True)
    tables, stats = pairs.build_pairs(table, holdout, recipe)
    train = tables["pairs"]["train"].to_pylist()
    harmful = [r for r in train if r["kind"] == "harmful"]
    benign = [r for r in train if r["kind"] == "benign"]
    expected = {"compliance", "false_refusal"} | ({"incoherent"} if incoherent_rejected else set())
    assert {r["rejected_outcome"] for r in harmful} == expected
    assert {r["strategy"] for r in harmful} == {s for s, o in OUTCOMES.items() if o in expected}
    # nothing held out is trained on, harmful or contrast pair
    assert not {r["group"] for r in train} & {"women", "latino", "elderly"}
    assert "logical_rationalization" not in {r["strategy"] for r in train}
    # contrast pairs: the model's own helpful answer is chosen, a refusal template rejected
    assert benign and stats.helpful_own == sum(stats.contrast.values())
    for r in benign:
        assert r["chosen_model"] == "m" and r["chosen"][0]["content"] == comply(r["language"])
        assert from_template(r["rejected"][0]["content"], r["language"], "refusals")
    for r in harmful:  # no model refused: templates naming what they decline
        assert r["templated"] and from_template(r["chosen"][0]["content"], r["language"], "refusals")


def test_contrast_chosen_falls_back_to_a_helpful_template():
    table = _judged(audit_rows(prompts(languages=("pt",), per_group=4), "m", lambda i, r: comply("pt")),
                    OUTCOMES, helpful_benign=False)
    tables, stats = pairs.build_pairs(table, pairs.Holdout.parse(None, None, 0.0), pairs.Recipe(contrast=True))
    benign = [r for r in tables["pairs"]["train"].to_pylist() if r["kind"] == "benign"]
    assert benign and stats.helpful_own == 0
    assert all(r["chosen_model"] == pairs.HELPFUL_TEMPLATE_MODEL and
               from_template(r["chosen"][0]["content"], "pt", "helpful") for r in benign)


def test_benign_prompts_split_seen_and_unseen(built):
    out, stats = built
    benign = load_dataset(str(out), "benign")
    unseen = benign["unseen"]
    assert unseen.num_rows == stats.benign["unseen"] > 0
    for row in unseen:
        assert row["group"] in HELD_GROUPS or row["strategy"] in HELD_STRATEGIES
        assert row["heldout"] in ("group", "strategy", "both")
    assert not set(benign["seen"]["group"]) & set(HELD_GROUPS)
    assert len(set(benign["seen"]["id"])) == benign["seen"].num_rows  # one row per prompt


def test_unknown_heldout_names_are_errors():
    with pytest.raises(MijaError, match=r"--held-out-groups: unknown group .klingons.; valid groups: black"):
        pairs.Holdout.parse("women,klingons", None)
    with pytest.raises(MijaError, match=r"unknown strategy 'flattery'; valid strategys: persona_assignment"):
        pairs.Holdout.parse(None, "flattery")


def test_align_without_any_harmful_response_is_an_error():
    table = prompts(languages=("en",), per_group=4, kinds=("harmful",))
    refuser = audit_rows(table, "always-refuse", lambda i, r: material.load("en").refusal_templates[0])
    assert pc.all(pc.equal(refuser.column("verdict"), "safe")).as_py()
    with pytest.raises(MijaError, match="no prompt has a response judged harmful"):
        pairs.build_pairs(refuser, pairs.Holdout.parse(None, None))
