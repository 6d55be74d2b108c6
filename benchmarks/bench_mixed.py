"""Population inference benchmark: type-I error of the humans-vs-model tests when people equal the model.

The null of issue #26: the population of people has the model's log-odds of error; a
study draws 4 annotators from it (each with its own log-odds, SD 0.5 around the
model's) and 800 images (each with its own difficulty, SD 1 on the logit scale, shared
by every rater). Each simulated study is tested by

- the mixed model (:func:`~study_app.stats.mixed.humans_vs_model_mixed`, REML, the
  headline test): target type-I error <= 7% at the 5% level;
- the GEE with annotator effects (:func:`~study_app.stats.paired.humans_vs_model_gee`):
  a test about these four annotators, so it rejects far more often (reported only);
- the mixed model fitted by ML (reported: why REML is the default).

tests/stats/test_mixed.py runs the same simulation with fewer studies.

Run: ``python -m benchmarks.bench_mixed`` (``--quick``: a few studies, for CI).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from study_app.stats import HUMAN, MODEL, humans_vs_model_gee
from study_app.stats.mixed import humans_vs_model_mixed

from .common import Result, run_main

MODEL_LOG_ODDS = -1.0  # the model errs on about 27% of the images
STUDIES, QUICK_STUDIES = 1000, 20


def random_annotator_null(
    rng: np.random.Generator, annotators: int = 4, images: int = 800, annotator_sd: float = 0.5, image_sd: float = 1.0
) -> pd.DataFrame:
    """One simulated study under the null, as a rater table (annotators ``A0``.., the model ``m``)."""
    difficulty = rng.normal(0.0, image_sd, images)
    log_odds = MODEL_LOG_ODDS + np.r_[rng.normal(0.0, annotator_sd, annotators), 0.0][:, None] + difficulty[None, :]
    wrong = rng.random(log_odds.shape) < 1 / (1 + np.exp(-log_odds))
    names = [f"A{i}" for i in range(annotators)] + ["m"]
    return pd.DataFrame(
        {
            "rater": np.repeat(names, images),
            "kind": np.repeat([HUMAN] * annotators + [MODEL], images),
            "image_id": np.tile([f"img{i:04d}" for i in range(images)], annotators + 1),
            "phase": "test",
            "correct_topk": ~wrong.ravel(),
        }
    )


def null_rejections(studies: int, seed: int = 26, with_ml: bool = True) -> dict[str, float]:
    """Share of simulated null studies each test rejects at 5% (``with_ml``: the ML fit too, 5x slower)."""
    rng = np.random.default_rng(seed)
    rejected = {"mixed (REML)": 0, "GEE": 0, **({"mixed (ML)": 0} if with_ml else {})}
    for _ in range(studies):
        table = random_annotator_null(rng)
        rejected["mixed (REML)"] += humans_vs_model_mixed(table, "m").pvalue < 0.05
        rejected["GEE"] += humans_vs_model_gee(table, "m").pvalue < 0.05
        if with_ml:
            rejected["mixed (ML)"] += humans_vs_model_mixed(table, "m", method="ML").pvalue < 0.05
    return {test: count / studies for test, count in rejected.items()}


def run(quick: bool) -> list[Result]:
    studies = QUICK_STUDIES if quick else STUDIES
    start = time.perf_counter()
    rates = null_rejections(studies)
    seconds = time.perf_counter() - start
    label = f"at 5%, {studies} null studies (4 annotators, SD 0.5 logit; 800 images)"
    print(f"{studies} studies in {seconds:.0f} s")
    return [
        Result(
            "mixed",
            f"mixed model (REML) type-I error {label}",
            100 * rates["mixed (REML)"],
            "%",
            "<= 7 %",
            met=rates["mixed (REML)"] <= 0.07,
        ),
        Result("mixed", f"mixed model (ML) type-I error {label}", 100 * rates["mixed (ML)"], "%", ""),
        Result("mixed", f"GEE with annotator effects type-I error {label}", 100 * rates["GEE"], "%", ""),
    ]


if __name__ == "__main__":
    run_main(__doc__.splitlines()[0], run)
