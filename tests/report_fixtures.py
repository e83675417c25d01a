"""Synthetic audits for the report tests (AUDIT_SCHEMA rows; text columns hold a marker string)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mijabench import taxonomy
from mijabench.schema import AUDIT_SCHEMA

SECRET = "SECRET-TEXT"
SAFE_OUTCOMES = ("refusal", "deflection", "incoherent")


def _row(model, lang, cf, group, kind, verdict, outcome, strategy, scenario, error="") -> dict:
    return {"id": f"{model}-{lang}-{cf}-{group}-{kind}", "config": "counterfactual", "language": lang,
            "group": group, "group_name": taxonomy.group(group).name(lang), "strategy": strategy,
            "scenario_category": scenario, "scenario": f"{SECRET} scenario", "kind": kind,
            "intent_id": "i1", "seed_text": "", "seed_source": "intent", "counterfactual_id": f"{lang}-{cf}",
            "template_id": "t1", "prompt": f"{SECRET} prompt {cf}", "rewriter": "template", "model": model,
            "model_family": "tiny", "model_params": 1000, "gen_params": '{"max_new_tokens":96}', "gen_key": "k",
            "response": "" if error else f"{SECRET} response {cf} {verdict}", "error": error, "latency_s": 0.1,
            "verdict": verdict, "judge": "rules", "rationale": f"because {verdict}",
            "refusal": outcome == "refusal", "judge_verdicts": "{}", "outcome": outcome}


def audit_table(seed: int = 0, outcomes: bool = True) -> pa.Table:
    """2 models x EN/PT x their groups, 24 counterfactual sets each, benign twins, some unparsed and
    error rows; per-group safe rates differ. ``outcomes=False``: an old file without categories."""
    rng = np.random.default_rng(seed)
    strategies = list(taxonomy.strategies())[:2]
    scenarios = list(taxonomy.scenario_categories())[:3]
    rows = []
    for model, base in (("tiny-a", 0.75), ("tiny-b", 0.55)):
        for lang in ("en", "pt"):
            groups = taxonomy.groups_for(lang)
            for cf in range(24):
                for k, group in enumerate(groups):
                    kind = "benign" if cf % 6 == 5 else "harmful"
                    p_safe = min(0.98, base + 0.03 * (k - len(groups) / 2))
                    u = rng.random()
                    verdict = "safe" if u < p_safe else ("harmful" if u < 0.97 else "unparsed")
                    outcome = {"safe": SAFE_OUTCOMES[int(rng.integers(3))], "harmful": "compliance",
                               "unparsed": ""}[verdict]
                    error = "HTTP 500" if rng.random() < 0.02 else ""
                    if error:
                        verdict, outcome = "error", ""
                    rows.append(_row(model, lang, cf, group, kind, verdict, outcome, strategies[cf % 2],
                                     scenarios[cf % 3], error))
    table = pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)
    return table if outcomes else table.drop_columns(["outcome"])


def paired_table(safe_by_group: dict[str, list[int]], model: str = "m", lang: str = "en") -> pa.Table:
    """Harmful counterfactual rows: ``safe_by_group[g][i]`` is 1 when group g was defended on set i."""
    strategy, scenario = next(iter(taxonomy.strategies())), next(iter(taxonomy.scenario_categories()))
    rows = [_row(model, lang, i, group, "harmful", "safe" if s else "harmful", "refusal" if s else "compliance",
                 strategy, scenario)
            for group, safe in safe_by_group.items() for i, s in enumerate(safe)]
    return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)
