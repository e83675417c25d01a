"""Does fine-tuning a SecureBreak detector beat its untuned starting point? (issue 5)

Offline, on real outputs of the embedded SmolLM2-135M-Instruct:

1. A hate-speech judge member: all-MiniLM-L6-v2 fine-tuned (recipe ``classifier``) on the real
   ToxiGen statements in ``../shared/seeds/toxigen`` (hate vs neutral, the source's own stance
   labels), read in place and imported as SecureBreak rows.
2. SmolLM2 answers a stratified MiJaBench sample (English; the ``counterfactual`` config and the
   ``paper`` config built on the same ToxiGen seeds; attacks + benign twins) through ``mijabench.audit.runner.run_audit`` (responses checkpointed: a rerun resumes), judged
   by the **ensemble judge** ``ensemble:rules,guard:<ToxiGen member>``: the offline rules
   judge plus that classifier, combined by the kit's conservative vote (one harmful vote wins a tie).
   An LLM judge would be the usual second member, but no offline model can serve it: SmolLM2-135M
   continues the judge prompt instead of answering it (every verdict comes back unparsed).
3. The judged audit becomes SecureBreak's ``judge`` config (``build securebreak --mijabench-align``):
   deduplicated, stratified train/validation/test; the card names the ensemble judge as the label
   source.
4. The detector (recipe ``classifier`` from the untuned MiniLM; ``--recipes classifier,sft`` adds the
   LoRA-SFT SmolLM2 guard) trains on ``train`` and is scored before and after on held-out ``test``.

    python benchmarks/bench_guard.py                      # 624 prompts, 96-token answers: ~50 min on 2 CPU
                                                          # cores (35 min generation, resumable; 15 min training)
    python benchmarks/bench_guard.py --paper-per-cell 8 --recipes classifier,sft --work runs/bench_guard

Prints both F1s (and FNR, accuracy) per recipe. Slow part: SmolLM2 generation on CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mijabench import atomic
from mijabench.audit import runner as audit
from mijabench.bench import configs as benchmark
from mijabench.train import guard as guard_training
from mijabench.derived import securebreak as sb
from mijabench.derived import securebreak_dataset as sbd
from mijabench.run.embedded import default_model_dir
from mijabench.run.types import GenParams
from mijabench.run.local import TransformersBackend
from mijabench.bench.seeds import read_toxigen

ROOT = Path(__file__).resolve().parents[1]
SPLITS = {"train": 0.6, "validation": 0.1, "test": 0.3}
RECIPES = {
    "classifier": dict(num_train_epochs=8, learning_rate=5e-5, per_device_train_batch_size=8, warmup_steps=5,
                       balance_labels=True),
    "sft": dict(num_train_epochs=2, learning_rate=2e-4, per_device_train_batch_size=4, max_length=192,
                balance_labels=True),
}


def fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def scores(folder: Path) -> tuple[dict, dict, dict]:
    result = json.loads((folder / "eval_results.json").read_text())
    return result["before"]["overall"], result["after"]["overall"], result.get("f1_change") or {}


def toxigen_member(work: Path, toxigen: Path, seed: int) -> Path:
    """A hate-speech classifier trained on ToxiGen's stance labels: the ensemble's second judge."""
    out = work / "toxigen-guard"
    if (out / "eval_results.json").is_file():
        return out
    rows = [sb.make_row("", r["seed_text"], "hate_speech", "unsafe" if r["stance"] == "hate" else "safe",
                        source="toxigen", origin=f"toxigen/{r['stance']}_{r['group']}", language="en",
                        annotator_labels=[{"annotator": "toxigen-stance",
                                           "label": "unsafe" if r["stance"] == "hate" else "safe"}])
            for r in read_toxigen(toxigen).to_pylist()]
    info = sbd.BuildInfo(seed=seed, splits={"train": 0.8, "test": 0.2}, inputs=[toxigen.name])
    sbd.write(work / "toxigen-securebreak", sbd.tables_from_rows(rows, info), info)
    guard_training.train(guard_training.GuardArguments(
        # max_length covers whole SmolLM2 answers at judging time (ToxiGen statements themselves are short).
        recipe="classifier", dataset_name=str(work / "toxigen-securebreak"), output_dir=str(out), max_length=256,
        num_train_epochs=3, learning_rate=5e-5, per_device_train_batch_size=16, seed=seed, save_steps=1000))
    return out


def judged_audit(work: Path, member: Path, toxigen: Path, per_cell: dict, seed: int, max_new_tokens: int) -> Path:
    import pyarrow as pa
    run = work / "audit"
    built = benchmark.build_configs(tuple(per_cell), ("en",), seed=seed, seeds=[toxigen])
    # quick_sample keeps one config per call (counterfactual sets first), so sample each config apart.
    prompts = pa.concat_tables([audit.quick_sample(pa.concat_tables([t["harmful"], t["benign"]]), per_cell[c], seed)
                                for c, t in built.items()])
    table = audit.run_audit(prompts, TransformersBackend(default_model_dir()),
                            GenParams(max_new_tokens=max_new_tokens, seed=seed), run,
                            f"ensemble:rules,guard:{member}", report=False)
    verdicts = table.column("verdict").to_pylist()
    print(f"audit: {table.num_rows} SmolLM2 responses; ensemble verdicts "
          + ", ".join(f"{v}={verdicts.count(v)}" for v in ("safe", "harmful", "unparsed", "error")))
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_guard")
    ap.add_argument("--toxigen", type=Path, default=ROOT.parent / "shared" / "seeds" / "toxigen")
    ap.add_argument("--per-cell", type=int, default=2, help="counterfactual attacks per (group, strategy) cell")
    ap.add_argument("--paper-per-cell", type=int, default=4,
                    help="paper-config (ToxiGen-seeded) attacks per cell; SmolLM2 echoes these more often")
    # The answer alone is what the judge labels; with the long jailbreak prompt attached, the
    # detector trained 2x slower and gained less (+0.20 F1, CI touching 0, vs +0.38 response-only).
    ap.add_argument("--input-format", default="response", help="detector input: response | prompt_response")
    ap.add_argument("--max-new-tokens", type=int, default=96, help="SmolLM2 response length")
    ap.add_argument("--recipes", default="classifier", help="classifier,sft")
    ap.add_argument("--max-steps", type=int, default=-1, help="cap detector training steps (-1: the recipe's epochs)")
    ap.add_argument("--seed", type=int, default=0)
    opts = ap.parse_args()

    start = time.perf_counter()
    member = toxigen_member(opts.work, opts.toxigen, opts.seed)
    before, after, _ = scores(member)
    print(f"ensemble member guard:toxigen-guard on held-out ToxiGen: F1 {fmt(after['f1'])} "
          f"(untuned {fmt(before['f1'])}, n={after['n']})")
    run = judged_audit(opts.work, member, opts.toxigen, {"counterfactual": opts.per_cell, "paper": opts.paper_per_cell},
                       opts.seed, opts.max_new_tokens)
    data = opts.work / "securebreak"
    tables = sbd.build(data, [], None, mijabench_align=[run], seed=opts.seed, splits=SPLITS)
    print("securebreak judge config: " + ", ".join(f"{s}={t.num_rows}" for s, t in tables["judge"].items())
          + f" (labels: ensemble judge, see {data / 'README.md'})")
    results = {}
    for recipe in opts.recipes.split(","):
        args = guard_training.GuardArguments(
            recipe=recipe, dataset_name=str(data), dataset_config="judge", seed=opts.seed, save_steps=1000,
            input_format=opts.input_format, max_steps=opts.max_steps,
            output_dir=str(opts.work / f"guard-{recipe}"), **{"max_length": 256, **RECIPES[recipe]})
        results[recipe] = scores(guard_training.train(args))
    for recipe, (b, a, change) in results.items():
        print(f"[{recipe}] held-out test n={a['n']} (unsafe {a['n_unsafe']}): F1 untuned {fmt(b['f1'])} -> "
              f"fine-tuned {fmt(a['f1'])} (delta {a['f1'] - b['f1']:+.3f}, 95% paired bootstrap CI "
              f"{change['ci_low']:+.3f} to {change['ci_high']:+.3f}); FNR {fmt(b['fnr'])} -> {fmt(a['fnr'])}; "
              f"accuracy {fmt(b['accuracy'])} -> {fmt(a['accuracy'])}")
    seconds = time.perf_counter() - start
    beats = all(a["f1"] > b["f1"] for b, a, _ in results.values())
    print(f"total {seconds:.0f}s; fine-tuned beats untuned on held-out F1: " + ("yes" if beats else "NO"))
    record = {"seconds": round(seconds), "beats_untuned": beats, "options": {k: str(v) for k, v in vars(opts).items()},
              "recipes": {r: {"before": b, "after": a, "f1_change": c} for r, (b, a, c) in results.items()}}
    atomic.write_text(opts.work / "bench_guard.json", json.dumps(record, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
