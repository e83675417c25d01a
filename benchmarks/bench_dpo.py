"""Targeted DPO on the embedded SmolLM2-135M-Instruct, end to end and offline (issue 16 protocol).

1. training audit: a *training* build (seed 100, its own scenario draws), EN + PT, every strategy
   but the held-out one, held-out groups removed; a balanced sample of harmful prompts and the
   benign twins of half of them, answered by the base and judged by `intent` (outcomes);
2. pairs (`mijabench.derived.pairs`): harmful prompts -> chosen = a real refusal or a refusal
   template naming what it declines, rejected = outcome compliance / false_refusal (optionally
   incoherent); benign twins -> chosen = the model's own helpful answer (else a template),
   rejected = a refusal template;
3. DPO + LoRA with `align/configs/dpo_smollm2_cpu.yaml` (the variant's overrides below);
4. `dpo-eval` (alias `align-eval`) on a separate *evaluation* build (seed 7): `--per-cell` harmful
   prompts in each seen/held-out group x seen/held-out strategy cell plus the benign twins of half
   of them; base vs aligned on the same prompts, exact CIs, exact McNemar, disparity gap and std.

Every stage resumes from OUT; recipe variations (`--variants a,b`) reuse the training audit and the
base evaluation audit and each get OUT/variants/NAME/{pairs,dpo,eval}. Prints the segment table
per variant and writes OUT/bench_dpo.json (+ .md) and OUT/variants/NAME/eval/dpo_eval.json.

    flock /tmp/mijabench-cpu.lock .venv/bin/python benchmarks/bench_dpo.py --out runs/bench_dpo \
        --variants main,incoherent

Measured (align/README.md): one variant from scratch 21-23 min on 2 shared cores; figures there.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path

import pyarrow as pa

from mijabench import atomic, taxonomy
from mijabench.bench import configs as benchmark
from mijabench.derived import pairs
from mijabench.run import embedded
from mijabench.schema import AUDIT_SCHEMA
from mijabench.train import checkpoint, dpo_eval, dpo_sample
from mijabench.train import dpo as dpo_training

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "align" / "configs" / "dpo_smollm2_cpu.yaml"
# Recipe variations: DPO flags + pair mix. `main` is the config file as it stands.
VARIANTS = {
    "main": {"flags": {}, "incoherent_rejected": False},
    # ~3x the pairs of `main` (SmolLM2's unsafe-by-intent answers are mostly incoherent): one epoch
    # keeps the training cost of `main`'s two
    "incoherent": {"flags": {"--num_train_epochs": "1"}, "incoherent_rejected": True},
    "incoherent-lr": {"flags": {"--learning_rate": "1e-3", "--num_train_epochs": "1"}, "incoherent_rejected": True},
    "low-beta": {"flags": {"--beta": "0.05", "--num_train_epochs": "1"}, "incoherent_rejected": True},
}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_dpo")
    parser.add_argument("--languages", default="en,pt")
    parser.add_argument("--held-out-groups", default="women,muslim,latino,elderly",
                        help="women, muslim: EN + PT; latino: EN; elderly: PT (3 EN, 3 PT groups)")
    parser.add_argument("--held-out-strategies", default="logical_rationalization")
    parser.add_argument("--train-prompts", type=int, default=240, help="harmful training prompts (balanced)")
    parser.add_argument("--train-per-group", type=int, default=24, help="training build attacks per language")
    parser.add_argument("--per-cell", type=int, default=64, help="harmful evaluation prompts per cell")
    parser.add_argument("--eval-per-group", type=int, default=48, help="evaluation build attacks per language")
    parser.add_argument("--benign-share", type=float, default=0.5, help="evaluation: share of harmful prompts with their twin")
    parser.add_argument("--train-benign-share", type=float, default=0.2, help="training: likewise (contrast pairs)")
    parser.add_argument("--dpo-flags", default="", help="extra align/dpo.py flags for every variant (e.g. for a smoke run)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--dtype", default="bfloat16", help="generation dtype (bf16: measured 1.6x fp32 here)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--variants", default="main", help=f"comma-separated: {', '.join(VARIANTS)}")
    return parser.parse_args()


def timed(label: str, times: dict, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    times[label] = round(time.perf_counter() - start, 1)
    print(f"[{label}] {times[label]:.0f} s", flush=True)
    return result


def training_prompts(args, plan: dpo_eval.EvalPlan) -> pa.Table:
    """Seen strategies and seen groups only: nothing held out is ever generated for training."""
    seen = [s for s in taxonomy.strategies() if s not in plan.held_out_strategies]
    built = benchmark.build_configs(("counterfactual",), plan.languages, seed=100,
                                    per_group=args.train_per_group, strategies=seen)["counterfactual"]
    table = pa.concat_tables([built["harmful"], built["benign"]])
    table = dpo_eval.tag_segments(table, plan.held_out_groups, plan.held_out_strategies)
    table = table.filter(pa.compute.equal(table.column("eval_cell"), "seen"))
    rows = [r for r in table.select(["id", "kind", "language", "group", "strategy"]).to_pylist()
            if r["kind"] == "harmful"]
    picked = dpo_sample.balanced(rows, args.train_prompts, seed=100, by=("language", "group", "strategy"))
    return dpo_sample.with_twins(table, [r["id"] for r in picked], args.train_benign_share, seed=100)


def build_pairs(audit: pa.Table, args, variant: dict, out: Path) -> dict:
    holdout = pairs.Holdout.parse(args.held_out_groups, args.held_out_strategies, 0.0, seed=0)
    recipe = pairs.Recipe(incoherent_rejected=variant["incoherent_rejected"], contrast=True)
    if not (out / "pairs.json").is_file():
        pairs.write(out, audit.select(AUDIT_SCHEMA.names), holdout, recipe)
    return json.loads((out / "pairs.json").read_text())


def train(pairs_dir: Path, out: Path, variant: dict, extra: str = "") -> dict:
    if not (out / checkpoint.RECORD).is_file():  # a finished run is reused; a killed one resumes
        flags = [x for kv in variant["flags"].items() for x in kv] + extra.split()
        dpo_training.main(["--config", str(CONFIG), "--dataset_name", str(pairs_dir), "--output_dir", str(out),
                           *flags])
    return json.loads((out / checkpoint.RECORD).read_text())


def main() -> None:
    args = parse()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    out, times, start = args.out, {}, time.perf_counter()
    base = timed("embedded model", times, embedded.default_model_dir)
    plan = dpo_eval.EvalPlan(
        base=str(base), aligned="", out=out, languages=args.languages.split(","),
        held_out_groups=taxonomy.parse_list("group", args.held_out_groups),
        held_out_strategies=taxonomy.parse_list("strategy", args.held_out_strategies),
        per_group=args.eval_per_group, seed=7, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
        per_cell=args.per_cell, benign_share=args.benign_share, dtype=args.dtype)
    train_prompts = training_prompts(args, plan)
    audit = timed("training audit", times, dpo_eval.audit_model, plan.base, train_prompts, plan, "train-audit")
    eval_prompts, _ = dpo_eval.eval_prompts(plan)
    timed("base evaluation audit", times, dpo_eval.audit_model, plan.base, eval_prompts, plan, "eval-base")
    results = {}
    for name in args.variants.split(","):
        variant, folder = VARIANTS[name], out / "variants" / name
        pair_stats = timed(f"{name}: pairs", times, build_pairs, audit, args, variant, folder / "pairs")
        record = timed(f"{name}: DPO training", times, train, folder / "pairs", folder / "dpo", variant,
                       args.dpo_flags)
        vplan = dpo_eval.EvalPlan(**{**plan.__dict__, "aligned": str(folder / "dpo" / checkpoint.MERGED),
                                     "out": folder / "eval", "pairs": folder / "pairs"})
        result = timed(f"{name}: aligned evaluation", times, dpo_eval.run, vplan, out / "eval-base")
        results[name] = {"variant": variant, "pairs": pair_stats, "training": record, "dpo_eval": result}
        print("\n" + variant_text(name, results[name]), flush=True)
        times["total"] = round(time.perf_counter() - start, 1)
        report(results, times, out, args)  # after each variant: a stopped run keeps what it measured


def variant_text(name: str, found: dict) -> str:
    record, result, stats = found["training"], found["dpo_eval"], found["pairs"]
    throughput = record.get("throughput", {})
    return "\n".join([
        f"## variant {name}: {json.dumps(found['variant'])}",
        (f"pairs: harmful {sum(stats['pairs'].values())} (rejected outcomes {stats['rejected_outcomes']}, "
         f"templated chosen {stats['templated']}), benign contrast {sum(stats['contrast_pairs'].values())} "
         f"(own helpful answer {stats['contrast_chosen_own_answer']}); harmful prompts with nothing to "
         f"reject {stats['skipped_no_harmful_response']}"),
        (f"DPO: {record['n_train_pairs']} pairs, {record['global_step']} steps, final train loss "
         f"{record['train_loss']:.4f}, {record.get('train_runtime_s')} s, {throughput.get('tokens_per_s')} "
         f"tokens/s, peak RSS {throughput.get('peak_rss_gib')} GiB"),
        (f"eval prompts {result['n_prompts']} ({result['excluded_train_prompts']} trained-on prompts "
         f"excluded); held out: groups {', '.join(result['held_out_groups'])}; strategy "
         f"{', '.join(result['held_out_strategies'])}"),
        "", dpo_eval.markdown_table(result), "", dpo_eval.disparity_text(result), "",
        f"Outcome: {result['summary']}"])


def report(results: dict, times: dict, out: Path, args) -> None:
    text = "\n\n".join(variant_text(n, r) for n, r in results.items())
    text += "\n\ntimes (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items())
    text += f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    print("\n" + text.split("\n\n")[-1])
    previous = json.loads((out / "bench_dpo.json").read_text()) if (out / "bench_dpo.json").is_file() else {}
    merged = {**previous.get("variants", {}), **results}  # earlier variants of this OUT stay
    atomic.write_text(out / "bench_dpo.md", text + "\n")
    atomic.write_text(out / "bench_dpo.json", json.dumps(
        {"times_s": {**previous.get("times_s", {}), **times}, "args": {k: str(v) for k, v in vars(args).items()},
         "variants": merged}, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
