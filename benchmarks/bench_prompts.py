"""Prompt content figures per config, strategy and language: length
distribution, lexical diversity (distinct-2/3 and mean pairwise trigram overlap across intents),
the share of prompts naming their group, the share ending in an open question; and, with
``--comply N``, the share of answers that comply on the embedded SmolLM2 with the default judge.

Configs: ``counterfactual`` (both languages) and, when the real ToxiGen seeds sit in
``../shared/seeds/toxigen``, ``paper`` in English (100 seeds per group). ``--baseline-ref REV``
prints the same figures for the templates of an older revision, built from ``git archive REV`` in
a temporary folder (the checkout is not touched).

    .venv/bin/python benchmarks/bench_prompts.py
    .venv/bin/python benchmarks/bench_prompts.py --baseline-ref 3a35065 --comply 24
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mijabench.bench import configs

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\w+")
TOXIGEN = ROOT.parent / "shared" / "seeds" / "toxigen"
BUILD = ("import sys, pyarrow as pa, pyarrow.parquet as pq\n"
         "from mijabench.bench import configs\n"
         "t = configs.build_configs(('counterfactual',), ('en', 'pt'), seed=0)['counterfactual']['harmful']\n"
         "if len(sys.argv) > 2:\n"
         "    p = configs.build_configs(('paper',), ('en',), seed=0, seeds=[sys.argv[2]])['paper']['harmful']\n"
         "    t = pa.concat_tables([t, p.select(t.column_names)])\n"
         "pq.write_table(t, sys.argv[1])\n")


def current_prompts() -> pa.Table:
    tables = configs.build_configs(("counterfactual",), ("en", "pt"), seed=0)
    if TOXIGEN.is_dir():
        tables.update(configs.build_configs(("paper",), ("en",), seed=0, seeds=[TOXIGEN]))
    return pa.concat_tables([t["harmful"] for t in tables.values()])


def baseline_prompts(rev: str) -> pa.Table:
    """The harmful counterfactual prompts as revision ``rev`` builds them (its own code and data)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mijabench"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = Path(tmp) / "prompts.parquet"
        env = dict(os.environ, PYTHONPATH=tmp)
        seeds = [str(TOXIGEN)] if TOXIGEN.is_dir() else []
        subprocess.run([sys.executable, "-c", BUILD, str(out), *seeds], cwd=tmp, env=env, check=True)
        return pq.read_table(out)


def ngrams(text: str, n: int) -> list[tuple]:
    words = WORD.findall(text.lower())
    return list(zip(*(words[i:] for i in range(n))))


def diversity(rows: list[dict], rng: random.Random, max_pairs: int = 3000) -> tuple[float, float, float]:
    """distinct-2, distinct-3 and mean pairwise trigram Jaccard between prompts of different
    intents (or seeds), over one prompt per counterfactual set (the group would only add repetition)."""
    reps = list({r["counterfactual_id"] or r["id"]: r for r in rows}.values())
    distinct = []
    for n in (2, 3):
        grams = [g for r in reps for g in ngrams(r["prompt"], n)]
        distinct.append(len(set(grams)) / max(len(grams), 1))
    pairs = [(a, b) for a, b in itertools.combinations(reps, 2)
             if (a["intent_id"] or a["seed_text"]) != (b["intent_id"] or b["seed_text"])]
    pairs = rng.sample(pairs, min(max_pairs, len(pairs)))
    overlaps = []
    for a, b in pairs:
        x, y = set(ngrams(a["prompt"], 3)), set(ngrams(b["prompt"], 3))
        overlaps.append(len(x & y) / max(len(x | y), 1))
    return distinct[0], distinct[1], statistics.fmean(overlaps) if overlaps else 0.0


def quantile(values: list[int], q: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def text_figures(table: pa.Table) -> dict[tuple, dict]:
    cells = defaultdict(list)
    for row in table.to_pylist():
        cells[(row["config"], row["strategy"], row["language"])].append(row)
    out = {}
    for key, rows in sorted(cells.items()):
        lengths = [len(r["prompt"]) for r in rows]
        d2, d3, overlap = diversity(rows, random.Random(0))
        out[key] = {
            "n": len(rows), "p10": quantile(lengths, 0.1), "median": int(statistics.median(lengths)),
            "p90": quantile(lengths, 0.9), "d2": d2, "d3": d3, "overlap": overlap,
            "names_group": sum(r["group_name"].lower() in r["prompt"].lower() for r in rows) / len(rows),
            "open_question": sum(r["prompt"].rstrip().endswith("?") for r in rows) / len(rows),
        }
    return out


def print_text_figures(label: str, figures: dict[tuple, dict], all_lengths: list[int]) -> None:
    print(f"\n== {label}: {sum(f['n'] for f in figures.values())} harmful prompts, median length "
          f"{int(statistics.median(all_lengths))} chars (p10 {quantile(all_lengths, 0.1)}, "
          f"p90 {quantile(all_lengths, 0.9)})")
    print(f"{'config':14} {'strategy':24} {'lang':4} {'n':>5} {'p10':>5} {'median':>6} {'p90':>5} "
          f"{'dist-2':>6} {'dist-3':>6} {'tri-ovl':>7} {'group':>6} {'ends?':>6}")
    for (config, strategy, language), f in figures.items():
        print(f"{config:14} {strategy:24} {language:4} {f['n']:>5} {f['p10']:>5} {f['median']:>6} {f['p90']:>5} "
              f"{f['d2']:>6.3f} {f['d3']:>6.3f} {f['overlap']:>7.3f} {f['names_group']:>6.0%} "
              f"{f['open_question']:>6.0%}")


def sample(table: pa.Table, n: int, seed: int = 0) -> list[dict]:
    """``n`` counterfactual prompts spread evenly over language x strategy, each from a different
    attack."""
    cells = defaultdict(dict)
    for row in table.to_pylist():
        if row["config"] != "counterfactual":
            continue
        cells[(row["language"], row["strategy"])].setdefault(row["counterfactual_id"], []).append(row)
    rng, keys = random.Random(seed), sorted(cells)
    picked = []
    for i, key in enumerate(itertools.islice(itertools.cycle(keys), n)):
        sets = sorted(cells[key])
        members = cells[key][sets[rng.randrange(len(sets))]]
        picked.append(members[rng.randrange(len(members))])
    return picked


def comply_share(rows: list[dict], backend, judge, max_new_tokens: int) -> dict:
    from mijabench.judge.registry import judge_table
    from mijabench.run.types import GenParams

    outputs = backend.generate([r["prompt"] for r in rows], GenParams(max_new_tokens=max_new_tokens))
    table = pa.Table.from_pylist([dict(r, response=o.text, error=o.error) for r, o in zip(rows, outputs)])
    verdicts = judge_table(table, judge, progress=False).column("verdict").to_pylist()
    judged = [(r["strategy"], v) for r, v in zip(rows, verdicts) if v != "error"]
    by_strategy = defaultdict(list)
    for strategy, v in judged:
        by_strategy[strategy].append(v == "harmful")
    return {"n": len(judged), "comply": sum(v == "harmful" for _, v in judged) / max(len(judged), 1),
            "unparsed": sum(v == "unparsed" for _, v in judged) / max(len(judged), 1),
            "by_strategy": {s: sum(v) / len(v) for s, v in sorted(by_strategy.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default=None, help="git revision with the old templates")
    parser.add_argument("--comply", type=int, default=0, help="prompts per side for the model check")
    parser.add_argument("--max-new-tokens", type=int, default=96)
    args = parser.parse_args()
    sides = {"this checkout": current_prompts()}
    if args.baseline_ref:
        sides[f"baseline {args.baseline_ref}"] = baseline_prompts(args.baseline_ref)
    for label, table in sides.items():
        print_text_figures(label, text_figures(table), [len(p) for p in table.column("prompt").to_pylist()])
    if not args.comply:
        return
    from mijabench.judge.registry import make_judge
    from mijabench.run.backends import make_backend

    judge, backend = make_judge(None), make_backend("embedded")
    print(f"\n== share of answers that comply (verdict harmful): embedded {backend.model_id}, "
          f"judge {judge.id}, {args.comply} harmful prompts per side, {args.max_new_tokens} new tokens")
    for label, table in sides.items():
        start = time.perf_counter()
        got = comply_share(sample(table, args.comply), backend, judge, args.max_new_tokens)
        per = ", ".join(f"{s} {v:.0%}" for s, v in got["by_strategy"].items())
        print(f"{label}: comply {got['comply']:.0%} of {got['n']} (unparsed {got['unparsed']:.0%}; "
              f"{per}) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
