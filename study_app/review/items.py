"""The errors to review: which raters' answers were wrong, with their guesses in order.

Errors come from the same rater table as ``compare`` (:func:`study_app.stats.rater_table`:
the answers of the analysed phases, models scored with as many guesses as the phase asked
of people, only the images people saw), so a reviewer reviews exactly the errors that
the error rates count. Each error has a stable key (``item``) under which its reviews are
stored: ``trial:<trial uuid>`` for a person's answer, ``model:<name>:<phase>:<image>``
for a model's prediction.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study_app.analysis.phases import chosen_phases, default_phases
from study_app.errors import StudyError
from study_app.protocol.study import Study
from study_app.review.selection import REVIEW_RULES, Selection
from study_app.stats import HUMAN, MODEL, RULES, image_phases, rater_table, shown_images_only
from study_app.stats.raters import with_condition
from study_app.store.reviews import ReviewTarget


@dataclass(frozen=True)
class ErrorItem:
    """One wrong answer of one rater on one image, as the reviewer sees it."""

    item: str
    rater: str
    kind: str
    phase: str
    image_id: str
    trial_uuid: str | None
    trial: int | None
    guesses: tuple[str, ...]
    outcome: str
    rt_ms: float | None
    truth: tuple[str, ...]

    def target(self) -> ReviewTarget:
        return ReviewTarget(
            self.item, self.rater, self.kind, self.phase, self.image_id, self.trial_uuid, self.guesses, self.truth
        )


def find_errors(
    study: Study, answers: pd.DataFrame | None, predictions: pd.DataFrame | None, selection: Selection
) -> tuple[list[ErrorItem], Selection]:
    """The errors of the selected raters, ordered by rater kind (people first), rater and trial.

    Returns the errors and the selection with its defaults filled in (phases, k).
    """
    if selection.rule not in REVIEW_RULES:
        raise StudyError(f"--rule must be one of {', '.join(REVIEW_RULES)}, not {selection.rule!r}")
    known_phases = [p.name for p in study.phases]
    phases = chosen_phases(selection.phases, default_phases(study), known_phases)
    k = selection.k or max(study.phase(p).answers for p in phases)
    selection = Selection(selection.raters, selection.rule, tuple(phases), k)
    if answers is not None and answers.empty:
        answers = None
    if answers is None and predictions is None:
        raise StudyError(
            f"nothing to review: no answers for study {study.name!r} in the store and no model predictions"
        )
    # no label set: the severity columns it adds are not needed here (guesses were checked when stored or read)
    raters = rater_table(answers, predictions, study, k=k, labels=None, phase_of=image_phases(study))
    raters = raters[raters["phase"].isin(phases)]
    if answers is not None:
        raters = shown_images_only(raters.reset_index(drop=True))
    chosen = _chosen(raters, selection.raters)
    wrong = raters[chosen & ~raters[RULES[selection.rule]].to_numpy(dtype=bool)]
    people = wrong[(wrong["kind"] == HUMAN).to_numpy()]
    machines = wrong[(wrong["kind"] != HUMAN).to_numpy()]
    items = _human_errors(people, answers, study) + _model_errors(machines, predictions, study, k)
    order = {HUMAN: 0, MODEL: 1}
    items.sort(
        key=lambda e: (
            order[e.kind],
            e.rater,
            known_phases.index(e.phase),
            -1 if e.trial is None else e.trial,
            e.image_id,
        )
    )
    return items, selection


def _chosen(raters: pd.DataFrame, wanted: Sequence[str]) -> np.ndarray:
    kind = raters["kind"].astype(str).to_numpy()
    names = raters["rater"].astype(str).to_numpy()
    if list(wanted) == ["all"]:
        return np.ones(len(raters), dtype=bool)
    if list(wanted) == ["humans"]:
        return kind == HUMAN
    if list(wanted) == ["models"]:
        return kind == MODEL
    present = set(names)
    unknown = [name for name in wanted if name not in present]
    if unknown:
        raise StudyError(f"no rater {unknown[0]!r} in the analysed phases; raters: {', '.join(sorted(present))}")
    return np.isin(names, list(wanted))


def _human_errors(wrong: pd.DataFrame, answers: pd.DataFrame | None, study: Study) -> list[ErrorItem]:
    """People's wrong units with the guesses of their trial, in rank order.

    A unit is (annotator, phase, trial index, image); when an annotator has two trials
    with the same key (two sessions), the first in answer order is the one the rater
    table scored. Only the wrong units' rows are grouped: a study's answers run to
    hundreds of thousands of rows.
    """
    if wrong.empty or answers is None:
        return []
    key = ["annotator", "phase", "trial", "image_id"]
    units = pd.DataFrame(
        {
            "annotator": wrong["rater"].astype(str).to_numpy(),
            "phase": wrong["phase"].astype(str).to_numpy(),
            "trial": wrong["trial"].astype("int64").to_numpy(),
            "image_id": wrong["image_id"].astype(str).to_numpy(),
        }
    )
    current = answers[~answers["superseded"].astype(bool)] if "superseded" in answers.columns else answers
    columns = [*key, "trial_uuid", "rank", "label_id", "outcome", "rt_ms"]
    # plain Python strings: arrow-backed text columns are slow to compare and to iterate row by row
    current = current[columns].astype(
        {
            "annotator": object,
            "phase": object,
            "image_id": object,
            "trial_uuid": object,
            "label_id": object,
            "outcome": object,
            "trial": "int64",
        }
    )
    rows = current.merge(
        units.astype({"annotator": object, "phase": object, "image_id": object}), on=key, how="inner", sort=False
    )
    first_trial = rows.drop_duplicates(key, keep="first")["trial_uuid"]
    rows = rows[rows["trial_uuid"].isin(first_trial)]
    labelled = rows[rows["label_id"].astype(str) != ""].sort_values(["trial_uuid", "rank"], kind="stable")
    guesses = _runs(labelled["trial_uuid"].to_numpy(dtype=object), labelled["label_id"].to_numpy(dtype=object))
    firsts = rows.drop_duplicates("trial_uuid", keep="first")
    return [
        ErrorItem(
            f"trial:{trial_uuid}",
            annotator,
            HUMAN,
            phase,
            image_id,
            str(trial_uuid),
            int(trial),
            guesses.get(trial_uuid, ()),
            str(outcome),
            float(rt_ms),
            study.truth(image_id),
        )
        for annotator, phase, trial, image_id, trial_uuid, outcome, rt_ms in firsts[
            [*key, "trial_uuid", "outcome", "rt_ms"]
        ].to_numpy(dtype=object)
    ]


def _model_errors(wrong: pd.DataFrame, predictions: pd.DataFrame | None, study: Study, k: int) -> list[ErrorItem]:
    """Models' wrong units with their first ``k`` guesses in rank order (as they were scored)."""
    if wrong.empty or predictions is None:
        return []
    units = pd.DataFrame(
        {
            "model": wrong["rater"].astype(str).to_numpy(),
            "image_id": wrong["image_id"].astype(str).to_numpy(),
            "phase": wrong["phase"].astype(str).to_numpy(),
            "condition": with_condition(wrong)["condition"].astype(str).to_numpy(),
        }
    )
    rows = predictions.astype({"model": str, "image_id": str}).merge(
        units[["model", "image_id"]].drop_duplicates(), on=["model", "image_id"]
    )
    rows = rows.sort_values(["model", "image_id", "rank"], kind="stable")
    pairs = (rows["model"] + "\0" + rows["image_id"]).to_numpy(dtype=object)
    guesses = _runs(pairs, rows["label_id"].to_numpy(dtype=object))
    return [
        ErrorItem(
            f"model:{model}:{phase}:{image_id}" + (f"@{condition}" if condition else ""),
            model,
            MODEL,
            phase,
            image_id,
            None,
            None,
            guesses.get(f"{model}\0{image_id}", ())[:k],
            "answer",
            None,
            study.truth(image_id),
        )
        for model, image_id, phase, condition in units.itertuples(index=False)  # one image at two conditions: two items
    ]


def _runs(keys: np.ndarray, labels: np.ndarray) -> dict[str, tuple[str, ...]]:
    """Key -> the labels of its run, for rows sorted so that each key's rows are together (in rank order).

    Plain slicing of the sorted rows: a pandas aggregation with a Python function would
    cost a group object per error (seconds for tens of thousands of errors).
    """
    if not len(keys):
        return {}
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    values = [str(label) for label in labels]
    return {str(keys[start]): tuple(values[start:end]) for start, end in zip(starts, ends)}


def review_order(items: list[ErrorItem], blind: bool, seed: int, reviewer: str) -> list[ErrorItem]:
    """People first then models (by rater) when not blind; blind, a shuffle that is the same
    every time for this study seed and reviewer (so resuming finds the same order)."""
    if not blind:
        return list(items)
    shuffled = sorted(items, key=lambda e: e.item)
    random.Random(f"review:{seed}:{reviewer}").shuffle(shuffled)
    return shuffled


def study_errors(
    study: Study, store, prediction_files: Sequence[str] | None, selection: Selection
) -> tuple[list[ErrorItem], Selection]:
    """:func:`find_errors` on a study's stored answers and its (or the given) prediction files,
    read as ``compare`` reads them (:mod:`study_app.analysis.sources`)."""
    from study_app.analysis.sources import study_answers, study_predictions

    answers = study_answers(store, study)
    predictions, _ = study_predictions(study, prediction_files or ())
    return find_errors(study, answers, predictions, selection)
