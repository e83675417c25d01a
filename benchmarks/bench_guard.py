"""Does fine-tuning a SecureBreak detector beat its untuned starting point, on human labels? (issues 5, 18)

Default (``--labels human``, issue 18): no generation. SecureBreak's ``human`` config is built from
the labeled judge validation set (``build securebreak --judge-validation``: two annotator passes,
adjudicated, conservative rule; its test rows only in ``test``, train/validation carved from its dev
rows). Each recipe (``classifier``: MiniLM; ``sft``: LoRA on SmolLM2-135M) trains on ``human``
train and is scored untuned -> fine-tuned on ``human`` test: accuracy, precision, recall, F1 and FNR,
overall and per language, each with a 95% bootstrap CI and the change with a 95% paired bootstrap
CI (same rows). The default offline judge (``intent``, with each row's prompt metadata from the
validation set) is scored on the same rows, and compared paired with each fine-tuned guard.

    python benchmarks/bench_guard.py                             # classifier: ~5 min on 2 CPU cores
    python benchmarks/bench_guard.py --recipes sft                # 80 LoRA steps
    python benchmarks/bench_guard.py --recipes classifier,sft    # reuses finished guards, prints all

A finished guard folder (``--work``/guard-<recipe>) is reused; delete it to retrain.

``--labels judge`` runs the older issue-5 loop, whose labels come from a judge, not from people.
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
from mijabench.train import guard_eval
from mijabench.judge.guard import GUARD_META

ROOT = Path(__file__).resolve().parents[1]
SPLITS = {"train": 0.6, "validation": 0.1, "test": 0.3}
RECIPES = {
    "classifier": dict(num_train_epochs=8, learning_rate=5e-5, per_device_train_batch_size=8, warmup_steps=5,
                       balance_labels=True),
    "sft": dict(num_train_epochs=2, learning_rate=2e-4, per_device_train_batch_size=4, max_length=192,
                balance_labels=True),
}
# Human labels: 198 training rows (318 once balanced). Fewer passes keep each run within ~15 min of
# a shared 2-core machine: 5 epochs (200 steps) for MiniLM, 80 LoRA steps (one balanced pass) for SmolLM2.
HUMAN_RECIPES = {"classifier": {**RECIPES["classifier"], "num_train_epochs": 5},
                 "sft": {**RECIPES["sft"], "max_steps": 80}}


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


def guard_folder(opts, recipe: str, data: Path, config: str) -> Path:
    """Train (or reuse) one recipe's guard on ``config`` train, scored on ``config`` test."""
    out = opts.work / f"guard-{recipe}"
    if (out / guard_training.PREDICTIONS).is_file():
        print(f"[{recipe}] reusing {out} (delete it to retrain)")
        return out
    start = time.perf_counter()
    args = guard_training.GuardArguments(
        recipe=recipe, dataset_name=str(data), dataset_config=config, seed=opts.seed, save_steps=1000,
        input_format=opts.input_format, output_dir=str(out),
        **{"max_length": 256, "max_steps": opts.max_steps, **HUMAN_RECIPES[recipe],
           **({"max_steps": opts.max_steps} if opts.max_steps > 0 else {})})
    guard_training.train(args)
    print(f"[{recipe}] trained in {time.perf_counter() - start:.0f}s")
    return out


def judge_predictions(judge_spec: str, test: list[dict]) -> tuple[list[str], int]:
    """The offline judge's labels on the SecureBreak test rows, judged with each row's prompt
    metadata from the validation set (matched by the normalised text hash); unparsed -> unsafe."""
    from mijabench.derived import judge_eval
    from mijabench.judge.registry import make_judge
    labeled = {sb.text_hash(r["prompt"], r["response"]): r for r in judge_eval.load_rows("all")}
    rows = [labeled[r["id"]] for r in test]
    verdicts = [v["verdict"] for v in judge_eval.judge_rows(make_judge(judge_spec), rows)]
    return ["safe" if v == "safe" else "unsafe" for v in verdicts], sum(v not in ("safe", "harmful") for v in verdicts)


def summary_table(record: dict) -> str:
    """Markdown for the README: per detector and language, before -> after, changes with paired CIs."""
    from mijabench import markdown

    def ci(m: dict) -> str:
        return "–" if m["delta"] is None else f"{m['delta']:+.2f} ({m['ci_low']:+.2f} to {m['ci_high']:+.2f})"

    rows = []
    for lang, s in record["judge_scores"].items():
        rows.append([f"`{record['judge']}` judge (default, no training)", lang,
                     *(fmt(s[m]["value"]) for m in ("accuracy", "precision", "recall", "f1", "fnr")), "–", "–"])
    for recipe, r in record["recipes"].items():
        for lang, found in r["untuned_vs_tuned"].items():
            m = found["metrics"]
            rows.append([f"{recipe}, untuned → fine-tuned", lang,
                         *(f"{fmt(m[k]['before'])} → {fmt(m[k]['after'])}" for k in ("accuracy", "precision", "recall",
                                                                                   "f1", "fnr")),
                         ci(m["f1"]), ci(m["fnr"])])
    return markdown.table(["detector", "language", "accuracy", "precision", "recall", "F1", "FNR",
                           "F1 change (95% paired CI)", "FNR change (95% paired CI)"], rows,
                          align=["", ""] + ["r"] * 7)


def human_bench(opts) -> None:
    from mijabench.judge.trust import validation_dir
    start = time.perf_counter()
    data = opts.work / "securebreak-human"
    tables = sbd.build(data, [], None, judge_validation=validation_dir(), seed=opts.seed)
    print("securebreak human config: " + ", ".join(f"{s}={t.num_rows}" for s, t in tables["human"].items())
          + f" (labels: two human passes + adjudication, see {data / 'README.md'})")
    test = tables["human"]["test"].select(["id", "language", "final_label"]).to_pylist()
    languages, truth = [r["language"] for r in test], [r["final_label"] for r in test]
    judged, unparsed = judge_predictions(opts.judge, test)
    judge_scores = guard_eval.by_language(languages, truth, judged, judged, seed=opts.seed)
    record = {"labels": "human", "judge": opts.judge, "judge_unparsed": unparsed, "n_test": len(test),
              "options": {k: str(v) for k, v in vars(opts).items()}, "recipes": {}}
    record["judge_scores"] = {k: {m: {"value": v["metrics"][m]["after"], "ci": v["metrics"][m]["after_ci"]}
                                  for m in guard_eval.METRICS} for k, v in judge_scores.items()}
    print(f"\njudge {opts.judge} on human test (n={len(test)}, unparsed {unparsed} counted unsafe):")
    print(guard_eval.comparison_table(judge_scores, opts.judge, None))
    for recipe in opts.recipes.split(","):
        folder = guard_folder(opts, recipe, data, "human")
        pred = json.loads((folder / guard_training.PREDICTIONS).read_text())
        if pred["truth"] != truth or [r["id"] for r in test] != pred["id"]:
            raise SystemExit(f"{folder}: scored on other rows than this build's test split; delete it and rerun")
        tuned = guard_eval.by_language(languages, truth, pred["before"], pred["after"], seed=opts.seed)
        versus = guard_eval.by_language(languages, truth, judged, pred["after"], seed=opts.seed)
        meta = json.loads((folder / GUARD_META).read_text())
        record["recipes"][recipe] = {"untuned_vs_tuned": tuned, "judge_vs_tuned": versus,
                                     "n_train": meta.get("n_train"), "hyperparameters": meta.get("hyperparameters")}
        print(f"\n[{recipe}] untuned -> fine-tuned on human test:")
        print(guard_eval.comparison_table(tuned, "untuned", "fine-tuned"))
        print(f"\n[{recipe}] judge {opts.judge} -> fine-tuned {recipe} (paired, same rows):")
        print(guard_eval.comparison_table(versus, opts.judge, recipe))
    seconds = time.perf_counter() - start
    for recipe, r in record["recipes"].items():
        f1 = r["untuned_vs_tuned"]["all"]["metrics"]["f1"]
        vs = r["judge_vs_tuned"]["all"]["metrics"]["f1"]
        print(f"[{recipe}] F1 {fmt(f1['before'])} -> {fmt(f1['after'])} (change {f1['delta']:+.3f}, 95% paired CI "
              f"{f1['ci_low']:+.3f} to {f1['ci_high']:+.3f}); vs judge {opts.judge} F1 {fmt(vs['before'])}: "
              f"{vs['delta']:+.3f} ({vs['ci_low']:+.3f} to {vs['ci_high']:+.3f})")
    print(f"total {seconds:.0f}s\n\n" + summary_table(record))
    record["seconds"] = round(seconds)
    atomic.write_text(opts.work / "bench_guard_human.json", json.dumps(record, indent=2, sort_keys=True) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels", default="human", choices=("human", "judge"),
                    help="human: the labeled judge validation set (default); judge: the issue-5 audit loop")
    ap.add_argument("--judge", default="intent", help="offline judge scored beside the guards (human labels)")
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
    if opts.labels == "human":
        opts.work = opts.work if opts.work != ROOT / "runs" / "bench_guard" else ROOT / "runs" / "bench_guard_human"
        return human_bench(opts)

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
