"""The whole comparison of annotators and models, as one object with every table.

:func:`compare` runs each analysis of this package on a rater table and keeps the
results as tidy data frames: error rates (all phases), then per analysed phase the
paired comparisons, the mixed model of each model against the population of
annotators (:mod:`study_app.stats.mixed`), Cochran's Q over the models, error consistency
of every pair (with the annotators' ceiling) and the paired test of two models' consistency
with them, label
agreement between annotators, per-class (and per-superclass) errors, the most confused
labels, the trend over trials and response times. ``summary()`` is the readable
report the ``compare`` command prints; ``tables()`` is what it writes as CSV files.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from study_app.errors import StudyError
from study_app.protocol.labels import LabelSet
from study_app.stats.agreement import consistency_analysis, fleiss_kappa_labels, label_kappa_table
from study_app.stats.breakdowns import class_error_comparison, confused_pairs, error_by_trial, rt_by_correctness
from study_app.stats.crowd import CROWD_DEFINITIONS, crowds
from study_app.stats.mixed import population_table
from study_app.stats.paired import FAMILIES, cochran_q_test, paired_comparisons
from study_app.stats.raters import HUMAN, MODEL, concat_tables, shown_images_only
from study_app.stats.rates import ALL_PHASES, error_rates
from study_app.stats.results import Result, Summary, format_pvalue, format_value, is_pvalue, json_records

RULES = {"top-1": "correct_top1", "top-k": "correct_topk", "all-valid": "all_guesses_valid"}


@dataclass(frozen=True, repr=False)
class Comparison(Result):
    """Every result of :func:`compare`; each table has a ``phase`` column where it applies."""

    rule: str
    k: int
    alpha: float
    n_boot: int
    rates: pd.DataFrame
    paired: pd.DataFrame
    models: pd.DataFrame
    consistency: pd.DataFrame
    consistency_differences: pd.DataFrame
    label_agreement: pd.DataFrame
    classes: pd.DataFrame
    class_correlation: pd.DataFrame
    confusions: pd.DataFrame
    trend: pd.DataFrame
    response_times: pd.DataFrame
    population: pd.DataFrame
    notes: tuple[str, ...] = field(default=())

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name -> table, for writing one CSV per table."""
        return {name: getattr(self, name) for name in _TABLES}

    def to_json(self) -> dict[str, Any]:
        """Settings, notes and every table as lists of records (NaN as null)."""
        return {
            "rule": self.rule,
            "k": self.k,
            "alpha": self.alpha,
            "n_boot": self.n_boot,
            "notes": list(self.notes),
            **{name: json_records(table) for name, table in self.tables().items()},
        }

    def rates_beyond_shared(self) -> pd.DataFrame:
        """The scope-``all`` rates that say more than the shared ones: a rater whose trials
        go beyond the shared images (a model run on a whole data set); every scope-``all``
        row when there is no shared scope (predictions alone)."""
        return _beyond_shared(self.rates[self.rates["scope"] == "all"], self.rates[self.rates["scope"] == "shared"])

    def summary(self) -> Summary:
        """The readable report: settings, then each non-empty analysis as an aligned table, then the notes."""
        lines = [self._heading(), ""]
        for number, (title, table, after) in enumerate(self._sections()):
            lines += ([""] if number else []) + [title, table.to_string(index=False), *after]
        lines += [f"note: {note}" for note in self.notes]
        return Summary("\n".join(lines), self._repr_html_)

    def _repr_html_(self) -> str:
        """:meth:`summary` as HTML: the same sections, each an HTML table."""
        parts = [f"<h4>{escape(self._heading())}</h4>"]
        for title, table, after in self._sections():
            parts += [
                f"<p><b>{escape(title)}</b></p>",
                table.to_html(index=False, border=0),
                *(f"<p>{escape(line)}</p>" for line in after),
            ]
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in self.notes) + "</ul>")
        return "".join(parts)

    def __repr__(self) -> str:
        """A few lines naming what the comparison holds; :meth:`summary` reads it, :meth:`tables` gives the tables."""
        kinds = self.rates.drop_duplicates("rater")["kind"]
        phases = sorted(set(self.rates["phase"].astype(str)) - {ALL_PHASES}) or [ALL_PHASES]
        raters = f"{int((kinds == HUMAN).sum())} annotator(s), {int((kinds == MODEL).sum())} model(s)"
        tables = self.tables()
        filled = [f"{name}[{len(table)}x{len(table.columns)}]" for name, table in tables.items() if not table.empty]
        empty = [name for name, table in tables.items() if table.empty]
        return (
            f"<Comparison: {self.rule} rule (k = {self.k}), alpha {self.alpha:g}, {self.n_boot} bootstrap replicates; "
            f"phases {', '.join(phases)}; {raters}\n"
            + textwrap.fill(
                f"tables: {', '.join(filled)}" + (f"; empty: {', '.join(empty)}" if empty else ""),
                width=110,
                initial_indent=" ",
                subsequent_indent="   ",
            )
            + f"\n {len(self.notes)} note(s); .summary() reads it all, .tables()[name] gives a table>"
        )

    def _heading(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        return (
            f"Human vs model comparison: {self.rule} rule (k = {self.k}), "
            f"{level} intervals, {self.n_boot} bootstrap replicates"
        )

    def _sections(self) -> list[tuple[str, pd.DataFrame, list[str]]]:
        """(title, the table as shown, lines after it) of each non-empty analysis, in the order of the report."""
        level = f"{100 * (1 - self.alpha):g}%"
        sections: list[tuple[str, pd.DataFrame, list[str]]] = []

        def add(title: str, table: pd.DataFrame, columns: dict[str, str], after: Sequence[str] = ()) -> None:
            if not table.empty:
                sections.append((title, _shown(table, columns), list(after)))

        rate_columns = {
            "phase": "phase",
            "rater": "rater",
            "kind": "kind",
            "n": "n",
            "error_rate": "error",
            "wilson": f"{level} Wilson",
            "cp": f"{level} exact",
            "boot": f"{level} bootstrap",
        }
        shared = self.rates[self.rates["scope"] == "shared"]
        add(
            "Error rates on the shared images (annotators: every answer; models: the images annotators saw)",
            shared,
            rate_columns,
        )
        add(
            "Error rates on all of each rater's trials"
            if shared.empty
            else "Error rates on all of each model's images (scope all; rows that differ from the above)",
            self.rates_beyond_shared(),
            rate_columns,
        )
        add(
            "Paired comparisons on shared images (difference = error A - error B; Holm within each family)",
            self.paired,
            {
                "phase": "phase",
                "rater_a": "A",
                "rater_b": "B",
                "n_images": "n",
                "error_a": "error A",
                "error_b": "error B",
                "difference": "difference",
                "score": f"{level} score (Tango)",
                "boot": f"{level} bootstrap",
                "mcnemar_p": "McNemar p",
                "mcnemar_p_holm": "Holm p",
                "mcnemar_midp": "mid-p",
                "gee_difference": "GEE difference",
                "gee_p": "GEE p",
                "family": "family",
                "note": "note",
            },
        )
        add(
            "Model vs people (logistic mixed model, annotators and "
            "images random; effect = log-odds of error, model - humans)",
            self.population,
            {
                "phase": "phase",
                "model": "model",
                "n_images": "n",
                "n_annotators": "annotators",
                "effect": "effect",
                "ci": f"{level} CI",
                "pvalue": "p",
                "annotator_sd": "annotator SD",
                "image_sd": "image SD",
                "note": "note",
            },
        )
        add(
            "Several models (Cochran's Q; pairwise exact McNemar, Holm)",
            self.models,
            {
                "phase": "phase",
                "test": "test",
                "n_images": "n",
                "statistic": "statistic",
                "pvalue": "p",
                "pvalue_holm": "Holm p",
            },
        )
        families = (
            []
            if self.consistency.empty
            else [f"  Holm family: {family}" for family in self.consistency["holm_family"].unique() if family]
        )
        add(
            "Error consistency (kappa of correctness; attainable range in brackets)",
            self.consistency,
            {
                "phase": "phase",
                "rater_a": "A",
                "rater_b": "B",
                "n_images": "n",
                "observed_consistency": "c_obs",
                "expected_consistency": "c_exp",
                "kappa": "kappa",
                "kappa_ci": f"{level} bootstrap",
                "kappa_range": "range",
                "pvalue": "Fisher p",
                "pvalue_holm": "Holm p",
            },
            families,
        )
        add(
            "Which model errs more like the annotators? (mean kappa with them, A - B; paired bootstrap over images)",
            self.consistency_differences,
            {
                "phase": "phase",
                "model_a": "A",
                "model_b": "B",
                "n_annotators": "annotators",
                "n_images": "n",
                "kappa_a": "kappa A",
                "kappa_b": "kappa B",
                "difference": "difference",
                "ci": f"{level} bootstrap",
                "pvalue": "p",
            },
        )
        add(
            "Label agreement between annotators (top-1 labels)",
            self.label_agreement,
            {
                "phase": "phase",
                "test": "statistic",
                "raters": "annotators",
                "n_images": "n",
                "kappa": "kappa",
                "ci": f"{level} CI",
                "pvalue": "p",
                "pvalue_holm": "Holm p",
                "pvalue_method": "p from",
            },
        )
        add(
            "Per-class error profiles (Spearman; classes differing at FDR alpha)",
            self.class_correlation,
            {
                "phase": "phase",
                "model": "model",
                "level": "level",
                "n_classes": "classes",
                "spearman_rho": "rho",
                "spearman_p": "p",
                "n_significant": "differing",
            },
        )
        add(
            "Error over trials (odds ratio per 100 trials)",
            self.trend,
            {
                "phase": "phase",
                "n_annotators": "annotators",
                "n_trials": "trials",
                "odds_ratio_per_100": "odds ratio",
                "ci": f"{level} CI",
                "pvalue": "p",
            },
        )
        add(
            "Response time (ms) of right and wrong answers",
            self.response_times,
            {
                "phase": "phase",
                "rater": "annotator",
                "n_right": "right",
                "n_wrong": "wrong",
                "median_rt_right": "median right",
                "median_rt_wrong": "median wrong",
                "pvalue": "Mann-Whitney p",
            },
        )
        return sections


def _beyond_shared(every: pd.DataFrame, shared: pd.DataFrame) -> pd.DataFrame:
    """The scope-``all`` rows whose count differs from the shared ones (all of them without a shared scope)."""
    if shared.empty:
        return every
    per_phase = shared.set_index(["phase", "rater"])["n"]
    overall = (
        shared[shared["phase"] != ALL_PHASES].groupby("rater", observed=True)["n"].sum()
    )  # "(all)": every phase together
    counterpart = [
        overall.get(rater) if phase == ALL_PHASES else per_phase.get((phase, rater))
        for phase, rater in zip(every["phase"], every["rater"])
    ]
    return every[[n != other for n, other in zip(every["n"], counterpart)]]


_TABLES = (
    "rates",
    "paired",
    "population",
    "models",
    "consistency",
    "consistency_differences",
    "label_agreement",
    "classes",
    "class_correlation",
    "confusions",
    "trend",
    "response_times",
)


def _shown(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Chosen columns as text, titled; ``x`` stands for the interval ``x_low``..``x_high``."""
    shown = {}
    for key, title in columns.items():
        bounds = (f"{key}_low", f"{key}_high") if key != "kappa_range" else ("kappa_min", "kappa_max")
        if bounds[0] in table.columns:
            pairs = zip(table[bounds[0]].astype(float), table[bounds[1]].astype(float))
            shown[title] = ["" if np.isnan(a) and np.isnan(b) else format_value((a, b)) for a, b in pairs]
        elif key in table.columns:
            number = format_pvalue if is_pvalue(key) else format_value
            shown[title] = [number(v) if isinstance(v, (float, np.floating)) else str(v) for v in table[key].tolist()]
    return pd.DataFrame(shown)


def compare(
    raters: pd.DataFrame,
    *,
    alpha: float = 0.05,
    rule: str = "top-k",
    k: int = 5,
    n_boot: int = 10_000,
    seed: int = 0,
    labels: LabelSet | None = None,
    notes: Sequence[str] = (),
) -> Comparison:
    """Run every analysis on a rater table.

    Parameters
    ----------
    raters : DataFrame
        A rater table of annotators and models, or of models alone, restricted to the
        phases to analyse (a model's rows in no phase, for images no phase shows, are
        kept: they count in its error on all its images). Error rates come in two scopes:
        ``all`` (every trial or prediction of each rater) and ``shared`` (models on the
        stimuli some annotator saw); every paired analysis uses the shared stimuli.
    alpha : float
        1 - confidence level; also the level of the multiple-testing corrections.
    rule : {"top-1", "top-k", "all-valid"}
        Which correctness column to use.
    k : int
        The k the table was scored with (reported only).
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the bootstrap.
    labels : LabelSet, optional
        With a hierarchy, errors per superclass are added.
    notes : sequence of str
        What the caller knows about its inputs (trials left out, a k unlike people's),
        reported first among the comparison's notes.
    """
    if rule not in RULES:
        raise StudyError(f"rule must be one of {', '.join(RULES)}, not {rule!r}")
    if raters.empty:
        raise StudyError("nothing to compare: no answers and no predictions with ground truth")
    correct = RULES[rule]
    notes = list(notes)
    has_people = bool((raters["kind"] == HUMAN).any())
    if has_people:
        shared = shown_images_only(raters)
    else:  # predictions alone: the models against each other, on the images they share
        raters = shared = raters.assign(phase=raters["phase"].astype(str).replace("", ALL_PHASES))
    per_phase: dict[str, list[pd.DataFrame]] = {name: [] for name in _TABLES if name != "rates"}
    for phase, rows in shared.groupby("phase", observed=True, sort=True):
        tagged = _phase_tables(rows, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed, labels=labels, notes=notes)
        for name, table in tagged.items():
            per_phase[name].append(table.assign(phase=str(phase))[["phase", *table.columns]])
    joined = {
        name: pd.concat(parts, ignore_index=True) if parts else pd.DataFrame() for name, parts in per_phase.items()
    }
    notes += _definitions(joined["paired"], has_people)
    rates = [error_rates(raters, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed, scope="all")]
    if has_people:
        rates.append(error_rates(shared, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed, scope="shared"))
    return Comparison(rule, k, alpha, n_boot, pd.concat(rates, ignore_index=True), notes=tuple(notes), **joined)


def _phase_tables(
    rows: pd.DataFrame, *, alpha: float, correct: str, n_boot: int, seed: int, labels: LabelSet | None, notes: list[str]
) -> dict[str, pd.DataFrame]:
    models = sorted(rows.loc[rows["kind"] == MODEL, "rater"].astype(str).unique())
    people = sorted(rows.loc[rows["kind"] == HUMAN, "rater"].astype(str).unique())
    phase = str(rows["phase"].iloc[0])
    with_crowd = concat_tables(rows, crowds(rows, seed=seed)) if people else rows
    tables: dict[str, pd.DataFrame] = {
        "paired": paired_comparisons(with_crowd, None, alpha=alpha, correct=correct, n_boot=n_boot, seed=seed)
        if len(models) > (0 if people else 1)
        else pd.DataFrame(),
        **_consistency(rows, correct, alpha, n_boot, seed, phase),
        "confusions": confused_pairs(rows),
        "models": _models_table(rows, models, alpha, correct) if len(models) >= 3 else pd.DataFrame(),
        "label_agreement": _label_agreement(rows, people, alpha, phase, notes, seed),
    }
    if not people:  # predictions alone: the models against each other, nothing about people
        return tables
    tables["response_times"] = rt_by_correctness(rows, correct=correct)
    tables["population"] = population_table(rows, models, alpha=alpha, correct=correct)
    levels = ["class", "superclass"] if labels is not None and labels.parent_of else ["class"]
    found = [
        class_error_comparison(rows, model, level=level, labels=labels, alpha=alpha, correct=correct)
        for model in models
        for level in levels
    ]
    per_class = [c.table.rename(columns={c.level: "class"}).assign(model=c.model, level=c.level) for c in found]
    tables["classes"] = pd.concat(per_class, ignore_index=True) if found else pd.DataFrame()
    profile = ("model", "level", "n_classes", "spearman_rho", "spearman_p", "n_significant")
    tables["class_correlation"] = pd.DataFrame([_fields(c, profile) for c in found])
    try:
        trend = error_by_trial(rows, alpha=alpha, correct=correct)
        tables["trend"] = pd.DataFrame(
            [_fields(trend, ("n_annotators", "n_trials", "odds_ratio_per_100", "ci_low", "ci_high", "pvalue"))]
        )
    except StudyError as exc:
        notes.append(f"phase {phase}: no trend over trials ({exc})")
        tables["trend"] = pd.DataFrame()
    return tables


def _definitions(paired: pd.DataFrame, has_people: bool) -> list[str]:
    """What the crowds are (with annotators) and how paired tests are corrected, for every output."""
    crowds_text = "; ".join(f"{name}: {text}" for name, text in CROWD_DEFINITIONS.items())
    found = (
        []
        if paired.empty
        else [f"{name!r} ({FAMILIES[name]})" for name in FAMILIES if (paired["family"] == name).any()]
    )
    families = (
        (
            "paired comparisons: Tango's score interval is the primary interval of a pair of single "
            "raters, the bootstrap the secondary (and the only one of the pooled annotators); "
            f"McNemar p-values are Holm-adjusted within each family of a phase: {', '.join(found)}"
        )
        if found
        else ""
    )
    return [*([f"crowds of the annotators: {crowds_text}"] if has_people else []), *([families] if families else [])]


def _fields(result: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(result, name) for name in names}


def _models_table(rows: pd.DataFrame, models: list[str], alpha: float, correct: str) -> pd.DataFrame:
    result = cochran_q_test(rows, models, alpha=alpha, correct=correct)
    overall = {
        "test": "Cochran's Q: " + ", ".join(result.raters),
        "n_images": result.n_images,
        "statistic": result.statistic,
        "pvalue": result.pvalue,
        "pvalue_holm": np.nan,
    }
    pairs = [
        {
            "test": f"McNemar {r.rater_a} vs {r.rater_b}",
            "n_images": result.n_images,
            "statistic": float(min(r.only_a_right, r.only_b_right)),
            "pvalue": r.pvalue,
            "pvalue_holm": r.pvalue_holm,
        }
        for r in result.pairwise.itertuples()
    ]
    return pd.DataFrame([overall, *pairs])


def _consistency(
    rows: pd.DataFrame, correct: str, alpha: float, n_boot: int, seed: int, phase: str
) -> dict[str, pd.DataFrame]:
    found = consistency_analysis(
        rows,
        correct=correct,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        family=f"error consistency, phase {phase}, every pair of raters",
    )
    return {"consistency": found.table, "consistency_differences": found.differences}


def _label_agreement(
    rows: pd.DataFrame, people: list[str], alpha: float, phase: str, notes: list[str], seed: int
) -> pd.DataFrame:
    cohen = label_kappa_table(rows, alpha=alpha, seed=seed)
    table = pd.DataFrame(
        {
            "test": "Cohen's kappa",
            "raters": cohen["rater_a"] + " & " + cohen["rater_b"],
            "n_images": cohen["n_images"],
            "kappa": cohen["kappa"],
            "ci_low": cohen["ci_low"],
            "ci_high": cohen["ci_high"],
            "pvalue": cohen["pvalue"],
            "pvalue_method": cohen["pvalue_method"],
            "pvalue_holm": cohen["pvalue_holm"],
            "holm_family": cohen["holm_family"],
        }
    )
    if len(people) >= 3:
        try:
            fleiss = fleiss_kappa_labels(rows, people)
            extra = {
                "test": "Fleiss' kappa",
                "raters": ", ".join(fleiss.raters),
                "n_images": fleiss.n_images,
                "kappa": fleiss.kappa,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "pvalue": np.nan,
                "pvalue_method": "",
                "pvalue_holm": np.nan,
                "holm_family": "",
            }
            table = pd.concat([table, pd.DataFrame([extra])], ignore_index=True)
        except StudyError as exc:
            notes.append(f"phase {phase}: no Fleiss' kappa ({exc})")
    return table
