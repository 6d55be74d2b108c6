"""The taxonomy statistics of a study: its stored reviews, its answers scored with both truths.

Shared by ``compare --taxonomy`` and the report, so that both show the same numbers. The
original rater table is the one ``compare`` built; the re-scored one is built by the same
code (:func:`study_app.stats.rater_table`) from the same answers and predictions, with
the reviewed ground truth instead of the manifest's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from study_app.protocol.study import Study
from study_app.stats import RULES, image_phases, rater_table, shown_images_only
from study_app.stats.error_taxonomy import TaxonomyAnalysis, analyse_taxonomy, reviewed_truth
from study_app.store import ResultsStore, answers_frame
from study_app.store.reviews import review_conflicts, reviews_frame


def study_taxonomy(
    study: Study,
    store_path: Path,
    raters: pd.DataFrame,
    rule: str,
    k: int,
    prediction_files: Sequence[str | Path] | None = None,
    exclude_interrupted: bool = False,
    alpha: float = 0.05,
    n_boot: int = 2000,
    n_perm: int = 10_000,
    seed: int = 0,
) -> TaxonomyAnalysis | None:
    """The taxonomy analysis of ``study``'s reviews, or None when nobody has reviewed yet.

    ``raters`` is the rater table of the analysed phases as ``compare`` built it (same
    ``rule`` and ``k``); it is re-scored here against the reviewed ground truth.
    """
    from study_app.importers import read_prediction_files

    with ResultsStore(store_path, readonly=True) as store:
        reviews = reviews_frame(store, study_name=study.name)
        conflicts = review_conflicts(store)
        answers = answers_frame(store)
    if reviews.empty:
        return None
    answers = answers[answers["study"] == study.name]
    if exclude_interrupted:
        answers = answers[~answers["interrupted"].astype(bool)]
    paths = list(prediction_files or study.prediction_files)
    predictions = read_prediction_files(paths, set(study.images), study.labels.class_ids) if paths else None
    truth, corrections = reviewed_truth(reviews, study)
    phases = set(raters["phase"].astype(str))
    rescored = rater_table(answers if not answers.empty else None, predictions, truth, k=k, labels=study.labels, phase_of=image_phases(study))
    rescored = shown_images_only(rescored[rescored["phase"].astype(str).isin(phases)].reset_index(drop=True))
    analysis = analyse_taxonomy(reviews, study.taxonomy, raters, rescored, corrections, correct=RULES[rule], alpha=alpha, n_boot=n_boot, n_perm=n_perm, seed=seed)
    if conflicts:
        note = (f"{len(conflicts)} error(s) were reviewed twice by the same reviewer on different machines (stores merged); "
                "the later review counts")
        analysis = TaxonomyAnalysis(**{**analysis.__dict__, "notes": (*analysis.notes, note)})
    return analysis


def compare_taxonomy(args, raters: pd.DataFrame, rule: str, out: Path) -> TaxonomyAnalysis | None:
    """``compare --taxonomy``: the analysis of the study's reviews, its tables written to ``out``."""
    from study_app.cli.compare import _write_tables, command_inputs
    from study_app.protocol.study import load_study
    from study_app.store import default_store_path
    from study_app.store.results_store import store_location

    study = load_study(args.study, check_images=False)
    store_path = store_location(args.store) if args.store else default_store_path(study)
    analysis = study_taxonomy(study, store_path, raters, rule, args.k, args.predictions, args.exclude_interrupted,
                              args.alpha, args.n_boot, seed=args.seed)
    if analysis is not None:
        _write_tables(analysis.tables(), out, command_inputs(args))
    return analysis
