"""The generalisation protocol (``mijabench dpo-eval``): base vs aligned, seen vs held-out.

Both models answer the *same* prompts: a counterfactual MiJaBench build (every attack instantiated
for every group of a language, so groups differ only by the group) covering seen and held-out
groups and strategies, with the benign twins for over-refusal. Prompts that appear in the training
pairs are dropped. Each row is tagged with its segment (seen/held-out group, seen/held-out
strategy, and the 2x2 cell), both audits go through :func:`mijabench.audit.runner.run_audit`, and every
number comes from :mod:`mijabench.train.dpo_stats` over :mod:`mijabench.analysis.metrics` (exact
Clopper-Pearson intervals, exact McNemar tests on the same prompts, disparity gap and std).
``align-eval`` is another name for the same command (the issue tracker's word).

The result (``dpo_eval.json``) feeds the model card: a before → after table per segment, the
change in the disparity gap, and a plain-words summary that calls a null or negative result one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mijabench import atomic, taxonomy
from mijabench.errors import MijaError
from mijabench.train import dpo_stats

log = logging.getLogger("mijabench.train.dpo_eval")

RESULT_FILE = "dpo_eval.json"
SEEN, HELD_OUT = "seen", "held_out"
# The segment table, its statistics and its words live in dpo_stats (re-exported here).
SEGMENTS, SLUGS, HEADLINE = dpo_stats.SEGMENTS, dpo_stats.SLUGS, dpo_stats.HEADLINE
compare, summarize = dpo_stats.compare, dpo_stats.summarize
markdown_table, disparity_text = dpo_stats.markdown_table, dpo_stats.disparity_text


# --- segments --------------------------------------------------------------------------------------
def tag_segments(table: pa.Table, held_out_groups, held_out_strategies) -> pa.Table:
    """Add eval_all / eval_group / eval_strategy / eval_cell columns (seen vs held-out)."""
    g = pc.is_in(table.column("group"), value_set=pa.array(list(held_out_groups), pa.string()))
    s = pc.is_in(table.column("strategy"), value_set=pa.array(list(held_out_strategies), pa.string()))
    g, s = g.to_pylist(), s.to_pylist()
    cell = {(False, False): "seen", (True, False): "unseen_group", (False, True): "unseen_strategy",
            (True, True): "unseen_both"}
    for name, values in (("eval_all", ["all"] * table.num_rows),
                         ("eval_group", [HELD_OUT if x else SEEN for x in g]),
                         ("eval_strategy", [HELD_OUT if x else SEEN for x in s]),
                         ("eval_cell", [cell[(a, b)] for a, b in zip(g, s)])):
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, pa.array(values, pa.string()))
    return table


# --- model card -----------------------------------------------------------------------------------
def eval_results(result: dict) -> list:
    """``model-index`` entries (aligned model's DR and over-refusal per headline segment)."""
    from huggingface_hub import EvalResult
    out = []
    by_key = {r["segment"]: r for r in result["rows"]}
    for key in HEADLINE:
        row = by_key.get(key)
        if not row:
            continue
        for metric, split, name, kind in (("dr", "harmful", "Defense Rate", "defense_rate"),
                                          ("refusal", "harmful", "Refusal rate", "refusal_rate"),
                                          ("over_refusal", "benign", "Over-refusal", "over_refusal")):
            stat = row.get(metric, {}).get("after")
            if stat:
                out.append(EvalResult(
                    task_type="text-generation", task_name="Jailbreak safety across groups",
                    dataset_type=result.get("dataset_id", "mijabench/mijabench"),
                    dataset_name=f"MiJaBench counterfactual: {row['label']}",
                    # the segment goes into the split: the Hub groups results by (task, dataset,
                    # config, split), so one split per segment keeps the segments apart
                    dataset_config="counterfactual", dataset_split=f"{split}[{SLUGS[key]}]",
                    metric_type=kind, metric_name=name, metric_value=round(stat["value"], 4),
                    verified=False))
    return out


# --- the plan --------------------------------------------------------------------------------------
@dataclass
class EvalPlan:
    """What to compare, on which prompts, judged how. Build it with :meth:`resolve`."""

    base: str
    aligned: str
    out: Path
    held_out_groups: list[str]
    held_out_strategies: list[str]
    languages: list[str]
    pairs: Path | None = None
    per_group: int = 8
    seed: int = 1
    judge: str = "intent"
    max_new_tokens: int = 128
    batch_size: int = 8
    per_cell: int | None = None  # harmful prompts kept per seen/held-out cell (None: all)
    benign_share: float = 1.0  # share of the kept attacks whose benign twins are audited too
    dtype: str | None = None  # generation dtype (e.g. bfloat16 on a CPU with avx512_bf16)
    threads: int | None = None
    record: dict = field(default_factory=dict)

    @classmethod
    def resolve(cls, aligned, base=None, out=Path("runs/dpo-eval"), held_out_groups=None,
                held_out_strategies=None, pairs=None, languages=None, **kw) -> "EvalPlan":
        """Fill what the user left out from the aligned model's training record."""
        from mijabench.specs import KINDS
        from mijabench.train.checkpoint import read_record, resolve_model_path
        aligned = resolve_model_path(str(aligned), "--aligned", KINDS)  # fail before any work
        aligned_path = Path(aligned).expanduser()
        record = read_record(aligned_path) if aligned_path.is_dir() else {}
        base = base or record.get("base_model")
        if not base:
            raise MijaError(f"{aligned}: no training record names the base model; pass --base")
        pick = lambda given, key: (given if given is not None else record.get(key) or [])  # noqa: E731
        groups = taxonomy.parse_list("group", pick(held_out_groups, "held_out_groups"))
        strategies = taxonomy.parse_list("strategy", pick(held_out_strategies, "held_out_strategies"))
        languages = taxonomy.parse_list("language", languages or record.get("languages") or ["en", "pt"])
        if pairs is None and record.get("dataset") and Path(record["dataset"]).is_dir():
            pairs = Path(record["dataset"])
        return cls(base=resolve_model_path(str(base), "--base", KINDS), aligned=aligned, out=Path(out),
                   held_out_groups=groups, held_out_strategies=strategies, languages=languages,
                   pairs=Path(pairs) if pairs else None, record=record, **kw)


def eval_prompts(plan: EvalPlan) -> tuple[pa.Table, int]:
    """Harmful + benign counterfactual prompts minus those trained on; ``(table, n_excluded)``."""
    from mijabench.bench import configs as benchmark
    built = benchmark.build_configs(("counterfactual",), plan.languages, seed=plan.seed,
                                    per_group=plan.per_group)["counterfactual"]
    table = tag_segments(pa.concat_tables([built["harmful"], built["benign"]]),
                         plan.held_out_groups, plan.held_out_strategies)
    if plan.per_cell:  # sampled before the exclusion, so every variation keeps the base's sample
        from mijabench.train.dpo_sample import sample_cells
        table = sample_cells(table, plan.per_cell, plan.benign_share, plan.seed)
    trained = training_prompts(plan.pairs) if plan.pairs else set()
    if not trained:
        return table, 0
    keep = pc.invert(pc.is_in(table.column("prompt"), value_set=pa.array(sorted(trained), pa.string())))
    n_before = table.num_rows
    table = table.filter(keep)
    return table, n_before - table.num_rows


def training_prompts(pairs: Path) -> set[str]:
    """The user-turn texts of the pairs' train split (compared by text: ids differ across builds)."""
    from mijabench.train.dpo_data import load_preferences
    data = load_preferences(str(pairs))
    if "train" not in data or "prompt" not in data["train"].column_names:
        return set()
    texts = set()
    for prompt in data["train"]["prompt"]:
        messages = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
        texts.update(m["content"] for m in messages if m.get("role") == "user")
    return texts


def aligned_model_dir(plan: EvalPlan) -> str:
    """A merged folder to generate with: an adapter is merged into OUT/aligned-merged (again
    only when the adapter changed)."""
    from mijabench.train.checkpoint import merge_adapter
    path = Path(plan.aligned).expanduser()
    if path.is_dir() and not (path / "config.json").is_file() and (path / "adapter_config.json").is_file():
        target, adapter = plan.out / "aligned-merged", model_fingerprint(str(path))
        marker = target / "adapter_fingerprint.txt"
        if not marker.is_file() or marker.read_text("utf-8").strip() != adapter:
            merge_adapter(path, target)
            atomic.write_text(marker, adapter + "\n")
        return str(target)
    return plan.aligned


# --- the run ---------------------------------------------------------------------------------------
def model_fingerprint(spec: str) -> str:
    """Identifies the weights behind ``spec``: the audit's resume key only knows the folder name."""
    from mijabench.schema import stable_id
    path = Path(spec).expanduser()
    if not path.is_dir():
        return stable_id(spec)
    files = sorted(p for p in path.iterdir() if p.suffix == ".safetensors" or p.name == "config.json")
    return stable_id(*[(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files])


def _check_same_model(spec: str, folder: Path) -> None:
    """Refuse to resume an audit made with other weights (e.g. a retrained merged/ folder)."""
    marker, fingerprint = folder / "model_fingerprint.txt", model_fingerprint(spec)
    if marker.is_file() and marker.read_text("utf-8").strip() != fingerprint:
        raise MijaError(f"{folder}: holds responses of other weights than {spec} (retrained?); pass a "
                        "new --out or delete that folder, so old responses are not reused")
    atomic.write_text(marker, fingerprint + "\n")


def audit_model(spec: str, prompts: pa.Table, plan: EvalPlan, name: str, folder: Path | None = None) -> pa.Table:
    """One model's audit in ``folder`` (default OUT/<name>; resumable: reruns generate only what
    is missing)."""
    from mijabench.audit import runner as audit
    from mijabench.judge import registry as judges
    from mijabench.run.backends import make_backend
    from mijabench.run.types import GenParams
    folder = Path(folder) if folder else plan.out / name
    _check_same_model(spec, folder)
    backend = make_backend(spec, f"--{name}", batch_size=plan.batch_size, dtype=plan.dtype,
                           threads=plan.threads)  # where: --base / --aligned
    params = GenParams(max_new_tokens=plan.max_new_tokens)
    table = audit.run_audit(prompts.drop_columns([c for c in prompts.column_names if c.startswith("eval_")]),
                            backend, params, folder, judges.make_judge(plan.judge), report=False)
    return tag_segments(table, plan.held_out_groups, plan.held_out_strategies)


def run(plan: EvalPlan, base_dir: Path | None = None) -> dict:
    """Audit base and aligned on the same prompts; write and return the comparison.
    ``base_dir``: where the base audit lives (default OUT/base), so recipe variations share it."""
    prompts, excluded = eval_prompts(plan)
    log.info("dpo-eval: %d prompts (%d trained-on prompts excluded)", prompts.num_rows, excluded)
    before = audit_model(plan.base, prompts, plan, "base", base_dir)
    after = audit_model(aligned_model_dir(plan), prompts, plan, "aligned")
    result = compare(before, after)
    result.update(
        base=plan.base, aligned=plan.aligned, judge=plan.judge, languages=plan.languages,
        held_out_groups=plan.held_out_groups, held_out_strategies=plan.held_out_strategies,
        gen_params={"max_new_tokens": plan.max_new_tokens, "temperature": 0.0},
        benchmark={"config": "counterfactual", "seed": plan.seed, "per_group": plan.per_group,
                   "per_cell": plan.per_cell, "benign_share": plan.benign_share},
        excluded_train_prompts=excluded,
        n_prompts={k: int(pc.sum(pc.equal(prompts.column("kind"), k)).as_py() or 0) for k in ("harmful", "benign")})
    atomic.write_text(plan.out / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
    atomic.write_text(plan.out / "dpo_eval.md", f"{markdown_table(result)}\n\n{disparity_text(result)}"
                      f"\n\n{result['summary']}\n")
    return result
