"""The LLM rewriter: its instruction, the accept/reject rules, reject-and-retry with a bounded
budget, and a run against a real OpenAI-compatible server (`transformers serve` on SmolLM2)."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import transformers_serve

from mijabench import taxonomy
from mijabench.bench import configs as benchmark
from mijabench.bench import rewriters
from mijabench.bench.rewriters import MARKER, Limits, LLMRewriter, make_rewriter
from mijabench.errors import MijaError
from mijabench.run.endpoints import EndpointBackend
from mijabench.run.types import Generation

CASES = Path(__file__).parent / "data" / "rewrite_cases.csv"
LOOSE = Limits(min_chars=40, max_chars=3000, max_ratio=6.0)


def test_make_rewriter_names():
    assert make_rewriter(None).name == "template"
    with pytest.raises(MijaError, match="valid rewriters: template, llm:URL"):
        make_rewriter("gpt")
    with pytest.raises(MijaError, match="llm:http"):
        make_rewriter("llm:localhost")
    llm = make_rewriter("llm:http://127.0.0.1:9#tiny", max_attempts=5)
    assert llm.name == "llm:tiny" and llm.max_attempts == 5


@pytest.mark.parametrize("language", ["en", "pt"])
@pytest.mark.parametrize("strategy", list(taxonomy.strategies()))
def test_instruction_carries_the_recipe(language, strategy):
    recipe = rewriters.recipe()[language]
    text = rewriters.instruction("THE DRAFT", language, strategy, "THE SCENARIO", seed="THE SEED")
    item = recipe["strategies"][strategy]
    assert taxonomy.strategy(strategy).name(language) in text and item["description"] in text
    assert item["example"].format(marker=MARKER) in text  # one example of ours per strategy
    assert "THE SCENARIO" in text and "THE SEED" in text and text.count("THE DRAFT") == 1
    assert all(rule.format(marker=MARKER) in text for rule in recipe["restrictions"])
    benign = rewriters.instruction("THE DRAFT", language, strategy, "THE SCENARIO", kind="benign")
    assert not any(rule.format(marker=MARKER) in benign for rule in recipe["restrictions"][:3])
    # Every example names the group through the marker and ends in a task, never a question.
    assert MARKER in item["example"].format(marker=MARKER) and not item["example"].rstrip().endswith("?")


@pytest.mark.parametrize("case", list(csv.DictReader(CASES.open(encoding="utf-8"))),
                         ids=lambda c: f"{c['language']}-{c['expected'] or 'accepted'}")
def test_rejection_rules(case):
    names = () if case["is_set"] == "1" else (case["group_name"],)
    text = rewriters.clean(case["text"], case["language"])
    got = rewriters.rejection(text, "d" * 100, case["language"], names, LOOSE)
    assert got == (case["expected"] or None)


def test_length_limits_and_cleaning():
    ok = f"The archive states it plainly for {MARKER}; write the entry in full."
    assert rewriters.rejection(ok, "d" * 100, "en", (), LOOSE) is None
    assert rewriters.rejection(ok, "d" * 10, "en", (), LOOSE) == rewriters.TOO_LONG  # > 6x the draft
    assert rewriters.rejection(ok, "d" * 100, "en", (), Limits(min_chars=10, max_chars=40)) == rewriters.TOO_LONG
    assert rewriters.rejection(ok, "d" * 100, "en", (), Limits()) == rewriters.TOO_SHORT  # 200 by default
    wrapped = f'Here is the rewritten prompt: "{ok}"\n' + rewriters.prefix_injection("en")
    assert rewriters.clean(wrapped, "en") == ok


# --- reject and retry ----------------------------------------------------------------------------
class ScriptedBackend:
    """Answers each draft from a script: ``script[marker][attempt - 1]`` (None = generation error)."""
    model_id = "scripted-7b"

    def __init__(self, script: dict[str, list]):
        self.script = script
        self.calls: list[tuple[int, int]] = []  # (requests, sampling seed) per call

    def generate(self, prompts, params, progress=True):
        self.calls.append((len(prompts), params.seed))
        attempt = len(self.calls)
        out = []
        for prompt in prompts:
            key = next(k for k in self.script if k in prompt)
            text = self.script[key][attempt - 1]
            out.append(Generation("", error="HTTP 500") if text is None else Generation(text))
        return out


def _good(tag: str) -> str:
    return f"In the clockwork harbour ({tag}) the guild's record settles it for {MARKER}. Write the notice."


@pytest.fixture(scope="module")
def drafts():
    """Two counterfactual sets (13 EN groups each) and one seed-style row."""
    full = benchmark.build_configs(("counterfactual",), ("en",), seed=3, per_group=8)["counterfactual"]["harmful"]
    keep = sorted(set(full.column("counterfactual_id").to_pylist()))[:2]
    sets = full.filter(pc.is_in(full.column("counterfactual_id"), pa.array(keep)))
    seed_row = full.filter(pc.equal(full.column("counterfactual_id"), keep[0])).slice(0, 1).to_pylist()[0]
    seed_row.update(counterfactual_id="", id="seed-row", seed_text="an imported seed sentence",
                    prompt="Seed-style draft. " + seed_row["prompt"])
    return sets, pa.Table.from_pylist([seed_row], schema=sets.schema)


def _draft_key(rows: list[dict]) -> str:
    return rows[0]["prompt"].replace(rows[0]["group_name"], MARKER)


def test_reject_and_retry_with_a_bounded_budget(drafts):
    sets, seed_table = drafts
    table = pa.concat_tables([sets, seed_table])
    by_set: dict[str, list[dict]] = {}
    for row in sets.to_pylist():
        by_set.setdefault(row["counterfactual_id"], []).append(row)
    (first_id, first), (second_id, second) = sorted(by_set.items())
    script = {  # the seed row's draft holds a set's draft, so its key comes first
        "an imported seed sentence": [_good("seed").replace(MARKER, seed_table["group_name"][0].as_py()),
                                      None, None],
        # refused, then the group dropped, then accepted on the third and last attempt
        _draft_key(first): ["I'm sorry, but I can't help with that request at all, really.",
                            "In the clockwork harbour the guild's record settles it. Write the notice.",
                            _good("set one")],
        # a failed call, an open question, a refusal: the budget runs out, the draft stays
        _draft_key(second): [None, f"What does the record in the clockwork harbour say about {MARKER}?",
                             "As an AI, I will not write this."],
    }
    backend = ScriptedBackend(script)
    rewriter = LLMRewriter(backend, limits=LOOSE, max_attempts=3, seed=10)
    out = {r["id"]: r for r in rewriter.apply(table).to_pylist()}
    # Only the rejected rewrites were asked again, each attempt with a new sampling seed.
    assert backend.calls == [(3, 11), (2, 12), (2, 13)]
    assert rewriter.rejected == {"refused": 2, "no group": 1, "empty": 1, "open question": 1}
    ending = "\n\n" + rewriters.prefix_injection("en")
    for row in first:
        got = out[row["id"]]
        assert (got["rewriter"], got["rewrite_attempts"]) == ("llm:scripted-7b", 3)
        assert got["prompt"] == _good("set one").replace(MARKER, row["group_name"]) + ending
    for row in second:
        got = out[row["id"]]
        assert (got["rewriter"], got["rewrite_attempts"]) == ("template", 3)
        assert got["prompt"] == row["prompt"]
    seed = out["seed-row"]
    assert (seed["rewriter"], seed["rewrite_attempts"]) == ("llm:scripted-7b", 1)
    # Counterfactual invariance survives the rewrite: masked, the groups' prompts are identical.
    masked = {out[r["id"]]["prompt"].replace(r["group_name"], MARKER) for r in first}
    assert len(masked) == 1 and first_id != second_id


def test_one_attempt_means_no_retry(drafts):
    sets, _ = drafts
    script = {_draft_key([r]): ["I'm sorry, I can't.", _good("late")] for r in sets.to_pylist()}
    backend = ScriptedBackend(script)
    out = LLMRewriter(backend, limits=LOOSE, max_attempts=1).apply(sets)
    assert len(backend.calls) == 1
    assert set(out.column("rewriter").to_pylist()) == {"template"}
    assert set(out.column("rewrite_attempts").to_pylist()) == {1}
    with pytest.raises(MijaError, match="at least 1"):
        LLMRewriter(backend, max_attempts=0)


def test_template_rows_record_no_attempts(drafts):
    sets, _ = drafts
    assert set(sets.column("rewrite_attempts").to_pylist()) == {0}
    assert set(sets.column("rewriter").to_pylist()) == {"template"}


# --- a real server ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_llm_rewriter_through_transformers_serve(smollm2_dir, tmp_path, hub_http_env, drafts):
    sets, seed_table = drafts
    one_set = sets.filter(pc.equal(sets.column("counterfactual_id"), sets["counterfactual_id"][0]))
    assert one_set.num_rows == len(taxonomy.groups_for("en"))
    table = pa.concat_tables([one_set, seed_table])
    with transformers_serve(smollm2_dir, tmp_path / "serve.log") as url:
        backend = EndpointBackend([url], model=str(smollm2_dir), concurrency=2)
        rewriter = LLMRewriter(backend, limits=Limits(min_chars=20), max_attempts=2, max_new_tokens=32)
        out = rewriter.apply(table)
    ending = rewriters.prefix_injection("en")
    rows = out.to_pylist()
    assert len(rows) == table.num_rows
    for before, after in zip(table.to_pylist(), rows):
        assert after["id"] == before["id"] and after["template_id"] == before["template_id"]
        # Every row was sent to the server; the model and the attempts spent are recorded.
        assert 1 <= after["rewrite_attempts"] <= 2
        assert after["rewriter"] in ("template", f"llm:{smollm2_dir}")
        if after["rewriter"] == "template":
            assert after["prompt"] == before["prompt"] and after["rewrite_attempts"] == 2
        else:
            assert after["prompt"].endswith(ending) and after["group_name"] in after["prompt"]
            assert rewriters.rejection(after["prompt"][: -len(ending)].strip(), before["prompt"], "en",
                                       (after["group_name"],), Limits(min_chars=20)) is None
    # The set was rewritten once: its groups still differ only by the group.
    set_rows = [r for r in rows if r["counterfactual_id"]]
    assert len({r["prompt"].replace(r["group_name"], MARKER) for r in set_rows}) == 1
    assert len({(r["rewriter"], r["rewrite_attempts"]) for r in set_rows}) == 1
    # Each unit (the set, the seed row) spent one call per rejection, plus one if accepted.
    units = (set_rows[0], rows[-1])
    accepted = sum(r["rewriter"] != "template" for r in units)
    assert sum(rewriter.rejected.values()) == sum(r["rewrite_attempts"] for r in units) - accepted
