"""``mijabench build mijabench|mijabench-align|securebreak``: build the Hub dataset folders."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def build_mijabench(
    config: str = typer.Option("counterfactual", help="counterfactual | paper | all"),
    out: Path = typer.Option(Path("build/mijabench"), help="output dataset folder"),
    seeds: Optional[List[Path]] = typer.Option(None, help="seed sources for the paper config: a "
                                               "ToxiGen-style folder and/or ToxSyn-PT .parquet/.csv"),
    rewriter: str = typer.Option("template", help="template | llm:URL[|URL...][#model]"),
    seed: int = typer.Option(0, help="random seed: same inputs + seed give byte-identical Parquet"),
    per_group: Optional[int] = typer.Option(None, help="attacks (counterfactual) or seeds (paper) per group"),
    languages: str = typer.Option("en,pt", help="comma-separated languages"),
    upstream: Optional[List[Path]] = typer.Option(None, help="the MiJaBench authors' published rows "
                                                  "(CSV/Parquet/JSONL with jb_prompt); adds an 'upstream' config"),
) -> None:
    """Build MiJaBench as Parquet shards + gated dataset card (load it with load_dataset(OUT, CONFIG))."""
    from mijabench.bench import configs as benchmark
    from mijabench.bench import writer as benchmark_dataset
    from mijabench.bench.rewriters import make_rewriter

    configs = benchmark.CONFIGS if config == "all" else (config,)
    rewriter_obj = make_rewriter(rewriter)
    tables = benchmark.build_configs(configs, languages.split(","), seed=seed, per_group=per_group,
                                     seeds=seeds, rewriter=rewriter_obj, upstream=upstream)
    benchmark_dataset.write(out, tables, rewriter=rewriter_obj.name, seed=seed)
    for name, splits in tables.items():
        sizes = ", ".join(f"{s}={t.num_rows}" for s, t in splits.items())
        typer.echo(f"{name}: {sizes}")
    typer.echo(f"wrote {out} (load_dataset('{out}', '{configs[0]}'))")


def build_mijabench_align(
    runs: Optional[List[Path]] = typer.Option(None, "--runs", help="audit output folders (or audit "
                                              ".parquet files); more may follow as arguments"),
    more_runs: Optional[List[Path]] = typer.Argument(None, help="further audit outputs"),
    out: Path = typer.Option(Path("build/mijabench-align"), help="output dataset folder"),
    from_upstream: Optional[List[Path]] = typer.Option(None, help="the MiJaBench authors' published "
                                                       "Align table(s) (.parquet/.csv/.jsonl) to import"),
    human: Optional[Path] = typer.Option(None, help="human_validation.parquet from `mijabench "
                                         "annotate import` (adds the human_validation config)"),
    repo_id: str = typer.Option("mijabench/mijabench-align", help="Hub id shown in the card"),
) -> None:
    """Merge audit outputs of many models and judges into MiJaBench-Align (Parquet + card)."""
    from mijabench.derived import mijabench_align

    sources = [*(runs or []), *(more_runs or [])]
    result = mijabench_align.build(sources, out, upstream=from_upstream or [], human=human, repo_id=repo_id)
    for row in result.coverage:
        typer.secho(f"warning: {row['model']} ({row['language']}, {row['kind']}) misses "
                    f"{row['n_missing']} of {row['n_union']} prompts", fg="yellow", err=True)
    typer.echo(f"{result.table.num_rows} rows, {len(set(result.table.column('model').to_pylist()))} "
               f"models; wrote {out} (load_dataset('{out}', 'en'))")


def build_securebreak(
    input: Optional[List[Path]] = typer.Option(None, "--input", help="annotated CSV / JSONL / Parquet file (repeatable)"),
    mapping: Optional[Path] = typer.Option(None, help="YAML mapping input columns to SecureBreak fields"),
    mijabench_align: Optional[List[Path]] = typer.Option(None, help="judged audit run / audit.parquet / MiJaBench-Align "
                                               "folder to add as judge-labeled rows (repeatable)"),
    out: Path = typer.Option(Path("build/securebreak"), help="output dataset folder"),
    seed: Optional[int] = typer.Option(None, help="split seed (default: the mapping's seed, else 0)"),
    splits: Optional[str] = typer.Option(None, help="split fractions, e.g. train=0.8,validation=0.1,test=0.1 "
                                         "(default: the mapping's, else that)"),
) -> None:
    """Import, validate, deduplicate and split annotated outputs into a gated Hub dataset folder."""
    from mijabench.derived import securebreak_dataset
    from mijabench.derived.securebreak import parse_splits

    tables = securebreak_dataset.build(out, list(input or []), mapping, list(mijabench_align or []), seed,
                                       parse_splits(splits) if splits else None)
    for name, splits in tables.items():
        typer.echo(f"{name}: " + ", ".join(f"{s}={t.num_rows}" for s, t in splits.items()))
    typer.echo(f"wrote {out} (load_dataset('{out}', '{next(iter(tables))}'))")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    build_app.command("mijabench")(build_mijabench)
    build_app.command("mijabench-align")(build_mijabench_align)
    build_app.command("securebreak")(build_securebreak)
