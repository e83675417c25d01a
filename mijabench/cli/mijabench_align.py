"""``mijabench build align``, ``mijabench pairs`` and ``mijabench annotate export|import``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

annotate_app = typer.Typer(help="Human validation of the judges: export a blind annotation sheet, "
                                "import filled sheets and measure agreement.", no_args_is_help=True)


def build_align(
    runs: Optional[List[Path]] = typer.Option(None, "--runs", help="audit output folders (or audit "
                                              ".parquet files); more may follow as arguments"),
    more_runs: Optional[List[Path]] = typer.Argument(None, help="further audit outputs"),
    out: Path = typer.Option(Path("build/mijabench-align"), help="output dataset folder"),
    from_release: Optional[List[Path]] = typer.Option(None, help="the authors' released Align "
                                                      "table(s) (.parquet/.csv/.jsonl) to import"),
    human: Optional[Path] = typer.Option(None, help="human_validation.parquet from `mijabench "
                                         "annotate import` (adds the human_validation config)"),
    repo_id: str = typer.Option("mijabench/mijabench-align", help="Hub id shown in the card"),
) -> None:
    """Merge audit outputs of many models and judges into MiJaBench-Align (Parquet + card)."""
    from mijabench.derived import mijabench_align as align_dataset

    sources = [*(runs or []), *(more_runs or [])]
    result = align_dataset.build(sources, out, release=from_release or [], human=human, repo_id=repo_id)
    for row in result.coverage:
        typer.secho(f"warning: {row['model']} ({row['language']}, {row['kind']}) misses "
                    f"{row['n_missing']} of {row['n_union']} prompts", fg="yellow", err=True)
    typer.echo(f"{result.table.num_rows} rows, {len(set(result.table.column('model').to_pylist()))} "
               f"models; wrote {out} (load_dataset('{out}', 'en'))")


def pairs(
    align: Path = typer.Option(..., help="a MiJaBench-Align folder (or Align .parquet)"),
    out: Path = typer.Option(Path("build/mijabench-align-pairs"), help="output dataset folder"),
    holdout_groups: str = typer.Option("", help="comma-separated group ids kept out of train"),
    holdout_strategies: str = typer.Option("", help="comma-separated strategy ids kept out of train"),
    test_fraction: float = typer.Option(0.1, help="share of seen counterfactual sets kept for test_seen"),
    seed: int = typer.Option(0, help="random seed for the choice of responses and test_seen"),
) -> None:
    """DPO preference pairs (TRL conversational format) with held-out groups/strategies."""
    from mijabench.derived import mijabench_align as align_dataset
    from mijabench.derived import pairs as pairs_mod

    holdout = pairs_mod.Holdout.parse(holdout_groups, holdout_strategies, test_fraction, seed)
    stats = pairs_mod.write(out, align_dataset.read_align(align), holdout)
    counts = ", ".join(f"{s}={stats.pairs.get(s, 0)}" for s in pairs_mod.PAIR_SPLITS)
    typer.echo(f"pairs: {counts}; templated={stats.templated}; "
               f"no harmful response={stats.no_rejected}; wrote {out}")


def annotate_export(
    align: Path = typer.Option(..., help="a MiJaBench-Align folder (or Align .parquet)"),
    out: Path = typer.Option(Path("build/human-validation"), help="folder for sheet + sample"),
    fmt: str = typer.Option("csv", "--format", help="sheet format: csv or parquet"),
    seed: int = typer.Option(0, help="random seed of the stratified draw"),
) -> None:
    """Stratified sample (1 jailbroken + 1 refused per language, group, strategy, model) -> blind sheet."""
    from mijabench.derived import mijabench_align as align_dataset
    from mijabench.derived import human_validation

    items = human_validation.sample(align_dataset.read_align(align), seed=seed)
    paths = human_validation.export(items, out, fmt)
    typer.echo(f"{items.num_rows} items; give {paths['sheet']} to each annotator (fill 'label' with "
               f"safe or harmful); keep {paths['sample']} for the import")


def annotate_import(
    sample: Path = typer.Option(..., help="sample.parquet written by `annotate export`"),
    sheets: Optional[List[Path]] = typer.Option(None, "--sheets", help="filled sheets, one per annotator"),
    more_sheets: Optional[List[Path]] = typer.Argument(None, help="further filled sheets"),
    aggregation: str = typer.Option("majority", help="majority (ties -> harmful) or conservative"),
    out: Path = typer.Option(Path("build/human-validation"), help="output folder"),
) -> None:
    """Combine annotators, then report judge-human and inter-annotator agreement (the paper's Table 3)."""
    from mijabench.derived import human_validation

    items = human_validation.read_sample(sample)
    human = human_validation.combine(items, [*(sheets or []), *(more_sheets or [])], aggregation)
    report = human_validation.write_human(out, human)
    typer.echo(human_validation.table3_markdown(report))
    typer.echo(f"wrote {out}/human_validation.parquet (pass it to `mijabench build align --human`)")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    build_app.command("align")(build_align)
    app.command("pairs")(pairs)
    annotate_app.command("export")(annotate_export)
    annotate_app.command("import")(annotate_import)
    app.add_typer(annotate_app, name="annotate")
