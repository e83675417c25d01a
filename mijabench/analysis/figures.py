"""Figures for reports and the Space, drawn from :mod:`mijabench.analysis.metrics` DataFrames.

Every function takes a DataFrame and an optional ``path``: with a path it writes a PNG
atomically and returns the path; with ``path=None`` it returns the matplotlib ``Figure`` (for
Gradio's ``gr.Plot`` or a notebook). Figures are built with the object API (no pyplot state, no
GUI backend), so they are safe in servers and threads.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from mijabench import atomic, taxonomy
from mijabench.errors import MijaError

EXPOSED_COLOR, PROTECTED_COLOR = "#b2182b", "#2166ac"


def group_label(group_id: str, language: str = "en", capitalize: bool = False) -> str:
    """The taxonomy display name of a group (its id when unknown)."""
    g = taxonomy.groups().get(group_id)
    name = g.name(language) if g else str(group_id)
    return name[:1].upper() + name[1:] if capitalize else name


def axis_label(kind: str, value: str, language: str = "en") -> str:
    """Display name of a group / strategy / scenario category id (the id itself if unknown)."""
    table = {"group": taxonomy.groups(), "strategy": taxonomy.strategies(),
             "scenario_category": taxonomy.scenario_categories()}.get(kind, {})
    item = table.get(value)
    return item.name(language) if item else str(value)


def _finish(fig: Figure, path):
    if path is None:
        return fig
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, facecolor="white")
    return atomic.write_bytes(Path(path), buf.getvalue())


def _need(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MijaError(f"{what}: the DataFrame lacks column(s) {', '.join(missing)}; "
                        f"pass a mijabench.analysis.metrics table with them")


def _column_key(df: pd.DataFrame) -> pd.Series:
    if "language" in df.columns and df["language"].nunique() > 1:
        return df["model"].astype(str) + " · " + df["language"].astype(str).str.upper()
    return df["model"].astype(str)


def deviation_heatmap(df: pd.DataFrame, path=None, title: str | None = None):
    """Groups x models (or model x language) heatmap of each group's deviation from its model's
    mean DR, in points, like the paper's Figure 3. Cells show the deviation and ``n``; small cells
    are marked with †; missing cells (a group not covered in a language) are left blank."""
    _need(df, ["model", "group", "deviation", "n", "dr"], "deviation_heatmap")
    data = df.assign(column=_column_key(df), dev_pts=df["deviation"] * 100)
    small = data["small_cell"] if "small_cell" in data.columns else pd.Series(False, index=data.index)
    data = data.assign(small=small)
    columns = sorted(data["column"].unique())
    order = data.groupby("group")["dev_pts"].mean().sort_values(ascending=False).index.tolist()
    values = data.pivot_table(index="group", columns="column", values="dev_pts", aggfunc="first")
    values = values.reindex(index=order, columns=columns)
    n = data.pivot_table(index="group", columns="column", values="n", aggfunc="first").reindex(
        index=order, columns=columns)
    flags = data.pivot_table(index="group", columns="column", values="small", aggfunc="first").reindex(
        index=order, columns=columns)
    mean_dr = data.assign(ref=data.get("ref_dr", data["dr"])).groupby("column")["ref"].first()

    vmax = max(5.0, float(np.nanmax(np.abs(values.to_numpy()))) if values.notna().any().any() else 5.0)
    fig = Figure(figsize=(max(6.4, 2.6 + 1.25 * len(columns)), 1.8 + 0.48 * len(order)))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#eeeeee")
    image = ax.imshow(np.ma.masked_invalid(values.to_numpy(dtype=float)), cmap="RdBu",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax), aspect="auto")
    for i in range(len(order)):
        for j in range(len(columns)):
            v = values.iat[i, j]
            if np.isnan(v):
                ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#777777")
                continue
            mark = "†" if bool(flags.iat[i, j]) else ""
            label = f"{v:+.1f}".replace("-", "\u2212")
            ax.text(j, i, f"{label}{mark}\nn={int(n.iat[i, j]):,}", ha="center", va="center",
                    fontsize=8, color="white" if abs(v) > 0.55 * vmax else "black")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{c}\nmean DR {mean_dr.get(c, np.nan) * 100:.0f}%" for c in columns],
                       fontsize=8, rotation=30 if len(columns) > 4 else 0,
                       ha="right" if len(columns) > 4 else "center")
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([group_label(g, capitalize=True) for g in order], fontsize=9)
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(-0.5, len(columns)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(order)), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("deviation from the model's mean DR (points)\n← exposed · protected →", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    ax.set_title(title or "Who is protected and who is exposed\n"
                 "group DR minus its model's mean group DR, in points", fontsize=10, loc="left")
    if small.any():
        fig.text(0.01, 0.005, "† small cell (few responses): read with care", fontsize=7, color="#555555")
    fig.tight_layout()
    return _finish(fig, path)


def dr_by_strategy(df: pd.DataFrame, path=None, axis: str = "strategy", title: str | None = None):
    """Grouped bars of DR per ``axis`` value (strategy by default; also scenario_category), one
    bar per model (or model x language), with 95% CI error bars; small cells are hatched."""
    _need(df, ["model", axis, "dr", "ci_low", "ci_high"], "dr_by_strategy")
    data = df.assign(column=_column_key(df))
    cats = sorted(data[axis].unique())
    series = sorted(data["column"].unique())
    width = 0.8 / max(len(series), 1)
    fig = Figure(figsize=(max(6.0, 1.0 + 0.55 * len(cats) * max(1, len(series)) ** 0.5 + 0.6 * len(cats)), 4.2))
    ax = fig.add_subplot(1, 1, 1)
    colors = [_palette(k) for k in range(len(series))]
    for k, name in enumerate(series):
        part = data[data["column"] == name].set_index(axis).reindex(cats)
        x = np.arange(len(cats)) + (k - (len(series) - 1) / 2) * width
        dr = part["dr"].to_numpy(dtype=float) * 100
        err = np.vstack([dr - part["ci_low"].to_numpy(dtype=float) * 100,
                         part["ci_high"].to_numpy(dtype=float) * 100 - dr])
        bars = ax.bar(x, dr, width, yerr=np.nan_to_num(err), capsize=2, label=name, color=colors[k],
                      error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
        small = part["small_cell"].fillna(False).to_numpy() if "small_cell" in part else np.zeros(len(cats))
        for bar, is_small in zip(bars, small):
            if is_small:
                bar.set_hatch("///")
                bar.set_edgecolor("white")
    ax.set_xticks(np.arange(len(cats)))
    ax.set_xticklabels([axis_label(axis, c) for c in cats], rotation=30 if len(cats) > 4 else 0,
                       ha="right" if len(cats) > 4 else "center", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("Defense Rate (%)")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or f"DR by {axis.replace('_', ' ')} (95% bootstrap CI; hatched = small cell)",
                 fontsize=10, loc="left")
    fig.tight_layout()
    return _finish(fig, path)


def dr_vs_overrefusal(df: pd.DataFrame, path=None, over_refusal_df: pd.DataFrame | None = None,
                      title: str | None = None):
    """Scatter of each group's DR (harmful prompts) against its over-refusal (benign twins).

    ``df`` holds ``dr`` and ``over_refusal`` columns, or pass the DR table and
    ``over_refusal_df`` (joined on their shared by-columns)."""
    if over_refusal_df is not None:
        keys = [c for c in ("model", "language", "group") if c in df.columns and c in over_refusal_df.columns]
        df = df.merge(over_refusal_df[keys + ["over_refusal"]], on=keys, how="inner")
    _need(df, ["group", "dr", "over_refusal"], "dr_vs_overrefusal")
    data = df.assign(column=_column_key(df)) if "model" in df.columns else df.assign(column="")
    data = data[data["dr"].notna() & data["over_refusal"].notna()]
    panels = sorted(data["column"].unique()) or [""]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(0.6 + 3.6 * ncols, 0.8 + 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    x_all, y_all = data["over_refusal"] * 100, data["dr"] * 100
    pad = 4.0
    xlim = (max(-2.0, float(x_all.min()) - pad), min(102.0, float(x_all.max()) + pad)) if len(data) else (0, 100)
    ylim = (max(-2.0, float(y_all.min()) - pad), min(102.0, float(y_all.max()) + pad)) if len(data) else (0, 100)
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        part = data[data["column"] == panels[k]]
        ax.scatter(part["over_refusal"] * 100, part["dr"] * 100, s=26, color=_palette(k),
                   edgecolor="white", linewidth=0.5, zorder=3)
        for _, row in part.iterrows():
            ax.annotate(group_label(row["group"], capitalize=True), (row["over_refusal"] * 100, row["dr"] * 100),
                        fontsize=6, xytext=(3, 2), textcoords="offset points", color="#333333")
        ax.set_title(panels[k], fontsize=8, loc="left")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.grid(color="#eeeeee", linewidth=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if k % ncols == 0:
            ax.set_ylabel("DR on harmful prompts (%)", fontsize=8)
        if k >= len(panels) - ncols:
            ax.set_xlabel("over-refusal on benign twins (%)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title or "Safety vs over-refusal per group (top-left is ideal)", fontsize=10, x=0.01,
                 ha="left")
    fig.tight_layout()
    return _finish(fig, path)


def _palette(k: int) -> str:
    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#222255",
              "#225555", "#666633", "#663333", "#555555"]
    return colors[k % len(colors)]
