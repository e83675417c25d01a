"""Balanced subsets of a counterfactual build, for the DPO training audit and ``dpo-eval``.

A counterfactual build writes every attack for every group, so auditing all of it costs
``attacks x groups`` generations. The DPO protocol needs a fixed number of harmful prompts per
seen/held-out cell (enough for the paired tests) more than every group for every attack, so it
keeps ``n`` harmful prompts per cell, spread round-robin over languages and groups (each group
as equal as the count allows), and the benign twins (same ``counterfactual_id`` and group) of a
share of them. The choice depends only on the seed and the row ids: reruns pick the same rows.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
import pyarrow.compute as pc

from mijabench.schema import stable_id


def balanced(rows: list[dict], n: int, seed: int, by=("language", "group")) -> list[dict]:
    """``n`` rows (or all), drawn round-robin over the ``by`` values, in a seeded order."""
    buckets: dict[tuple, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: stable_id(seed, "sample", r["id"])):
        buckets[tuple(row[c] for c in by)].append(row)
    order = sorted(buckets)
    picked, depth = [], 0
    while len(picked) < n and any(len(buckets[k]) > depth for k in order):
        picked += [buckets[k][depth] for k in order if len(buckets[k]) > depth][:n - len(picked)]
        depth += 1
    return picked


def with_twins(table: pa.Table, harmful_ids: list[str], share: float, seed: int) -> pa.Table:
    """The chosen harmful rows plus the benign twins of ``share`` of them."""
    rows = table.to_pylist()
    by_id = {r["id"]: r for r in rows}
    twins = {(r["counterfactual_id"], r["group"]): r["id"] for r in rows if r["kind"] == "benign"}
    chosen = [by_id[i] for i in harmful_ids]
    ranked = sorted(chosen, key=lambda r: stable_id(seed, "twin", r["id"]))
    keep_twin = {r["id"] for r in ranked[:round(share * len(ranked))]}
    benign = [twins[(r["counterfactual_id"], r["group"])] for r in chosen
              if r["id"] in keep_twin and (r["counterfactual_id"], r["group"]) in twins]
    keep = set(harmful_ids) | set(benign)
    return table.filter(pc.is_in(table.column("id"), value_set=pa.array(sorted(keep), pa.string())))


def sample_cells(table: pa.Table, per_cell: int, benign_share: float, seed: int,
                 cell_column: str = "eval_cell") -> pa.Table:
    """``per_cell`` harmful prompts of each value of ``cell_column`` plus benign twins."""
    harmful = [r for r in table.select(["id", "kind", "language", "group", cell_column]).to_pylist()
               if r["kind"] == "harmful"]
    cells: dict[str, list[dict]] = defaultdict(list)
    for row in harmful:
        cells[row[cell_column]].append(row)
    ids = [r["id"] for cell in sorted(cells) for r in balanced(cells[cell], per_cell, seed)]
    return with_twins(table, ids, benign_share, seed)
