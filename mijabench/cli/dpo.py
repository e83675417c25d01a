"""``mijabench dpo-eval`` (before/after generalisation protocol) and ``mijabench publish-model``.

Training itself is ``python align/dpo.py --config ...`` (a TRL-style script over
``mijabench.train.dpo``), so every TRL flag stays available there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def dpo_eval(
    aligned: str = typer.Option(..., help="aligned model: align/dpo.py output_dir (adapter), its merged/, "
                                "or an endpoint serving it: URL[|URL...][#model]"),
    base: Optional[str] = typer.Option(None, help="base model: FOLDER | OWNER/NAME | URL[|URL...][#model] "
                                       "| embedded; default: the base named in the aligned model's "
                                       "mijabench_dpo.json"),
    out: Path = typer.Option(Path("runs/dpo-eval"), help="output folder (audits, dpo_eval.json, report)"),
    held_out_groups: Optional[str] = typer.Option(None, help="comma-separated; default: from the training record"),
    held_out_strategies: Optional[str] = typer.Option(None, help="comma-separated; default: from the training record"),
    pairs: Optional[Path] = typer.Option(None, help="the training pairs: prompts trained on are excluded; "
                                         "default: the dataset in the training record, when it is a folder"),
    languages: Optional[str] = typer.Option(None, help="comma-separated; default: the training languages"),
    per_group: int = typer.Option(8, min=1, help="counterfactual attacks per group and language (each "
                                  "is written for every group), as in build mijabench"),
    seed: int = typer.Option(1, help="benchmark build seed (differs from the pairs' seed by default)"),
    judge: str = typer.Option("intent", help="intent | rules | llm:URL[|URL...][#model] | ensemble:a,b | guard:FOLDER"),
    max_new_tokens: int = typer.Option(128, min=1, help="generation length for both models"),
    per_cell: Optional[int] = typer.Option(None, min=1, help="keep this many harmful prompts per seen/"
                                           "held-out group x strategy cell, balanced over groups (default: all)"),
    benign_share: float = typer.Option(1.0, min=0.0, max=1.0, help="share of kept harmful prompts whose "
                                       "benign twin is audited for over-refusal"),
    dtype: Optional[str] = typer.Option(None, help="local generation dtype: float32 | bfloat16 | float16"),
) -> None:
    """Audit base and aligned model on the same seen + held-out prompts: DR, refusals, incoherence and
    over-refusal before → after with exact intervals and paired McNemar tests (alias: align-eval)."""
    from mijabench.train import dpo_eval as evaluation
    result = evaluation.run(evaluation.EvalPlan.resolve(
        aligned=aligned, base=base, out=out, held_out_groups=held_out_groups,
        held_out_strategies=held_out_strategies, pairs=pairs, languages=languages,
        per_group=per_group, seed=seed, judge=judge, max_new_tokens=max_new_tokens,
        per_cell=per_cell, benign_share=benign_share, dtype=dtype))
    typer.echo(evaluation.markdown_table(result))
    typer.echo("")
    typer.echo(evaluation.disparity_text(result))
    typer.echo(f"\n{result['summary']}")
    typer.echo(f"wrote {out / evaluation.RESULT_FILE}")


def publish_model(
    model_dir: Path = typer.Argument(..., help="align/dpo.py output_dir (adapter; merged by default) or its merged/"),
    repo_id: Optional[str] = typer.Option(None, help="owner/name on the Hub (required to push)"),
    eval: Optional[Path] = typer.Option(None, "--eval", help="dpo-eval output folder or dpo_eval.json "
                                        "(fills the card's before/after table and model-index)"),
    local_dir: Optional[Path] = typer.Option(None, help="write the identical repo folder here instead of pushing"),
    public: bool = typer.Option(False, "--public", help="create the repo public (default: private)"),
    token: Optional[str] = typer.Option(None, help="Hub token (default: HF_TOKEN or the stored login)"),
    adapter_only: bool = typer.Option(False, "--adapter-only", help="publish the LoRA adapter "
                                      "instead of merged weights"),
    base_model_id: Optional[str] = typer.Option(None, help="Hub id of the base model for the card"),
    license: Optional[str] = typer.Option(None, help="license id for the card (the base model's terms apply)"),
) -> None:
    """Build the aligned-model repo (weights, tokenizer, chat template, card) and publish it."""
    from mijabench.train import artifacts
    folder, url = artifacts.publish_model(model_dir, repo_id, private=not public, token=token,
                                          local_dir=local_dir, evaluation=eval, adapter_only=adapter_only,
                                          base_model_id=base_model_id, license=license)
    typer.echo(f"wrote {folder}" if folder else f"pushed {repo_id} ({'public' if public else 'private'}): {url}")


def register(app: typer.Typer, build_app: typer.Typer) -> None:
    example = "--aligned runs/dpo --held-out-groups women --out runs/dpo-eval"
    app.command("dpo-eval", epilog=f"\b\nExample:\n  mijabench dpo-eval {example}")(dpo_eval)
    app.command("align-eval", epilog=f"\b\nExample:\n  mijabench align-eval {example}",
                help="Another name for dpo-eval (the issue tracker's word).")(dpo_eval)
    app.command("publish-model", epilog="\b\nExamples:\n  mijabench publish-model runs/dpo "
                "--local-dir build/model\n"
                "  mijabench publish-model runs/dpo --repo-id me/mijabench-dpo")(publish_model)
