"""CPU demo of the alignment loop on the embedded SmolLM2-135M-Instruct, end to end and offline.

1. training data: audit SmolLM2 with the rules judge on a *training* build of harmful prompts
   (seed 100) of the strategies it fails on: with this judge SmolLM2 fails almost only
   chain-of-thought prompts, so other strategies would add no pair. That audit is a one-model
   MiJaBench-Align table; `mijabench pairs` logic turns it into preference pairs (chosen = a safe
   answer or a refusal template, rejected = a response judged harmful), holding out groups;
2. DPO + LoRA with `align/configs/dpo_smollm2_cpu.yaml` (a few CLI overrides below);
3. `mijabench dpo-eval` on a separate *evaluation* build (seed 0, all 4 strategies, harmful +
   benign twins): base vs aligned on the same prompts (any prompt trained on is excluded), DR and
   over-refusal before -> after with 95% bootstrap CIs, seen vs held-out groups and strategies.
   The held-out strategy was never trained on (no training prompt uses it).

Target: under 20 minutes on an unshared 2-core machine (run with OMP_NUM_THREADS=1 when the cores
are shared: oversubscribed OpenMP threads slow generation down ~4x). Every stage resumes from
OUT, so a rerun only does what is missing. The result is printed as measured: with a 135M model,
a few dozen pairs and a rules judge, a null or negative result is possible and is stated as such.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dpo.py [--out runs/bench_dpo]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path

from mijabench.train import dpo_eval
from mijabench import atomic
from mijabench.bench import configs as benchmark
from mijabench.train import checkpoint
from mijabench.train import dpo as dpo_training
from mijabench.run import embedded
from mijabench.derived import pairs
from mijabench.schema import AUDIT_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "align" / "configs" / "dpo_smollm2_cpu.yaml"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_dpo")
    parser.add_argument("--languages", default="en")
    parser.add_argument("--per-group", type=int, default=8, help="evaluation attacks per language (x every group)")
    parser.add_argument("--train-per-group", type=int, default=8, help="training attacks per language")
    parser.add_argument("--train-strategies", default="chain_of_thought",
                        help="strategies of the training prompts (comma-separated)")
    parser.add_argument("--held-out-groups", default="women,muslim")
    parser.add_argument("--held-out-strategies", default="persona_assignment")
    parser.add_argument("--test-fraction", type=float, default=0.0,
                        help="seen training prompts kept for test_seen (evaluation has its own build)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--n-boot", type=int, default=1000)
    return parser.parse_args()


def timed(label: str, times: dict, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    times[label] = round(time.perf_counter() - start, 1)
    print(f"[{label}] {times[label]:.0f} s", flush=True)
    return result


def build_pairs(plan: dpo_eval.EvalPlan, args, out: Path) -> dict:
    """Audit the base on the training build (a one-model Align table) and write the pairs folder."""
    train = benchmark.build_configs(("counterfactual",), plan.languages, seed=100,
                                    per_group=args.train_per_group,
                                    strategies=args.train_strategies.split(","))["counterfactual"]["harmful"]
    train = dpo_eval.tag_segments(train, plan.held_out_groups, plan.held_out_strategies)
    audit = dpo_eval.audit_model(plan.base, train, plan, "train-audit")
    holdout = pairs.Holdout.parse(args.held_out_groups, args.held_out_strategies, args.test_fraction, seed=0)
    return pairs.write(out, audit.select(AUDIT_SCHEMA.names), holdout).as_dict()


def train(pairs_dir: Path, out: Path, args) -> dict:
    if not (out / checkpoint.RECORD).is_file():  # a finished run is reused; a killed one resumes
        dpo_training.main([
            "--config", str(CONFIG), "--dataset_name", str(pairs_dir), "--output_dir", str(out),
            "--max_steps", "-1", "--num_train_epochs", str(args.epochs),
            "--learning_rate", str(args.learning_rate), "--per_device_train_batch_size", "4",
            "--gradient_accumulation_steps", "1", "--precompute_ref_log_probs", "true",
            "--logging_steps", "2", "--save_steps", "10"])
    return json.loads((out / checkpoint.RECORD).read_text())


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out, times = args.out, {}
    start = time.perf_counter()
    base = timed("embedded model", times, embedded.default_model_dir)
    plan = dpo_eval.EvalPlan(
        base=str(base), aligned=str(out / "dpo" / checkpoint.MERGED), out=out / "eval",
        held_out_groups=args.held_out_groups.split(","), held_out_strategies=args.held_out_strategies.split(","),
        languages=args.languages.split(","), per_group=args.per_group, seed=0,
        max_new_tokens=args.max_new_tokens, n_boot=args.n_boot, batch_size=16)
    pair_stats = timed("training audit + pairs", times, build_pairs, plan, args, out / "pairs")
    record = timed("DPO training", times, train, out / "pairs", out / "dpo", args)
    plan.pairs = out / "pairs"
    result = timed("dpo-eval (both audits)", times, dpo_eval.run, plan)
    times["total"] = round(time.perf_counter() - start, 1)
    report(result, record, pair_stats, times, out)


def report(result: dict, record: dict, pair_stats: dict, times: dict, out: Path) -> None:
    throughput = record.get("throughput", {})
    lines = [
        f"pairs: {pair_stats['pairs']} (templated chosen: {pair_stats['templated']}, prompts with no "
        f"harmful response: {pair_stats['skipped_no_harmful_response']})",
        f"DPO: {record['n_train_pairs']} pairs, {record['global_step']} steps, final train loss "
        f"{record['train_loss']:.4f}, {throughput.get('tokens_per_s')} tokens/s, peak RSS "
        f"{throughput.get('peak_rss_gib')} GiB, {throughput.get('device')}",
        f"held out: groups {', '.join(result['held_out_groups'])}; strategies "
        f"{', '.join(result['held_out_strategies'])}; eval prompts {result['n_prompts']} "
        f"({result['excluded_train_prompts']} trained-on prompts excluded)",
        "", dpo_eval.markdown_table(result), "", dpo_eval.disparity_text(result), "",
        f"Outcome: {result['summary']}", "",
        "times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()),
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    atomic.write_text(out / "bench_dpo.md", text + "\n")
    atomic.write_text(out / "bench_dpo.json", json.dumps(
        {"times_s": times, "pairs": pair_stats, "training": record, "dpo_eval": result},
        indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
