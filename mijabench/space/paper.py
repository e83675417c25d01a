"""The MiJaBench authors' published Defense Rates as a leaderboard source ("reported", not reproduced).

``data/paper_results.yaml`` holds the numbers of the paper's per-group heatmaps (12 models, English
and Portuguese) with the citation. This module turns them into the frames the leaderboard draws:
a long frame shaped like :func:`mijabench.analysis.metrics.dr_table` (``n`` and intervals unknown, so
NaN) for the heatmap of :mod:`mijabench.analysis.figures`, and a wide table with one column per
model x language, as the paper lays it out.

In a Space config the source is written ``paper`` (``results: {"MiJaBench paper (reported)": paper}``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd
import yaml

from mijabench import taxonomy
from mijabench.errors import MijaError
from mijabench.space.config import PAPER_SOURCE

SPEC = PAPER_SOURCE  # how a Space config names this source
NAME = "MiJaBench paper (reported)"
AVERAGE = "Average of the 12 models"
MEAN_ROW = "model mean DR"


@lru_cache(maxsize=1)
def data() -> dict:
    """The packaged numbers and citation (``mijabench/data/paper_results.yaml``)."""
    text = resources.files("mijabench").joinpath("data/paper_results.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def frame(models=None, languages=None, families=None, average: bool = True) -> pd.DataFrame:
    """One row per model x language x group: the reported model DR (``ref_dr``), the reported
    deviation, and the group DR they imply (``dr`` = model DR + deviation). ``n`` and every interval
    are NaN: the paper publishes none per cell. Empty filters keep everything."""
    raw = data()
    rows = []
    entries = {lang: {**by_model, **({AVERAGE: raw["average"][lang]} if average else {})}
               for lang, by_model in raw["results"].items()}
    for lang, by_model in entries.items():
        if languages and lang not in languages:
            continue
        for model, numbers in by_model.items():
            family = raw["models"].get(model, {}).get("family", "")
            if (models and model not in models) or (families and family not in families):
                continue
            for group, deviation in numbers["deviation"].items():
                taxonomy.group(group, "paper_results.yaml")
                rows.append({"model": model, "model_family": family, "language": lang,
                             "group": group, "ref_dr": numbers["dr"], "deviation": deviation,
                             "dr": numbers["dr"] + deviation})
    if not rows:
        raise MijaError("filters: no reported results match this choice of models, languages and "
                        "families; clear a filter")
    out = pd.DataFrame(rows)
    for column in ("n", "ci_low", "ci_high", "dev_low", "dev_high"):
        out[column] = float("nan")
    out["small_cell"] = False
    return out


def strategy_frame() -> pd.DataFrame:
    """The reported DR per jailbreak strategy, all 12 models together (English only), shaped for
    :func:`mijabench.analysis.figures.dr_by_strategy`; no interval is published (NaN)."""
    rows = [{"model": AVERAGE, "language": lang, "strategy": taxonomy.strategy(s, "paper_results.yaml").id,
             "dr": dr, "ci_low": float("nan"), "ci_high": float("nan")}
            for lang, by_strategy in data()["by_strategy"].items() for s, dr in by_strategy.items()]
    return pd.DataFrame(rows)


def choices() -> dict:
    raw = data()
    return {"models": list(raw["models"]) + [AVERAGE], "languages": list(raw["results"]),
            "families": sorted({m["family"] for m in raw["models"].values()})}


def column_name(model: str, language: str) -> str:
    return f"{model} · {language.upper()}"


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    """Groups as rows, one column per model x language (the paper's layout): the first row is the
    model's reported DR, the others each group's reported deviation, all in points."""
    from mijabench.analysis.figures import group_label
    columns = list(dict.fromkeys(column_name(m, lang) for m, lang in zip(long["model"], long["language"])))
    keyed = long.assign(column=[column_name(m, lang) for m, lang in zip(long["model"], long["language"])])
    points = keyed.pivot_table(index="group", columns="column", values="deviation", aggfunc="first") * 100
    order = list(dict.fromkeys(g for lang in taxonomy.LANGUAGES for g in taxonomy.groups_for(lang)
                               if g in points.index))
    points = points.reindex(index=order, columns=columns).round(1)
    mean = (keyed.groupby("column", sort=False)["ref_dr"].first() * 100).round(1)
    table = pd.concat([mean.reindex(columns).to_frame().T.set_axis([MEAN_ROW]), points])
    table.insert(0, "group", [MEAN_ROW] + [group_label(g) for g in order])
    return table.reset_index(drop=True).rename_axis(None, axis=1)


def caption() -> str:
    raw = data()
    source, setup = raw["source"], raw["setup"]
    return (f"**Reported by the MiJaBench authors, not reproduced here.** These are the Defense Rates "
            f"published in *{source['title']}* ({source['authors']}, {source['version']}, "
            f"{source['figures']}): {setup['models']} models on {setup['prompts']:,} prompts, judged "
            f"by a {setup['judge']}. mijabench shows the published numbers as they are; it did not "
            "re-run these models. The table gives each model's DR (first row) and each group's "
            "deviation from it, in points; the heatmap draws the deviations. No interval or cell "
            "size is published per cell, so no cell is marked as significant, and a group's DR "
            "(model DR + deviation) carries the published rounding to two decimals.")
