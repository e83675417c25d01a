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


DPI = 150
SCALE_PTS = 50.0  # fixed colour scale: one response in a 4-response cell (25 pts) stays mid-tone
MUTED_HATCH, MUTED_EDGE = "///", "#8c8c8c"
SMALL_HATCH, SMALL_EDGE = "xx", "#333333"


def _finish(fig: Figure, path):
    if path is None:
        return fig
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", bbox_inches="tight")
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


def _includes_zero(data: pd.DataFrame) -> pd.Series:
    """True where the deviation's interval includes 0 (or is unknown): nothing detected there."""
    if not {"dev_low", "dev_high"} <= set(data.columns):
        return pd.Series(True, index=data.index)
    low, high = data["dev_low"].astype(float), data["dev_high"].astype(float)
    return ~((low > 0) | (high < 0))


def _pivot(data: pd.DataFrame, value: str, order: list, columns: list) -> pd.DataFrame:
    return data.pivot_table(index="group", columns="column", values=value, aggfunc="first").reindex(
        index=order, columns=columns)


def deviation_heatmap(df: pd.DataFrame, path=None, title: str | None = None, intervals: bool = True):
    """Groups x models (or model x language) heatmap of each group's deviation from its model's
    mean DR, in points, like the paper's Figure 3, on a fixed +-50-point colour scale. Cells whose
    95% interval includes 0 are muted and hatched; each cell shows the deviation and ``n``; small
    cells are marked with a dagger; missing cells (a group not covered in a language) are blank.
    ``intervals=False`` draws numbers published without intervals (the paper's): no cell is muted,
    the legend says no interval is known, and a cell whose ``n`` is unknown (NaN) shows no n."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch, Rectangle

    _need(df, ["model", "group", "deviation", "n", "dr"], "deviation_heatmap")
    data = df.assign(column=_column_key(df), dev_pts=df["deviation"] * 100,
                     muted=_includes_zero(df) if intervals else False,
                     small=df["small_cell"] if "small_cell" in df.columns else False)
    columns = sorted(data["column"].unique())
    order = data.groupby("group")["dev_pts"].mean().sort_values(ascending=False).index.tolist()
    values, n = _pivot(data, "dev_pts", order, columns), _pivot(data, "n", order, columns)
    muted, small = _pivot(data, "muted", order, columns), _pivot(data, "small", order, columns)
    mean_dr = data.assign(ref=data.get("ref_dr", data["dr"])).groupby("column")["ref"].first()

    longest = max([len(part) for c in columns for part in c.split(" · ")] + [10])
    col_in = max(1.3, 0.075 * longest)  # a column fits its longest label line: no overlap
    fig = Figure(figsize=(max(6.4, 3.0 + col_in * len(columns)), 2.2 + 0.5 * len(order)))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#eeeeee")
    norm = Normalize(vmin=-SCALE_PTS, vmax=SCALE_PTS, clip=True)
    image = ax.imshow(np.ma.masked_invalid(values.to_numpy(dtype=float)), cmap="RdBu", norm=norm, aspect="auto")
    for i in range(len(order)):
        for j in range(len(columns)):
            v = values.iat[i, j]
            if np.isnan(v):
                ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#777777")
                continue
            is_muted = bool(muted.iat[i, j]) if not pd.isna(muted.iat[i, j]) else True
            if is_muted:  # wash the colour out and hatch it: the interval includes 0
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=(1, 1, 1, 0.6),
                                       edgecolor=MUTED_EDGE, hatch=MUTED_HATCH, linewidth=0))
            label = f"{v:+.1f}".replace("-", "\u2212") + ("†" if bool(small.iat[i, j]) else "")
            strong = not is_muted and abs(v) > 0.6 * SCALE_PTS
            count = "" if pd.isna(n.iat[i, j]) else f"\nn={int(n.iat[i, j]):,}"
            ax.text(j, i, label + count, ha="center", va="center", fontsize=8,
                    color="white" if strong else "black", fontweight="normal" if is_muted else "bold")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{c.replace(' · ', chr(10))}\nmean DR {mean_dr.get(c, np.nan) * 100:.0f}%" for c in columns],
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
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, extend="both")
    bar.set_label(f"deviation from the model's mean DR (points; fixed scale ±{SCALE_PTS:.0f})\n"
                  "← exposed · protected →", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    ax.set_title(title or "Group DR minus its model's mean group DR, in points",
                 fontsize=10, loc="left")
    handles = [Patch(facecolor="#d9d9d9", edgecolor=MUTED_EDGE, hatch=MUTED_HATCH, linewidth=0,
                     label="muted, hatched: 95% interval includes 0"),
               Patch(facecolor="#4393c3", label="solid, bold: interval excludes 0 (not multiplicity-corrected)")]
    if not intervals:  # reported numbers: nothing to mute, and no interval to claim
        handles = [Patch(facecolor="#4393c3", label="reported values: no interval or n published, "
                         "so no cell is tested against 0")]
    if small.fillna(False).to_numpy(dtype=bool).any():
        handles.append(Patch(facecolor="white", edgecolor="#bbbbbb", label="† small cell (few responses)"))
    fig.legend(handles=handles, loc="lower left", fontsize=7, frameon=False, ncol=1,
               bbox_to_anchor=(0.01, -0.01 - 0.02 * len(handles)))
    fig.tight_layout()
    return _finish(fig, path)


def dr_by_strategy(df: pd.DataFrame, path=None, axis: str = "strategy", title: str | None = None):
    """Horizontal grouped bars of DR per ``axis`` value (strategy by default; also scenario_category
    or group), one bar per model (or model x language), with 95% interval whiskers; small cells are
    hatched, and the legend shows the same hatching. Labels sit on the y axis, so they never overlap."""
    from matplotlib.patches import Patch

    _need(df, ["model", axis, "dr", "ci_low", "ci_high"], "dr_by_strategy")
    data = df.assign(column=_column_key(df))
    cats = sorted(data[axis].unique(), key=lambda c: axis_label(axis, c).lower())
    series = sorted(data["column"].unique())
    height = 0.8 / max(len(series), 1)
    fig = Figure(figsize=(8.0, 1.3 + 0.22 * len(cats) * max(len(series), 1) + 0.25 * len(cats)))
    ax = fig.add_subplot(1, 1, 1)
    any_small = False
    for k, name in enumerate(series):
        part = data[data["column"] == name].set_index(axis).reindex(cats)
        y = np.arange(len(cats)) + (k - (len(series) - 1) / 2) * height
        dr = part["dr"].to_numpy(dtype=float) * 100
        err = np.vstack([dr - part["ci_low"].to_numpy(dtype=float) * 100,
                         part["ci_high"].to_numpy(dtype=float) * 100 - dr])
        bars = ax.barh(y, dr, height, xerr=np.nan_to_num(np.maximum(err, 0)), capsize=2, label=name,
                       color=_palette(k), error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
        small = part["small_cell"].fillna(False).to_numpy(dtype=bool) if "small_cell" in part else \
            np.zeros(len(cats), dtype=bool)
        for bar, is_small in zip(bars, small):
            if is_small:
                any_small = True
                bar.set_hatch(SMALL_HATCH)
                bar.set_edgecolor(SMALL_EDGE)
                bar.set_linewidth(0.4)
    ax.set_yticks(np.arange(len(cats)))
    ax.set_yticklabels([axis_label(axis, c) for c in cats], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Defense Rate (%)", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # plain swatches per series: a container's handle would copy its first bar's hatching
    handles = [Patch(facecolor=_palette(k), label=name) for k, name in enumerate(series)]
    if any_small:
        handles.append(Patch(facecolor="#bbbbbb", edgecolor=SMALL_EDGE, hatch=SMALL_HATCH, linewidth=0.4,
                             label="hatched: small cell"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or f"DR by {axis.replace('_', ' ')} (whiskers: 95% Clopper-Pearson interval)",
                 fontsize=10, loc="left")
    fig.tight_layout()
    return _finish(fig, path)



def _spread(positions: np.ndarray, gap: float) -> np.ndarray:
    """Label heights (axes fraction) in the points' order, at least ``gap`` apart, inside [0, 1]
    whenever ``gap`` leaves room: push up from the bottom, down from the top, then up again."""
    order = np.argsort(positions, kind="stable")
    placed = np.clip(positions[order], 0, 1).astype(float)
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    if len(placed):
        placed[-1] = min(placed[-1], 1.0)
    for i in range(len(placed) - 2, -1, -1):
        placed[i] = min(placed[i], placed[i + 1] - gap)
    if len(placed):
        placed[0] = max(placed[0], 0.0)
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out


def dr_vs_overrefusal(df: pd.DataFrame, path=None, over_refusal_df: pd.DataFrame | None = None,
                      title: str | None = None):
    """Scatter of each group's DR (harmful prompts) against its over-refusal (benign twins).

    Group names sit in a column beside each panel, joined to their point by a leader line, so they
    stay readable however the points crowd. ``df`` holds ``dr`` and ``over_refusal`` columns, or
    pass the DR table and ``over_refusal_df`` (joined on their shared by-columns)."""
    if over_refusal_df is not None:
        keys = [c for c in ("model", "language", "group") if c in df.columns and c in over_refusal_df.columns]
        df = df.merge(over_refusal_df[keys + ["over_refusal"]], on=keys, how="inner")
    _need(df, ["group", "dr", "over_refusal"], "dr_vs_overrefusal")
    data = df.assign(column=_column_key(df)) if "model" in df.columns else df.assign(column="")
    data = data[data["dr"].notna() & data["over_refusal"].notna()]
    panels = sorted(data["column"].unique()) or [""]
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    most = max([int((data["column"] == p).sum()) for p in panels] + [1])
    panel_h = max(3.4, 0.17 * most + 0.8)
    fig = Figure(figsize=(5.6 * ncols, 0.9 + panel_h * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    pad = 5.0
    x_all, y_all = data["over_refusal"] * 100, data["dr"] * 100
    xlim = (max(-2.0, float(x_all.min()) - pad), min(102.0, float(x_all.max()) + pad)) if len(data) else (0, 100)
    ylim = (max(-2.0, float(y_all.min()) - pad), min(102.0, float(y_all.max()) + pad)) if len(data) else (0, 100)
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_visible(False)
            continue
        part = data[data["column"] == panels[k]]
        x, y = part["over_refusal"].to_numpy() * 100, part["dr"].to_numpy() * 100
        ax.scatter(x, y, s=24, color=_palette(k), edgecolor="white", linewidth=0.5, zorder=3)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        line = 0.14 / (panel_h - 1.0)  # one 7-pt label line, as a fraction of the axes height
        heights = _spread((y - ylim[0]) / (ylim[1] - ylim[0]), gap=min(line, 1.0 / max(len(part) - 1, 1)))
        x_text = xlim[1] + 0.04 * (xlim[1] - xlim[0])  # the label column, just right of the panel
        for name, xi, yi, h in zip(part["group"], x, y, heights):
            y_text = ylim[0] + h * (ylim[1] - ylim[0])
            ax.plot([xi, x_text], [yi, y_text], color="#bbbbbb", linewidth=0.5, clip_on=False, zorder=2)
            ax.text(x_text, y_text, " " + group_label(name, capitalize=True), fontsize=7, va="center",
                    color="#222222", clip_on=False)
        ax.set_title(panels[k], fontsize=9, loc="left")
        ax.grid(color="#eeeeee", linewidth=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel("DR on harmful prompts (%)", fontsize=8)
        ax.set_xlabel("over-refusal on benign twins (%)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title or "Safety vs over-refusal per group (top-left is ideal)", fontsize=10, x=0.01,
                 ha="left")
    fig.tight_layout(w_pad=9.0)
    return _finish(fig, path)


def _palette(k: int) -> str:
    colors = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#222255",
              "#225555", "#666633", "#663333", "#555555"]
    return colors[k % len(colors)]
