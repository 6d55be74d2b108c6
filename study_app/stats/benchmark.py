"""The model-vs-human benchmark's aggregates (Geirhos et al. 2021), from a rater table.

The published "humanlike" table ranks models by three numbers, each computed for one
model and one human subject on one condition of one data set (trials matched by image)
and then averaged over conditions, over subjects and finally over data sets:

- accuracy difference: the *squared* difference of the two accuracies;
- observed consistency: the share of images where both are right or both wrong;
- error consistency: Cohen's kappa of correctness (1 when observed consistency is 1).

"OOD accuracy" pools a model's trials over the kept conditions of each data set and
averages the data sets. :mod:`study_app.importers.model_vs_human` reads the raw data
with the benchmark's excluded conditions already dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.stats.agreement import error_consistency_table
from study_app.stats.raters import HUMAN, MODEL

_METRICS = ["accuracy_difference", "observed_consistency", "error_consistency"]


def humanlike_metrics(
    raters: pd.DataFrame, *, dataset: str = "phase", condition: str = "condition", correct: str = "correct_top1"
) -> pd.DataFrame:
    """Accuracy difference, observed and error consistency of each model, benchmark-averaged.

    Parameters
    ----------
    raters : DataFrame
        A rater table with a data-set column and a condition column.
    dataset, condition : str
        Those columns (the model-vs-human importer puts the data set in ``phase``).
    correct : str
        Correctness column.

    Returns
    -------
    DataFrame
        One row per model: ``model, accuracy_difference, observed_consistency,
        error_consistency, n_datasets``.
    """
    per_condition = model_human_pairs(raters, dataset=dataset, condition=condition, correct=correct)
    per_subject = per_condition.groupby(["model", "human", "dataset"], sort=True)[_METRICS].mean()
    per_dataset = per_subject.groupby(["model", "dataset"], sort=True).mean()
    table = per_dataset.groupby("model", sort=True).mean()
    table["n_datasets"] = per_dataset.groupby("model").size()
    return table.reset_index()


def model_human_pairs(
    raters: pd.DataFrame, *, dataset: str = "phase", condition: str = "condition", correct: str = "correct_top1"
) -> pd.DataFrame:
    """The benchmark's three metrics for every (model, human, data set, condition)."""
    parts = []
    for (data_set, level), rows in raters.groupby([dataset, condition], observed=True, sort=True):
        pairs = error_consistency_table(rows, correct=correct, n_boot=0)  # only the kappas: no interval to pay for
        pairs = pairs[(pairs["kind_a"] != pairs["kind_b"]) & pairs["kind_a"].isin([HUMAN, MODEL])]
        model_first = pairs["kind_a"] == MODEL
        parts.append(
            pd.DataFrame(
                {
                    "model": np.where(model_first, pairs["rater_a"], pairs["rater_b"]),
                    "human": np.where(model_first, pairs["rater_b"], pairs["rater_a"]),
                    "dataset": data_set,
                    "condition": level,
                    "accuracy_difference": (pairs["accuracy_a"] - pairs["accuracy_b"]) ** 2,
                    "observed_consistency": pairs["observed_consistency"],
                    "error_consistency": pairs["kappa"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def ood_accuracy(raters: pd.DataFrame, *, dataset: str = "phase", correct: str = "correct_top1") -> pd.DataFrame:
    """Each model's accuracy pooled within a data set, then averaged over data sets."""
    models = raters[raters["kind"] == MODEL]
    per_dataset = models.groupby(["rater", dataset], observed=True)[correct].mean()
    return per_dataset.groupby("rater", observed=True).mean().rename("ood_accuracy").rename_axis("model").reset_index()
