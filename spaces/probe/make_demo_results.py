"""Regenerate the Space's bundled results: a real audit of two local models on a small sample.

    python spaces/probe/make_demo_results.py            # ~5 min on 2 CPU cores, offline

Audits the embedded SmolLM2-135M-Instruct and a tiny random Llama (a floor: it answers nothing
usable) on ``audit.quick_sample`` of the counterfactual config in English and Portuguese (every
group meets the same attacks, one per strategy, plus benign twins), judged by the rules judge.
The audit runs are checkpointed under ``--work``, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if not (HERE / "mijabench").is_dir():
    sys.path.insert(0, str(HERE.parent.parent))

OUT = HERE / "data" / "demo_results.parquet"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--work", type=Path, default=Path("build/space-demo"),
                        help="checkpointed audit runs (resumable)")
    parser.add_argument("--per-cell", type=int, default=1, help="counterfactual sets per strategy")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)

    import pyarrow as pa

    from mijabench import atomic
    from mijabench.audit import runner as audit
    from mijabench.bench import configs as benchmark
    from mijabench.run import embedded
    from mijabench.run.types import GenParams
    from mijabench.run.backends import make_backend

    tables = benchmark.build_configs(("counterfactual",), ("en", "pt"), seed=0)["counterfactual"]
    sample = audit.quick_sample(pa.concat_tables([tables["harmful"], tables["benign"]]),
                                per_cell=args.per_cell, seed=0)
    params = GenParams(max_new_tokens=args.max_new_tokens, temperature=0.0, top_p=1.0, seed=0)
    specs = {"smollm2": None, "tiny-random-llama": str(embedded.tiny_model(args.work / "tiny-random-llama"))}
    results = []
    for name, spec in specs.items():
        backend = make_backend(spec)
        results.append(audit.run_audit(sample, backend, params, args.work / name, "rules",
                                       report=False))
    table = pa.concat_tables(results)
    atomic.write_parquet(args.out, table)
    print(f"wrote {args.out}: {table.num_rows} rows ({sample.num_rows} prompts x {len(specs)} models), "
          f"{args.out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
