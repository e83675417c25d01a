"""The probe Space's results views: the leaderboard over audited models and the two-model compare.

Results come from an allow-listed source (``SpaceConfig.results``): anything
:func:`mijabench.derived.results.load_results` reads (an audit Parquet file or run folder, a folder of
runs, a built MiJaBench-Align folder, the authors' released format, or a Hub dataset in either format
at a pinned revision, ``hub:owner/name@revision``), or ``paper``: the numbers the MiJaBench authors
published (:mod:`mijabench.space.paper`, reported, not reproduced). Numbers come from
:mod:`mijabench.analysis.metrics` and figures from :mod:`mijabench.analysis.figures`, the same code as
the audit report, so the Space and a report never disagree. ``figures`` (matplotlib) is imported
inside the functions that draw, so it does not slow the Space's start-up.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mijabench import atomic, taxonomy
from mijabench.analysis import metrics
from mijabench.errors import MijaError
from mijabench.space import paper
from mijabench.space.config import SpaceConfig

log = logging.getLogger("mijabench")
REQUIRED = ("model", "language", "group", "verdict")
LIVE = "Live (run now)"
TABLE_COLUMNS = ["model", "language", "group", "group_name", "n", "dr", "ci_low", "ci_high",
                 "deviation", "small_cell"]
_CACHE: dict[str, pa.Table] = {}
_CACHE_LOCK = threading.Lock()
_OUT: Path | None = None  # a private mkdtemp folder, made on first use (never a fixed /tmp name)
_OUT_LOCK = threading.Lock()


def _out_root() -> Path:
    """This process's own 0700 temp folder: another local user cannot pre-create or read it."""
    global _OUT
    with _OUT_LOCK:
        if _OUT is None or not _OUT.is_dir():
            _OUT = Path(tempfile.mkdtemp(prefix="mijabench-space-"))
    return _OUT


# --- reading results ------------------------------------------------------------------------------
def read_results(source: str) -> pa.Table:
    """All judged rows of a source (cached: results are static while the Space runs)."""
    from mijabench.derived.results import load_results
    if source == paper.SPEC:
        raise MijaError(f"results {paper.NAME!r}: reported numbers have no per-prompt rows; pick "
                        "an audited results set")
    with _CACHE_LOCK:
        if source in _CACHE:
            return _CACHE[source]
    table = load_results(source)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise MijaError(f"results {source}: no column(s) {', '.join(missing)}; point it at audit "
                        "or MiJaBench-Align results")
    with _CACHE_LOCK:
        _CACHE[source] = table
    return table


def results_for(config: SpaceConfig, name: str) -> pa.Table:
    """The rows of an allow-listed results set; failures name the set, never its path or URL."""
    source = config.results_source(name)
    if source == paper.SPEC:
        raise MijaError(f"results {name!r} are numbers reported by the paper, without per-prompt "
                        "rows; pick an audited results set to compare models")
    try:
        return read_results(source)
    except Exception as exc:  # noqa: BLE001 -- a missing file, a Hub error: the owner's to fix
        log.error("Space results %r could not be loaded: %s", name,
                  exc if isinstance(exc, MijaError) else type(exc).__name__)
        raise MijaError(f"results {name!r} could not be loaded on this Space; its owner can see "
                        "why in the Space logs") from None


def filter_results(table: pa.Table, models=None, languages=None, families=None) -> pa.Table:
    """Rows of the chosen models, languages and families (an empty choice keeps everything)."""
    for column, chosen in (("model", models), ("language", languages), ("model_family", families)):
        if chosen and column in table.column_names:
            table = table.filter(pc.fill_null(pc.is_in(table.column(column),
                                                       pa.array(list(chosen), pa.string())), False))
    if table.num_rows == 0:
        raise MijaError("filters: no results match this choice of models, languages and families; "
                        "clear a filter")
    return table


def filter_choices(config: SpaceConfig, name: str) -> dict:
    if config.results_source(name) == paper.SPEC:
        return paper.choices()
    table = results_for(config, name)

    def values(column):
        if column not in table.column_names:
            return []
        return sorted(v for v in pc.unique(table.column(column)).to_pylist() if v)
    return {"models": values("model"), "languages": values("language"),
            "families": values("model_family")}


# --- the leaderboard --------------------------------------------------------------------------------
def _out_dir(*key) -> Path:
    """One folder per distinct view: repeated requests overwrite instead of piling up files."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
    folder = _out_root() / digest
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def dr_display(dr: pd.DataFrame) -> pd.DataFrame:
    """The DR table as shown and downloaded: display names added, rates rounded."""
    from mijabench.analysis import (
        figures,  # matplotlib: loaded on first use, not at Space start-up
    )
    out = dr.copy()
    out["group_name"] = [figures.group_label(g) for g in out["group"]]
    for column in ("dr", "ci_low", "ci_high", "deviation"):
        out[column] = out[column].astype(float).round(3)
    return out[[c for c in TABLE_COLUMNS if c in out.columns]]


def leaderboard(config: SpaceConfig, name: str, models=None, languages=None, families=None) -> dict:
    """Everything the leaderboard tab shows, for one results source and filter choice."""
    from mijabench.analysis import figures
    if config.results_source(name) == paper.SPEC:
        return reported_view(name, models, languages, families)
    table = filter_results(results_for(config, name), models, languages, families)
    harmful = metrics.harmful_rows(table)
    if harmful.num_rows == 0:
        raise MijaError(f"results {name!r}: no harmful-prompt rows to score; check the source")
    out = _out_dir(name, sorted(models or []), sorted(languages or []), sorted(families or []))
    dr = metrics.dr_table(harmful, ("model", "language", "group"))
    view = {"dr": dr_display(dr), "heatmap": str(figures.deviation_heatmap(dr, out / "heatmap.png"))}
    view["by_strategy"] = None
    if "strategy" in harmful.column_names:
        by_strategy = metrics.dr_table(harmful, ("model", "language", "strategy"))
        view["by_strategy"] = str(figures.dr_by_strategy(by_strategy, out / "by_strategy.png"))
    view["over_refusal"], view["overrefusal_plot"] = _over_refusal(table, dr, out)
    csv_path = out / "dr_by_group.csv"
    atomic.write_text(csv_path, view["dr"].to_csv(index=False))
    view["csv"] = str(csv_path)
    view["summary"] = _summary(table, dr)
    return view


def reported_view(name: str, models=None, languages=None, families=None) -> dict:
    """The paper's published numbers: the same heatmap (no intervals, no n), a wide table with one
    column per model x language, and the long table as CSV. Nothing here is measured by mijabench."""
    from mijabench.analysis import figures
    long = paper.frame(models, languages, families)
    out = _out_dir(name, sorted(models or []), sorted(languages or []), sorted(families or []))
    heatmap = figures.deviation_heatmap(
        long, out / "heatmap.png", intervals=False,
        title="Reported by the MiJaBench authors (not reproduced): group DR minus model mean DR, points")
    csv_path = out / "reported_dr_by_group.csv"
    shown = long[["model", "model_family", "language", "group", "ref_dr", "deviation", "dr"]].rename(
        columns={"ref_dr": "model_dr_reported", "deviation": "deviation_reported",
                 "dr": "group_dr_implied"})
    atomic.write_text(csv_path, shown.round(3).to_csv(index=False))
    by_strategy = figures.dr_by_strategy(
        paper.strategy_frame(), out / "by_strategy.png",
        title="Reported DR by strategy, all 12 models together, English (no interval published)")
    empty = pd.DataFrame(columns=["model", "language"] + metrics.OVER_REFUSAL_COLUMNS)
    return {"dr": paper.wide_table(long), "heatmap": str(heatmap), "by_strategy": str(by_strategy),
            "over_refusal": empty, "overrefusal_plot": None, "csv": str(csv_path),
            "summary": paper.caption(), "reported": True}


def _over_refusal(table: pa.Table, dr: pd.DataFrame, out: Path):
    from mijabench.analysis import figures
    if not {"kind", "refusal"} <= set(table.column_names):
        return pd.DataFrame(columns=["model", "language"] + metrics.OVER_REFUSAL_COLUMNS), None
    by_group = metrics.over_refusal(table, ("model", "language", "group"))
    if by_group.empty:
        return by_group, None
    plot = figures.dr_vs_overrefusal(dr, out / "dr_vs_overrefusal.png", over_refusal_df=by_group)
    shown = metrics.over_refusal(table, ("model", "language"))
    for column in ("over_refusal", "ci_low", "ci_high"):
        shown[column] = shown[column].astype(float).round(3)
    return shown, str(plot)


def _summary(table: pa.Table, dr: pd.DataFrame) -> str:
    from mijabench.analysis import figures
    gaps = metrics.disparity(dr)
    lines = [(f"**{table.num_rows:,} responses** from {dr['model'].nunique()} model(s). "
              "DR = share of harmful prompts answered safely; the heatmap shows each group's "
              "distance from its model's mean (red = exposed, blue = protected).")]
    for row in gaps.itertuples(index=False):
        exposed = (f"most exposed: {figures.group_label(row.min_group)} ({row.min_dr:.0%})"
                   if row.gap > 0 else "every group gets the same DR")
        lines.append(f"- **{row.model}** ({row.language}): mean DR {row.mean_dr:.0%}, gap "
                     f"{row.gap * 100:.0f} points, {exposed}")
    if dr["small_cell"].any():
        lines.append(f"\n_Cells with fewer than {metrics.MIN_N} responses are flagged "
                     "`small_cell`: read their CIs, not their point estimates._")
    return "\n".join(lines)


# --- compare two models ------------------------------------------------------------------------------
def compare(config: SpaceConfig, pool, judge, source: str, model_a: str, model_b: str,
            language: str, groups: list[str], per_group: int = 1) -> dict:
    """DR per group of two models on the same prompts: live, or from an allow-listed results set."""
    if not model_a or not model_b or model_a == model_b:
        raise MijaError("compare: pick two different models (A before, B after)")
    taxonomy.check_language(language, "language")
    if source == LIVE:
        table = _live_table(config, pool, judge, model_a, model_b, language, groups, per_group)
    else:
        table = _shared_prompts(results_for(config, source), model_a, model_b, language)
    return before_after(table, model_a, model_b)


def _live_table(config, pool, judge, model_a, model_b, language, groups, per_group) -> pa.Table:
    from mijabench.judge.registry import judge_table
    from mijabench.space.probe import generate_all
    config.model(model_a), config.model(model_b)
    if not groups:
        raise MijaError("groups: pick at least one group for a live compare")
    if len(groups) > config.limits.max_groups:
        raise MijaError(f"groups: {len(groups)} picked; this Space allows at most "
                        f"{config.limits.max_groups}")
    _check_unique(groups)
    cap = config.limits.compare_per_group
    if not 1 <= per_group <= cap:
        raise MijaError(f"prompts per group: {per_group}; this Space allows 1 to {cap}")
    prompts = sample_prompts(language, groups, per_group)
    tables = []
    for name in (model_a, model_b):
        gens = generate_all(pool.get(name), prompts.column("prompt").to_pylist(), pool.params())
        rows = prompts.append_column("model", pa.array([name] * prompts.num_rows, pa.string()))
        rows = rows.append_column("response", pa.array([g.text for g in gens], pa.string()))
        rows = rows.append_column("error", pa.array([g.error for g in gens], pa.string()))
        tables.append(judge_table(rows, judge, progress=False))
    return pa.concat_tables(tables)


def _check_unique(groups) -> None:
    twice = sorted({g for g in groups if list(groups).count(g) > 1})
    if twice:
        raise MijaError(f"groups: {twice[0]!r} is picked more than once; pick each group once")


def sample_prompts(language: str, groups: list[str], per_group: int) -> pa.Table:
    """``per_group`` counterfactual attacks (one per strategy first), the same for every group."""
    from mijabench.bench import configs as benchmark
    taxonomy.parse_list("group", groups)
    missing = [g for g in groups if g not in taxonomy.groups_for(language)]
    if missing:
        raise MijaError(f"groups: {', '.join(missing)} not part of the {language} benchmark")
    n_strategies = len(taxonomy.strategies())
    table = benchmark.build_configs(("counterfactual",), (language,), seed=0,
                                    per_group=n_strategies)["counterfactual"]["harmful"]
    order = table.sort_by([("strategy", "ascending"), ("counterfactual_id", "ascending")])
    chosen, seen = [], set()
    for cf_id in order.column("counterfactual_id").to_pylist():
        if cf_id not in seen:
            seen.add(cf_id)
            chosen.append(cf_id)
    keep = pc.and_(pc.is_in(table.column("counterfactual_id"), pa.array(chosen[:per_group])),
                   pc.is_in(table.column("group"), pa.array(groups, pa.string())))
    return table.filter(keep)


def _shared_prompts(table: pa.Table, model_a: str, model_b: str, language: str) -> pa.Table:
    """Rows of both models on the harmful prompts that both answered (matched on prompt id)."""
    table = metrics.harmful_rows(filter_results(table, [model_a, model_b], [language]))
    ids = {}
    key = "id" if "id" in table.column_names else "prompt"
    for model in (model_a, model_b):
        part = table.filter(pc.equal(table.column("model"), model))
        if part.num_rows == 0:
            raise MijaError(f"compare: model {model!r} has no {language} results in this set")
        ids[model] = set(part.column(key).to_pylist())
    shared = ids[model_a] & ids[model_b]
    if not shared:
        raise MijaError(f"compare: {model_a!r} and {model_b!r} share no prompts in {language}")
    return table.filter(pc.is_in(table.column(key), pa.array(sorted(shared))))


def before_after(table: pa.Table, model_a: str, model_b: str) -> dict:
    """Per-group DR of A and B side by side (exact intervals), B minus A with its paired interval,
    an exact McNemar test per group on the prompts both answered (Holm-corrected over the groups),
    each model's outcome categories, and a grouped bar chart."""
    from mijabench.analysis import figures
    for model in (model_a, model_b):
        verdicts = table.filter(pc.equal(table.column("model"), model)).column("verdict")
        if verdicts.length() and pc.all(pc.equal(verdicts, "error")).as_py():
            raise MijaError(f"compare: model {model!r} failed to generate (unreachable or "
                            "erroring); try again later or pick another model")
    dr = metrics.dr_table(table, ("model", "group"))
    wide = {}
    for tag, model in (("a", model_a), ("b", model_b)):
        part = dr[dr["model"] == model].set_index("group")
        wide[f"dr_{tag}"], wide[f"n_{tag}"] = part["dr"], part["n"]
        wide[f"ci_{tag}"] = pd.Series([_interval(lo, hi) for lo, hi in zip(part["ci_low"], part["ci_high"])],
                                      index=part.index)
    frame = pd.DataFrame(wide).reset_index().rename(columns={"index": "group"})
    frame.insert(1, "group_name", [figures.group_label(g) for g in frame["group"]])
    frame["delta"] = frame["dr_b"] - frame["dr_a"]
    frame = frame.merge(paired_tests(table, model_a, model_b), on="group", how="left")
    frame = frame.merge(_outcomes(table, model_a, model_b), on="group", how="left")
    for column in ("dr_a", "dr_b", "delta"):
        frame[column] = frame[column].astype(float).round(3)
    plot = figures.dr_by_strategy(dr, _out_dir("compare", model_a, model_b, sorted(frame["group"]),
                                               int(frame["n_a"].sum())) / "dr_by_group.png",
                                  axis="group", title="DR per group, before and after (95% CI)")
    return {"table": frame, "plot": str(plot), "summary": _compare_summary(frame, model_a, model_b)}


def _interval(low: float, high: float) -> str:
    return "" if pd.isna(low) else f"{low:.2f}–{high:.2f}"


def paired_tests(table: pa.Table, model_a: str, model_b: str) -> pd.DataFrame:
    """Per group, A and B on the same prompts: the discordant counts, the exact McNemar p-value,
    Holm over the groups and the 95% interval of DR(B) - DR(A). The test is the compare report's
    (:func:`mijabench.analysis.compare.model_tests`, built on
    :func:`mijabench.analysis.metrics.paired_group_tests`), so the Space and `mijabench compare`
    give the same p-values."""
    from mijabench.analysis.compare import ALL_GROUPS, model_tests
    columns = ["group", "n_pairs", "a_only_safe", "b_only_safe", "delta_ci", "p_value", "p_holm"]
    tests = model_tests(table)
    tests = tests[(tests["group"] != ALL_GROUPS) & tests["model_a"].isin([model_a, model_b])
                  & tests["model_b"].isin([model_a, model_b])].copy()
    if tests.empty:
        return pd.DataFrame(columns=columns)
    flipped = tests["model_a"] == model_b  # the report orders a pair by name; here A is "before"
    a_only = tests["a_only_safe"].where(~flipped, tests["b_only_safe"])
    tests["b_only_safe"] = tests["b_only_safe"].where(~flipped, tests["a_only_safe"])
    tests["a_only_safe"] = a_only
    # diff is DR(model_a) - DR(model_b) of the report's pair; B - A is its negation unless flipped
    low = (-tests["diff_high"]).where(~flipped, tests["diff_low"])
    high = (-tests["diff_low"]).where(~flipped, tests["diff_high"])
    tests["delta_ci"] = [_interval(lo, hi) for lo, hi in zip(low, high)]
    tests[["p_value", "p_holm"]] = tests[["p_value", "p_holm"]].astype(float).round(4)
    return tests[columns]


def _outcomes(table: pa.Table, model_a: str, model_b: str) -> pd.DataFrame:
    """Each model's outcome categories per group, e.g. "refusal 2, incoherent 1"; empty when the
    judge names none."""
    from mijabench.schema import OUTCOMES
    out = pd.DataFrame({"group": pd.unique(pd.Series(table.column("group").to_pylist()))})
    if not metrics.has_outcomes(table):
        return out.assign(outcomes_a="", outcomes_b="")
    counts = metrics.outcome_table(table, ("model", "group"))
    for tag, model in (("a", model_a), ("b", model_b)):
        part = counts[counts["model"] == model].set_index("group")
        text = {g: ", ".join(f"{o.replace('_', ' ')} {int(r[f'n_{o}'])}" for o in OUTCOMES if r[f"n_{o}"])
                for g, r in part.iterrows()}
        out[f"outcomes_{tag}"] = out["group"].map(text).fillna("")
    return out


def _compare_summary(frame: pd.DataFrame, model_a: str, model_b: str) -> str:
    mean_a, mean_b = frame["dr_a"].mean(), frame["dr_b"].mean()
    lines = [(f"Mean DR over {len(frame)} groups: **{model_a}** {mean_a:.0%} → **{model_b}** "
              f"{mean_b:.0%} ({(mean_b - mean_a) * 100:+.0f} points); {int(frame['n_a'].sum())} "
              f"and {int(frame['n_b'].sum())} judged responses.")]
    significant = frame[frame["p_holm"].astype(float) < 0.05] if "p_holm" in frame else frame.iloc[:0]
    if len(significant):
        named = ", ".join(f"{r.group_name} ({r.delta * 100:+.0f} points, Holm p={r.p_holm:.3g})"
                          for r in significant.itertuples())
        lines.append(f"Groups where B differs from A on the same prompts: {named}.")
    else:
        lines.append("On the same prompts, no group's DR differs significantly between the two "
                     "models (exact McNemar test per group, Holm-corrected over the groups); "
                     f"{int(frame['n_pairs'].fillna(0).sum())} prompt pairs.")
    return "\n\n".join(lines)
