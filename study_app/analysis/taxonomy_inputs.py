"""The taxonomy statistics of a study: its stored reviews, its answers scored with both truths.

Shared by ``compare --taxonomy`` and the report, so that both show the same numbers. The
original rater table is the one the analysis built (:func:`~study_app.analysis.raters.study_raters`);
the re-scored one is built by the same code (:func:`study_app.stats.rater_table`) from the
same answers and predictions that table was made of, with the reviewed ground truth
instead of the manifest's: nothing is read twice, so the two tables cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from study_app.analysis.raters import RaterInputs, StudySource
from study_app.analysis.resampling import Resampling
from study_app.errors import StudyError
from study_app.protocol.study import Study
from study_app.stats import RULES, image_phases, rater_table, shown_images_only
from study_app.stats.error_taxonomy import TaxonomyAnalysis, analyse_taxonomy, reviewed_truth
from study_app.store import ResultsStore
from study_app.store.reviews import review_conflicts, reviews_frame


def study_taxonomy(
    study: Study,
    store_path: Path | str,
    raters: pd.DataFrame,
    *,
    rule: str,
    k: int,
    answers: pd.DataFrame | None,
    predictions: pd.DataFrame | None,
    resampling: Resampling,
    n_perm: int = 10_000,
) -> TaxonomyAnalysis | None:
    """The taxonomy analysis of ``study``'s reviews, or None when nobody has reviewed yet.

    ``raters`` is the rater table of the analysed phases, scored by ``rule`` and ``k``, made of
    ``answers`` (the study's) and ``predictions``; those are re-scored here against the
    reviewed ground truth.
    """
    with ResultsStore(store_path, readonly=True) as store:
        reviews = reviews_frame(store, study_name=study.name)
        conflicts = review_conflicts(store)
    if reviews.empty:
        return None
    truth, corrections = reviewed_truth(reviews, study)
    phases = set(raters["phase"].astype(str))
    answered = answers if answers is not None and not answers.empty else None
    rescored = rater_table(answered, predictions, truth, k=k, labels=study.labels, phase_of=image_phases(study))
    rescored = shown_images_only(rescored[rescored["phase"].astype(str).isin(phases)].reset_index(drop=True))
    analysis = analyse_taxonomy(
        reviews,
        study.taxonomy,
        raters,
        rescored,
        corrections,
        correct=RULES[rule],
        n_perm=n_perm,
        **resampling.keywords,
    )
    if conflicts:
        note = (
            f"{len(conflicts)} error(s) were reviewed twice by the same reviewer "
            "on different machines (stores merged); the later review counts"
        )
        analysis = TaxonomyAnalysis(**{**analysis.__dict__, "notes": (*analysis.notes, note)})
    return analysis


def taxonomy_of(
    inputs: RaterInputs,
    raters: pd.DataFrame | None = None,
    *,
    resampling: Resampling,
    n_perm: int = 10_000,
) -> TaxonomyAnalysis | None:
    """:func:`study_taxonomy` of the study ``inputs`` were read from (``raters``: default all of
    ``inputs.raters``; the report passes the rows of the images people saw)."""
    source = inputs.source
    if not isinstance(source, StudySource):
        raise StudyError("the error taxonomy needs a study: its reviews are in the study's results store")
    return study_taxonomy(
        source.study,
        source.store,
        inputs.raters if raters is None else raters,
        rule=inputs.rule,
        k=inputs.k,
        answers=inputs.answers,
        predictions=inputs.predictions,
        resampling=resampling,
        n_perm=n_perm,
    )
