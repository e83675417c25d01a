"""Build the MiJaBench configs in memory: ``counterfactual`` (ours, default) and ``paper``.

Each config has two splits: ``harmful`` (the jailbreak prompts) and ``benign`` (the twins, used to
measure over-refusal).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pyarrow as pa

from mijabench import taxonomy
from mijabench.bench import material as material_mod
from mijabench.bench.compose import counterfactual_rows, draw_attacks, seed_row
from mijabench.bench.seeds import read_seeds
from mijabench.errors import MijaError
from mijabench.schema import PROMPT_SCHEMA

CONFIGS = ("counterfactual", "paper")
UPSTREAM_CONFIG = "upstream"  # the authors' published rows, imported as finished prompts
SPLITS = ("harmful", "benign")
DEFAULT_PAPER_PER_GROUP = 100
log = logging.getLogger("mijabench")  # the paper used 2,000 per group at full scale (--per-group 2000)


def _to_table(rows: list[dict]) -> pa.Table:
    # Columnar build: much faster than from_pylist at paper scale (88k rows).
    rows = sorted(rows, key=lambda r: (r["language"], r["group"], r["strategy"], r["id"]))
    return pa.table({name: [r[name] for r in rows] for name in PROMPT_SCHEMA.names}, schema=PROMPT_SCHEMA)


def build_counterfactual(languages, strategies, seed: int, per_group: int | None) -> dict:
    out = {split: [] for split in SPLITS}
    for language in languages:
        material = material_mod.load(language)
        rng = random.Random(f"{seed}-counterfactual-{language}")
        per_strategy = max(1, (per_group or len(material.intents) * len(strategies)) // len(strategies))
        groups = taxonomy.groups_for(language)
        for i, attack in enumerate(draw_attacks(language, strategies, per_strategy, rng)):
            intent = material.intents[i % len(material.intents)]
            for kind in SPLITS:
                out[kind] += counterfactual_rows(attack, intent, groups, kind)
    return {split: _to_table(rows) for split, rows in out.items()}


def _balanced(texts: list[str], n: int, rng: random.Random) -> list[str]:
    """``n`` seeds: every seed once before any repeats (sampling with replacement only past the pool)."""
    pool = sorted(texts)
    rng.shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)] if pool else []


def build_paper(seeds: pa.Table, languages, strategies, seed: int, per_group: int | None) -> dict:
    n = per_group or DEFAULT_PAPER_PER_GROUP
    columns = seeds.to_pydict()
    by_key: dict[tuple, list[str]] = {}
    for text, group, language, source, stance in zip(*(columns[k] for k in
                                                       ("seed_text", "group", "language", "source", "stance"))):
        by_key.setdefault((language, group, stance), []).append(text)
        by_key.setdefault(("source", language, group), [source])
    out = {split: [] for split in SPLITS}
    for language in languages:
        rng = random.Random(f"{seed}-paper-{language}")
        for group in taxonomy.groups_for(language):
            source = by_key.get(("source", language, group), ["seed"])[0]
            if not by_key.get((language, group, "hate")):
                log.warning("paper config: no %s seeds for group %s; it is left out", language, group)
            for kind, stance in (("harmful", "hate"), ("benign", "neutral")):
                chosen = _balanced(by_key.get((language, group, stance), []), n, rng)
                attacks = draw_attacks(language, strategies, -(-len(chosen) // len(strategies)), rng)
                rng.shuffle(attacks)
                out[kind] += [seed_row(a, s, group, kind, source) for a, s in zip(attacks, chosen)]
    if not out["harmful"]:
        raise MijaError("paper config: the seeds hold no hate-stance rows for the requested "
                        f"languages ({', '.join(languages)}); pass --seeds for each language")
    return {split: _to_table(rows) for split, rows in out.items()}


def build_configs(configs=("counterfactual",), languages=("en", "pt"), seed: int = 0,
                  per_group: int | None = None, seeds: list[Path] | pa.Table | None = None,
                  strategies=None, rewriter=None, upstream: list[Path] | None = None,
                  group_map: dict | None = None,
                  ) -> dict[str, dict[str, pa.Table]]:
    """Build the requested configs; ``rewriter`` (see rewriters.py) post-processes every table.

    ``upstream`` files (the MiJaBench authors' published rows) become an ``upstream`` config of
    finished prompts, kept as published: they are never rewritten.
    """
    for config in configs:
        if config not in CONFIGS:
            raise MijaError(f"unknown config {config!r}; valid configs: {', '.join(CONFIGS)}, all")
    languages = taxonomy.parse_list("language", list(languages))
    strategies = taxonomy.parse_list("strategy", strategies) or list(taxonomy.strategies())
    result = {}
    if "counterfactual" in configs:
        result["counterfactual"] = build_counterfactual(languages, strategies, seed, per_group)
    if "paper" in configs:
        if seeds is None:
            raise MijaError("the paper config needs --seeds PATH (a ToxiGen-style folder and/or a "
                            "ToxSyn-PT-style .parquet/.csv)")
        seed_table = seeds if isinstance(seeds, pa.Table) else read_seeds(list(seeds), group_map)
        result["paper"] = build_paper(seed_table, languages, strategies, seed, per_group)
    if rewriter is not None:
        result = {c: {s: rewriter.apply(t) for s, t in splits.items()} for c, splits in result.items()}
    if upstream:
        from mijabench.bench.upstream import prompt_table
        table = pa.concat_tables([prompt_table(Path(p), group_map) for p in upstream])
        result[UPSTREAM_CONFIG] = {"harmful": table}
    return result
