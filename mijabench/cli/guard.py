"""Guard commands: ``guard-eval`` and ``filter``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def guard_eval(
    guard: Path = typer.Option(..., help="guard folder (align/guard.py output)"),
    dataset: str = typer.Option(..., help="SecureBreak folder or Hub id"),
    config: Optional[str] = typer.Option(None, help="config (human | judge); default: all"),
    split: str = typer.Option("test", help="split to evaluate"),
    limit: Optional[int] = typer.Option(None, min=1, help="evaluate the first N rows only"),
    out: Optional[Path] = typer.Option(None, help="also write the scores as JSON here"),
) -> None:
    """Score a guard: accuracy, precision, recall, F1 and FNR, overall and per risk category."""
    import json

    from mijabench import atomic
    from mijabench.judge.guard import load_guard
    from mijabench.train import guard_eval as ge

    rows = ge.load_rows(dataset, config, split, limit)
    result = ge.evaluate(load_guard(guard), rows)
    overall = result["overall"]
    typer.echo(" ".join(f"{k}={overall[k]:.3f}" if overall[k] is not None else f"{k}=-"
                        for k in ge.METRICS) + f" n={overall['n']}")
    typer.echo(ge.category_table(result))
    if out:
        atomic.write_text(out, json.dumps(result, indent=2, sort_keys=True) + "\n")


def filter_outputs(
    guard: Path = typer.Option(..., help="guard folder (align/guard.py output)"),
    prompts: Path = typer.Option(..., help="prompts: .txt (one per line), .jsonl or .parquet with 'prompt'"),
    model: Optional[str] = typer.Option(None, help="FOLDER | OWNER/NAME (a cached Hub id) | "
                                        "URL[|URL...][#model] | embedded (default: the embedded "
                                        "SmolLM2)"),
    out: Path = typer.Option(Path("filtered.jsonl"), help="JSONL with filtered and original responses"),
    mode: str = typer.Option("replace", help="replace (short refusal) | block (empty text)"),
    replacement: Optional[str] = typer.Option(None, help="text shown instead of a flagged response"),
    language: str = typer.Option("en", help="language of the default replacement (en | pt)"),
    threshold: float = typer.Option(0.5, min=0.0, max=1.0, help="flag when P(unsafe) >= this; lower = fewer missed unsafe outputs"),
    max_new_tokens: int = typer.Option(128, min=1, help="generation length"),
    seed: int = typer.Option(0, help="generation seed"),
) -> None:
    """Generate with any endpoint or local model and block/replace outputs the guard flags."""
    from mijabench.audit.filter import FilteredBackend, read_prompts, run_filter
    from mijabench.run.backends import make_backend
    from mijabench.run.types import GenParams

    rows = read_prompts(prompts)
    backend = FilteredBackend(make_backend(model), guard, mode=mode, replacement=replacement,
                              language=language, threshold=threshold)
    summary = run_filter(backend, rows, GenParams(max_new_tokens=max_new_tokens, seed=seed), out)
    added = summary["added_latency_pct"]
    typer.echo(f"{summary['flagged']}/{summary['n']} responses flagged ({mode}); mean latency "
               f"generation {summary['gen_latency_s_mean']:.3f}s + filter {summary['filter_latency_s_mean']:.3f}s"
               + (f" (+{added:.1f}%)" if added is not None else ""))
    typer.echo(f"wrote {out}")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("guard-eval", epilog="\b\nExample:\n  mijabench guard-eval --guard runs/guard "
                "--dataset build/securebreak")(guard_eval)
    app.command("filter", epilog="\b\nExample:\n  mijabench filter --guard runs/guard --prompts "
                "prompts.txt --out filtered.jsonl")(filter_outputs)
