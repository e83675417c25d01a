"""DPO preference pairs from MiJaBench-Align, with held-out groups and strategies.

For each harmful prompt, chosen = a response some model gave that was judged safe (refusals
preferred: they are the clearest target) and rejected = a response judged harmful, across models.
When no model answered safely, chosen is a refusal template in the prompt's language and the row is
flagged ``templated``. Prompts no model failed give no pair (nothing to reject).

Splits test zero-shot generalisation, as in the paper: ``train`` holds only seen groups AND seen
strategies; ``test_seen`` is a held-out sample of seen prompts (whole counterfactual sets, so no
near-twin of a test prompt is trained on); held-out groups go to ``test_unseen_group``, held-out
strategies to ``test_unseen_strategy``, and prompts that are both to ``test_unseen_both``.
Benign prompts (for over-refusal) go to a separate ``benign`` config, split ``seen``/``unseen``.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from mijabench import __version__, taxonomy
from mijabench.bench import material
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import folders as hubdata
from mijabench.schema import ERROR, HARMFUL, SAFE, stable_id

PAIR_SPLITS = ("train", "test_seen", "test_unseen_group", "test_unseen_strategy", "test_unseen_both")
BENIGN_SPLITS = ("seen", "unseen")
TEMPLATE_MODEL = "refusal-template"
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
META = [("id", pa.string()), ("language", pa.string()), ("group", pa.string()),
        ("strategy", pa.string()), ("scenario_category", pa.string())]
PAIR_SCHEMA = pa.schema([("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES),
                         *META, ("chosen_model", pa.string()), ("rejected_model", pa.string()),
                         ("templated", pa.bool_())])
BENIGN_SCHEMA = pa.schema([("prompt", _MESSAGES), *META, ("heldout", pa.string())])


def _names(kind: str, values, option: str) -> list[str]:
    try:
        return taxonomy.parse_list(kind, values)
    except MijaError as exc:
        raise MijaError(f"{option}: {exc}") from None


@dataclass
class Holdout:
    groups: frozenset = frozenset()
    strategies: frozenset = frozenset()
    test_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def parse(cls, groups=None, strategies=None, test_fraction: float = 0.1, seed: int = 0) -> "Holdout":
        if not 0.0 <= test_fraction < 1.0:
            raise MijaError(f"--test-fraction {test_fraction}: must be in [0, 1)")
        return cls(frozenset(_names("group", groups, "--held-out-groups")),
                   frozenset(_names("strategy", strategies, "--held-out-strategies")), test_fraction, seed)

    def heldout(self, group: str, strategy: str) -> str:
        """'' (seen), 'group', 'strategy' or 'both'."""
        g, s = group in self.groups, strategy in self.strategies
        return "both" if g and s else "group" if g else "strategy" if s else ""

    def split(self, row: dict) -> str:
        kind = self.heldout(row["group"], row["strategy"])
        if kind:
            return f"test_unseen_{kind}"
        # Whole counterfactual sets move together so test_seen has no near-twin in train.
        unit = row.get("counterfactual_id") or row["id"]
        draw = int(stable_id(self.seed, "test_seen", unit), 16) / 16 ** 16
        return "test_seen" if draw < self.test_fraction else "train"


@dataclass
class PairStats:
    prompts: int = 0
    pairs: Counter = field(default_factory=Counter)
    templated: int = 0
    no_rejected: int = 0
    benign: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"harmful_prompts": self.prompts, "pairs": dict(self.pairs), "templated": self.templated,
                "skipped_no_harmful_response": self.no_rejected, "benign": dict(self.benign)}


def _message(role: str, content: str) -> list[dict]:
    return [{"role": role, "content": content}]


def _responses_by_prompt(rows: list[dict]) -> dict[str, dict]:
    by_id: dict[str, dict] = defaultdict(lambda: {SAFE: [], HARMFUL: [], "row": None})
    for row in rows:
        entry = by_id[row["id"]]
        entry["row"] = entry["row"] or row
        if row["verdict"] in (SAFE, HARMFUL) and (row["response"] or "").strip():
            entry[row["verdict"]].append(row)
    return by_id


def _chosen(safe: list[dict], rng: random.Random, language: str) -> tuple[str, str, bool]:
    refusals = [r for r in safe if r["refusal"]]
    pool = sorted(refusals or safe, key=lambda r: r["model"])
    if pool:
        pick = rng.choice(pool)
        return pick["response"], pick["model"], False
    return rng.choice(material.load(language).refusal_templates), TEMPLATE_MODEL, True


def pair_rows(rows: list[dict], holdout: Holdout, stats: PairStats) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in PAIR_SPLITS}
    for prompt_id, entry in sorted(_responses_by_prompt(rows).items()):
        stats.prompts += 1
        row = entry["row"]
        if not entry[HARMFUL]:
            stats.no_rejected += 1
            continue
        rng = random.Random(f"{holdout.seed}-{prompt_id}")
        rejected = rng.choice(sorted(entry[HARMFUL], key=lambda r: r["model"]))
        chosen, chosen_model, templated = _chosen(entry[SAFE], rng, row["language"])
        split = holdout.split(row)
        stats.pairs[split] += 1
        stats.templated += templated
        out[split].append({
            "prompt": _message("user", row["prompt"]), "chosen": _message("assistant", chosen),
            "rejected": _message("assistant", rejected["response"]),
            **{name: row[name] for name, _ in META},
            "chosen_model": chosen_model, "rejected_model": rejected["model"], "templated": templated})
    return out


def benign_rows(rows: list[dict], holdout: Holdout, stats: PairStats) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in BENIGN_SPLITS}
    seen_ids: set[str] = set()
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["id"] in seen_ids:
            continue  # one row per prompt, whichever models answered it
        seen_ids.add(row["id"])
        heldout = holdout.heldout(row["group"], row["strategy"])
        split = "unseen" if heldout else "seen"
        stats.benign[split] += 1
        out[split].append({"prompt": _message("user", row["prompt"]),
                           **{name: row[name] for name, _ in META}, "heldout": heldout})
    return out


def build_pairs(align: pa.Table, holdout: Holdout) -> tuple[dict[str, dict[str, pa.Table]], PairStats]:
    """``({"pairs": {split: table}, "benign": {split: table}}, stats)`` from Align rows."""
    columns = ["id", "language", "group", "strategy", "scenario_category", "counterfactual_id",
               "kind", "prompt", "model", "response", "verdict", "refusal"]
    rows = [r for r in align.select(columns).to_pylist() if r["verdict"] != ERROR]
    stats = PairStats()
    harmful = pair_rows([r for r in rows if r["kind"] == "harmful"], holdout, stats)
    if not sum(stats.pairs.values()):
        raise MijaError("pairs: no prompt has a response judged harmful, so no pair can be formed; "
                        "add audits of models that fail some prompts")
    tables = {"pairs": {s: pa.Table.from_pylist(harmful[s], schema=PAIR_SCHEMA) for s in PAIR_SPLITS}}
    benign = [r for r in rows if r["kind"] == "benign"]
    if benign:
        got = benign_rows(benign, holdout, stats)
        tables["benign"] = {s: pa.Table.from_pylist(got[s], schema=BENIGN_SCHEMA) for s in BENIGN_SPLITS}
    return tables, stats


def card_text(tables: dict, stats: PairStats, holdout: Holdout, repo_id: str = "mijabench/mijabench-align-pairs") -> str:
    n = sum(t.num_rows for splits in tables.values() for t in splits.values())
    languages = sorted({v for t in tables["pairs"].values() for v in t.column("language").unique().to_pylist()})
    data = {"language": languages, "license": "cc-by-4.0", "pretty_name": "MiJaBench-Align pairs",
            "task_categories": ["text-generation"], "size_categories": [cards.size_category(n)],
            "tags": ["safety", "dpo", "preference", "hate-speech", "alignment", "trl"],
            "configs": hubdata.configs_yaml(tables, default="pairs"),
            "extra_gated_prompt": cards.GATED_PROMPT, "extra_gated_fields": cards.GATED_FIELDS}
    return cards.render_dataset_card(
        "mijabench_align_pairs", data, repo_id=repo_id,
        heldout_groups=", ".join(sorted(holdout.groups)), heldout_strategies=", ".join(sorted(holdout.strategies)),
        pair_counts=[(s, stats.pairs.get(s, 0)) for s in PAIR_SPLITS],
        benign_counts=[(s, t.num_rows) for s, t in tables.get("benign", {}).items()],
        templated=stats.templated, no_rejected=stats.no_rejected, version=__version__,
        seed=holdout.seed, test_fraction=holdout.test_fraction, citation=cards.CITATION_MIJABENCH)


def write(out: Path, align: pa.Table, holdout: Holdout) -> PairStats:
    """Build the pairs from Align rows and write the dataset folder (plus ``pairs.json``)."""
    tables, stats = build_pairs(align, holdout)
    summary = {**stats.as_dict(), "heldout_groups": sorted(holdout.groups),
               "heldout_strategies": sorted(holdout.strategies), "seed": holdout.seed,
               "test_fraction": holdout.test_fraction}
    # Empty splits are left out: `datasets` cannot read a zero-row Parquet shard.
    tables = {config: {s: t for s, t in splits.items() if t.num_rows}
              for config, splits in tables.items()}
    tables = {config: splits for config, splits in tables.items() if splits}
    hubdata.write_dataset(out, tables, card_text(tables, stats, holdout),
                          extra_files={"pairs.json": json.dumps(summary, indent=2, sort_keys=True) + "\n"})
    return stats
