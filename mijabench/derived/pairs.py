"""DPO preference pairs from MiJaBench-Align, with held-out groups and strategies.

For each harmful prompt, chosen = a response some model gave that was judged safe (refusals
preferred: they are the clearest target) and rejected = a response judged harmful (with outcome
``compliance`` or ``false_refusal`` when the judge names outcomes; ``Recipe.incoherent_rejected``
adds ``incoherent``), across models. When no model refused, chosen is a refusal template in the
prompt's language naming what it declines (``mijabench/data/dpo_templates.yaml``) and the row is
flagged ``templated``. Prompts no model failed give no pair (nothing to reject).

Contrast pairs (``Recipe.contrast``) teach refusing the hate, not the topic: for each benign twin,
chosen = a model's own answer the judge calls helpful (outcome ``compliance`` on a benign row), else
a short written helpful template; rejected = a refusal template. They carry ``kind`` = benign.

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
from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from mijabench import __version__, taxonomy
from mijabench.errors import MijaError
from mijabench.hub import cards
from mijabench.hub import folders as hubdata
from mijabench.schema import (
    COMPLIANCE,
    DEFLECTION,
    ERROR,
    FALSE_REFUSAL,
    HARMFUL,
    INCOHERENT,
    REFUSAL,
    SAFE,
    stable_id,
)

PAIR_SPLITS = ("train", "test_seen", "test_unseen_group", "test_unseen_strategy", "test_unseen_both")
BENIGN_SPLITS = ("seen", "unseen")
TEMPLATE_MODEL = "refusal-template"
HELPFUL_TEMPLATE_MODEL = "helpful-template"
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
META = [("id", pa.string()), ("language", pa.string()), ("group", pa.string()),
        ("strategy", pa.string()), ("scenario_category", pa.string())]
PAIR_SCHEMA = pa.schema([("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES),
                         *META, ("chosen_model", pa.string()), ("rejected_model", pa.string()),
                         ("templated", pa.bool_()), ("kind", pa.string()),
                         ("rejected_outcome", pa.string())])
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


@dataclass(frozen=True)
class Recipe:
    """Which responses form pairs. ``incoherent_rejected``: incoherent answers to harmful prompts
    are rejected too (they are safe by verdict, but not what we want). ``contrast``: add the benign
    contrast pairs."""

    incoherent_rejected: bool = False
    contrast: bool = False

    def rejected(self, row: dict) -> bool:
        if row.get("outcome"):
            allowed = {COMPLIANCE, FALSE_REFUSAL} | ({INCOHERENT} if self.incoherent_rejected else set())
            return row["outcome"] in allowed
        return row["verdict"] == HARMFUL  # judges without outcomes (e.g. older Align tables)

    def as_dict(self) -> dict:
        return {"incoherent_rejected": self.incoherent_rejected, "contrast": self.contrast}


@lru_cache(maxsize=1)
def _templates() -> dict:
    from importlib import resources

    import yaml
    return yaml.safe_load(resources.files("mijabench").joinpath("data/dpo_templates.yaml").read_text("utf-8"))


def templates(language: str, kind: str) -> list[str]:
    """The written ``refusals`` or ``helpful`` answers of a language (each has a {group} slot)."""
    return list(_templates()[language][kind])


def _template(language: str, kind: str, group_name: str, rng: random.Random) -> str:
    return rng.choice(templates(language, kind)).format(group=group_name or "them")


@dataclass
class PairStats:
    prompts: int = 0
    pairs: Counter = field(default_factory=Counter)
    templated: int = 0
    no_rejected: int = 0
    benign: Counter = field(default_factory=Counter)
    contrast: Counter = field(default_factory=Counter)
    rejected_outcomes: Counter = field(default_factory=Counter)
    helpful_own: int = 0

    def as_dict(self) -> dict:
        return {"harmful_prompts": self.prompts, "pairs": dict(self.pairs), "templated": self.templated,
                "skipped_no_harmful_response": self.no_rejected, "benign": dict(self.benign),
                "contrast_pairs": dict(self.contrast), "rejected_outcomes": dict(self.rejected_outcomes),
                "contrast_chosen_own_answer": self.helpful_own}


def _message(role: str, content: str) -> list[dict]:
    return [{"role": role, "content": content}]


def _responses_by_prompt(rows: list[dict], recipe: Recipe) -> dict[str, dict]:
    by_id: dict[str, dict] = defaultdict(lambda: {SAFE: [], HARMFUL: [], "row": None})
    for row in rows:
        entry = by_id[row["id"]]
        entry["row"] = entry["row"] or row
        if row["verdict"] not in (SAFE, HARMFUL) or not (row["response"] or "").strip():
            continue
        if recipe.rejected(row):
            entry[HARMFUL].append(row)
        elif row["verdict"] == SAFE and row.get("outcome") != INCOHERENT:
            entry[SAFE].append(row)  # an incoherent answer is never a chosen example
    return by_id


def _chosen(safe: list[dict], rng: random.Random, row: dict) -> tuple[str, str, bool]:
    # A real refusal (or deflection) only: a safe answer that does the harmful task in disguise
    # would teach the wrong thing, and the judge's outcome says which safe answers decline.
    refusals = [r for r in safe if r["refusal"] or r.get("outcome") in (REFUSAL, DEFLECTION)]
    pool = sorted(refusals if any(r.get("outcome") for r in safe) else (refusals or safe),
                  key=lambda r: r["model"])
    if pool:
        pick = rng.choice(pool)
        return pick["response"], pick["model"], False
    return _template(row["language"], "refusals", row.get("group_name") or "", rng), TEMPLATE_MODEL, True


def pair_rows(rows: list[dict], holdout: Holdout, stats: PairStats,
              recipe: Recipe = Recipe()) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {s: [] for s in PAIR_SPLITS}
    for prompt_id, entry in sorted(_responses_by_prompt(rows, recipe).items()):
        stats.prompts += 1
        row = entry["row"]
        if not entry[HARMFUL]:
            stats.no_rejected += 1
            continue
        rng = random.Random(f"{holdout.seed}-{prompt_id}")
        rejected = rng.choice(sorted(entry[HARMFUL], key=lambda r: r["model"]))
        chosen, chosen_model, templated = _chosen(entry[SAFE], rng, row)
        split = holdout.split(row)
        stats.pairs[split] += 1
        stats.templated += templated
        stats.rejected_outcomes[rejected.get("outcome") or rejected["verdict"]] += 1
        out[split].append({
            "prompt": _message("user", row["prompt"]), "chosen": _message("assistant", chosen),
            "rejected": _message("assistant", rejected["response"]),
            **{name: row[name] for name, _ in META},
            "chosen_model": chosen_model, "rejected_model": rejected["model"], "templated": templated,
            "kind": "harmful", "rejected_outcome": rejected.get("outcome") or rejected["verdict"]})
    return out


def contrast_rows(rows: list[dict], holdout: Holdout, stats: PairStats) -> dict[str, list[dict]]:
    """Benign twins: chosen = a helpful answer (own, else a template), rejected = a refusal template."""
    out: dict[str, list[dict]] = {s: [] for s in PAIR_SPLITS}
    by_id: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_id[row["id"]].append(row)
    for prompt_id, answers in sorted(by_id.items()):
        row = answers[0]
        rng = random.Random(f"{holdout.seed}-contrast-{prompt_id}")
        helpful = sorted((r for r in answers if r["verdict"] == SAFE and r.get("outcome") == COMPLIANCE
                          and not r["refusal"] and (r["response"] or "").strip()), key=lambda r: r["model"])
        if helpful:
            pick = rng.choice(helpful)
            chosen, chosen_model = pick["response"], pick["model"]
            stats.helpful_own += 1
        else:
            chosen = _template(row["language"], "helpful", row.get("group_name") or "", rng)
            chosen_model = HELPFUL_TEMPLATE_MODEL
        split = holdout.split(row)
        stats.contrast[split] += 1
        out[split].append({
            "prompt": _message("user", row["prompt"]), "chosen": _message("assistant", chosen),
            "rejected": _message("assistant", _template(row["language"], "refusals",
                                                        row.get("group_name") or "", rng)),
            **{name: row[name] for name, _ in META}, "chosen_model": chosen_model,
            "rejected_model": TEMPLATE_MODEL, "templated": not helpful, "kind": "benign",
            "rejected_outcome": "refusal"})
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


def build_pairs(align: pa.Table, holdout: Holdout,
                recipe: Recipe = Recipe()) -> tuple[dict[str, dict[str, pa.Table]], PairStats]:
    """``({"pairs": {split: table}, "benign": {split: table}}, stats)`` from Align rows."""
    columns = ["id", "language", "group", "strategy", "scenario_category", "counterfactual_id",
               "kind", "prompt", "model", "response", "verdict", "refusal"]
    columns += [c for c in ("group_name", "outcome") if c in align.column_names]
    rows = [r for r in align.select(columns).to_pylist() if r["verdict"] != ERROR]
    stats = PairStats()
    harmful = pair_rows([r for r in rows if r["kind"] == "harmful"], holdout, stats, recipe)
    if recipe.contrast:
        for split, extra in contrast_rows([r for r in rows if r["kind"] == "benign"], holdout, stats).items():
            harmful[split] += extra
    if not sum(stats.pairs.values()):
        raise MijaError("pairs: no prompt has a response judged harmful, so no pair can be formed; "
                        "add audits of models that fail some prompts")
    tables = {"pairs": {s: pa.Table.from_pylist(harmful[s], schema=PAIR_SCHEMA) for s in PAIR_SPLITS}}
    benign = [r for r in rows if r["kind"] == "benign"]
    if benign:
        got = benign_rows(benign, holdout, stats)
        tables["benign"] = {s: pa.Table.from_pylist(got[s], schema=BENIGN_SCHEMA) for s in BENIGN_SPLITS}
    return tables, stats


def card_text(tables: dict, stats: PairStats, holdout: Holdout, repo_id: str = "mijabench/mijabench-align-pairs",
              recipe: Recipe = Recipe()) -> str:
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
        contrast_counts=[(s, stats.contrast[s]) for s in PAIR_SPLITS if stats.contrast.get(s)],
        helpful_own=stats.helpful_own, incoherent_rejected=recipe.incoherent_rejected,
        seed=holdout.seed, test_fraction=holdout.test_fraction, citation=cards.CITATION_MIJABENCH)


def write(out: Path, align: pa.Table, holdout: Holdout, recipe: Recipe = Recipe()) -> PairStats:
    """Build the pairs from Align rows and write the dataset folder (plus ``pairs.json``)."""
    tables, stats = build_pairs(align, holdout, recipe)
    summary = {**stats.as_dict(), "recipe": recipe.as_dict(), "heldout_groups": sorted(holdout.groups),
               "heldout_strategies": sorted(holdout.strategies), "seed": holdout.seed,
               "test_fraction": holdout.test_fraction}
    # Empty splits are left out: `datasets` cannot read a zero-row Parquet shard.
    tables = {config: {s: t for s, t in splits.items() if t.num_rows}
              for config, splits in tables.items()}
    tables = {config: splits for config, splits in tables.items() if splits}
    hubdata.write_dataset(out, tables, card_text(tables, stats, holdout, recipe=recipe),
                          extra_files={"pairs.json": json.dumps(summary, indent=2, sort_keys=True) + "\n"})
    return stats
