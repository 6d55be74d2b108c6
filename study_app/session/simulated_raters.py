"""Who gets which image right in a pilot run: a Rasch-style model of annotators and images.

Real annotators do not err independently: some images are hard for everyone, and some
people are better than others. Their error consistency (Cohen's kappa of trial-by-trial
correctness, :func:`study_app.stats.error_consistency`) is about 0.4 between two people,
where independent coin flips give 0 -- and a pilot whose errors are coin flips never
exercises the clustering by image and by annotator that the analysis has to handle. So a
simulated annotator ``j`` answers image ``i`` correctly with probability

    P(correct) = expit(mu + a_j - b_i),   a_j ~ N(0, ability_sd^2),   b_i ~ N(0, difficulty_sd^2)

(logit scale). The difficulty ``b_i`` belongs to the image, shared by every annotator who
sees it; in a study with conditions an image id names one (source image, condition) pair,
so each pair has its own difficulty. The ability ``a_j`` belongs to the annotator. Both are
drawn from generators keyed by the seed and the image id (or the annotator name), so a
run is reproducible and an image's difficulty does not depend on which annotators saw it
or in what order. The intercept ``mu`` is solved so that the mean accuracy over annotators
and images (the expectation over both distributions) equals the requested ``accuracy``.

The defaults (ability SD 0.5 logit, difficulty SD 2.4 logit) give an expected
human-human error consistency of 0.40 at accuracy 0.8 (:meth:`RaschRaters.expected_error_consistency`);
both SDs at 0 are the old independent answers, each right with probability ``accuracy``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from study_app.errors import StudyError

DEFAULT_ABILITY_SD = 0.5
DEFAULT_DIFFICULTY_SD = 2.4
#: Largest logit SD accepted: beyond it P(correct) is 0 or 1 for nearly every pair.
MAX_LOGIT_SD = 5.0
#: Expectations over a standard normal z as sums on a grid of z (trapezoid rule, normalised
#: weights): the integrands are smooth, so for logit spreads up to MAX_LOGIT_SD * sqrt(2)
#: the mean accuracy is exact to 1e-14 (checked against scipy's quad). Gauss-Hermite nodes
#: would be fewer but lose digits at large spreads (2e-4 at a spread of 6 with 60 nodes).
_NODES = np.linspace(-9.0, 9.0, 1801)
#: A coarser grid for the abilities of :meth:`RaschRaters.expected_error_consistency`, a summary to two decimals.
_PAIR_NODES = np.linspace(-6.0, 6.0, 241)


@cache
def _weights(nodes: int) -> np.ndarray:
    """Normalised normal densities on :data:`_NODES` (``nodes`` = 1801) or :data:`_PAIR_NODES` (241).
    SciPy loads on the first simulation, not with every command that names this module's defaults."""
    from scipy.stats import norm

    grid = _NODES if nodes == len(_NODES) else _PAIR_NODES
    density = norm.pdf(grid)
    return np.asarray(density / density.sum())


@dataclass(frozen=True)
class RaschRaters:
    """Probability that a simulated annotator answers an image correctly (see the module docstring)."""

    accuracy: float
    ability_sd: float = DEFAULT_ABILITY_SD
    difficulty_sd: float = DEFAULT_DIFFICULTY_SD
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.accuracy <= 1.0:
            raise StudyError(f"the accuracy must be between 0 and 1, not {self.accuracy}")
        for name in ("ability_sd", "difficulty_sd"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_LOGIT_SD:
                raise StudyError(
                    f"the {name.replace('_', ' ')} must be a logit SD between 0 and {MAX_LOGIT_SD:g}, not {value}"
                )

    @property
    def degenerate(self) -> bool:
        """Accuracy 0 or 1: every answer is wrong (right), whatever the image or the annotator."""
        return self.accuracy in (0.0, 1.0)

    @cached_property
    def intercept(self) -> float:
        """``mu`` such that E[expit(mu + a - b)] = accuracy, with a - b ~ N(0, ability_sd^2 + difficulty_sd^2)."""
        if self.degenerate:
            return math.copysign(math.inf, self.accuracy - 0.5)
        from scipy.optimize import brentq
        from scipy.special import expit

        spread, weights = math.hypot(self.ability_sd, self.difficulty_sd), _weights(len(_NODES))
        return float(
            brentq(lambda mu: float(weights @ expit(mu + spread * _NODES)) - self.accuracy, -200.0, 200.0, xtol=1e-12)
        )

    def ability(self, annotator: str) -> float:
        return random.Random(f"{self.seed}:ability:{annotator}").gauss(0.0, self.ability_sd)

    def difficulty(self, image_id: str) -> float:
        return random.Random(f"{self.seed}:difficulty:{image_id}").gauss(0.0, self.difficulty_sd)

    def chance_correct(self, annotator: str, image_id: str) -> float:
        """P(correct) of this annotator on this image."""
        if self.degenerate:
            return self.accuracy
        from scipy.special import expit

        return float(expit(self.intercept + self.ability(annotator) - self.difficulty(image_id)))

    def expected_error_consistency(self) -> float:
        """Error consistency of two annotators drawn at random, on an infinite image set.

        For abilities ``a1, a2``: ``p_k = E_b[P(correct)]``, both right with ``p_12 = E_b[P_1 P_2]``,
        observed consistency ``2 p_12 + 1 - p_1 - p_2``, expected ``p_1 p_2 + (1 - p_1)(1 - p_2)``;
        the kappa of each pair of abilities, averaged over both abilities' distribution (over the
        pairs that have one: NaN at accuracies so extreme that every answer is right).
        """
        if self.degenerate or self.difficulty_sd == 0:
            return 0.0  # no shared difficulty: errors are independent given the abilities
        from scipy.special import expit

        chance = expit(self.intercept + self.ability_sd * _PAIR_NODES[:, None] - self.difficulty_sd * _NODES[None, :])
        weights, pair_weights = _weights(len(_NODES)), _weights(len(_PAIR_NODES))
        single = chance @ weights
        both_right = (chance * weights) @ chance.T
        observed = 2 * both_right + 1 - single[:, None] - single[None, :]
        expected = np.outer(single, single) + np.outer(1 - single, 1 - single)
        defined = 1 - expected > 1e-12  # two abilities whose answers are all right (or all wrong) have no kappa
        kappa = np.divide(observed - expected, 1 - expected, out=np.zeros_like(expected), where=defined)
        pairs = np.outer(pair_weights, pair_weights) * defined
        return float((kappa * pairs).sum() / pairs.sum()) if pairs.any() else math.nan

    def describe(self) -> str:
        if self.degenerate:
            return f"every answer {'right' if self.accuracy else 'wrong'}"
        return (
            f"Rasch model: mean accuracy {self.accuracy:g}, ability SD {self.ability_sd:g} logit, "
            f"image difficulty SD {self.difficulty_sd:g} logit (expected human-human error consistency "
            f"{self.expected_error_consistency():.2f}; seed {self.seed})"
        )
