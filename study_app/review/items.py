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

from ..errors import StudyError
from ..protocol import Study
from ..stats import HUMAN, MODEL, RULES, image_phases, rater_table, shown_images_only
from ..store.reviews import ReviewTarget

#: ``--raters`` choices besides a list of rater names.
RATER_GROUPS = ("humans", "models", "all")
REVIEW_RULES = ("top-1", "top-k")


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
        return ReviewTarget(self.item, self.rater, self.kind, self.phase, self.image_id, self.trial_uuid, self.guesses, self.truth)


@dataclass(frozen=True)
class Selection:
    """Which errors: the raters (a group or names), the correctness rule, k and the phases."""

    raters: tuple[str, ...] = ("all",)
    rule: str = "top-k"
    phases: tuple[str, ...] = ()
    k: int | None = None

    def to_json(self) -> dict:
        return {"raters": list(self.raters), "rule": self.rule, "phases": list(self.phases), "k": self.k}


def default_phases(study: Study) -> tuple[str, ...]:
    """The phases ``compare`` analyses by default: those without feedback."""
    return tuple(p.name for p in study.phases if not p.feedback) or tuple(p.name for p in study.phases)


def find_errors(study: Study, answers: pd.DataFrame | None, predictions: pd.DataFrame | None, selection: Selection) -> tuple[list[ErrorItem], Selection]:
    """The errors of the selected raters, ordered by rater kind (people first), rater and trial.

    Returns the errors and the selection with its defaults filled in (phases, k).
    """
    if selection.rule not in REVIEW_RULES:
        raise StudyError(f"--rule must be one of {', '.join(REVIEW_RULES)}, not {selection.rule!r}")
    known_phases = [p.name for p in study.phases]
    phases = selection.phases or default_phases(study)
    unknown = [p for p in phases if p not in known_phases]
    if unknown:
        raise StudyError(f"no phase {unknown[0]!r}; phases: {', '.join(known_phases)}")
    k = selection.k or max(study.phase(p).answers for p in phases)
    selection = Selection(selection.raters, selection.rule, tuple(phases), k)
    if answers is not None and answers.empty:
        answers = None
    if answers is None and predictions is None:
        raise StudyError(f"nothing to review: no answers for study {study.name!r} in the store and no model predictions")
    raters = rater_table(answers, predictions, study, k, study.labels, image_phases(study))
    raters = raters[raters["phase"].isin(phases)]
    if answers is not None:
        raters = shown_images_only(raters.reset_index(drop=True))
    chosen = _chosen(raters, selection.raters)
    wrong = raters[chosen & ~raters[RULES[selection.rule]].to_numpy(dtype=bool)]
    guesses = _guesses(answers, predictions)
    items = []
    for row in wrong.itertuples(index=False):
        rater, kind, phase, image_id = str(row.rater), str(row.kind), str(row.phase), str(row.image_id)
        if kind == HUMAN:
            trial_uuid, labels, outcome, rt = guesses["human"][(rater, phase, int(row.trial), image_id)]
            item = f"trial:{trial_uuid}"
            trial = int(row.trial)
        else:
            trial_uuid, outcome, rt = None, "answer", None
            trial = None
            labels = guesses["model"].get((rater, image_id), ())[:k]
            item = f"model:{rater}:{phase}:{image_id}"
        items.append(ErrorItem(item, rater, kind, phase, image_id, trial_uuid, trial, labels, outcome, rt, study.truth(image_id)))
    order = {HUMAN: 0, MODEL: 1}
    items.sort(key=lambda e: (order[e.kind], e.rater, known_phases.index(e.phase), -1 if e.trial is None else e.trial, e.image_id))
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


def _guesses(answers: pd.DataFrame | None, predictions: pd.DataFrame | None) -> dict[str, dict]:
    """The guesses in rank order: people's per (annotator, phase, trial, image), first exposure first; models' per (model, image)."""
    human: dict[tuple, tuple] = {}
    if answers is not None:
        current = answers[~answers["superseded"].astype(bool)] if "superseded" in answers.columns else answers
        for trial_uuid, rows in current.groupby("trial_uuid", sort=False):
            first = rows.iloc[0]
            key = (str(first["annotator"]), str(first["phase"]), int(first["trial"]), str(first["image_id"]))
            labels = tuple(str(label) for label in rows.sort_values("rank")["label_id"] if str(label))
            human.setdefault(key, (str(trial_uuid), labels, str(first["outcome"]), float(first["rt_ms"])))
    model: dict[tuple, tuple] = {}
    if predictions is not None:
        for (name, image_id), rows in predictions.sort_values("rank").groupby(["model", "image_id"], sort=False):
            model[(str(name), str(image_id))] = tuple(str(label) for label in rows["label_id"])
    return {"human": human, "model": model}


def review_order(items: list[ErrorItem], blind: bool, seed: int, reviewer: str) -> list[ErrorItem]:
    """People first then models (by rater) when not blind; blind, a shuffle that is the same
    every time for this study seed and reviewer (so resuming finds the same order)."""
    if not blind:
        return list(items)
    shuffled = sorted(items, key=lambda e: e.item)
    random.Random(f"review:{seed}:{reviewer}").shuffle(shuffled)
    return shuffled


def study_errors(study: Study, store, prediction_files: Sequence[str] | None, selection: Selection) -> tuple[list[ErrorItem], Selection]:
    """:func:`find_errors` on a study's stored answers and its (or the given) prediction files."""
    from ..importers import read_prediction_files
    from ..store import answers_frame

    answers = answers_frame(store)
    answers = answers[answers["study"] == study.name]
    paths = list(prediction_files or study.prediction_files)
    predictions = read_prediction_files(paths, set(study.images), study.labels.class_ids) if paths else None
    return find_errors(study, answers, predictions, selection)
