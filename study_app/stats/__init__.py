"""Statistics of human-vs-machine studies: pure numpy, pandas, scipy and statsmodels.

Start from the long rater table (:func:`rater_table`: one row per rater and image,
annotators and models alike), then ask for error rates, paired tests, agreement and
breakdowns, or run everything at once with :func:`compare`. Functions take and return
data frames; tests return frozen result objects with ``summary()`` that unpack as
``statistic, pvalue``. Never imports Qt.
"""

from study_app.stats.agreement import (
    ConsistencyAnalysis,
    ConsistencyDifferenceResult,
    ErrorConsistencyResult,
    FleissResult,
    LabelKappaResult,
    consistency_analysis,
    consistency_difference,
    error_consistency,
    error_consistency_table,
    fleiss_kappa_labels,
    label_kappa,
    label_kappa_table,
)
from study_app.stats.benchmark import humanlike_metrics, model_human_pairs, ood_accuracy
from study_app.stats.breakdowns import (
    ClassComparison,
    TrendResult,
    class_error_comparison,
    confused_pairs,
    error_by_trial,
    rt_by_correctness,
)
from study_app.stats.compare import RULES, Comparison, compare
from study_app.stats.crowd import (
    CROWD_DEFINITIONS,
    OPTIMISTIC,
    PLURALITY_VOTE,
    STRICT_MAJORITY,
    crowds,
    optimistic_human,
    plurality_vote,
    strict_majority,
)
from study_app.stats.grid import RaterGrid, rater_grid
from study_app.stats.paired import (
    HUMANS,
    CochranResult,
    GeeResult,
    McNemarResult,
    cochran_q_test,
    default_pairs,
    exact_mcnemar,
    humans_vs_model_gee,
    mcnemar_test,
    paired_comparisons,
    paired_differences,
)
from study_app.stats.planning import (
    StudyPlan,
    implied_consistency,
    mcnemar_power,
    mcnemar_sample_size,
    plan_study,
    simulated_errors,
    simulated_power,
)
from study_app.stats.raters import (
    HUMAN,
    MODEL,
    image_phases,
    rater_table,
    raters_from_answers,
    raters_from_guesses,
    raters_from_predictions,
    shown_images_only,
)
from study_app.stats.rates import HUMANS_MEAN, error_rates
from study_app.stats.truth import truth_table

__all__ = [
    "CROWD_DEFINITIONS",
    "HUMAN",
    "HUMANS",
    "HUMANS_MEAN",
    "MODEL",
    "OPTIMISTIC",
    "PLURALITY_VOTE",
    "RULES",
    "STRICT_MAJORITY",
    "ClassComparison",
    "CochranResult",
    "Comparison",
    "ConsistencyAnalysis",
    "ConsistencyDifferenceResult",
    "ErrorConsistencyResult",
    "FleissResult",
    "GeeResult",
    "LabelKappaResult",
    "McNemarResult",
    "RaterGrid",
    "StudyPlan",
    "TrendResult",
    "class_error_comparison",
    "cochran_q_test",
    "compare",
    "confused_pairs",
    "consistency_analysis",
    "consistency_difference",
    "default_pairs",
    "error_by_trial",
    "error_consistency",
    "error_consistency_table",
    "error_rates",
    "exact_mcnemar",
    "fleiss_kappa_labels",
    "crowds",
    "humanlike_metrics",
    "humans_vs_model_gee",
    "image_phases",
    "label_kappa",
    "label_kappa_table",
    "mcnemar_power",
    "mcnemar_sample_size",
    "mcnemar_test",
    "model_human_pairs",
    "ood_accuracy",
    "paired_comparisons",
    "paired_differences",
    "plan_study",
    "rater_grid",
    "rater_table",
    "raters_from_answers",
    "raters_from_guesses",
    "raters_from_predictions",
    "rt_by_correctness",
    "shown_images_only",
    "simulated_power",
    "truth_table",
    "implied_consistency",
    "simulated_errors",
    "optimistic_human",
    "plurality_vote",
    "strict_majority",
]
