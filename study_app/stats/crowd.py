"""The annotators as one rater: three crowds, each under its own name.

Pooling people into one answer per image asks what a small crowd achieves, a different
question from the average annotator (:func:`~study_app.stats.rates.error_rates` reports
all of them). Three rules, defined in :data:`CROWD_DEFINITIONS` and in every output:

- :func:`plurality_vote` (``"humans (plurality vote)"``): the crowd answers the label
  most of the annotators gave as their first guess (non-answers do not vote); a tie is
  broken at random with a seed, so each tied label wins as often. It is scored like one
  guess: right under every rule when that label is valid (the rater table keeps only
  first guesses, so the crowd has one even under a top-k rule). This is the crowd to
  compare with a model: on the model-vs-human contrast data it errs on 26.5% of the
  images on average over tie-breaks (25.1% with seed 0) where the mean annotator errs on
  33.9%, and it beats the mean annotator on all 17 of those data sets.
- :func:`optimistic_human` (``"humans (optimistic: any right)"``): right when any of the
  annotators is right, the "optimistic human" of the ILSVRC paper (Russakovsky et al.
  2015); a bound on what the crowd knows, not a rater anyone could ask.
- :func:`strict_majority` (``"humans (strict majority)"``): right when more than half of
  the annotators are right, a tie counting as wrong. It votes on correctness, not on
  labels, so a crowd whose wrong answers scatter loses to it: with two annotators it is
  right only where both are, and on 13 of the 17 model-vs-human data sets it is worse
  than the mean annotator. Kept for continuity, never as "the" crowd.

All three vote within each (phase, image, condition) that some annotator saw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.stats.raters import (
    CORRECTNESS_COLUMNS,
    HUMAN,
    STIMULUS_KEY,
    as_categories,
    concat_tables,
    with_condition,
)

CROWD = "crowd"
PLURALITY_VOTE = "humans (plurality vote)"
OPTIMISTIC = "humans (optimistic: any right)"
STRICT_MAJORITY = "humans (strict majority)"
CROWD_DEFINITIONS = {
    PLURALITY_VOTE: (
        "the label most annotators gave as their first guess (ties broken at random, seeded), scored as one guess"
    ),
    OPTIMISTIC: "right when any annotator is right (the ILSVRC paper's optimistic human)",
    STRICT_MAJORITY: "right when more than half of the annotators are right (a tie is wrong)",
}
_VOTE_KEY = ["phase", *STIMULUS_KEY]


def _by_stimulus(raters: pd.DataFrame) -> tuple[pd.DataFrame, pd.core.groupby.DataFrameGroupBy, list[str]]:
    """The annotators' rows, grouped by (phase, image, condition) in sorted order, and the
    correctness columns present."""
    human = with_condition(raters[raters["kind"] == HUMAN])
    return (
        human,
        human.groupby(_VOTE_KEY, observed=True, sort=True),
        [c for c in CORRECTNESS_COLUMNS if c in raters.columns],
    )


def _crowd_rows(
    groups: pd.core.groupby.DataFrameGroupBy, name: str, votes: dict[str, np.ndarray], **extra: object
) -> pd.DataFrame:
    table = groups[["truth", "valid_labels"]].first().reset_index()
    return as_categories(table.assign(rater=name, kind=CROWD, n_annotators=groups.size().to_numpy(), **extra, **votes))


def strict_majority(raters: pd.DataFrame) -> pd.DataFrame:
    """Rater-table rows of the strict majority on correctness, one per (phase, image,
    condition) that some annotator saw, with ``rater`` = ``"humans (strict majority)"``,
    ``kind`` = ``"crowd"``, ``n_annotators``, the truth columns and every correctness
    column present in ``raters``."""
    _, groups, columns = _by_stimulus(raters)
    size = groups.size().to_numpy()
    return _crowd_rows(
        groups, STRICT_MAJORITY, {column: 2 * groups[column].sum().to_numpy() > size for column in columns}
    )


def optimistic_human(raters: pd.DataFrame) -> pd.DataFrame:
    """Rows of the optimistic human (right if any annotator is right), as :func:`strict_majority`."""
    _, groups, columns = _by_stimulus(raters)
    return _crowd_rows(groups, OPTIMISTIC, {column: groups[column].any().to_numpy() for column in columns})


def plurality_vote(raters: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Rows of the plurality vote on labels, as :func:`strict_majority` plus ``label``
    (the crowd's answer, ``""`` where no annotator answered: then it is wrong).

    The tie-break draws one random number per (stimulus, label) candidate in sorted
    order from ``seed``: the same table and seed give the same crowd.
    """
    human, groups, columns = _by_stimulus(raters)
    stimulus = groups.ngroup().to_numpy()
    labels = human["label"].astype("category")
    label_names = np.sort(
        labels.cat.categories.astype(str).to_numpy(dtype=object)
    )  # codes in label order, not row order
    label_code = np.searchsorted(label_names, labels.cat.categories.astype(str).to_numpy(dtype=object))[
        labels.cat.codes.to_numpy()
    ]
    no_answer = np.flatnonzero(label_names == "")
    answered = (labels.cat.codes.to_numpy() >= 0) & ~np.isin(label_code, no_answer)
    # one candidate per (stimulus, label) given, numbered in sorted order, with its votes
    candidate, votes = np.unique(
        stimulus[answered].astype(np.int64) * len(label_names) + label_code[answered], return_counts=True
    )
    tie_break = np.random.default_rng(seed).random(len(candidate))
    order = np.lexsort((tie_break, -votes, candidate // len(label_names)))  # per stimulus: most votes, then lowest draw
    first = order[np.diff(candidate[order] // len(label_names), prepend=-1) != 0]
    label = np.full(groups.ngroups, "", dtype=object)
    label[candidate[first] // len(label_names)] = label_names[candidate[first] % len(label_names)]
    valid = groups["valid_labels"].first().astype(str).to_numpy()
    right = np.array(
        [bool(guess) and guess in valid_labels.split(";") for guess, valid_labels in zip(label, valid)], dtype=bool
    )
    return _crowd_rows(groups, PLURALITY_VOTE, dict.fromkeys(columns, right), label=label)


def crowds(raters: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """The rows of all three crowds (plurality vote, optimistic, strict majority)."""
    return concat_tables(plurality_vote(raters, seed=seed), optimistic_human(raters), strict_majority(raters))
