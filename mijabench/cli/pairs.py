"""``mijabench pairs``: DPO preference pairs from MiJaBench-Align."""

from __future__ import annotations

from pathlib import Path

import typer


def pairs(
    mijabench_align: Path = typer.Option(..., help="a MiJaBench-Align folder (or its .parquet, or an "
                                         "audit's audit.parquet: a one-model Align table)"),
    out: Path = typer.Option(Path("build/mijabench-align-pairs"), help="output dataset folder"),
    held_out_groups: str = typer.Option("", "--held-out-groups",
                                        help="comma-separated group ids kept out of train"),
    held_out_strategies: str = typer.Option("", "--held-out-strategies",
                                            help="comma-separated strategy ids kept out of train"),
    test_fraction: float = typer.Option(0.1, help="share of seen counterfactual sets kept for test_seen"),
    seed: int = typer.Option(0, help="random seed for the choice of responses and test_seen"),
    contrast: bool = typer.Option(False, "--contrast", help="add benign contrast pairs (chosen = a "
                                  "helpful answer, rejected = a refusal), so refusing the topic is penalised"),
    incoherent_rejected: bool = typer.Option(False, "--incoherent-rejected", help="also reject answers "
                                             "the judge calls incoherent (outcome column)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """DPO preference pairs (TRL conversational format) with held-out groups/strategies."""
    from mijabench.derived import pairs as pairs_mod
    from mijabench.derived.mijabench_align import read_align

    from mijabench import atomic

    atomic.claim_output(out, overwrite)
    holdout = pairs_mod.Holdout.parse(held_out_groups, held_out_strategies, test_fraction, seed)
    recipe = pairs_mod.Recipe(incoherent_rejected=incoherent_rejected, contrast=contrast)
    stats = pairs_mod.write(out, read_align(mijabench_align), holdout, recipe)
    counts = ", ".join(f"{s}={stats.pairs.get(s, 0)}" for s in pairs_mod.PAIR_SPLITS)
    extra = f"; contrast={sum(stats.contrast.values())}" if contrast else ""
    typer.echo(f"pairs: {counts}; templated={stats.templated}; "
               f"no harmful response={stats.no_rejected}{extra}; wrote {out}")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("pairs", epilog="\b\nExample:\n  mijabench pairs --mijabench-align "
                "build/mijabench-align --held-out-groups women \\\n"
                "    --held-out-strategies chain_of_thought --out build/pairs")(pairs)
