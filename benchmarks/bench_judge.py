"""Judges: agreement with human labels, and throughput (rules target: >= 20,000 responses/s).

1. Agreement on the labeled judge validation set (``mijabench/data/judge_validation``; test split
   unless ``--split``): accuracy, Cohen's kappa, precision/recall for harmful, per language and
   overall, and the outcome confusion matrix, for every judge: ``intent`` (the default), ``rules``,
   ``ensemble:intent,rules``, plus ``guard:FOLDER`` with ``--guard`` and ``llm:URL`` with ``--llm``
   (and their ensembles with the offline judges).
2. Throughput of the offline judges on synthetic responses built from the labeled cases in
   tests/data/judge_cases.jsonl plus neutral filler sentences (about 150-900 characters), each with
   its own prompt, like a real audit.

Run: ``python benchmarks/bench_judge.py [N] [--guard FOLDER] [--llm URL] [--split dev|test|all]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from mijabench.derived import judge_eval as je
from mijabench.judge.registry import make_judge

TARGET = 20_000
CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "judge_cases.jsonl"
INTENT_CASES = CASES.with_name("intent_cases.jsonl")
FILLER = [
    "The committee met on Tuesday to review the agenda.",
    "This is an important topic that deserves careful thought.",
    "Many factors influence how a community makes decisions.",
    "In the next section we look at the practical details.",
    "O comitê se reuniu na terça-feira para revisar a pauta.",
    "Esse é um tema importante que merece reflexão cuidadosa.",
    "Let me know if you would like any changes to the text.",
    "Overall, the plan has three stages and a short timeline.",
]


def synthetic(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    cases = [json.loads(line) for line in CASES.read_text("utf-8").splitlines() if line.strip()]
    prompts, responses, languages = [], [], []
    for i in range(n):
        case = rng.choice(cases)
        before = " ".join(rng.choices(FILLER, k=rng.randint(0, 4)))
        after = " ".join(rng.choices(FILLER, k=rng.randint(1, 8)))
        prompts.append(case["prompt"] + f" (variant {i % 5000})")
        responses.append(f"{before} {case['response']} {after} [{i}]".strip())
        languages.append(case["language"])
    return prompts, responses, languages


def throughput(spec: str, n: int) -> None:
    prompts, responses, languages = synthetic(n)
    judge = make_judge(spec)
    judge.judge(prompts[:200], responses[:200], languages[:200])  # warm caches/regex compile
    t0, c0 = time.perf_counter(), time.process_time()
    verdicts = judge.judge(prompts, responses, languages)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate, cpu_rate = n / wall, n / cpu
    counts: dict = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    mean_len = sum(map(len, responses)) / n
    target = f" (target >= {TARGET:,}/s; ratio {rate / TARGET:.2f}x)" if spec == "rules" else ""
    print(f"{spec} judge: {n:,} responses (mean {mean_len:.0f} chars) in {wall:.2f} s "
          f"= {rate:,.0f} responses/s{target}; {cpu_rate:,.0f} per CPU-second; verdicts {counts}")


def throughput_with_rows(n: int) -> None:
    """The intent judge on responses with row metadata (tests/data/intent_cases.jsonl): the
    claim-based checks, and the optional MiniLM second look at safe outcomes, only run then."""
    rng = random.Random(1)
    cases = [json.loads(line) for line in INTENT_CASES.read_text("utf-8").splitlines() if line.strip()]
    picked = [rng.choice(cases) for _ in range(n)]
    after = [" ".join(rng.choices(FILLER, k=rng.randint(0, 4))) for _ in range(n)]
    responses = [f"{c['response']} {a} [{i}]" for i, (c, a) in enumerate(zip(picked, after))]
    rows = [{k: c.get(k, "") for k in ("intent_id", "strategy", "kind", "seed_text", "group")}
            for c in picked]
    prompts, languages = [c["prompt"] for c in picked], [c["language"] for c in picked]
    judge = make_judge("intent")
    judge.judge(prompts[:50], responses[:50], languages[:50], rows[:50])  # loads the encoder
    t0 = time.perf_counter()
    judge.judge(prompts, responses, languages, rows)
    wall = time.perf_counter() - t0
    print(f"intent judge with row metadata: {n:,} responses in {wall:.2f} s = {n / wall:,.0f} "
          f"responses/s")


def agreement(specs: list[str], split: str) -> None:
    rows = je.load_rows(split)
    print(f"agreement with human labels: {split} split, {len(rows)} responses")
    results = [je.evaluate(make_judge(s), rows) for s in specs]
    print(je.summary_table(results))
    for res in results:
        print(f"\noutcome confusion, {res['judge']} (rows: human label; columns: judge)")
        print(je.confusion_table(res))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=60_000, help="synthetic responses")
    parser.add_argument("--guard", help="a guard folder (judge guard:FOLDER)")
    parser.add_argument("--llm", help="an OpenAI-compatible judge endpoint URL[#model]")
    parser.add_argument("--split", default="test", choices=je.SPLITS)
    args = parser.parse_args()
    specs = ["intent", "rules", "ensemble:intent,rules"]
    for extra in (f"guard:{args.guard}" if args.guard else "", f"llm:{args.llm}" if args.llm else ""):
        if extra:
            specs += [extra, f"ensemble:intent,rules,{extra}"]
    agreement(specs, args.split)
    print()
    for spec in ("rules", "intent"):
        throughput(spec, args.n if spec == "rules" else max(args.n // 4, 1000))
    throughput_with_rows(max(args.n // 20, 500))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine load average {load:.1f} on {os.cpu_count()} cores (wall time suffers under load)")


if __name__ == "__main__":
    main()
