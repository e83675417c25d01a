"""``mijabench compare``: several runs side by side in one report, with paired model-vs-model tests."""

from __future__ import annotations

from pathlib import Path

import typer


def compare(
    runs: list[str] = typer.Argument(..., help="audit run folders or audit .parquet files, "
                                     "MiJaBench-Align folders, files or folders in the authors' released "
                                     "format, or Hub datasets hub:OWNER/NAME[@REVISION] (any mix)"),
    out: Path = typer.Option(..., help="output folder: report.md, report.html, compare.json, "
                             "summary.json, CSV tables, figures/"),
    labels: str | None = typer.Option(None, help="comma-separated names for the runs, one per "
                                         "RUN in order (default: each run's model id)"),
    languages: str | None = typer.Option(None, help="comma-separated languages to compare "
                                            "(default: all)"),
    min_n: int = typer.Option(30, min=1, help="cells with fewer judged responses are flagged small"),
    samples: bool = typer.Option(True, "--samples/--no-samples", help="include the sample viewer "
                                 "(prompts and responses) in report.html"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """Compare runs: per-group DR side by side, paired McNemar tests between models, one report."""
    import sys

    from mijabench import atomic, taxonomy
    from mijabench.analysis import compare as compare_mod
    from mijabench.derived import results

    atomic.claim_output(out, overwrite)  # before any download
    chosen = taxonomy.parse_list("language", languages) if languages else None
    loaded = results.compare_runs(runs, labels)
    info = {"command": " ".join(["mijabench", *sys.argv[1:]])}
    written, _, comparison = compare_mod.write_compare_folder(
        loaded, out, overwrite, languages=chosen, min_n=min_n, samples=samples, provenance_info=info)
    for line in comparison["headline"]:
        typer.echo("- " + line.replace("**", ""))
    typer.echo(f"wrote {out}/report.html, report.md, compare.json, summary.json and "
               f"{sum(name.endswith('.csv') for name in written)} CSV tables")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("compare", epilog="\b\nExamples:\n  mijabench compare runs/base runs/aligned --labels "
                "base,aligned --out runs/compare\n  mijabench compare runs/smollm2-quick "
                "hub:acme/mijabench-align@v1.0 --languages en --out runs/vs-paper")(compare)
