"""Write the MiJaBench dataset folder: Parquet per config/split, a gated card with statistics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa

from mijabench import __version__, markdown, taxonomy
from mijabench.hub import cards
from mijabench.hub import folders as hubdata

FIELDS = [
    ("id", "stable id of the prompt"), ("config", "counterfactual or paper"),
    ("language", "en or pt"), ("group", "target group id (taxonomy)"),
    ("group_name", "group display name in the row's language"),
    ("strategy", "jailbreak strategy id"), ("scenario_category", "one of 21 scenario categories"),
    ("scenario", "narrative scenario"), ("kind", "harmful or benign (twin)"),
    ("intent_id", "intent template id (counterfactual)"), ("seed_text", "hate-speech seed (paper)"),
    ("seed_source", "where the seed came from"),
    ("counterfactual_id", "same value for the same attack across groups"),
    ("template_id", "strategy template id; Representation Shifting ids end in the transform, e.g. rs_en_base64"), ("prompt", "the jailbreak prompt"),
    ("rewriter", "template or llm:<model>"),
    ("rewrite_attempts", "LLM rewrites tried for the prompt (0 = none)"),
]


def stats_table(tables: dict[str, dict[str, pa.Table]]) -> str:
    """Markdown table of row counts per config, language and group."""
    counts: Counter = Counter()
    for config, splits in tables.items():
        for split, table in splits.items():
            cols = table.select(["language", "group"]).to_pydict()
            counts.update((config, lang, grp, split) for lang, grp in zip(cols["language"], cols["group"]))
    keys = sorted({k[:3] for k in counts})
    rows = [[config, lang, taxonomy.group(grp).name("en"), counts[(config, lang, grp, "harmful")],
             counts[(config, lang, grp, "benign")]] for config, lang, grp in keys]
    rows.append(["**all**", "", "", f"**{sum(v for k, v in counts.items() if k[3] == 'harmful')}**",
                 f"**{sum(v for k, v in counts.items() if k[3] == 'benign')}**"])
    text = markdown.table(["config", "language", "group", "harmful", "benign"], rows, align=["", "", "", "r", "r"])
    return text + f"\n\nTotal rows: {sum(counts.values())}." + unknown_categories_note(tables)


def unknown_categories_note(tables: dict[str, dict[str, pa.Table]]) -> str:
    """Rows whose source gave no scenario category we could place (imported authors' rows)."""
    from mijabench.bench.upstream import UNKNOWN_CATEGORY

    unknown = {config: sum(t.column("scenario_category").to_pylist().count(UNKNOWN_CATEGORY)
                           for t in splits.values()) for config, splits in tables.items()}
    parts = [f"{n} rows of `{config}`" for config, n in unknown.items() if n]
    if not parts:
        return ""
    return (f"\n\nScenario category `{UNKNOWN_CATEGORY}`: {', '.join(parts)}. Their source gave no "
            "scenario category, or one that matches none of the 21 categories or their aliases.")


def card_text(tables: dict[str, dict[str, pa.Table]], rewriter: str, seed: int,
              repo_id: str = "mijabench/mijabench", revision: str | None = None) -> str:
    n = sum(t.num_rows for splits in tables.values() for t in splits.values())
    languages = sorted({lang for splits in tables.values() for t in splits.values()
                        for lang in t.column("language").unique().to_pylist()})
    data = {
        "language": languages, "license": "cc-by-4.0", "pretty_name": "MiJaBench",
        "task_categories": ["text-generation", "text-classification"],
        "size_categories": [cards.size_category(n)],
        "tags": ["safety", "jailbreak", "red-teaming", "hate-speech", "bias", "fairness"],
        "configs": hubdata.configs_yaml(tables, default="counterfactual" if "counterfactual" in tables else None),
        "extra_gated_prompt": cards.GATED_PROMPT, "extra_gated_fields": cards.GATED_FIELDS,
    }
    return cards.render_dataset_card(
        "mijabench", data, repo_id=repo_id, revision=revision, stats_table=stats_table(tables),
        rewriter=rewriter, seed=seed, version=__version__, fields=FIELDS,
        citation=cards.CITATION_MIJABENCH,
        seed_citation=cards.CITATION_TOXIGEN if "paper" in tables else "", pretty_suffix="")


def write(out: Path, tables: dict[str, dict[str, pa.Table]], rewriter: str = "template",
          seed: int = 0) -> Path:
    return hubdata.write_dataset(out, tables, card_text(tables, rewriter, seed))
