"""SecureBreak commands: ``build securebreak``, ``guard-eval`` and ``filter``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def build_securebreak(
    input: Optional[List[Path]] = typer.Option(None, "--input", help="annotated CSV / JSONL / Parquet file (repeatable)"),
    mapping: Optional[Path] = typer.Option(None, help="YAML mapping input columns to SecureBreak fields"),
    align: Optional[List[Path]] = typer.Option(None, help="judged audit run / audit.parquet / MiJaBench-Align "
                                               "folder to add as judge-labeled rows (repeatable)"),
    out: Path = typer.Option(Path("build/securebreak"), help="output dataset folder"),
    seed: Optional[int] = typer.Option(None, help="split seed (default: the mapping's seed, else 0)"),
    splits: Optional[str] = typer.Option(None, help="split fractions, e.g. train=0.8,validation=0.1,test=0.1 "
                                         "(default: the mapping's, else that)"),
) -> None:
    """Import, validate, deduplicate and split annotated outputs into a gated Hub dataset folder."""
    from mijabench.derived import securebreak_dataset
    from mijabench.derived.securebreak import parse_splits

    tables = securebreak_dataset.build(out, list(input or []), mapping, list(align or []), seed,
                                       parse_splits(splits) if splits else None)
    for name, splits in tables.items():
        typer.echo(f"{name}: " + ", ".join(f"{s}={t.num_rows}" for s, t in splits.items()))
    typer.echo(f"wrote {out} (load_dataset('{out}', '{next(iter(tables))}'))")


def guard_eval(
    detector: Path = typer.Option(..., help="detector folder (align/guard.py output)"),
    dataset: str = typer.Option(..., help="SecureBreak folder or Hub id"),
    config: Optional[str] = typer.Option(None, help="config (human | judge); default: all"),
    split: str = typer.Option("test", help="split to evaluate"),
    limit: Optional[int] = typer.Option(None, help="evaluate the first N rows only"),
    out: Optional[Path] = typer.Option(None, help="also write the scores as JSON here"),
) -> None:
    """Score a detector: accuracy, precision, recall, F1 and FNR, overall and per risk category."""
    import json

    from mijabench import atomic
    from mijabench.train import guard_eval as ge
    from mijabench.judge.classifier import load_detector

    rows = ge.load_rows(dataset, config, split, limit)
    result = ge.evaluate(load_detector(detector), rows)
    overall = result["overall"]
    typer.echo(" ".join(f"{k}={overall[k]:.3f}" if overall[k] is not None else f"{k}=-"
                        for k in ge.METRICS) + f" n={overall['n']}")
    typer.echo(ge.category_table(result))
    if out:
        atomic.write_text(out, json.dumps(result, indent=2, sort_keys=True) + "\n")


def filter_outputs(
    detector: Path = typer.Option(..., help="detector folder (align/guard.py output)"),
    prompts: Path = typer.Option(..., help="prompts: .txt (one per line), .jsonl or .parquet with 'prompt'"),
    model: Optional[str] = typer.Option(None, help="endpoint URL(s) or local model folder; default: "
                                        "the embedded SmolLM2"),
    out: Path = typer.Option(Path("filtered.jsonl"), help="JSONL with filtered and original responses"),
    mode: str = typer.Option("replace", help="replace (short refusal) | block (empty text)"),
    replacement: Optional[str] = typer.Option(None, help="text shown instead of a flagged response"),
    language: str = typer.Option("en", help="language of the default replacement (en | pt)"),
    threshold: float = typer.Option(0.5, help="flag when P(unsafe) >= this; lower = fewer missed unsafe outputs"),
    max_new_tokens: int = typer.Option(128, help="generation length"),
    seed: int = typer.Option(0, help="generation seed"),
) -> None:
    """Generate with any endpoint or local model and block/replace outputs the detector flags."""
    from mijabench.run.types import GenParams
    from mijabench.run.backends import make_backend
    from mijabench.audit.filter import FilteredBackend, read_prompts, run_filter

    rows = read_prompts(prompts)
    backend = FilteredBackend(make_backend(model), detector, mode=mode, replacement=replacement,
                              language=language, threshold=threshold)
    summary = run_filter(backend, rows, GenParams(max_new_tokens=max_new_tokens, seed=seed), out)
    added = summary["added_latency_pct"]
    typer.echo(f"{summary['flagged']}/{summary['n']} responses flagged ({mode}); mean latency "
               f"generation {summary['gen_latency_s_mean']:.3f}s + filter {summary['filter_latency_s_mean']:.3f}s"
               + (f" (+{added:.1f}%)" if added is not None else ""))
    typer.echo(f"wrote {out}")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    build_app.command("securebreak")(build_securebreak)
    app.command("guard-eval")(guard_eval)
    app.command("filter")(filter_outputs)
