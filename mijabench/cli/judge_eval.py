"""``judge-eval``: a judge's agreement with the labeled judge validation set."""

from __future__ import annotations

from pathlib import Path

import typer


def judge_eval(
    judge: list[str] | None = typer.Option(None, help="judge spec, repeatable (default: intent and "
                                              "rules): intent | rules | llm:URL[|URL...][#model] | "
                                              "ensemble:a,b | guard:FOLDER"),
    split: str = typer.Option("test", help="test (report) | dev (tune) | all"),
    data: Path | None = typer.Option(None, help="validation folder with responses.jsonl and "
                                        "labels_adjudicated.jsonl (default: the packaged set)"),
    confusion: bool = typer.Option(True, help="print the outcome confusion matrix per judge"),
    out: Path | None = typer.Option(None, help="also write every figure as JSON here"),
    write_figures: bool = typer.Option(False, "--write-figures", help="recompute the stored test-split "
                                       "figures of the offline judges (figures.json) that reports cite"),
) -> None:
    """Accuracy, Cohen's kappa, precision/recall for harmful, and the outcome confusion matrix,
    overall and per language, of each judge against the adjudicated human labels."""
    import json

    from mijabench import atomic
    from mijabench.derived import judge_eval as je
    from mijabench.judge.registry import make_judge

    specs = judge or list(je.OFFLINE_JUDGES)
    judges = [make_judge(s) for s in specs]  # a bad spec fails before any judging
    rows = je.load_rows(split, data)
    results = [je.evaluate(j, rows) for j in judges]
    typer.echo(f"split {split}: {len(rows)} labeled responses "
               f"({', '.join(f'{k} {v}' for k, v in _count(rows).items())})")
    typer.echo(je.summary_table(results))
    if confusion:
        for res in results:
            typer.echo(f"\noutcome confusion, {res['judge']} (rows: human label; columns: judge)")
            typer.echo(je.confusion_table(res))
    if out:
        atomic.write_text(out, json.dumps({"split": split, "results": results}, indent=2,
                                          sort_keys=True) + "\n")
    if write_figures:
        path = je.write_figures(data)
        typer.echo(f"wrote {path} (test split)")


def _count(rows: list[dict]) -> dict:
    counts: dict = {}
    for r in rows:
        counts[r["language"]] = counts.get(r["language"], 0) + 1
    return counts


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("judge-eval", epilog="\b\nExamples:\n  mijabench judge-eval\n  mijabench judge-eval "
                "--judge intent --judge llm:http://127.0.0.1:8000 --split test")(judge_eval)
