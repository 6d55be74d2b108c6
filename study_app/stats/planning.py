"""How many test images (and annotators) a study needs to detect an error difference.

The comparison is paired (same images), so what matters besides the two error rates
is the *discordance*: the share of images on which exactly one side errs. With
``p_h`` (human error), ``p_m`` (model error), discordance ``psi`` and ``d = p_h - p_m``:

- one annotator: McNemar's test. The number of images comes from Connor's (1987)
  formula ``n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - d^2))^2 / d^2`` and its
  power is checked exactly (:func:`mcnemar_power`: the exact test's rejection region,
  summed over the binomial number of discordant images);
- several annotators: by simulation (:func:`simulated_power`) of the data
  (:func:`simulated_errors`); the test is the paired t-test of the per-image difference
  between the annotators' mean error and the model's error (the image-level analysis
  that the bootstrap interval and the GEE of :mod:`~study_app.stats.paired` make).

Without a discordance, independent errors are assumed:
``psi = p_h (1 - p_m) + p_m (1 - p_h)``.

The simulated data: correlated annotators
-----------------------------------------
Real annotators err on the same images (some images are hard for everyone): their error
consistency (Cohen's kappa of trial-by-trial correctness, :mod:`~study_app.stats.agreement`)
is about 0.4, and the more they agree, the less a second annotator adds, so the more
images a study needs. Each simulated image ``i`` gets

1. the model's error ``M_i ~ Bernoulli(p_m)``;
2. a latent human error chance ``P_i``, shared by every annotator who sees the image,
   drawn from a beta distribution with mean ``q_M`` -- the chance of a human error given
   the model's outcome (``q_1 = both / p_m``, ``q_0 = human_only / (1 - p_m)``, so that
   every annotator has error ``p_h`` and discordance ``psi`` with the model) -- and
   intra-class correlation ``rho``: ``Beta(q_M (1 - rho) / rho, (1 - q_M) (1 - rho) / rho)``,
   whose variance is ``rho q_M (1 - q_M)``;
3. each annotator's error, independently ``Bernoulli(P_i)`` given ``P_i``.

Two annotators then have the same marginal error ``p_h``, so their error consistency
is their errors' correlation, ``Var(P_i) / (p_h (1 - p_h))``:

    kappa_hh = kappa_0 + (1 - kappa_0) rho,   kappa_0 = p_m (1 - p_m) (q_1 - q_0)^2 / (p_h (1 - p_h)),

and ``rho = (kappa_hh - kappa_0) / (1 - kappa_0)`` gives the requested human-human
consistency. ``kappa_0`` is what the model's outcome alone implies (0 when the errors
are independent of the model's): the consistency of the earlier, optimistic simulation,
and the least that can be requested. The annotators are exchangeable (equally able):
the per-image test pools them, so their spread of ability would change little here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom, norm, t as t_dist

from study_app.errors import StudyError
from study_app.stats.results import Summarised


@dataclass(frozen=True)
class _Cells:
    """Joint probabilities of (human wrong, model wrong) on one image."""

    human_only: float
    model_only: float
    both: float

    @property
    def discordance(self) -> float:
        return self.human_only + self.model_only

    @property
    def difference(self) -> float:
        return self.human_only - self.model_only


def _cells(human_error: float, model_error: float, discordance: float | None) -> _Cells:
    for name, value in (("human_error", human_error), ("model_error", model_error)):
        if not 0 <= value <= 1:
            raise StudyError(f"{name} must be between 0 and 1, not {value}")
    if human_error == model_error:
        raise StudyError("human_error and model_error are equal: there is no difference to detect")
    if discordance is None:
        discordance = human_error * (1 - model_error) + model_error * (1 - human_error)
    low = abs(human_error - model_error)
    high = min(human_error + model_error, 2 - human_error - model_error)
    if not low <= discordance <= high:
        raise StudyError(
            f"discordance {discordance:g} is impossible with error rates {human_error:g} and {model_error:g}: "
            f"it must lie between {low:g} (one side's errors contain the other's) and {high:g}"
        )
    both = (human_error + model_error - discordance) / 2
    return _Cells(human_error - both, model_error - both, both)


def mcnemar_sample_size(
    human_error: float, model_error: float, *, discordance: float | None = None, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Images for a two-sided McNemar test to reach ``power`` (Connor 1987), rounded up."""
    cells = _cells(human_error, model_error, discordance)
    psi, d = cells.discordance, cells.difference
    root = norm.isf(alpha / 2) * math.sqrt(psi) + norm.ppf(power) * math.sqrt(max(psi - d * d, 0.0))
    return math.ceil(root * root / (d * d))


def mcnemar_power(
    n_images: int, human_error: float, model_error: float, *, discordance: float | None = None, alpha: float = 0.05
) -> float:
    """Exact power of the two-sided exact McNemar test on ``n_images`` paired images."""
    cells = _cells(human_error, model_error, discordance)
    discordant = np.arange(n_images + 1)
    # Largest smaller-count c with 2 * P(X <= c) <= alpha under X ~ Binomial(m, 1/2); -1 if none.
    critical = binom.ppf(alpha / 2, discordant, 0.5)
    critical = np.where(binom.cdf(critical, discordant, 0.5) * 2 <= alpha, critical, critical - 1)
    share = cells.human_only / cells.discordance
    reject = np.where(
        critical >= 0,
        binom.cdf(critical, discordant, share) + binom.sf(discordant - critical - 1, discordant, share),
        0.0,
    )
    return float(np.sum(binom.pmf(discordant, n_images, cells.discordance) * reject))


#: Up to here every n from the formula's upward is tried; beyond, the exact power is
#: searched by doubling steps and bisection (each evaluation costs O(n)).
LINEAR_SEARCH_LIMIT = 5_000
#: Beyond this many images the exact power is not computed (it would take minutes and
#: gigabytes); the normal approximation is very good there.
EXACT_POWER_LIMIT = 100_000


def exact_mcnemar_sample_size(
    start: int, human_error: float, model_error: float, *, discordance: float | None, alpha: float, power: float
) -> tuple[int, float]:
    """The first n >= ``start`` at which the exact test reaches ``power``, and that power.

    Connor's formula uses the normal approximation; the exact test is more
    conservative, so the answer is usually a little above the formula's. The exact
    power saw-tooths in n, so up to :data:`LINEAR_SEARCH_LIMIT` each n is tried in turn
    (the smallest n that reaches it); above, steps of 1% of n, doubled until power is
    reached, then bisection find an n that reaches it with n - 1 short of it, in a few
    dozen evaluations instead of thousands.
    """

    def power_at(n: int) -> float:
        return mcnemar_power(n, human_error, model_error, discordance=discordance, alpha=alpha)

    n, achieved = start, power_at(start)
    while achieved < power and n < LINEAR_SEARCH_LIMIT:
        n += 1
        achieved = power_at(n)
    if achieved >= power:
        return n, achieved
    low, step = n, max(1, n // 100)
    high = low + step
    while power_at(high) < power:
        low, step = high, step * 2
        high = low + step
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if power_at(middle) >= power else (middle, high)
    return high, power_at(high)


@dataclass(frozen=True)
class _Annotators:
    """The simulation's human side: error chances given the model's outcome and their ICC ``rho``."""

    given_wrong: float
    given_right: float
    rho: float


def implied_consistency(human_error: float, model_error: float, *, discordance: float | None = None) -> float:
    """``kappa_0``: the human-human error consistency that the model's outcome alone implies
    (annotators independent given it); the least :func:`simulated_errors` can produce."""
    cells = _cells(human_error, model_error, discordance)
    if human_error in (0.0, 1.0):
        return 0.0  # people always (never) wrong: no variance to share
    given_wrong, given_right = _given(cells, model_error)
    return model_error * (1 - model_error) * (given_wrong - given_right) ** 2 / (human_error * (1 - human_error))


def _given(cells: _Cells, model_error: float) -> tuple[float, float]:
    """P(human wrong | model wrong), P(human wrong | model right)."""
    return (
        cells.both / model_error if model_error else 0.0,
        cells.human_only / (1 - model_error) if model_error < 1 else 0.0,
    )


def _annotators(human_error: float, model_error: float, cells: _Cells, human_consistency: float | None) -> _Annotators:
    given_wrong, given_right = _given(cells, model_error)
    floor = implied_consistency(human_error, model_error, discordance=cells.discordance)
    if human_consistency is None:
        return _Annotators(given_wrong, given_right, 0.0)
    if not floor - 1e-12 <= human_consistency <= 1:
        raise StudyError(
            f"human-human consistency {human_consistency:g} is impossible here: the model's errors alone make two "
            f"annotators' errors agree with kappa {floor:.3g} (error rates {human_error:g}, {model_error:g}, "
            f"discordance {cells.discordance:g}); request between {floor:.3g} and 1"
        )
    # floor < 1: it is 1 only where people err exactly where the model does, with equal error rates
    return _Annotators(given_wrong, given_right, max(0.0, (human_consistency - floor) / (1 - floor)))


def _shared_error_chance(mean: np.ndarray, rho: float, rng: np.random.Generator) -> np.ndarray:
    """Each image's latent human error chance: beta with this mean and intra-class correlation."""
    if rho == 0:
        return mean
    if rho >= 1:
        return (rng.random(mean.shape) < mean).astype(float)
    chance = mean.copy()
    inner = (mean > 0) & (mean < 1)  # a certain outcome stays certain
    scale = (1 - rho) / rho
    chance[inner] = rng.beta(mean[inner] * scale, (1 - mean[inner]) * scale)
    return chance


def simulated_errors(
    n_images: int,
    n_annotators: int,
    human_error: float,
    model_error: float,
    *,
    discordance: float | None = None,
    human_consistency: float | None = None,
    n_studies: int = 1,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated studies with correlated annotators (the model in the module docstring).

    Parameters
    ----------
    human_consistency : float, optional
        Error consistency (kappa) of two annotators; default: what the model's outcome
        alone implies (:func:`implied_consistency`), annotators otherwise independent.

    Returns
    -------
    model_wrong : bool array, shape (n_studies, n_images)
    human_wrong : bool array, shape (n_studies, n_images, n_annotators)
    """
    cells = _cells(human_error, model_error, discordance)
    side = _annotators(human_error, model_error, cells, human_consistency)
    rng = rng if rng is not None else np.random.default_rng()
    model_wrong = rng.random((n_studies, n_images)) < model_error
    chance = _shared_error_chance(np.where(model_wrong, side.given_wrong, side.given_right), side.rho, rng)
    human_wrong = rng.random((n_studies, n_images, n_annotators)) < chance[..., None]
    return model_wrong, human_wrong


def simulated_power(
    n_images: int,
    n_annotators: int,
    human_error: float,
    model_error: float,
    *,
    discordance: float | None = None,
    alpha: float = 0.05,
    n_sim: int = 2000,
    seed: int = 0,
    human_consistency: float | None = None,
) -> float:
    """Power of the paired t-test of the annotators' mean error vs the model's, by simulation
    (:func:`simulated_errors`: annotators with error consistency ``human_consistency``)."""
    rng = np.random.default_rng(seed)
    rejections = 0
    chunk = max(1, 4_000_000 // max(n_images * n_annotators, 1))  # bounded memory for large studies
    for start in range(0, n_sim, chunk):
        model_wrong, human_wrong = simulated_errors(
            n_images,
            n_annotators,
            human_error,
            model_error,
            discordance=discordance,
            human_consistency=human_consistency,
            n_studies=min(chunk, n_sim - start),
            rng=rng,
        )
        difference = human_wrong.mean(axis=2) - model_wrong
        mean, spread = difference.mean(axis=1), difference.std(axis=1, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = np.where(spread > 0, mean / (spread / math.sqrt(n_images)), np.where(mean == 0, 0.0, np.inf))
        rejections += int(np.sum(2 * t_dist.sf(np.abs(statistic), n_images - 1) <= alpha))
    return rejections / n_sim


@dataclass(frozen=True, repr=False)
class StudyPlan(Summarised):
    """Images needed per number of annotators; see the module docstring for the methods."""

    title = "Study plan: test images needed to detect the error difference (paired test)"
    human_error: float
    model_error: float
    discordance: float
    #: Error consistency of two simulated annotators (several-annotator rows): as requested,
    #: or (``consistency_source`` "implied by the model only") the optimistic least.
    human_consistency: float
    consistency_source: str
    alpha: float
    target_power: float
    table: pd.DataFrame


def plan_study(
    human_error: float,
    model_error: float,
    *,
    discordance: float | None = None,
    annotators: Sequence[int] = (1,),
    alpha: float = 0.05,
    power: float = 0.8,
    n_sim: int = 2000,
    seed: int = 0,
    human_consistency: float | None = None,
) -> StudyPlan:
    """Test images needed for each number of annotators to detect ``human_error - model_error``.

    Parameters
    ----------
    human_error, model_error : float
        Expected top-k error rates.
    discordance : float, optional
        Expected share of images on which exactly one side errs; default: independent
        errors.
    annotators : sequence of int
        Numbers of annotators to plan for (each sees every test image).
    alpha : float
        Two-sided significance level.
    power : float
        Required power.
    n_sim : int
        Simulated studies per candidate size (several annotators).
    seed : int
        Seed of the simulation.
    human_consistency : float, optional
        Expected error consistency (kappa) of two annotators, e.g. a pilot's or a
        published human-human value (about 0.4 for object recognition); used for several
        annotators. Default: only what the model's outcome implies, which is optimistic.

    Returns
    -------
    StudyPlan
        ``table``: ``annotators, n_images, power, method``.
    """
    cells = _cells(human_error, model_error, discordance)
    _annotators(
        human_error, model_error, cells, human_consistency
    )  # an impossible consistency is refused before any search
    if human_consistency is None:
        consistency, source = (
            implied_consistency(human_error, model_error, discordance=cells.discordance),
            "implied by the model only",
        )
        simulation = (
            f"simulation ({n_sim} studies; optimistic: annotators agree "
            f"only through the model, error consistency {consistency:.2f})"
        )
    else:
        consistency, source = human_consistency, "requested"
        simulation = f"simulation ({n_sim} studies; annotators' error consistency {consistency:.2f})"
    formula_n = mcnemar_sample_size(human_error, model_error, discordance=cells.discordance, alpha=alpha, power=power)
    rows = []
    for count in sorted(set(annotators)):
        if count < 1:
            raise StudyError(f"the number of annotators must be at least 1, not {count}")
        if count == 1 and formula_n > EXACT_POWER_LIMIT:
            rows.append(
                {
                    "annotators": 1,
                    "n_images": formula_n,
                    "power": np.nan,
                    "method": f"Connor 1987 formula (exact power not computed beyond {EXACT_POWER_LIMIT:,} images)",
                }
            )
            continue
        if count == 1:
            n, achieved = exact_mcnemar_sample_size(
                formula_n, human_error, model_error, discordance=cells.discordance, alpha=alpha, power=power
            )
            rows.append(
                {
                    "annotators": 1,
                    "n_images": n,
                    "power": achieved,
                    "method": f"exact McNemar power (Connor 1987 formula: {formula_n})",
                }
            )
            continue
        if formula_n > EXACT_POWER_LIMIT:
            rows.append(
                {
                    "annotators": count,
                    "n_images": np.nan,
                    "power": np.nan,
                    "method": (
                        f"not simulated: one annotator needs about {formula_n:,} images; plan for a larger difference"
                    ),
                }
            )
            continue

        def power_at(n: int, count: int = count) -> float:  # count bound here, not read from the loop (B023)
            return simulated_power(
                n,
                count,
                human_error,
                model_error,
                discordance=cells.discordance,
                alpha=alpha,
                n_sim=n_sim,
                seed=seed,
                human_consistency=human_consistency,
            )

        low, high = 1, formula_n
        while power_at(high) < power:
            low, high = high, high * 2
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if power_at(middle) >= power else (middle, high)
        rows.append({"annotators": count, "n_images": high, "power": power_at(high), "method": simulation})
    return StudyPlan(human_error, model_error, cells.discordance, consistency, source, alpha, power, pd.DataFrame(rows))
