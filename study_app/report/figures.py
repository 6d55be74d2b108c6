"""The report's figures, drawn with matplotlib's Agg canvas (no pyplot, no GUI backend).

Four kinds, each readable at a glance: error rates as dots with interval bars, per-class
error of the annotators against a model with the diagonal of equal error, the error
consistency of every pair of raters as a heatmap, and the learning curve with its band.

Output is byte-for-byte reproducible: a fixed SVG hash salt (the ids of clip paths),
no dates or program versions in the PNG and SVG metadata, and label names drawn as
plain text (``text.parse_math`` off: a class named ``$x$`` stays ``$x$`` and an odd
number of ``$`` cannot crash the report).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure

from study_app.report.document import Figure
from study_app.stats.agreement import CEILING_PAIR

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "study-app-report",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "text.usetex": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
METADATA = {"svg": {"Date": None, "Creator": "study-app"}, "png": {"Software": "study-app"}}
#: One colour per kind of rater, the same in every figure (colour-blind safe, Okabe-Ito).
KIND_COLOURS = {"human": "#0072B2", "humans": "#009E73", "crowd": "#56B4E9", "model": "#D55E00"}
KIND_TITLES = {"human": "annotator", "humans": "annotators' mean", "crowd": "crowd of the annotators", "model": "model"}


def _export(name: str, title: str, caption: str, figure: MplFigure) -> Figure:
    """Both formats of a drawn figure, with fixed metadata."""
    FigureCanvasAgg(figure)
    images = {}
    for fmt in ("svg", "png"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=100, metadata=METADATA[fmt])
        images[fmt] = buffer.getvalue()
        figure.set_layout_engine("none")  # laid out once: the second format keeps the positions
    return Figure(name, title, caption, images["svg"], images["png"])


def _new(width: float, height: float) -> MplFigure:
    return MplFigure(figsize=(width, height), layout="constrained")


#: Figures name at most this many annotators one by one: 100 labelled rows are neither
#: readable at a glance nor cheap to lay out (each label is laid out in every pass).
MAX_NAMED_RATERS = 40
#: The heatmap stops growing at this size (inches; 100 raters would make it 35 wide).
MAX_SIDE_INCHES = 12.0


def error_dots(name: str, headline: pd.DataFrame, rule: str) -> Figure:
    """Dot plot of one rule's error rates (rows of the headline table of one phase).

    Beyond ``MAX_NAMED_RATERS`` annotators, they share one row as small dots (their
    intervals are in the table): a hundred labelled rows cannot be taken in at a glance.
    """
    people = (headline["kind"] == "human").to_numpy()
    strip = int(people.sum()) if people.sum() > MAX_NAMED_RATERS else 0
    with matplotlib.rc_context(STYLE):
        rows = (headline[~people] if strip else headline).iloc[::-1].reset_index(drop=True)
        figure = _new(7.0, 1.2 + 0.28 * (len(rows) + bool(strip)))
        axes = figure.add_subplot()
        error = rows[f"error {rule}"].to_numpy(dtype=float)
        low, high = rows[f"low {rule}"].to_numpy(dtype=float), rows[f"high {rule}"].to_numpy(dtype=float)
        names = rows["rater"].astype(str).tolist()
        if strip:  # annotators on top, spread over the row's height in order of error
            each = 100 * headline.loc[people, f"error {rule}"].to_numpy(dtype=float)
            spread = np.empty(strip)
            spread[np.argsort(each, kind="stable")] = np.linspace(-0.3, 0.3, strip)
            axes.scatter(
                each, len(rows) + spread, s=10, alpha=0.6, color=KIND_COLOURS["human"], label=KIND_TITLES["human"]
            )
            names.append(f"annotators (each of {strip})")
        for kind, colour in KIND_COLOURS.items():
            mine = (rows["kind"] == kind).to_numpy()
            if mine.any():
                y = np.flatnonzero(mine)
                axes.errorbar(
                    100 * error[mine],
                    y,
                    xerr=100 * np.vstack([error[mine] - low[mine], high[mine] - error[mine]]),
                    fmt="o",
                    color=colour,
                    capsize=3,
                    label=KIND_TITLES[kind],
                )
        axes.set_yticks(range(len(names)), names)
        axes.set_xlabel(f"{rule} error (%), 95% interval")
        axes.set_xlim(left=0)
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        caption = "Dots are error rates, bars their 95% intervals."
        if strip:
            caption += f" The {strip} annotators are the small dots of the top row; their intervals are in the table."
        return _export(name, f"{rule} error with 95% intervals", caption, figure)


def class_scatter(name: str, per_class: pd.DataFrame, model: str, profile: str) -> Figure:
    """Per-class error: annotators (x) against one model (y); the diagonal is equal error."""
    with matplotlib.rc_context(STYLE):
        figure = _new(5.0, 5.0)
        axes = figure.add_subplot()
        differs = per_class["significant"].to_numpy(dtype=bool)
        human, machine = (
            100 * per_class["human_error"].to_numpy(dtype=float),
            100 * per_class["model_error"].to_numpy(dtype=float),
        )
        axes.scatter(human[~differs], machine[~differs], s=14, alpha=0.6, color=KIND_COLOURS["human"], label="class")
        if differs.any():
            axes.scatter(human[differs], machine[differs], s=22, color=KIND_COLOURS["model"], label="differs (FDR)")
        top = min(100.0, max(5.0, 1.1 * float(max(human.max(initial=0), machine.max(initial=0)))))
        axes.plot([0, top], [0, top], color="grey", linewidth=1, linestyle="--", label="equal error", zorder=0)
        axes.set(
            xlim=(-0.02 * top, top),
            ylim=(-0.02 * top, top),
            xlabel="annotators' error per class (%)",
            ylabel=f"{model} error per class (%)",
        )
        axes.set_aspect("equal")
        axes.legend(loc="upper left", fontsize=8)
        caption = f"One dot per class ({len(per_class)}); above the diagonal the model errs more. {profile}"
        return _export(name, f"Per-class error: annotators vs {model}", caption, figure)


def consistency_heatmap(name: str, pairs: pd.DataFrame) -> Figure:
    """Error consistency (kappa) of every pair of raters; empty cells share no image.

    Every rater has its row and column; beyond ``MAX_NAMED_RATERS`` raters the axes name
    every other rater and every k-th annotator only. The annotators' ceiling (their mean
    over pairs) is a row of the table, not a rater: it has no cell.
    """
    if "pair" in pairs.columns:
        pairs = pairs[pairs["pair"].astype(str) != CEILING_PAIR]
    kinds = dict(zip(pairs["rater_a"].astype(str), pairs["kind_a"].astype(str))) | dict(
        zip(pairs["rater_b"].astype(str), pairs["kind_b"].astype(str))
    )
    raters = sorted(kinds)
    index = {rater: i for i, rater in enumerate(raters)}
    matrix = np.full((len(raters), len(raters)), np.nan)
    for a, b, kappa in zip(pairs["rater_a"].astype(str), pairs["rater_b"].astype(str), pairs["kappa"].astype(float)):
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = kappa
    caption = (
        "Kappa of right/wrong on shared images: 0 = errors independent, "
        "1 = the same errors. Attainable ranges are in the table."
    )
    named = list(range(len(raters)))
    if len(raters) > MAX_NAMED_RATERS:
        people = [i for i in named if kinds[raters[i]] == "human"]
        step = -(-len(people) // MAX_NAMED_RATERS)
        named = sorted(set(named) - set(people) | set(people[::step]))
        caption += (
            f" Every rater has a row and a column; the axes name one annotator in {step} (every pair: consistency.csv)."
        )
    with matplotlib.rc_context({**STYLE, "axes.grid": False}):
        side = min(2.5 + 0.32 * len(raters), MAX_SIDE_INCHES)
        figure = _new(side + 1.2, side)
        axes = figure.add_subplot()
        image = axes.imshow(matrix, cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
        font = min(9.0, 0.9 * 72 * (side - 2.5) / len(raters))  # a row's height in points: neighbours never overlap
        axes.set_xticks(named, [raters[i] for i in named], rotation=90, fontsize=font)
        axes.set_yticks(named, [raters[i] for i in named], fontsize=font)
        if len(raters) <= 15:
            for (i, j), kappa in np.ndenumerate(matrix):
                if not np.isnan(kappa):
                    axes.text(
                        j,
                        i,
                        f"{kappa:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if abs(kappa) > 0.6 else "black",
                    )
        figure.colorbar(image, ax=axes, label="kappa")
        return _export(name, "Error consistency of every pair of raters", caption, figure)


def learning_curve(name: str, blocks: pd.DataFrame, starts: np.ndarray, ends: np.ndarray, trend: str) -> Figure:
    """Annotators' error per block of trials with its 95% band."""
    with matplotlib.rc_context(STYLE):
        figure = _new(7.0, 3.2)
        axes = figure.add_subplot()
        middle = (starts + ends) / 2
        error = 100 * blocks["error_rate"].to_numpy(dtype=float)
        low, high = 100 * blocks["wilson_low"].to_numpy(dtype=float), 100 * blocks["wilson_high"].to_numpy(dtype=float)
        axes.fill_between(middle, low, high, color=KIND_COLOURS["human"], alpha=0.2, linewidth=0, label="95% interval")
        axes.plot(middle, error, marker="o", color=KIND_COLOURS["human"], label="annotators' error")
        axes.set(
            xlabel="trial in the phase", ylabel="error (%)", ylim=(0, max(5.0, float(np.nanmax(high, initial=0)) * 1.1))
        )
        axes.legend(loc="best", fontsize=8)
        return _export(name, "Learning curve: error over the trials", f"Each dot is a block of trials. {trend}", figure)


#: Distinct colours for the models of a condition figure (Okabe-Ito, after the annotators' blue and green).
MODEL_SHADES = ("#D55E00", "#E69F00", "#CC79A7", "#000000", "#999999", "#F0E442")


def accuracy_by_condition(
    name: str, rates: pd.DataFrame, curves: dict[str, tuple[np.ndarray, np.ndarray]], guess: float, phase: str
) -> Figure:
    """Accuracy against the condition level: each annotator as a thin line, the annotators' mean
    and each model with interval bars, and each one's fitted psychometric curve (dashed).

    ``rates`` holds one phase's ``condition_rates`` rows of one scope; ``curves`` maps a rater
    to its fitted curve (levels, accuracy); levels that are not all numbers are placed evenly
    in their order (and no curves are drawn).
    """
    from study_app.stats.conditions import condition_order

    levels = condition_order(rates["condition"].astype(str).unique())
    numeric = _all_numbers(levels)
    position = {level: (float(level) if numeric else float(i)) for i, level in enumerate(levels)}
    models = sorted(rates.loc[rates["kind"] == "model", "rater"].astype(str).unique())
    with matplotlib.rc_context(STYLE):
        figure = _new(7.0, 4.2)
        axes = figure.add_subplot()
        for _rater, rows in rates[rates["kind"] == "human"].groupby("rater", observed=True, sort=True):
            x, accuracy = _accuracy(_in_level_order(rows, position), position)
            axes.plot(x, 100 * accuracy, color=KIND_COLOURS["human"], linewidth=0.6, alpha=0.45, zorder=1)
        axes.plot([], [], color=KIND_COLOURS["human"], linewidth=0.6, alpha=0.45, label="each annotator")
        groups = [("humans", "annotators' mean", KIND_COLOURS["humans"], "boot")]
        groups += [(model, model, MODEL_SHADES[i % len(MODEL_SHADES)], "wilson") for i, model in enumerate(models)]
        for rater, label, colour, method in groups:
            rows = rates[(rates["kind"] == "humans") if rater == "humans" else (rates["rater"] == rater)]
            if rows.empty:
                continue
            rows = _in_level_order(rows, position)
            x, accuracy = _accuracy(rows, position)
            low, high = (
                1 - rows[f"{method}_high"].to_numpy(dtype=float),
                1 - rows[f"{method}_low"].to_numpy(dtype=float),
            )
            axes.errorbar(
                x,
                100 * accuracy,
                yerr=[100 * np.clip(accuracy - low, 0, None), 100 * np.clip(high - accuracy, 0, None)],
                color=colour,
                marker="o",
                markersize=4,
                linewidth=0 if rater in curves else 1.5,
                elinewidth=1,
                capsize=2,
                label=label,
                zorder=3,
            )
            if rater in curves:
                curve_x, curve_y = curves[rater]
                axes.plot(curve_x, 100 * curve_y, color=colour, linestyle="--", linewidth=1.2, zorder=2)
        axes.axhline(
            100 * guess, color="#777777", linewidth=0.8, linestyle=":", label=f"chance ({100 * guess:.3g}%)", zorder=0
        )
        if not numeric:
            axes.set_xticks(list(position.values()), levels)
        axes.set(xlabel="condition level", ylabel="accuracy (%)", ylim=(0, 102))
        axes.legend(loc="best", fontsize=8)
        caption = (
            "Dots: accuracy at each level with 95% intervals (Wilson for "
            "one rater, cluster bootstrap for the annotators' mean); "
            "thin lines: each annotator" + ("; dashed: fitted psychometric functions." if curves else ".")
        )
        return _export(name, f"Accuracy by condition: {phase}", caption, figure)


def _all_numbers(levels: list[str]) -> bool:
    try:
        return all(np.isfinite(float(level)) for level in levels)
    except ValueError:
        return False


def _in_level_order(rows: pd.DataFrame, position: dict[str, float]) -> pd.DataFrame:
    return rows.iloc[np.argsort([position[level] for level in rows["condition"].astype(str)], kind="stable")]


def _accuracy(rows: pd.DataFrame, position: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([position[level] for level in rows["condition"].astype(str)]), 1 - rows["error_rate"].to_numpy(
        dtype=float
    )
