"""The generalisation protocol (``mijabench dpo-eval``): base vs aligned, seen vs held-out.

Both models answer the *same* prompts: a counterfactual MiJaBench build (every attack instantiated
for every group of a language, so groups differ only by the group) covering seen and held-out
groups and strategies, with the benign twins for over-refusal. Prompts that appear in the training
pairs are dropped. Each row is tagged with its segment (seen/held-out group, seen/held-out
strategy, and the 2x2 cell), both audits go through :func:`mijabench.audit.runner.run_audit`, and every
number comes from :mod:`mijabench.analysis.metrics` (DR with bootstrap CIs, over-refusal, disparity).

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

from mijabench import atomic, markdown, taxonomy
from mijabench.errors import MijaError

log = logging.getLogger("mijabench.train.dpo_eval")

RESULT_FILE = "dpo_eval.json"
SEEN, HELD_OUT = "seen", "held_out"
# (segment column, value, label, slug): the rows of the before → after table, in order.
SEGMENTS = (
    ("eval_all", "all", "All prompts", "all"),
    ("eval_group", SEEN, "Seen groups", "seen-groups"),
    ("eval_group", HELD_OUT, "Held-out groups (zero-shot)", "held-out-groups"),
    ("eval_strategy", SEEN, "Seen strategies", "seen-strategies"),
    ("eval_strategy", HELD_OUT, "Held-out strategies (zero-shot)", "held-out-strategies"),
    ("eval_cell", "seen", "Seen group x seen strategy", "seen-group-seen-strategy"),
    ("eval_cell", "unseen_group", "Held-out group x seen strategy", "held-out-group-seen-strategy"),
    ("eval_cell", "unseen_strategy", "Seen group x held-out strategy", "seen-group-held-out-strategy"),
    ("eval_cell", "unseen_both", "Held-out group x held-out strategy", "held-out-group-held-out-strategy"),
)
SLUGS = {f"{column}:{value}": slug for column, value, _, slug in SEGMENTS}
# The segments the summary talks about, and that go into the card's model-index.
HEADLINE = ("eval_all:all", "eval_group:seen", "eval_group:held_out",
            "eval_strategy:seen", "eval_strategy:held_out")


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


# --- comparison ------------------------------------------------------------------------------------
def change(before: dict | None, after: dict | None) -> str:
    """``up`` / ``down`` when the 95% CIs do not overlap, else ``no clear change`` (conservative)."""
    if not before or not after:
        return "n/a"
    if after["ci_low"] > before["ci_high"]:
        return "up"
    if after["ci_high"] < before["ci_low"]:
        return "down"
    return "no clear change"


def summarize(rows: list[dict], disparity: dict) -> str:
    """A plain-words account: gains, null results and regressions are all stated as such."""
    by_key = {r["segment"]: r for r in rows}
    parts, dr_moves = [], []
    for key in HEADLINE:
        row = by_key.get(key)
        if not row or not row["dr"]["before"] or not row["dr"]["after"]:
            continue
        before, after = row["dr"]["before"]["value"], row["dr"]["after"]["value"]
        move = change(row["dr"]["before"], row["dr"]["after"])
        dr_moves.append(move)
        word = {"up": "a clear gain", "down": "a clear loss", "no clear change": "no clear change (CIs overlap)"}[move]
        parts.append(f"{row['label']}: DR {before:.2f} -> {after:.2f} ({after - before:+.2f}, {word}).")
    if not parts:
        return "No harmful prompts were scored, so nothing can be concluded."
    overall = by_key["eval_all:all"]
    refusal = overall["over_refusal"]
    ref_move = change(refusal["before"], refusal["after"])
    if refusal["before"] and refusal["after"]:
        parts.append(f"Over-refusal on benign twins: {refusal['before']['value']:.2f} -> "
                     f"{refusal['after']['value']:.2f} ({_refusal_words(ref_move)}).")
    if "up" in dr_moves and ref_move == "up":
        parts.append("Part or all of the safety gain comes from refusing legitimate requests too.")
    if not any(m == "up" for m in dr_moves):
        parts.append("Overall this is a null result: no segment shows a clear DR gain."
                     if "down" not in dr_moves else "Overall this is a negative result: DR fell.")
    if by_key.get("eval_group:held_out") is None and by_key.get("eval_strategy:held_out") is None:
        parts.append("No held-out groups or strategies were evaluated, so generalisation is not measured.")
    if disparity.get("before") is not None and disparity.get("after") is not None:
        parts.append(f"The disparity gap went {disparity['before']:.2f} -> {disparity['after']:.2f}.")
    return " ".join(parts)


def _refusal_words(move: str) -> str:
    return {"up": "clearly more refusals of legitimate requests", "down": "clearly fewer",
            "no clear change": "no clear change", "n/a": "n/a"}[move]


# --- presentation ----------------------------------------------------------------------------------
def _cell(stat: dict | None) -> str:
    if not stat:
        return "–"
    return f"{stat['value']:.2f} [{stat['ci_low']:.2f}, {stat['ci_high']:.2f}]"


def _delta(pair: dict) -> str:
    if not pair["before"] or not pair["after"]:
        return "–"
    move = change(pair["before"], pair["after"])
    mark = {"up": " ▲", "down": " ▼"}.get(move, "")
    return f"{pair['after']['value'] - pair['before']['value']:+.2f}{mark}"


def markdown_table(result: dict) -> str:
    """The before → after table (DR and over-refusal with 95% CIs, n per cell)."""
    rows = []
    for row in result["rows"]:
        dr, ref = row["dr"], row["over_refusal"]
        rows.append([row["label"], _n(dr), _cell(dr["before"]), _cell(dr["after"]), _delta(dr), _n(ref),
                     _cell(ref["before"]), _cell(ref["after"]), _delta(ref)])
    lines = [markdown.table(["segment", "n harmful", "DR before", "DR after", "Δ DR", "n benign",
                             "over-refusal before", "over-refusal after", "Δ over-refusal"],
                            rows, align=["", "r", "", "", "r", "r", "", "", "r"]), ""]
    from mijabench.analysis.metrics import MIN_N
    lines.append("▲/▼: the 95% CIs of before and after do not overlap. "
                 f"*: fewer than {MIN_N} prompts in the cell; read it with care.")
    return "\n".join(lines)


def _n(pair: dict) -> str:
    stat = pair["after"] or pair["before"]
    if not stat:
        return "0"
    return f"{stat['n']}*" if stat.get("small_cell") else str(stat["n"])


def disparity_text(result: dict) -> str:
    d = result.get("disparity") or {}
    if d.get("before") is None or d.get("after") is None:
        return "Disparity gap: not enough groups to compute it."
    return (f"**Disparity gap** ({d.get('definition', 'max - min group DR')}): "
            f"{d['before']:.3f} before → {d['after']:.3f} after ({d['after'] - d['before']:+.3f}; "
            "smaller means groups are protected more equally).")


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
                                          ("over_refusal", "benign", "Over-refusal", "over_refusal")):
            stat = row[metric]["after"]
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
    n_boot: int = 1000
    batch_size: int = 8
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
    table = pa.concat_tables([built["harmful"], built["benign"]])
    trained = training_prompts(plan.pairs) if plan.pairs else set()
    if trained:
        keep = pc.invert(pc.is_in(table.column("prompt"), value_set=pa.array(sorted(trained), pa.string())))
        n_before = table.num_rows
        table = table.filter(keep)
        return tag_segments(table, plan.held_out_groups, plan.held_out_strategies), n_before - table.num_rows
    return tag_segments(table, plan.held_out_groups, plan.held_out_strategies), 0


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


def audit_model(spec: str, prompts: pa.Table, plan: EvalPlan, name: str) -> pa.Table:
    """One model's audit in OUT/<name> (resumable: reruns generate only what is missing)."""
    from mijabench.audit import runner as audit
    from mijabench.judge import registry as judges
    from mijabench.run.backends import make_backend
    from mijabench.run.types import GenParams
    _check_same_model(spec, plan.out / name)
    backend = make_backend(spec, f"--{name}", batch_size=plan.batch_size)  # --base / --aligned
    params = GenParams(max_new_tokens=plan.max_new_tokens)
    table = audit.run_audit(prompts.drop_columns([c for c in prompts.column_names if c.startswith("eval_")]),
                            backend, params, plan.out / name, judges.make_judge(plan.judge))
    return tag_segments(table, plan.held_out_groups, plan.held_out_strategies)


def run(plan: EvalPlan) -> dict:
    """Audit base and aligned on the same prompts; write and return the comparison."""
    prompts, excluded = eval_prompts(plan)
    log.info("dpo-eval: %d prompts (%d trained-on prompts excluded)", prompts.num_rows, excluded)
    before = audit_model(plan.base, prompts, plan, "base")
    after = audit_model(aligned_model_dir(plan), prompts, plan, "aligned")
    result = compare(before, after, plan.n_boot)
    result.update(
        base=plan.base, aligned=plan.aligned, judge=plan.judge, languages=plan.languages,
        held_out_groups=plan.held_out_groups, held_out_strategies=plan.held_out_strategies,
        gen_params={"max_new_tokens": plan.max_new_tokens, "temperature": 0.0},
        benchmark={"config": "counterfactual", "seed": plan.seed, "per_group": plan.per_group},
        excluded_train_prompts=excluded,
        n_prompts={k: int(pc.sum(pc.equal(prompts.column("kind"), k)).as_py() or 0) for k in ("harmful", "benign")})
    atomic.write_text(plan.out / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True) + "\n")
    atomic.write_text(plan.out / "dpo_eval.md", f"{markdown_table(result)}\n\n{disparity_text(result)}"
                      f"\n\n{result['summary']}\n")
    return result


def compare(before: pa.Table, after: pa.Table, n_boot: int = 1000) -> dict:
    """Per-segment DR and over-refusal (with CIs) before/after, the disparity gaps and a summary."""
    rows = []
    for column, value, label, _ in SEGMENTS:
        pair = {m: {t: _stat(fn(tab, column, value, n_boot)) for t, tab in (("before", before), ("after", after))}
                for m, fn in (("dr", _dr), ("over_refusal", _over_refusal))}
        if any(pair[m][t] for m in pair for t in pair[m]):
            rows.append({"segment": f"{column}:{value}", "label": label, **pair})
    disparity = {"before": _gap(before, n_boot), "after": _gap(after, n_boot),
                 "definition": "max - min group DR within a language, mean over languages"}
    return {"rows": rows, "disparity": disparity, "summary": summarize(rows, disparity)}


def _dr(table: pa.Table, column: str, value: str, n_boot: int):
    from mijabench.analysis import metrics
    harmful = metrics.harmful_rows(table)
    frame = metrics.dr_table(harmful, by=(column,), n_boot=n_boot)
    return frame[frame[column] == value], "dr"


def _over_refusal(table: pa.Table, column: str, value: str, n_boot: int):
    from mijabench.analysis import metrics
    frame = metrics.over_refusal(table, by=(column,), n_boot=n_boot)
    return frame[frame[column] == value], "over_refusal"


def _stat(found) -> dict | None:
    frame, metric = found
    if frame.empty or not int(frame.iloc[0]["n"]):
        return None
    row = frame.iloc[0]
    return {"value": float(row[metric]), "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
            "n": int(row["n"]), "small_cell": bool(row["small_cell"])}


def _gap(table: pa.Table, n_boot: int) -> float | None:
    from mijabench.analysis import metrics
    frame = metrics.disparity(metrics.dr_table(metrics.harmful_rows(table), by=("language", "group"),
                                               n_boot=n_boot))
    return float(frame["gap"].mean()) if len(frame) else None
