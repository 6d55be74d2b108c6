"""The pilot's Rasch model: its mean accuracy, its human-human error consistency, its seeding."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import expit, logit
from scipy.stats import norm

from study_app.errors import StudyError
from study_app.session.simulated_raters import RaschRaters
from study_app.stats import error_consistency_table


def simulated_correctness(raters: RaschRaters, annotators: int, images: int, seed: int) -> pd.DataFrame:
    """A rater table of ``annotators`` who all saw ``images`` synthetic images, answers drawn from the model."""
    rng = random.Random(seed)
    rows = [
        {
            "rater": f"a{j}",
            "kind": "human",
            "image_id": f"img{i}",
            "phase": "test",
            "condition": "",
            "correct_topk": rng.random() < raters.chance_correct(f"a{j}", f"img{i}"),
        }
        for j in range(annotators)
        for i in range(images)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("accuracy", "ability_sd", "difficulty_sd"), [(0.8, 0.5, 2.4), (0.3, 1.0, 0.7), (0.95, 0.0, 3.0), (0.99, 5.0, 5.0)]
)
def test_the_intercept_gives_the_requested_mean_accuracy(accuracy, ability_sd, difficulty_sd):
    """E[expit(mu + a - b)] over a - b ~ N(0, sa^2 + sd^2), integrated by scipy's quad, is the accuracy."""
    model = RaschRaters(accuracy, ability_sd, difficulty_sd)
    spread = math.hypot(ability_sd, difficulty_sd)
    mean, _ = quad(lambda z: expit(model.intercept + spread * z) * norm.pdf(z), -12, 12, epsabs=1e-14, limit=200)
    assert mean == pytest.approx(accuracy, abs=1e-11)
    assert RaschRaters(accuracy, 0, 0).intercept == pytest.approx(
        logit(accuracy), abs=1e-9
    )  # no spread: the plain logit


def test_independent_answers_and_certain_ones():
    flat = RaschRaters(0.7, 0, 0)
    assert [flat.chance_correct(a, i) for a in "xyz" for i in "abc"] == pytest.approx([0.7] * 9, abs=1e-12)
    assert flat.expected_error_consistency() == 0.0
    assert RaschRaters(1.0).chance_correct("x", "img") == 1.0 and RaschRaters(0.0).chance_correct("x", "img") == 0.0
    with pytest.raises(StudyError, match="ability sd must be a logit SD between 0 and 5"):
        RaschRaters(0.8, ability_sd=-1)


def test_difficulty_belongs_to_the_image_and_ability_to_the_annotator():
    model = RaschRaters(0.8, seed=3)
    assert model.difficulty("img-1") == RaschRaters(0.8, seed=3).difficulty("img-1")  # seeded: the same in any run
    assert model.difficulty("img-1") != RaschRaters(0.8, seed=4).difficulty("img-1")
    assert model.difficulty("img-1@0.5") != model.difficulty("img-1@1")  # each (image, condition) its own
    # one image is hard for everyone: its chance moves with the image, not with who answers
    easy, hard = sorted((f"img-{n}" for n in range(50)), key=model.difficulty)[::49]
    assert all(model.chance_correct(a, easy) > model.chance_correct(a, hard) for a in ("p1", "p2", "p3"))


@pytest.mark.parametrize(("accuracy", "difficulty_sd"), [(0.8, 2.4), (0.6, 1.5)])
def test_simulated_error_consistency_matches_the_expected_one(accuracy, difficulty_sd):
    """Measured with the library's error consistency on 4,000 images x 6 annotators, the mean
    pairwise kappa is within 0.03 of the model's expectation (seed-to-seed SD of that mean
    about 0.01: 0.016 per pair at 5,000 images, pairs correlated through the images)."""
    model = RaschRaters(accuracy, 0.5, difficulty_sd, seed=11)
    table = simulated_correctness(model, 6, 4000, seed=2)
    assert table["correct_topk"].mean() == pytest.approx(accuracy, abs=0.03)
    measured = error_consistency_table(table)["kappa"].mean()
    assert measured == pytest.approx(model.expected_error_consistency(), abs=0.03)


def test_the_defaults_give_a_human_like_error_consistency():
    """About 0.4 at accuracy 0.8, as between real annotators (issue #26: about 0.43)."""
    assert RaschRaters(0.8).expected_error_consistency() == pytest.approx(0.40, abs=0.01)
    # more spread among the images, more shared errors; none without shared difficulty
    values = [RaschRaters(0.8, 0.5, sd).expected_error_consistency() for sd in (0.0, 1.0, 2.4, 4.0)]
    assert values[0] == 0.0 and np.all(np.diff(values) > 0)
