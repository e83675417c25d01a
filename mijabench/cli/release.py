"""``mijabench release``: build the Hub release tree, print the plan, push it; and
``mijabench metric-path``: where the installed selective_safety metric is, for ``evaluate.load``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def release(
    out: Path = typer.Option(..., help="release tree: one folder per Hub repo + release.json"),
    org: str = typer.Option("mijabench", help="Hub namespace (user or organisation) of every repo"),
    push: bool = typer.Option(False, "--push", help="upload each repo (one commit per repo); needs a "
                              "token (HF_TOKEN or `hf auth login`)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="build and validate, print the push plan, "
                                 "upload nothing"),
    resume: bool = typer.Option(False, "--resume", help="do not rebuild: push the tree already in "
                                "OUT, skipping repos pushed before (after a failed push)"),
    public: bool = typer.Option(False, "--public", help="create the repos public (default: private, "
                                "a staging release; make them public on the Hub when ready)"),
    only: Optional[str] = typer.Option(None, help="comma-separated subset: mijabench,mijabench_align,"
                                       "securebreak,metric,space,model"),
    mijabench_dir: Optional[Path] = typer.Option(None, "--mijabench", help="a built MiJaBench folder "
                                                 "(default: build the counterfactual config here)"),
    per_group: Optional[int] = typer.Option(None, min=1, help="attacks per group when building "
                                            "MiJaBench (as in build mijabench)"),
    seed: int = typer.Option(0, help="seed when building MiJaBench"),
    metric: Optional[Path] = typer.Option(None, help="metric folder (default eval/selective_safety)"),
    space: Optional[Path] = typer.Option(None, help="Space folder (default spaces/probe)"),
    model: Optional[Path] = typer.Option(None, help="aligned model: the output folder of align/dpo.py "
                                         "(with mijabench_dpo.json); its card is rendered here"),
    mijabench_align: Optional[Path] = typer.Option(None, help="built MiJaBench-Align dataset folder"),
    securebreak: Optional[Path] = typer.Option(None, help="built SecureBreak dataset folder"),
    hub_url: Optional[str] = typer.Option(None, "--hub-url", help="Hub server URL (default "
                                          "HF_ENDPOINT or https://huggingface.co)"),
    pins: Optional[Path] = typer.Option(None, help="pin file to update after a push (default "
                                        "OUT/pinned_revisions.yaml, next to release.json)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT even if mijabench did "
                                   "not create it"),
) -> None:
    """Build every Hub repo folder, validate all cards, then (with --push) upload them."""
    from mijabench.errors import MijaError
    from mijabench.hub import loaders as hub_loaders
    from mijabench.release import plan as rel

    from mijabench import atomic

    if not resume:
        atomic.claim_output(out, overwrite)
    if resume:
        manifest = rel.read_manifest(out)
        rel.verify_tree(out, manifest)
    else:
        sources = _sources(rel, mijabench_dir, per_group, seed, metric, space, model, mijabench_align, securebreak)
        if only:
            sources.include = tuple(k.strip() for k in only.split(",") if k.strip())
        manifest = rel.build_release(out, org, sources, private=not public)
    for line in rel.plan_lines(manifest):
        typer.echo(line)
    if dry_run or not push:
        typer.echo("dry run: nothing uploaded" if dry_run else f"built {out}; add --push to upload")
        return
    results = rel.push_release(out, endpoint=hub_url, pins=pins)
    for r in results:
        typer.echo(f"  {r.status:<7} {r.repo_id}" + (f" @ {r.revision}" if r.revision else "")
                   + (f"  ({r.error})" if r.error else ""))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise MijaError(f"push incomplete: {len(failed)} of {len(results)} repos failed; rerun with "
                        "--push --resume to push only those")
    written = pins or rel.pins_file(out)
    typer.echo(f"pinned revisions written to {written}; load at these revisions with "
               f"{hub_loaders.PINS_ENV}={written}")


def _sources(rel, mijabench_dir, per_group, seed, metric, space, model, mijabench_align, securebreak):
    defaults = rel.Sources()
    return rel.Sources(mijabench=mijabench_dir, per_group=per_group, seed=seed,
                       metric=metric or defaults.metric, space=space or defaults.space,
                       model=model, mijabench_align=mijabench_align, securebreak=securebreak)


def metric_path() -> None:
    """Print the selective_safety metric folder of this installation, for evaluate.load(PATH).

    Loads offline, from the wheel's own copy (or the checkout's eval/selective_safety):
    python -c "import evaluate; m = evaluate.load('$(mijabench metric-path)')"
    """
    from mijabench import resources
    typer.echo(str(resources.metric_path()))


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    app.command("release", epilog="\b\nExamples:\n  mijabench release --out build/release --dry-run\n"
                "  mijabench release --out build/release --push --org my-org")(release)
    app.command("metric-path", epilog="\b\nExample:\n  mijabench metric-path")(metric_path)
