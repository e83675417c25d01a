"""DR table speed on a synthetic Align-shaped table (target: < 5 s for 615,454 rows).

The table has the paper's Align size (615,454 rows): models x languages x groups (13 EN, 9 PT)
x strategies x scenario categories, with per-group safe rates so the groups really differ.
It times ``dr_table(by=("model", "language", "group"), n_boot=1000)`` and, for reference, the
other tables the report builds. Run: ``python benchmarks/bench_metrics.py [N_ROWS]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pyarrow as pa

from mijabench.analysis import metrics
from mijabench import taxonomy

TARGET_S = 5.0
MODELS = [f"model-{i:02d}" for i in range(12)]


def synthetic(n_rows: int = 615_454, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    lang = rng.choice(["en", "pt"], size=n_rows, p=[0.6, 0.4])
    groups = {lang_: taxonomy.groups_for(lang_) for lang_ in ("en", "pt")}
    all_groups = sorted(set(groups["en"]) | set(groups["pt"]))
    group_idx = np.empty(n_rows, dtype=np.int64)
    for lang_, ids in groups.items():
        rows = np.flatnonzero(lang == lang_)
        group_idx[rows] = rng.choice([all_groups.index(g) for g in ids], size=len(rows))
    model_idx = rng.integers(0, len(MODELS), n_rows)
    strategies = list(taxonomy.strategies())
    scenarios = list(taxonomy.scenario_categories())
    p_safe = 0.55 + 0.35 * rng.random((len(MODELS), len(all_groups)))  # per model x group
    u = rng.random(n_rows)
    p = p_safe[model_idx, group_idx]
    verdict = np.where(u < p, 0, np.where(u < p + 0.8 * (1 - p), 1, np.where(u < 0.995, 2, 3)))
    strings = lambda values, idx: pa.array(values, pa.string()).take(pa.array(idx))  # noqa: E731
    return pa.table({
        "model": strings(MODELS, model_idx),
        "language": pa.array(lang, pa.string()),
        "group": strings(all_groups, group_idx),
        "strategy": strings(strategies, rng.integers(0, len(strategies), n_rows)),
        "scenario_category": strings(scenarios, rng.integers(0, len(scenarios), n_rows)),
        "kind": pa.array(np.where(rng.random(n_rows) < 0.9, "harmful", "benign"), pa.string()),
        "verdict": strings(["safe", "harmful", "unparsed", "error"], verdict),
        "refusal": pa.array(rng.random(n_rows) < 0.1),
    })


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 615_454
    table = synthetic(n_rows)
    metrics.dr_table(table.slice(0, 1000), n_boot=10)  # warm imports
    t0, c0 = time.perf_counter(), time.process_time()
    df = metrics.dr_table(table, by=("model", "language", "group"), n_boot=1000, seed=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"dr_table model x language x group: {n_rows:,} rows, {len(df)} cells, 1,000 bootstrap "
          f"resamples in {wall:.2f} s = {n_rows / wall:,.0f} rows/s "
          f"(target < {TARGET_S:.0f} s; ratio {TARGET_S / wall:.1f}x under)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  process CPU time {cpu:.2f} s (load average {load:.1f} on {os.cpu_count()} cores)")
    for by in (("model", "language", "strategy"), ("model", "language", "scenario_category")):
        t0 = time.perf_counter()
        metrics.dr_table(table, by=by, n_boot=1000)
        print(f"dr_table {' x '.join(by)}: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    metrics.summarize(table.slice(0, n_rows))
    print(f"summarize (all tables, no paired tests: no counterfactual ids): "
          f"{time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
