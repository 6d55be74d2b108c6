"""The annotators as one rater: majority vote per image.

Pooling people by majority vote asks what a small crowd achieves, a different question
from the average annotator (:func:`~study_app.stats.rates.error_rates` reports both).
Each correctness rule is voted on separately: the crowd is right on an image when a
strict majority of the annotators who saw it are right. A tie counts as an error: a
deterministic rule keeps the result independent of image order and names (a random
tie-break would not), at the price of being conservative for even-sized crowds, so
plan an odd number of annotators per image.
"""

from __future__ import annotations

import pandas as pd

from .raters import CORRECTNESS_COLUMNS, HUMAN, STIMULUS_KEY, as_categories, with_condition

CROWD = "crowd"
MAJORITY_VOTE = "humans (majority vote)"


def majority_vote(raters: pd.DataFrame) -> pd.DataFrame:
    """Rater-table rows for the majority vote of the annotators on each (phase, stimulus).

    Parameters
    ----------
    raters : DataFrame
        A rater table; only its human rows are used.

    Returns
    -------
    DataFrame
        One row per (phase, image, condition) that some annotator saw, with ``rater`` =
        ``"humans (majority vote)"``, ``kind`` = ``"crowd"``, ``n_annotators``, the
        ground-truth columns and every correctness column present in ``raters``.
    """
    human = raters[raters["kind"] == HUMAN]
    voted = [c for c in CORRECTNESS_COLUMNS if c in raters.columns]
    groups = with_condition(human).groupby(["phase", *STIMULUS_KEY], observed=True, sort=True)
    size = groups.size().to_numpy()
    votes = {column: 2 * groups[column].sum().to_numpy() > size for column in voted}
    table = groups[["truth", "valid_labels"]].first().reset_index()
    return as_categories(table.assign(rater=MAJORITY_VOTE, kind=CROWD, n_annotators=size, **votes))
