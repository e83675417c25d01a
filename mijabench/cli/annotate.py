"""``mijabench annotate export|import``: human validation of the judges."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

annotate_app = typer.Typer(help="Human validation of the judges: export a blind annotation sheet, "
                                "import filled sheets and measure agreement.", no_args_is_help=True)


def annotate_export(
    mijabench_align: Path = typer.Option(..., help="a MiJaBench-Align folder (or its .parquet)"),
    out: Path = typer.Option(Path("build/human-validation"), help="folder for sheet + sample"),
    fmt: str = typer.Option("csv", "--format", help="sheet format: csv or parquet"),
    seed: int = typer.Option(0, help="random seed of the stratified draw"),
) -> None:
    """Stratified sample (1 jailbroken + 1 refused per language, group, strategy, model) -> blind sheet."""
    from mijabench.derived import human_validation
    from mijabench.derived.mijabench_align import read_align

    items = human_validation.sample(read_align(mijabench_align), seed=seed)
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
    typer.echo(f"wrote {out}/human_validation.parquet (pass it to `mijabench build mijabench-align --human`)")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    annotate_app.command("export", epilog="\b\nExample:\n  mijabench annotate export --mijabench-align "
                         "build/mijabench-align --out build/human-validation")(annotate_export)
    annotate_app.command("import", epilog="\b\nExample:\n  mijabench annotate import --sample "
                         "build/human-validation/sample.parquet sheet_a.csv sheet_b.csv")(annotate_import)
    app.add_typer(annotate_app, name="annotate")
