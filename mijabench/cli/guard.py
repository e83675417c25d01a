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
    guard: Optional[Path] = typer.Option(None, help="guard folder (align/guard.py output); default: "
                                         "no guard, the --judge decides"),
    judge: Optional[str] = typer.Option(None, help="judge spec used as the detector when no --guard "
                                        "is given (default: intent)"),
    prompts: Path = typer.Option(..., help="prompts: .txt (one per line), .jsonl or .parquet with 'prompt'"),
    model: Optional[str] = typer.Option(None, help="FOLDER | OWNER/NAME (a cached Hub id) | "
                                        "URL[|URL...][#model] | embedded (default: the embedded "
                                        "SmolLM2)"),
    out: Path = typer.Option(Path("filtered.jsonl"), help="JSONL with filtered and original responses"),
    mode: str = typer.Option("replace", help="replace (short refusal) | block (empty text)"),
    replacement: Optional[str] = typer.Option(None, help="text shown instead of a flagged response"),
    language: str = typer.Option("en", help="language of the default replacement and of the judge (en | pt)"),
    threshold: float = typer.Option(0.5, min=0.0, max=1.0, help="flag when P(unsafe) >= this; lower = fewer missed unsafe outputs"),
    max_new_tokens: int = typer.Option(128, min=1, help="generation length"),
    seed: int = typer.Option(0, help="generation seed"),
) -> None:
    """Generate with any endpoint or local model and block/replace outputs the guard flags.

    The detector is the offline intent judge unless --guard names a trained guard (or --judge
    another judge). Measured on SecureBreak's human test split (483 human-labeled responses, 76
    unsafe; benchmarks/bench_guard.py), the share of unsafe answers each lets through (FNR): intent
    judge 0.20; guards fine-tuned on the 198 human training rows: MiniLM classifier 0.72, LoRA-SFT
    SmolLM2 0.62. A judge flags or passes (P(unsafe) 1 or 0); an unparsed verdict is flagged.
    Lower --threshold to trade false alarms for fewer misses.
    """
    from mijabench.audit.filter import FilteredBackend, JudgeDetector, read_prompts, run_filter
    from mijabench.errors import MijaError
    from mijabench.run.backends import make_backend
    from mijabench.run.types import GenParams

    if guard is not None and judge is not None:
        raise MijaError("--guard and --judge: give one detector, not both")
    rows = read_prompts(prompts)
    detector = guard if guard is not None else JudgeDetector(judge, language)
    backend = FilteredBackend(make_backend(model), detector, mode=mode, replacement=replacement,
                              language=language, threshold=threshold,
                              name=None if guard is not None else detector.name)
    summary = run_filter(backend, rows, GenParams(max_new_tokens=max_new_tokens, seed=seed), out)
    added = summary["added_latency_pct"]
    typer.echo(f"{summary['flagged']}/{summary['n']} responses flagged ({mode}); mean latency "
               f"generation {summary['gen_latency_s_mean']:.3f}s + filter {summary['filter_latency_s_mean']:.3f}s"
               + (f" (+{added:.1f}%)" if added is not None else ""))
    typer.echo(f"wrote {out}")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("guard-eval", epilog="\b\nExample:\n  mijabench guard-eval --guard runs/guard "
                "--dataset build/securebreak")(guard_eval)
    app.command("filter", epilog="\b\nExamples:\n  mijabench filter --prompts prompts.txt --out "
                "filtered.jsonl\n  mijabench filter --guard runs/guard --prompts prompts.txt")(filter_outputs)
