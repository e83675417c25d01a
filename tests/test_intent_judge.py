"""The intent judge: outcome categories from the row's claim, chain, form and coherence.

Hand-written cases live in tests/data/intent_cases.jsonl (content warning: they restate prejudiced
claims, as the judge must recognise them); real labeled cases come from the packaged judge
validation set (tests/data/judge_validation_cases.jsonl names them by id).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mijabench.judge.intent import IntentJudge
from mijabench.judge.registry import make_judge

DATA = Path(__file__).parent / "data"
CASES = [json.loads(line) for line in (DATA / "intent_cases.jsonl").read_text("utf-8").splitlines()
         if line.strip()]
META = ("intent_id", "strategy", "kind", "seed_text", "group", "intent_text", "harmful_intent_text")


def judge_cases(cases):
    return IntentJudge().judge([c["prompt"] for c in cases], [c["response"] for c in cases],
                               [c["language"] for c in cases],
                               [{k: c.get(k, "") for k in META} for c in cases])


@pytest.fixture(scope="module")
def verdicts():
    return dict(zip((c["id"] for c in CASES), judge_cases(CASES)))


# A case with "known_miss" records a reworded claim the judge still misses (strict: fixing it
# makes the test fail until the field is removed).
@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=c["known_miss"]))
    if c.get("known_miss") else c for c in CASES], ids=[c["id"] for c in CASES])
def test_hand_written_case(case, verdicts):
    got = verdicts[case["id"]]
    assert (got.outcome, got.verdict) == (case["outcome"], case["verdict"]), got.rationale


def test_cases_cover_every_outcome_and_both_languages():
    assert {c["outcome"] for c in CASES} == {"refusal", "deflection", "incoherent", "compliance",
                                             "false_refusal"}
    assert {c["language"] for c in CASES} == {"en", "pt"}


def test_rationales_never_quote_the_response(verdicts):
    for case in CASES:
        assert case["response"][:25] not in verdicts[case["id"]].rationale


def test_without_metadata_the_prompt_names_the_claim():
    case = next(c for c in CASES if c["id"] == "en-reworded-premise")
    (v,) = IntentJudge().judge([case["prompt"]], [case["response"]], ["en"])  # no rows at all
    assert v.outcome == "compliance"


def test_reworded_claims_need_the_encoder_and_it_can_be_switched_off(monkeypatch):
    """Without the MiniLM second look, a reworded claim is a deflection (the lexical judge's
    miss); the encoder, when installed, makes it compliance."""
    from mijabench.judge import semantic

    case = next(c for c in CASES if c["id"] == "en-v4-analogy-applied")
    assert judge_cases([case])[0].outcome == ("compliance" if semantic.encoder() else "deflection")
    monkeypatch.setenv(semantic.ENV, "0")
    semantic.encoder.cache_clear()
    try:
        assert semantic.encoder() is None
        assert judge_cases([case])[0].outcome == "deflection"
    finally:
        semantic.encoder.cache_clear()


def test_is_the_default_judge_and_keeps_empty_responses_unparsed():
    judge = make_judge(None)
    assert judge.id == "intent"
    (v,) = judge.judge(["p"], ["  "], ["en"])
    assert v.verdict == "unparsed" and v.outcome == ""


@pytest.mark.parametrize("transform_id", sorted(__import__("mijabench.bench.transforms",
                                                           fromlist=["TRANSFORMS"]).TRANSFORMS))
def test_encoded_payloads_are_decoded(transform_id):
    """A response that hands back the claim in a Representation Shifting encoding still complies."""
    from mijabench.bench.transforms import encode

    plain = [c for c in CASES if c["id"].endswith("plain-payload")]
    encoded = [{**c, "response": encode(transform_id, c["response"], c["language"])} for c in plain]
    for case, verdict in zip(encoded, judge_cases(encoded)):
        assert (verdict.outcome, verdict.verdict) == ("compliance", "harmful"), (case["id"],
                                                                                 verdict.rationale)


def test_real_labeled_cases_of_every_outcome():
    """Real rows of the judge validation set (dev split, adjudicated labels), named by id in
    tests/data/judge_validation_cases.jsonl with the behaviour each one shows."""
    from mijabench.derived.judge_eval import load_rows

    wanted = [json.loads(line) for line in (DATA / "judge_validation_cases.jsonl")
              .read_text("utf-8").splitlines() if line.strip()]
    rows = {r["id"]: r for r in load_rows("dev")}
    cases = [rows[w["id"]] for w in wanted]
    assert {c["label_outcome"] for c in cases} == {"refusal", "deflection", "incoherent",
                                                   "compliance", "false_refusal"}
    for want, case in zip(wanted, cases):
        assert case["label_outcome"] == want["outcome"], want  # the file names the real label
    got = IntentJudge().judge([c["prompt"] for c in cases], [c["response"] for c in cases],
                              [c["language"] for c in cases], [{k: c.get(k, "") for k in META}
                                                               for c in cases])
    for want, verdict in zip(wanted, got):
        assert verdict.outcome == want["outcome"], (want["behaviour"], verdict.rationale)


@pytest.mark.parametrize("language", ["en", "pt"])
def test_every_intent_claim_is_compliance_and_its_twin_is_not(language):
    """Row metadata alone names the claim: each intent's harmful claim from the prompt material,
    said as a sentence about a group, is harmful; its benign twin said the same way is safe."""
    from mijabench import taxonomy
    from mijabench.bench import material

    intents = material.load(language).intents
    groups = [taxonomy.groups()[g].name(language) for g in taxonomy.groups_for(language)]
    responses, rows = [], []
    for i, intent in enumerate(intents):
        for text in (intent.harmful, intent.benign):
            sentence = text.replace("{group}", groups[i % len(groups)])
            responses.append(sentence[0].upper() + sentence[1:] + ".")
            rows.append({"intent_id": intent.id, "kind": "harmful"})
    got = IntentJudge().judge(["Write it."] * len(responses), responses,
                              [language] * len(responses), rows)
    verdicts = [v.verdict for v in got]
    assert verdicts == ["harmful", "safe"] * len(intents), [
        (r["intent_id"], v) for r, v in zip(rows, verdicts)]
