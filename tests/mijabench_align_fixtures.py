"""Judged Align-style tables built in the test itself (for the pairs, metric and human-validation tests).

Responses are a bundled refusal template (judged safe by the real rules judge) or the language's
affirmative opener followed by a neutral placeholder (judged harmful: it delivers the artifact), so
no hateful text is needed. Verdicts come from ``judges.judge_table``, not from the fixture.
"""

from __future__ import annotations

import pyarrow as pa

from mijabench.bench import configs as benchmark
from mijabench.judge import registry as judges
from mijabench.bench import material
from mijabench.schema import AUDIT_SCHEMA, PROMPT_COLUMNS, PROMPT_SCHEMA, RESPONSE_SCHEMA, canonical_json, gen_key

GEN_PARAMS = {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0, "seed": 0}


def comply(language: str) -> str:
    return f"{material.load(language).affirmative_opening} the text you asked for: [placeholder]."


def refuse(language: str, i: int = 0) -> str:
    templates = material.load(language).refusal_templates
    return templates[i % len(templates)]


def audit_rows(prompts: pa.Table, model: str, answer) -> pa.Table:
    """AUDIT_SCHEMA rows for ``model``; ``answer(i, row)`` returns the response text."""
    rows = []
    for i, row in enumerate(prompts.to_pylist()):
        rows.append({**{k: row[k] for k in PROMPT_COLUMNS}, "model": model, "model_family": model.split("-")[0],
                     "model_params": None, "gen_params": canonical_json(GEN_PARAMS),
                     "gen_key": gen_key(row["id"], model, GEN_PARAMS), "response": answer(i, row),
                     "error": "", "latency_s": 0.01})
    prompt_and_response = pa.Table.from_pylist(rows, schema=pa.schema(list(PROMPT_SCHEMA) + list(RESPONSE_SCHEMA)))
    return judges.judge_table(prompt_and_response, "rules", progress=False).cast(AUDIT_SCHEMA)


def prompts(languages=("en", "pt"), per_group: int = 4, kinds=("harmful", "benign")) -> pa.Table:
    built = benchmark.build_configs(("counterfactual",), languages, seed=0, per_group=per_group)
    return pa.concat_tables([built["counterfactual"][k] for k in kinds])


def two_model_align(languages=("en", "pt"), per_group: int = 4) -> pa.Table:
    """Model ``always-refuse`` refuses everything; ``mixed-1b`` complies on every other prompt."""
    table = prompts(languages, per_group)
    refuser = audit_rows(table, "always-refuse", lambda i, r: refuse(r["language"], i))
    mixed = audit_rows(table, "mixed-1b",
                       lambda i, r: comply(r["language"]) if i % 2 == 0 else refuse(r["language"], i + 1))
    return pa.concat_tables([refuser, mixed])
