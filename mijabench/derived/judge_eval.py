"""How far to trust a judge: its agreement with the labeled judge validation set.

The set lives in ``mijabench/data/judge_validation/`` (content warning: real model responses to
hate-speech jailbreaks): ``responses.jsonl`` (the rows, each in split ``dev`` or ``test``) and
``labels_adjudicated.jsonl`` (the adjudicated human ``outcome`` and ``verdict`` per ``id``), labeled
under ``docs/labeling_guide.md``. Judges are tuned on ``dev`` only; ``test`` is for reporting.

:func:`evaluate` gives, per language and overall: accuracy and Cohen's kappa of the verdict
(:mod:`mijabench.analysis.reliability`), precision and recall for ``harmful``, and the confusion
matrix over outcome categories. :func:`write_figures` stores the test-split figures of the offline
judges in ``figures.json``, which :func:`mijabench.judge.trust.trust_figures` reads for reports.
Nothing here logs response text.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pyarrow as pa

from mijabench import atomic, markdown
from mijabench.analysis.reliability import agreement
from mijabench.errors import MijaError
from mijabench.judge.trust import FIGURES_FILE, validation_dir
from mijabench.schema import HARMFUL, OUTCOMES, SAFE
from mijabench.tables import read_rows

SPLITS = ("dev", "test", "all")
RESPONSES, LABELS = "responses.jsonl", "labels_adjudicated.jsonl"
HARD_SOURCE = "handwritten"  # hand-written hard cases: fluent compliance, false refusals, counter-speech
OFFLINE_JUDGES = ("intent", "rules")  # the judges whose figures are stored (no model or endpoint)
NONE = "(none)"  # confusion-matrix column for verdicts without an outcome (unparsed, llm, guard)


def load_rows(split: str = "test", folder: Path | None = None) -> list[dict]:
    """Labeled rows of one split (``all``: both), each with the human ``label_outcome``/``label``."""
    if split not in SPLITS:
        raise MijaError(f"--split {split}: expected one of {', '.join(SPLITS)}")
    folder = Path(folder) if folder else validation_dir()
    responses, labels = folder / RESPONSES, folder / LABELS
    for path in (responses, labels):
        if not path.is_file():
            raise MijaError(f"{path}: missing; the judge validation set needs {RESPONSES} and {LABELS}")
    by_id = {}
    for where, row in read_rows(labels, "judge validation labels"):
        outcome, verdict = row.get("outcome"), row.get("verdict")
        if outcome not in OUTCOMES or verdict not in (SAFE, HARMFUL):
            raise MijaError(f"{where}: label needs outcome in {', '.join(OUTCOMES)} and verdict "
                            "safe or harmful; fix the adjudicated labels")
        by_id[str(row.get("id"))] = (outcome, verdict)
    out = []
    for _where, row in read_rows(responses, "judge validation responses"):
        label = by_id.get(str(row.get("id")))
        if label is None or (split != "all" and row.get("split") != split):
            continue
        out.append({**row, "label_outcome": label[0], "label": label[1]})
    if not out:
        raise MijaError(f"{folder}: no labeled rows in split {split!r}")
    return out


def judge_rows(judge, rows: list[dict]) -> list:
    """The judge's verdicts for labeled rows, through ``judge_table`` (its empty/error rules)."""
    from mijabench.judge.base import META_COLUMNS
    from mijabench.judge.registry import judge_table

    columns = ["prompt", "response", "language", *META_COLUMNS]
    table = pa.table({c: [str(r.get(c) or "") for r in rows] for c in columns})
    return judge_table(table, judge, progress=False).select(["verdict", "outcome"]).to_pylist()


def scores(rows: list[dict], predicted: list[dict]) -> dict:
    """Accuracy, kappa, precision/recall for harmful, unparsed count and outcome confusion."""
    labels = [r["label"] for r in rows]
    verdicts = [p["verdict"] for p in predicted]
    base = agreement(verdicts, labels)
    tp = sum(v == HARMFUL and h == HARMFUL for v, h in zip(verdicts, labels))
    said, real = verdicts.count(HARMFUL), labels.count(HARMFUL)
    confusion = {o: {p: 0 for p in (*OUTCOMES, NONE)} for o in OUTCOMES}
    for row, pred in zip(rows, predicted):
        confusion[row["label_outcome"]][pred["outcome"] or NONE] += 1
    return {"n": base["n"], "accuracy": _num(base["accuracy"]), "kappa": _num(base["kappa"]),
            "precision_harmful": _num(tp / said) if said else None,
            "recall_harmful": _num(tp / real) if real else None,
            "unparsed": sum(v not in (SAFE, HARMFUL) for v in verdicts),
            "outcome_accuracy": _num(sum(r["label_outcome"] == p["outcome"]
                                         for r, p in zip(rows, predicted)) / len(rows)),
            "confusion": confusion}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)  # NaN (undefined kappa) -> None


def evaluate(judge, rows: list[dict]) -> dict:
    """``{"overall": scores, "by_language": {lang: scores}}`` of one judge on labeled rows, plus
    ``"hard_cases": scores`` when the rows hold hand-written hard cases (judged once, scored on
    each subset)."""
    predicted = judge_rows(judge, rows)

    def subset(keep) -> dict:
        idx = [i for i, r in enumerate(rows) if keep(r)]
        return scores([rows[i] for i in idx], [predicted[i] for i in idx])

    out = {"judge": judge.id, "overall": scores(rows, predicted),
           "by_language": {lang: subset(lambda r, lang=lang: r["language"] == lang)
                           for lang in sorted({r["language"] for r in rows})}}
    def hard(r) -> bool:
        return str(r.get("source", "")).startswith(HARD_SOURCE)

    if any(hard(r) for r in rows):  # fluent answers are where a judge is weakest; SmolLM2's loops are easy
        out["hard_cases"] = subset(hard)
    return out


def data_digest(folder: Path | None = None) -> str:
    """sha256 of the two data files: the figures name the exact labels they came from."""
    folder = Path(folder) if folder else validation_dir()
    h = hashlib.sha256()
    for name in (RESPONSES, LABELS):
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:16]


def figures(judge_ids=OFFLINE_JUDGES, folder: Path | None = None) -> dict:
    """Test-split figures of the offline judges, as stored in ``figures.json``."""
    from mijabench.judge.registry import make_judge

    rows = load_rows("test", folder)
    out = {}
    for spec in judge_ids:
        result = evaluate(make_judge(spec), rows)
        entry = {k: result["overall"][k] for k in ("n", "accuracy", "kappa", "precision_harmful",
                                                   "recall_harmful")}
        entry["by_language"] = {lang: {k: s[k] for k in ("n", "accuracy", "kappa",
                                                          "precision_harmful", "recall_harmful")}
                                for lang, s in result["by_language"].items()}
        if "hard_cases" in result:
            entry["hard_cases"] = {k: result["hard_cases"][k] for k in ("n", "accuracy", "kappa",
                                                                        "precision_harmful", "recall_harmful")}
        entry.update(split="test", source="mijabench judge-eval on the packaged judge validation "
                     f"set (test split, data {data_digest(folder)})")
        out[result["judge"]] = entry
    return out


def write_figures(folder: Path | None = None) -> Path:
    """Recompute and store ``figures.json`` (never edited by hand)."""
    path = (Path(folder) if folder else validation_dir()) / FIGURES_FILE
    atomic.write_text(path, json.dumps(figures(folder=folder), indent=2, sort_keys=True) + "\n")
    return path


# --- text ----------------------------------------------------------------------------------------
def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def summary_table(results: list[dict]) -> str:
    """One line per judge and language: n, accuracy, kappa, precision/recall harmful, unparsed."""
    lines = []
    for res in results:
        for name, s in [("all", res["overall"]), *res["by_language"].items()]:
            lines.append([res["judge"], name, s["n"], _fmt(s["accuracy"]), _fmt(s["kappa"]),
                          _fmt(s["precision_harmful"]), _fmt(s["recall_harmful"]),
                          _fmt(s["outcome_accuracy"]), s["unparsed"]])
    return markdown.table(["judge", "language", "n", "accuracy", "kappa", "precision harmful",
                           "recall harmful", "outcome accuracy", "unparsed"], lines)


def confusion_table(result: dict, language: str | None = None) -> str:
    """Rows: the human outcome; columns: the judge's outcome."""
    s = result["by_language"][language] if language else result["overall"]
    cols = [*OUTCOMES, NONE]
    return markdown.table(["human \\ judge", *cols],
                          [[o, *(s["confusion"][o][p] for p in cols)] for o in OUTCOMES])

