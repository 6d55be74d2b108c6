"""The long rater table: one row per (rater, image), humans and models alike.

Following model-vs-human, people and models go into one schema so that every statistic
has a single code path. Columns:

``rater, kind, image_id, phase, condition``
    who (an annotator id or a model name), ``"human"`` or ``"model"``, which image, in
    which phase it was shown (models get the phase of the image; ``""`` if none) and at
    which condition (a level such as ``"0.35"`` of a degradation; ``""`` if none). A
    stimulus is (image, condition): the same image at two conditions is two stimuli,
    which every statistic keeps apart (:func:`stimulus_codes`).
``trial, rt_ms, outcome``
    position in the session, response time, and ``answer`` / ``not_sure`` /
    ``none_of_these`` / ``timeout`` / ``skip``; models have ``trial`` NA, ``rt_ms`` NaN
    and ``outcome`` ``"answer"``.
``label, n_guesses, truth, valid_labels``
    the top-1 guess (``""`` for a non-answer), how many guesses were given, the primary
    ground-truth label and every valid label joined by ``;``.
``correct_top1, correct_topk, all_guesses_valid``
    see :mod:`study_app.protocol.correctness`; a non-answer is wrong by every rule.
``lca_depth, superclass_correct``
    only with a label hierarchy: the severity of a top-1 miss.

Any other per-trial column of the input is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np
import pandas as pd

from study_app.errors import InputFileError, Problem
from study_app.protocol.correctness import correctness, guesses_count
from study_app.protocol.labels import LabelSet
from study_app.protocol.study import Study
from study_app.stats.scoring import guess_matrix, hierarchy_severity, rank_columns, rank_given_twice
from study_app.stats.truth import TruthSource, truth_table

HUMAN = "human"
MODEL = "model"
CORRECTNESS_COLUMNS = ("correct_top1", "correct_topk", "all_guesses_valid")
UNIT_KEY = ("rater", "phase", "image_id", "condition")
STIMULUS_KEY = ("image_id", "condition")
CATEGORY_COLUMNS = ("rater", "kind", "image_id", "phase", "condition", "outcome", "label", "truth", "valid_labels")
_GUESS_COLUMNS = ("rank", "label_id", "score")
_DEFAULTS = {"phase": "", "condition": "", "trial": pd.NA, "rt_ms": np.nan, "outcome": "answer"}


def raters_from_guesses(
    guesses: pd.DataFrame,
    truth: TruthSource,
    *,
    k: int = 5,
    labels: LabelSet | None = None,
    source: str = "guesses",
) -> pd.DataFrame:
    """Score tidy guesses (one row per rater, image and rank) into the rater table.

    Parameters
    ----------
    guesses : DataFrame
        Columns ``rater, kind, image_id, rank, label_id``; ``rank`` is NA on the one row
        of a non-answer. Optional per-(rater, image) columns ``phase, condition, trial,
        rt_ms, outcome`` and any others are carried into the result.
    truth : Study, mapping, DataFrame or manifest path
        Ground truth, see :func:`~study_app.stats.truth.truth_table`.
    k : int
        Guesses that count for ``correct_topk``.
    labels : LabelSet, optional
        Guesses outside its classes are an error; if it has a hierarchy, the columns
        ``lca_depth`` and ``superclass_correct`` are added.
    source : str
        Name of the input in error messages.

    Returns
    -------
    DataFrame
        The rater table, one row per (rater, phase, image, condition).
    """
    defaults = {c: v for c, v in _DEFAULTS.items() if c not in guesses.columns}
    # A default is one value on every row: it tells no units apart, so the key leaves it out, and
    # it is given to the units, not to the millions of guess rows of a model zoo.
    unit_of_row = unit_codes([guesses[c] for c in UNIT_KEY if c in guesses.columns])
    units = guesses.drop(columns=[c for c in _GUESS_COLUMNS if c in guesses.columns])
    return _score_units(
        units,
        unit_of_row,
        guesses["rank"],
        guesses["label_id"],
        truth,
        k=k,
        labels=labels,
        source=source,
        defaults=defaults,
    )


def _score_units(
    rows: pd.DataFrame,
    unit_of_row: np.ndarray,
    rank: pd.Series,
    label_id: pd.Series,
    truth: TruthSource,
    *,
    k: int,
    labels: LabelSet | None,
    source: str,
    defaults: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The shared scoring path: ``rows`` hold per-unit columns, repeated on each guess row.

    ``unit_of_row`` numbers the (rater, phase, image, condition) units 0, 1, ... in order of first
    appearance (``-1``: a row to ignore); each row with a rank is one guess. ``defaults``: columns
    with one value for every unit, added after ``rows``' own.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    counted = unit_of_row >= 0
    first = np.flatnonzero(first_occurrences(unit_of_row))
    units = as_categories(rows.iloc[first].reset_index(drop=True).assign(**(defaults or {})))
    # integer ranks (predictions) have no missing value: no float copy of millions of rows
    plain_integers = isinstance(rank.dtype, np.dtype) and rank.dtype.kind == "i"  # not Int64, which has NA
    ranks = rank.to_numpy() if plain_integers else rank.to_numpy(float, na_value=np.nan)
    guess = counted if ranks.dtype.kind == "i" else counted & ~np.isnan(ranks)
    every = bool(guess.all())  # predictions: every row a guess, so no row is copied out
    guess_rank, guess_unit = (ranks, unit_of_row) if every else (ranks[guess], unit_of_row[guess])
    odd = guess_rank[(guess_rank < 1) | (guess_rank % 1 != 0)]
    if len(odd):  # rank 0 would land in the matrix's last column and shift every guess
        raise InputFileError(
            [Problem(source, f"rank {odd[0]:g}: ranks are whole numbers from 1 (the first guess)", field="rank")]
        )
    column = rank_columns(guess_rank)
    if rank_given_twice(guess_unit, column, len(units)):
        raise InputFileError([Problem(source, "the same rank twice for one rater and image", field="rank")])
    label_code, label_names = _codes_by_appearance(label_id, None if every else guess)
    label_names = np.asarray(label_names, dtype=object)
    empty = np.flatnonzero(label_names == "")
    if len(empty):
        label_code[label_code == empty[0]] = -1  # a rank without a label is no guess
    if labels is not None:
        unknown = [name for name in label_names if name and name not in labels.class_ids]
        if unknown:
            raise InputFileError(
                [
                    Problem(
                        source,
                        f"{len(unknown)} label(s) not in the study's label set, e.g. {unknown[0]!r}",
                        field="label_id",
                    )
                ]
            )
    matrix = guess_matrix(guess_unit, column, label_code, len(units))
    units = units.astype({"trial": "Int64", "rt_ms": float})
    return _scored(units, matrix, label_names, truth_table(truth), k=k, labels=labels, source=source)


def _codes_by_appearance(values: pd.Series, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values[rows])`` (``rows``: a mask, ``None`` for all): codes numbering the values in
    order of first appearance, and the values. A categorical's codes are renumbered instead of
    its values hashed: 16 million model guesses of 1,000 classes."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(values if rows is None else values[rows])
        return codes, np.asarray(uniques, dtype=object)
    codes = values.cat.codes.to_numpy()
    codes = codes if rows is None else codes[rows]
    n = len(values.cat.categories)
    order = pd.unique(codes)  # the codes in order of first appearance: a hash of at most n + 1 values
    order = order[order >= 0]
    renumber = np.full(n + 1, -1, dtype=np.int32)  # the missing value (-1) stays -1 through the last slot
    renumber[order] = np.arange(len(order), dtype=np.int32)
    return renumber[codes], np.asarray(values.cat.categories, dtype=object)[order]


def _scored(
    units: pd.DataFrame,
    matrix: np.ndarray,
    label_names: np.ndarray,
    truth: pd.DataFrame,
    *,
    k: int,
    labels: LabelSet | None,
    source: str,
) -> pd.DataFrame:
    """Correctness, truth and severity columns for each unit (row of the guess matrix)."""
    image_code, images = pd.factorize(units["image_id"])
    truth = truth.assign(image_code=pd.Index(images).get_indexer(truth["image_id"]))
    truth = truth[truth["image_code"] >= 0]
    primary, joined = _labels_per_image(truth["image_code"].to_numpy(), truth["label_id"].to_numpy(dtype=object))
    if len(primary) < len(images):
        missing = images[~np.isin(np.arange(len(images)), truth["image_code"].to_numpy())]
        message = (
            f"{len(missing)} image(s) have no ground truth, e.g. "
            f"{missing[0]!r}; check the image ids against the manifest"
        )
        raise InputFileError([Problem(source, message, field="image_id")])
    truth_label_code = pd.Index(label_names).get_indexer(truth["label_id"])
    known = truth_label_code >= 0
    valid = truth["image_code"].to_numpy()[known] * len(label_names) + truth_label_code[known]
    scored = correctness(matrix, image_code, np.unique(valid), len(label_names), k)
    set_code, set_names = pd.factorize(joined)
    primary_code, primary_names = pd.factorize(primary)
    categories = pd.Index([*label_names, ""]).unique()  # "" (no answer) may already be there
    top1 = np.where(matrix[:, 0] >= 0, matrix[:, 0], categories.get_loc(""))
    table = units.assign(
        label=pd.Categorical.from_codes(top1, categories=categories),
        n_guesses=(matrix >= 0).sum(axis=1),
        truth=pd.Categorical.from_codes(primary_code[image_code], categories=primary_names),
        valid_labels=pd.Categorical.from_codes(set_code[image_code], categories=set_names),
        **scored,
    )
    if labels is not None and labels.parent_of:
        distinct = [tuple(name.split(";")) for name in set_names]
        severity = hierarchy_severity(table["label"].array, distinct, set_code[image_code], labels)
        table["lca_depth"], table["superclass_correct"] = severity
    return as_categories(table)


def _labels_per_image(image_code: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image code present (ascending), its primary (first) label and all its labels joined by ``;``,
    from truth rows in their order: one stable sort, a Python join only for multi-label images."""
    order = np.argsort(image_code, kind="stable")
    codes, labels = image_code[order], label[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(codes)]
    primary = labels[starts]
    joined = primary.copy()
    for i in np.flatnonzero(ends - starts > 1):
        joined[i] = ";".join(labels[starts[i] : ends[i]])
    return primary, joined


def timeout_scoring_phases(truth: TruthSource) -> frozenset[str]:
    """The phases whose timeouts' guesses are scored (``score_timeout_guesses``): a study says;
    answers scored against a plain truth table have none (the default of every phase)."""
    if isinstance(truth, Study):
        return frozenset(phase.name for phase in truth.phases if phase.score_timeout_guesses)
    return frozenset()


def raters_from_answers(
    answers: pd.DataFrame,
    truth: TruthSource,
    *,
    k: int = 5,
    labels: LabelSet | None = None,
    timeouts_scored_in: Collection[str] | None = None,
) -> pd.DataFrame:
    """The rater table of human answers (the tidy table of ``study_app.store``).

    Revised trials (``superseded``) are left out. When an annotator saw the same image
    twice in one phase (e.g. a restarted session), only the first trial counts: later
    ones are not independent of the first. A timeout's guesses (kept with it since
    issue #22) count only in the phases of ``timeouts_scored_in`` (default: those of a
    study with ``score_timeout_guesses``; none for a plain truth table); elsewhere the
    timeout is a unit without guesses, as every timeout was before.

    Parameters
    ----------
    answers : DataFrame
        From :func:`study_app.store.answers_frame` or :func:`study_app.store.read_export`.
    truth, k, labels
        As in :func:`raters_from_guesses`.
    """
    if timeouts_scored_in is None:
        timeouts_scored_in = timeout_scoring_phases(truth)
    required = ("annotator", "phase", "trial", "image_id", "rank", "label_id", "rt_ms", "outcome", "trial_uuid")
    missing = [c for c in required if c not in answers.columns]
    if missing:
        raise InputFileError(
            [Problem("answers", f"missing column(s) {', '.join(missing)}; expected the tidy answers table")]
        )
    trial_uuid = answers["trial_uuid"]
    if "superseded" in answers.columns and answers["superseded"].any():
        trial_uuid = trial_uuid.where(~answers["superseded"].astype(bool))  # NA: ignored
    trial_code, _ = pd.factorize(trial_uuid)
    per_trial = with_condition(
        answers[["annotator", "image_id", "phase", "trial", "rt_ms", "outcome", *_condition_of(answers)]]
    )
    per_trial = per_trial.rename(columns={"annotator": "rater"})
    counted = guesses_count(answers["outcome"].to_numpy(), answers["phase"].isin(list(timeouts_scored_in)).to_numpy())
    scored = _score_units(
        per_trial,
        trial_code,
        answers["rank"].where(counted),
        answers["label_id"],
        truth,
        k=k,
        labels=labels,
        source="answers",
    )
    scored.insert(1, "kind", pd.Categorical.from_codes(np.zeros(len(scored), dtype=np.int8), [HUMAN]))
    first_exposure = first_occurrences(pd.factorize(combined_code(*(scored[c] for c in UNIT_KEY)))[0])
    return scored if first_exposure.all() else scored[first_exposure].reset_index(drop=True)


def later_exposures(answers: pd.DataFrame) -> dict[str, int]:
    """Per annotator, the trials :func:`raters_from_answers` leaves out as repeats: an image
    seen again in a phase the annotator had already answered it in (a second session, two
    desktops' stores merged). Revised trials do not count; a researcher should hear of these."""
    trials = answers.drop_duplicates("trial_uuid")
    if "superseded" in trials.columns:
        trials = trials[~trials["superseded"].astype(bool)]
    repeated = with_condition(trials).duplicated(["annotator", "phase", *STIMULUS_KEY])
    return {
        str(name): int(n) for name, n in trials.loc[repeated, "annotator"].value_counts(sort=False).sort_index().items()
    }


def raters_from_predictions(
    predictions: pd.DataFrame,
    truth: TruthSource,
    *,
    k: int = 5,
    labels: LabelSet | None = None,
    phase_of: Mapping[str, str | tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """The rater table of model predictions (tidy ``model,image_id,rank,label_id,score``).

    ``phase_of`` maps image ids to the phase they were shown in, or to a tuple of phases
    (see :func:`image_phases`; the prediction is then repeated in each), so that model rows
    can be grouped like human rows.
    """
    phase_of = dict(phase_of or {})
    if any(isinstance(names, tuple) for names in phase_of.values()):
        predictions = predictions.assign(_phase=predictions["image_id"].map(phase_of)).explode("_phase")
        phase = as_category(predictions["_phase"].astype(object).fillna(""))
    else:  # looked up once per distinct image, not per row: a model zoo's predictions are millions of rows
        phase = per_image(predictions["image_id"], lambda image_id: str(phase_of.get(image_id, "")))
    no_condition = pd.Categorical.from_codes(np.zeros(len(predictions), dtype=np.int8), categories=[""])
    guesses = pd.DataFrame(
        {
            "rater": as_category(predictions["model"]),
            "kind": pd.Categorical.from_codes(np.zeros(len(predictions), dtype=np.int8), categories=[MODEL]),
            "image_id": as_category(predictions["image_id"]),
            "phase": phase,
            "condition": as_category(predictions["condition"]) if "condition" in predictions else no_condition,
            "rank": predictions["rank"].array,
            "label_id": as_category(predictions["label_id"]),
        },
        copy=False,
    )
    return raters_from_guesses(guesses, truth, k=k, labels=labels, source="predictions")


def rater_table(
    answers: pd.DataFrame | None,
    predictions: pd.DataFrame | None,
    truth: TruthSource,
    *,
    k: int = 5,
    labels: LabelSet | None = None,
    phase_of: Mapping[str, str | tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Humans and models in one rater table.

    Model rows get the phase of their image from ``phase_of``, or else from the phase in
    which annotators saw it. A model named like an annotator is an error: the two would
    be indistinguishable in every result.
    """
    parts = []
    timeouts_scored_in = timeout_scoring_phases(truth)
    truth = truth_table(truth)
    if answers is not None:
        parts.append(raters_from_answers(answers, truth, k=k, labels=labels, timeouts_scored_in=timeouts_scored_in))
    if predictions is not None:
        if phase_of is None and parts:
            shown = parts[0].drop_duplicates("image_id")
            phase_of = dict(zip(shown["image_id"].astype(str), shown["phase"].astype(str)))
        parts.append(raters_from_predictions(predictions, truth, k=k, labels=labels, phase_of=phase_of))
    if not parts:
        raise ValueError("rater_table needs answers, predictions or both")
    if len(parts) == 2:
        clash = set(parts[0]["rater"].unique()) & set(parts[1]["rater"].unique())
        if clash:
            raise InputFileError(
                [
                    Problem(
                        "predictions",
                        f"model name(s) {', '.join(sorted(clash))} are also annotator ids; rename the model",
                        field="model",
                    )
                ]
            )
    return concat_tables(*parts)


def image_phases(study: Study) -> dict[str, str | tuple[str, ...]]:
    """Image id -> the phase that shows it, or the phases when several do (phases that share
    images, e.g. conditions of a counterbalanced design: a model's answer then counts in each)."""
    found: dict[str, list[str]] = {}
    for phase in study.phases:
        for image_id in phase.image_ids:
            found.setdefault(image_id, []).append(phase.name)
    return {image_id: names[0] if len(names) == 1 else tuple(names) for image_id, names in found.items()}


def shown_images_only(raters: pd.DataFrame) -> pd.DataFrame:
    """Keep model rows only for (phase, stimulus) pairs that some annotator answered.

    Model predictions often cover a whole data set; comparisons with people are about
    the images people saw, at the conditions they saw them.
    """
    key = combined_code(raters["phase"], stimulus_codes(raters)[0])
    human = (raters["kind"] == HUMAN).to_numpy()
    return as_categories(raters[human | np.isin(key, key[human])].reset_index(drop=True))


def concat_tables(*tables: pd.DataFrame) -> pd.DataFrame:
    """Rater tables one below the other, key columns kept categorical (categories merged)."""
    tables = tuple(as_categories(t) for t in tables)
    merged = {}
    for column in CATEGORY_COLUMNS:
        having = [t[column].cat.categories for t in tables if column in t.columns]
        if having:
            merged[column] = pd.CategoricalDtype(
                pd.Index(np.concatenate([c.to_numpy(dtype=object) for c in having])).unique()
            )
    aligned = [t.astype({c: d for c, d in merged.items() if c in t.columns}) for t in tables]
    return pd.concat(aligned, ignore_index=True)


def as_category(column: pd.Series) -> pd.Categorical:
    """A text column as a categorical of its sorted values (a categorical column as it is)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    codes, values = pd.factorize(column.astype(str), sort=True)
    return pd.Categorical.from_codes(codes, categories=values)


def per_image(images: pd.Series, value_of: Callable[[str], str]) -> pd.Categorical:
    """A text column that depends only on the image: ``value_of`` called once per distinct image."""
    images = as_category(images)
    found = [value_of(str(image_id)) for image_id in images.categories]
    codes, values = pd.factorize(pd.Index(found, dtype=object), sort=True)
    narrow = np.append(codes, -1).astype(np.int8 if len(values) < 127 else np.int32)  # per row: keep it small
    return pd.Categorical.from_codes(narrow[images.codes], categories=values)


def as_categories(table: pd.DataFrame) -> pd.DataFrame:
    """Text key columns as categoricals: small, and their codes make matrices cheap."""
    plain = [c for c in CATEGORY_COLUMNS if c in table.columns and not isinstance(table[c].dtype, pd.CategoricalDtype)]
    return table.astype(dict.fromkeys(plain, str)).astype(dict.fromkeys(plain, "category"))


def unit_codes(columns: list[pd.Series]) -> np.ndarray:
    """Each row's unit (a distinct combination of the columns' values), numbered 0, 1, ... in order
    of first appearance, as ``pd.factorize(combined_code(*columns))`` numbers them.

    Predictions come with each (model, image)'s guesses on consecutive rows; then a unit is a
    run of equal rows, found by comparing neighbours' category codes instead of hashing
    millions of combined codes (if some run's combination also appears elsewhere, by hashing).
    """
    if len(columns[0]) and all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        codes = [c.cat.codes.to_numpy() for c in columns]
        change = np.zeros(len(codes[0]) - 1, dtype=bool)
        for code in codes:
            change |= code[1:] != code[:-1]
        starts = np.r_[0, np.flatnonzero(change) + 1]
        run_key = combined_code(*(pd.Series(code[starts]) for code in codes))
        if len(pd.unique(run_key)) == len(starts):  # every run its own unit: numbered as they come
            return np.cumsum(np.r_[False, change], dtype=np.int32 if len(change) < 1 << 31 else np.int64)
    return pd.factorize(combined_code(*columns))[0]


def first_occurrences(codes: np.ndarray) -> np.ndarray:
    """Mask of the first row of each code, for codes numbered in order of first appearance
    (as :func:`pandas.factorize` numbers them; ``-1`` is never first). O(n), no hashing."""
    previous_max = np.maximum.accumulate(np.concatenate(([-1], codes[:-1]))) if len(codes) else codes
    return codes > previous_max


def combined_code(*columns: pd.Series) -> np.ndarray:
    """One int64 code per distinct combination of the columns' values."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        part, uniques = pd.factorize(column)  # -1 for a missing value, hence the + 1
        code = code * (len(uniques) + 1) + part + 1
    return code


def with_condition(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``condition`` column: ``""`` (no condition) where it had none."""
    return table if "condition" in table.columns else table.assign(condition="")


def _condition_of(table: pd.DataFrame) -> list[str]:
    return ["condition"] if "condition" in table.columns else []


def stimulus_codes(raters: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's stimulus, (image, condition), as a code; and the stimuli's names.

    Codes number the stimuli in sorted order (by image, then condition), so a table
    without conditions gets exactly the codes of its sorted image ids. A stimulus is
    named by its image id, with ``@<condition>`` added where it has a condition.
    """
    image_code, images = pd.factorize(raters["image_id"], sort=True)
    if "condition" not in raters.columns:
        return image_code, np.asarray(images, dtype=object)
    condition_code, conditions = pd.factorize(raters["condition"], sort=True)
    if len(conditions) <= 1 and (not len(conditions) or str(conditions[0]) == ""):
        return image_code, np.asarray(images, dtype=object)
    combined = image_code.astype(np.int64) * len(conditions) + condition_code
    distinct, code = np.unique(combined, return_inverse=True)
    image = np.asarray(images, dtype=object).astype(str).astype(object)[distinct // len(conditions)]
    condition = np.asarray(conditions, dtype=object).astype(str).astype(object)[distinct % len(conditions)]
    return code.reshape(-1), np.where(condition == "", image, image + "@" + condition)
