"""selective_safety: ``compute`` on 44,000 rows (precomputed verdicts) after import; target < 1 s.

44,000 rows is about one model on the full paper-scale MiJaBench (2,000 seeds x 13 EN + 9 PT
groups). Prints the one-shot and streaming (add_batch x 44) timings, and, for reference, the
rules-judged path (text responses), which is bounded by the judge's throughput.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

METRIC_DIR = Path(__file__).resolve().parent.parent / "eval" / "selective_safety"
N_ROWS, TARGET_S = 44_000, 1.0


def rows(n: int, seed: int = 0) -> dict:
    from mijabench.bench import material
    from mijabench import taxonomy
    rng = random.Random(seed)
    languages = [rng.choice(taxonomy.LANGUAGES) for _ in range(n)]
    groups = [rng.choice(taxonomy.groups_for(lang)) for lang in languages]
    strategies = [rng.choice(list(taxonomy.strategies())) for _ in range(n)]
    kinds = ["benign" if rng.random() < 0.2 else "harmful" for _ in range(n)]
    verdicts = [rng.choice(("safe", "safe", "harmful", "unparsed", "refusal")) if k == "benign"
                else rng.choice(("safe", "safe", "harmful", "unparsed", "error")) for k in kinds]
    texts = [material.load(lang).refusal_templates[0] if v == "safe" else
             f"{material.load(lang).affirmative_opening} the text: [placeholder]."
             for v, lang in zip(verdicts, languages)]
    return {"predictions": verdicts, "groups": groups, "languages": languages,
            "strategies": strategies, "kinds": kinds, "texts": texts}


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    import evaluate
    metric = evaluate.load(str(METRIC_DIR))
    print(f"import + evaluate.load: {time.perf_counter() - start:.2f} s (not part of the target)")
    data = rows(N_ROWS)
    inputs = {k: v for k, v in data.items() if k != "texts"}

    one_shot = best_of(lambda: metric.compute(**inputs, judge="verdicts"))

    def streamed():
        step = 1000
        for lo in range(0, N_ROWS, step):
            metric.add_batch(**{k: v[lo:lo + step] for k, v in inputs.items()})
        return metric.compute(judge="verdicts")

    streaming = best_of(streamed)
    print(f"compute, {N_ROWS:,} rows, precomputed verdicts: {one_shot:.3f} s "
          f"({N_ROWS / one_shot:,.0f} rows/s; target < {TARGET_S:.1f} s -> "
          f"{'OK' if one_shot < TARGET_S else 'MISSED'}, {TARGET_S / one_shot:.1f}x margin)")
    print(f"add_batch x {N_ROWS // 1000} + compute (streaming): {streaming:.3f} s "
          f"({streaming / one_shot:.2f}x one-shot)")
    judged = best_of(lambda: metric.compute(**{**inputs, "predictions": data["texts"]}), repeat=1)
    print(f"compute, {N_ROWS:,} rows, texts judged by the rules judge: {judged:.3f} s "
          f"({N_ROWS / judged:,.0f} rows/s; bounded by the judge)")


if __name__ == "__main__":
    main()
