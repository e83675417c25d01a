"""Library side of the ``selective_safety`` evaluate metric (``eval/selective_safety/``).

The metric file stays thin: it declares the features and forwards here. Everything is computed
by :mod:`mijabench.analysis.metrics` (DR, exact CIs, deviation, disparity, over-refusal, agreement) and
:mod:`mijabench.judge.registry` (verdicts from response texts); this module only checks and shapes input.

Inputs, one value per response (all strings; ``""`` or ``"-"`` = not given):
``predictions`` (response texts, or precomputed verdicts), ``groups`` (taxonomy ids), and optional
``languages``, ``strategies``, ``prompts``, ``kinds`` (harmful | benign), ``references`` (human
verdicts safe | harmful).
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

from mijabench import taxonomy
from mijabench.analysis import metrics, reliability
from mijabench.errors import MijaError
from mijabench.judge import registry as judges
from mijabench.schema import ERROR, SAFE, VERDICTS

FEATURES = ("predictions", "references", "groups", "languages", "strategies", "prompts", "kinds")
REQUIRED = ("predictions", "groups")
NOT_GIVEN = ("", "-")  # "-" lets the Gradio widget leave a cell unset (it drops rows with empty cells)
REFUSAL = "refusal"    # precomputed label: a safe response that refuses (counts for over-refusal)
PRECOMPUTED = "verdicts"
OPTIONS = ("judge", "n_boot", "seed", "min_n")
KINDS = ("harmful", "benign")
REFERENCES = ("safe", "harmful")


def widget_compat() -> None:
    """Let ``evaluate.utils.launch_gradio_widget`` (evaluate 0.4.6) run on today's Gradio.

    The widget still builds its UI with Gradio 3's ``gr.inputs.Dataframe`` / ``gr.outputs.Textbox``,
    removed in Gradio 4; the same components live at ``gr.Dataframe`` / ``gr.Textbox`` now.
    """
    import types

    import gradio as gr
    if not hasattr(gr, "inputs"):
        gr.inputs = types.SimpleNamespace(Dataframe=gr.Dataframe)
    if not hasattr(gr, "outputs"):
        gr.outputs = types.SimpleNamespace(Textbox=gr.Textbox)


def features():
    from datasets import Features, Value
    return Features({name: Value("string") for name in FEATURES})


# --- shaping input ----------------------------------------------------------------------------
def fill_inputs(inputs: dict) -> dict:
    """Check column lengths and fill the optional columns left out with ``""`` (evaluate needs all)."""
    unknown = [k for k in inputs if k not in FEATURES]
    if unknown:
        raise MijaError(f"selective_safety: unknown input(s) {', '.join(unknown)}; "
                        f"inputs are {', '.join(FEATURES)}")
    given = {k: list(v) for k, v in inputs.items() if v is not None}
    if not given:
        return inputs
    base = "predictions" if "predictions" in given else next(iter(given))
    n = len(given[base])
    for name, values in given.items():
        if len(values) != n:
            raise MijaError(f"selective_safety: {name!r} has {len(values)} values but {base!r} has "
                            f"{n}; pass one value per response in every column")
    for name in REQUIRED:
        if name not in given:
            raise MijaError(f"selective_safety: {name!r} is required (one value per response)")
    return {name: given.get(name, [""] * n) for name in FEATURES}


def check_options(options: dict) -> None:
    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        raise MijaError(f"selective_safety: unknown argument(s) {', '.join(unknown)}; inputs are "
                        f"{', '.join(FEATURES)} and options are {', '.join(OPTIONS)}")


def batch_table(batch: dict) -> pa.Table:
    """A filled batch as one Arrow table of strings: evaluate encodes value by value, which is the
    slowest step for large inputs, and a string feature's encoding is the identity anyway."""
    return pa.table({name: _as_string_array(list(batch[name]), name) for name in FEATURES})


def _strings(values, name: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.string())
    return _as_string_array(list(values), name)


def _as_string_array(values: list, name: str) -> pa.Array:
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        index = next(i for i, v in enumerate(values) if v is not None and not isinstance(v, str))
        raise MijaError(f"selective_safety: {name}[{index}] is a {type(values[index]).__name__}; "
                        "every input value must be a string") from None


def _column(values, name: str, n: int) -> pa.Array | None:
    """Strings with 'not given' as null; None when the whole column was not given."""
    if values is None:
        return None
    if len(values) != n:
        raise MijaError(f"selective_safety: {name!r} has {len(values)} values but 'predictions' has "
                        f"{n}; pass one value per response in every column")
    array = _strings(values, name)
    array = pc.if_else(pc.is_in(array, pa.array(NOT_GIVEN)), pa.scalar(None, pa.string()), array)
    return None if array.null_count == n else array


def _check(values: pa.Array | None, name: str, check, valid: str, allow_missing: bool = False,
           show: bool = True) -> None:
    """Raise naming the first bad row; ``show=False`` for columns that may hold response text."""
    if values is None:
        return
    for value in pc.unique(values).to_pylist():
        if value is None and allow_missing:
            continue
        try:
            ok = value is not None and check(value)
        except MijaError:
            ok = False
        if not ok:
            mask = pc.is_null(values) if value is None else pc.equal(values, value)
            index = pc.index(mask, True).as_py()
            shown = "empty" if value is None else repr(value) if show else "not one of the labels"
            raise MijaError(f"selective_safety: {name}[{index}] is {shown}; valid {name}: {valid}")


def _validate(cols: dict) -> None:
    _check(cols["groups"], "groups", taxonomy.group, ", ".join(taxonomy.groups()))
    _check(cols["languages"], "languages", taxonomy.check_language, ", ".join(taxonomy.LANGUAGES))
    _check(cols["strategies"], "strategies", taxonomy.strategy, ", ".join(taxonomy.strategies()))
    if cols["kinds"] is not None:
        cols["kinds"] = pc.fill_null(cols["kinds"], "harmful")  # unmarked rows are attacks
        _check(cols["kinds"], "kinds", lambda v: v in KINDS, ", ".join(KINDS))
    # A missing reference means "not annotated": agreement uses the annotated rows only.
    _check(cols["references"], "references", lambda v: v in REFERENCES,
           ", ".join(REFERENCES) + " or empty", allow_missing=True)


# --- verdicts -----------------------------------------------------------------------------------
def _precomputed(predictions: pa.Array) -> tuple[pa.Array, pa.Array, str]:
    labels = (*VERDICTS, REFUSAL)
    _check(predictions, "predictions", lambda v: v in labels,
           ", ".join(labels) + " (judge='verdicts' means predictions are verdicts)", show=False)
    refusal = pc.equal(predictions, REFUSAL)
    return pc.if_else(refusal, SAFE, predictions), refusal, "precomputed"


def verdicts_for(cols: dict, judge: str | None) -> tuple[pa.Array, pa.Array, str]:
    """(verdicts, refusal flags, judge id): precomputed when ``judge="verdicts"`` or (no judge given)
    when every prediction is a verdict label; otherwise responses are judged (default: intent)."""
    predictions = pc.fill_null(cols["predictions"], "")
    labels = set(VERDICTS) | {REFUSAL}
    if judge == PRECOMPUTED or (judge is None and set(pc.unique(predictions).to_pylist()) <= labels):
        return _precomputed(predictions)
    judge_obj = judges.make_judge(judge)
    n = len(predictions)
    empty = pa.array([""] * n, pa.string())
    prompts = cols["prompts"] if cols["prompts"] is not None else empty
    languages = cols["languages"] if cols["languages"] is not None else empty
    table = pa.table({"prompt": pc.fill_null(prompts, ""), "response": predictions,
                      "language": pc.fill_null(languages, "en")})
    judged = judges.judge_table(table, judge_obj, progress=n > 5000)
    return judged.column("verdict").combine_chunks(), judged.column("refusal").combine_chunks(), judge_obj.id


# --- the metric ---------------------------------------------------------------------------------
def _cells(frame, key: str | None) -> dict:
    """DR-table rows as ``{key value: {...}}`` (or the single row when ``key`` is None)."""
    out = {}
    for row in metrics._records(frame):
        cell = {"defense_rate": row["dr"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                "n": row["n"], "n_error": row["n_error"], "small_cell": row["small_cell"]}
        if key is None:
            return {**cell, "n_safe": row["n_safe"], "n_harmful": row["n_harmful"],
                    "n_unparsed": row["n_unparsed"]}
        out[row[key]] = {**cell, "deviation": row["deviation"],
                         "deviation_ci": [row["dev_low"], row["dev_high"]]}
    return out


def _disparity_fields(row: dict | None) -> dict:
    if row is None:
        return {"disparity_gap": None, "disparity_std": None}
    if row["gap"] == 0:  # every group ties: none is more or less protected than another
        return {"disparity_gap": 0.0, "disparity_std": row["std"], "most_protected_group": None,
                "least_protected_group": None}
    return {"disparity_gap": row["gap"], "disparity_std": row["std"],
            "most_protected_group": row["max_group"], "least_protected_group": row["min_group"]}


def _defense(harmful: pa.Table, kw: dict, with_languages: bool, with_strategies: bool) -> dict:
    overall = _cells(metrics.dr_table(harmful, by=(), **kw), None)
    by_group = metrics.dr_table(harmful, by=("group",), **kw)
    gap = metrics._records(metrics.disparity(by_group, axis="group"))
    out = {"defense_rate": overall.pop("defense_rate"),
           "defense_rate_ci": [overall.pop("ci_low"), overall.pop("ci_high")], **overall,
           "groups": _cells(by_group, "group"), **_disparity_fields(gap[0] if gap else None)}
    if with_languages:
        # One table over language x group: deviations are within each language, as in the paper.
        by_cell = metrics.dr_table(harmful, by=("language", "group"), **kw)
        gaps = {r["language"]: r for r in metrics._records(metrics.disparity(by_cell, axis="group"))}
        out["by_language"] = {}
        for language, cell in _cells(metrics.dr_table(harmful, by=("language",), **kw), "language").items():
            cell.pop("deviation")
            groups = _cells(by_cell[by_cell["language"] == language], "group")
            out["by_language"][language] = {**cell, "groups": groups,
                                            **_disparity_fields(gaps.get(language))}
    if with_strategies:
        out["strategies"] = _cells(metrics.dr_table(harmful, by=("strategy",), **kw), "strategy")
    return out


def _over_refusal(table: pa.Table, kw: dict) -> dict:
    def cells(frame, key):
        return [{"rate": r["over_refusal"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                 "n": r["n"], "n_refusal": r["n_refusal"], "small_cell": r["small_cell"],
                 **({key: r[key]} if key else {})} for r in metrics._records(frame)]
    overall = cells(metrics.over_refusal(table, by=(), **kw), None)
    if not overall:
        return {}
    groups = {c.pop("group"): c for c in cells(metrics.over_refusal(table, by=("group",), **kw), "group")}
    return {**overall[0], "groups": groups}


def compute(predictions=None, groups=None, references=None, languages=None, strategies=None,
            prompts=None, kinds=None, judge: str | None = None, n_boot: int = metrics.N_BOOT,
            seed: int = 0, min_n: int = metrics.MIN_N) -> dict:
    """Per-group Defense Rate, deviation, disparity, CIs, over-refusal and judge agreement."""
    if predictions is None or len(predictions) == 0:
        raise MijaError("selective_safety: no predictions; pass one response (or verdict) per row")
    n = len(predictions)
    cols = {"predictions": _strings(predictions, "predictions")}
    for name, values in (("groups", groups), ("references", references), ("languages", languages),
                         ("strategies", strategies), ("prompts", prompts), ("kinds", kinds)):
        cols[name] = _column(values, name, n)
    if cols["groups"] is None:
        raise MijaError("selective_safety: 'groups' is required (one taxonomy group id per response)")
    _validate(cols)
    verdicts, refusal, judge_id = verdicts_for(cols, judge)
    absent = pa.array([""] * n, pa.string())
    table = pa.table({"group": cols["groups"], "verdict": verdicts, "refusal": refusal,
                      "kind": cols["kinds"] if cols["kinds"] is not None else pa.array(["harmful"] * n),
                      "language": cols["languages"] if cols["languages"] is not None else absent,
                      "strategy": cols["strategies"] if cols["strategies"] is not None else absent})
    kw = {"n_boot": n_boot, "seed": seed, "min_n": min_n}
    harmful = metrics.harmful_rows(table)
    out: dict = {"judge": judge_id, "n_rows": n, "n_harmful_rows": harmful.num_rows}
    if harmful.num_rows:
        out.update(_defense(harmful, kw, cols["languages"] is not None, cols["strategies"] is not None))
    if harmful.num_rows < n:
        out["over_refusal"] = _over_refusal(table, kw)
    if cols["references"] is not None:
        pred = pc.if_else(pc.equal(verdicts, ERROR), pa.scalar(None, pa.string()), verdicts)
        got = reliability.agreement(pred.to_pylist(), cols["references"].to_pylist())
        out["judge_agreement"] = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in got.items()}
    return out
