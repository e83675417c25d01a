"""Paper-scale MiJaBench build: >= 44,000 harmful rows (EN + PT, 2,000 per group), template rewriter.

Targets (2-core CI machine): under 10 s wall and under 1 GB peak RSS for build + write.
EN seeds: the real ToxiGen files in ../shared/seeds/toxigen when present. PT seeds: a synthetic
ToxSyn-PT-style CSV (placeholder sentences; the point here is scale, not content).

    .venv/bin/python benchmarks/bench_build.py [--per-group 2000] [--out /tmp/mijabench-paper]
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

from mijabench.bench import configs as benchmark
from mijabench.bench import writer as benchmark_dataset
from mijabench import taxonomy

ROOT = Path(__file__).resolve().parent.parent
TOXIGEN = ROOT.parent / "shared" / "seeds" / "toxigen"


def synthetic_seeds(folder: Path, with_en: bool) -> list[Path]:
    """PT always synthetic; EN synthetic only when the real ToxiGen files are absent."""
    rows = [("text", "group", "is_toxic")]
    for language in ("pt",) + (() if with_en else ("en",)):
        for group in taxonomy.groups_for(language):
            rows += [(f"placeholder seed {i} ({group})", group, i % 2 == 0) for i in range(60)]
    path = folder / "seeds_pt.csv"
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return [path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-group", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seeds = ([TOXIGEN] if TOXIGEN.is_dir() else []) + synthetic_seeds(Path(tmp), TOXIGEN.is_dir())
        out = args.out or Path(tmp) / "mijabench"
        cpu0, start = time.process_time(), time.perf_counter()
        tables = benchmark.build_configs(("paper",), ("en", "pt"), seed=0, per_group=args.per_group,
                                         seeds=seeds)
        built = time.perf_counter()
        benchmark_dataset.write(out, tables)
        done, cpu = time.perf_counter(), time.process_time() - cpu0
    harmful = tables["paper"]["harmful"].num_rows
    total = harmful + tables["paper"]["benign"].num_rows
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall = done - start
    print(f"rows: {harmful} harmful + {total - harmful} benign = {total} (EN seeds: "
          f"{'real ToxiGen' if TOXIGEN.is_dir() else 'synthetic'})")
    print(f"build {built - start:.2f} s + write {done - built:.2f} s = {wall:.2f} s "
          f"-> {total / wall:,.0f} rows/s")
    print(f"CPU time {cpu:.2f} s (wall exceeds CPU when other processes share the cores)")
    print(f"peak RSS {rss_mb:,.0f} MB")
    print(f"targets: wall < 10 s ({'OK' if wall < 10 else 'MISSED'}, ratio {wall / 10:.2f}), "
          f"RSS < 1024 MB ({'OK' if rss_mb < 1024 else 'MISSED'}, ratio {rss_mb / 1024:.2f}), "
          f">= 44,000 harmful rows ({'OK' if harmful >= 44_000 else 'MISSED'})")


if __name__ == "__main__":
    main()
