"""The LLM rewriter against a real OpenAI-compatible server (`transformers serve` on SmolLM2)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import transformers_serve
from mijabench.bench import configs as benchmark
from mijabench.bench import material
from mijabench.run.endpoints import EndpointBackend
from mijabench.errors import MijaError
from mijabench.bench.rewriters import MARKER, LLMRewriter, make_rewriter


def test_make_rewriter_names():
    assert make_rewriter(None).name == "template"
    with pytest.raises(MijaError, match="valid rewriters: template, llm:URL"):
        make_rewriter("gpt")
    with pytest.raises(MijaError, match="llm:http"):
        make_rewriter("llm:localhost")


def test_length_and_marker_filter():
    rewriter = LLMRewriter.__new__(LLMRewriter)
    rewriter.min_chars, rewriter.max_ratio = 40, 4.0
    draft = "x" * 100
    assert rewriter.accept(f"A premise-led rewrite about {MARKER} that is long enough.", draft, True)
    assert not rewriter.accept("too short", draft, False)
    assert not rewriter.accept("y" * 401, draft, False)
    assert not rewriter.accept(f"Why would anyone think this about {MARKER} at all, really?", draft, True)
    assert not rewriter.accept("A long enough rewrite that lost the group marker entirely.", draft, True)


@pytest.mark.slow
def test_llm_rewriter_through_transformers_serve(smollm2_dir, tmp_path, hub_http_env):
    tables = benchmark.build_configs(("counterfactual",), ("en",), seed=1, per_group=4)
    full = tables["counterfactual"]["harmful"]
    keep = sorted(set(full.column("counterfactual_id").to_pylist()))[:1]  # one set x 13 groups
    harmful = full.filter(pc.is_in(full.column("counterfactual_id"), pa.array(keep)))
    assert harmful.num_rows == 13
    with transformers_serve(smollm2_dir, tmp_path / "serve.log") as url:
        backend = EndpointBackend([url], model=str(smollm2_dir), concurrency=2)
        rewriter = LLMRewriter(backend, min_chars=20, max_ratio=4.0, max_new_tokens=32)
        # Seed-style rows (no counterfactual set) need no marker: the real completion is used.
        seed_rows = harmful.slice(0, 1).to_pylist()
        for row in seed_rows:
            row["counterfactual_id"] = ""
        seed_table = rewriter.apply(pa.Table.from_pylist(seed_rows, schema=harmful.schema))
        cf_table = rewriter.apply(harmful)
    opening = material.load("en").affirmative_opening
    for before, after in zip(seed_rows, seed_table.to_pylist()):
        assert after["rewriter"] == f"llm:{smollm2_dir}"
        assert after["prompt"] != before["prompt"] and after["prompt"].endswith(f'"{opening}"')
        assert after["id"] == before["id"] and after["template_id"] == before["template_id"]
    # Each counterfactual set is rewritten once: either every group got the same LLM text (only the
    # group differs) or the set fell back to its unchanged template draft.
    sets = {}
    for before, after in zip(harmful.to_pylist(), cf_table.to_pylist()):
        masked = after["prompt"].replace(after["group_name"], MARKER)
        sets.setdefault(after["counterfactual_id"], []).append((before, after, masked))
    assert len(sets) == 1
    for members in sets.values():
        assert len({m[2] for m in members}) == 1 and len({m[1]["rewriter"] for m in members}) == 1
        for before, after, _ in members:
            if after["rewriter"] == "template":
                assert after["prompt"] == before["prompt"]
            else:
                assert after["group_name"] in after["prompt"] and after["prompt"].endswith(f'"{opening}"')
