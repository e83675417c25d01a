"""Rules judge throughput on synthetic responses (target: >= 20,000 responses/s).

Responses are built from the labeled cases in tests/data/judge_cases.jsonl plus neutral filler
sentences, so lengths (about 150-900 characters) and the mix of refusals, lectures, echoes and
compliance resemble small-model output. Run: ``python benchmarks/bench_judge.py [N]``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from mijabench.judge.registry import make_judge

TARGET = 20_000
CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "judge_cases.jsonl"
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
    prompts, responses, languages = synthetic(n)
    judge = make_judge("rules")
    judge.judge(prompts[:200], responses[:200], languages[:200])  # warm caches/regex compile
    t0, c0 = time.perf_counter(), time.process_time()
    verdicts = judge.judge(prompts, responses, languages)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = n / wall
    counts = {}
    for v in verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    mean_len = sum(map(len, responses)) / n
    print(f"rules judge: {n:,} responses (mean {mean_len:.0f} chars) in {wall:.2f} s "
          f"= {rate:,.0f} responses/s (target >= {TARGET:,}/s; ratio {rate / TARGET:.2f}x)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"process CPU time {cpu:.2f} s = {n / cpu:,.0f} responses per CPU-second "
          f"(machine load average {load:.1f} on {os.cpu_count()} cores: wall time suffers under load)")
    print(f"verdicts: {counts}")


if __name__ == "__main__":
    main()
