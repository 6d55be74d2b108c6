"""Psychometric functions: accuracy against a numeric condition level, per rater.

Degradation experiments (Geirhos et al. 2017, 2018) summarise each rater by a curve of
proportion correct against the level of a degradation and by the level at which the
curve reaches a named accuracy (the *threshold*). The model, as in psignifit:

    psi(x) = guess + (1 - guess - lapse) * H(x)

- ``guess`` is fixed (1 / number of classes: a rater that sees nothing is right by chance);
- ``lapse`` is the rate of errors at the easiest level, estimated within ``[0, 0.1]``
  (psignifit's default bound) or fixed;
- ``H = F`` for ``direction="increasing"`` (accuracy rises with the level: contrast) and
  ``H = 1 - F`` for ``direction="decreasing"`` (accuracy falls: noise width, blur
  sigma, phase noise). Using the survival function rather than a free sign of the slope
  keeps ``beta > 0`` and ``alpha`` meaning the same thing in both directions;
- ``F`` is a Weibull CDF ``1 - exp(-(x / alpha) ** beta)`` on levels ``x >= 0``
  (level 0, the undegraded image, gives ``F = 0``: accuracy ``1 - lapse`` for a
  decreasing curve; negative levels are an error; a Weibull in ``x`` is a Gumbel in
  ``log x``, so no separate log scale is needed), or a logistic
  ``1 / (1 + exp(-(x - alpha) / beta))`` on any real levels (pass ``log`` levels for
  a logistic in log units).

Estimation is maximum likelihood on the binomial likelihood of the per-level counts:
a grid of starting points over the tested range (several hundred starts, so the global
maximum is found deterministically), then Levenberg-Marquardt steps with the Fisher
information, vectorised over many data sets at once. The same engine refits every
bootstrap replicate of every rater in one batch, which is what makes bootstrap
intervals for a hundred raters take seconds rather than minutes (one
``scipy.optimize.minimize`` call per refit costs about a hundred times more; the tests
check the engine against ``scipy.optimize`` and against a brute-force grid).

Thresholds are the level where the fitted ``psi`` equals ``threshold_accuracy``
(default: midway between ``guess`` and 1), with a parametric bootstrap percentile
interval (counts redrawn from the fitted curve and refitted, as in Wichmann & Hill
2001). A threshold outside the tested levels is not extrapolated: it is NaN and the
``note`` says on which side it lies. :func:`threshold_difference` tests a model's
threshold against the annotators' pooled threshold.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2

from study_app.errors import StudyError
from study_app.stats.bootstrap import resample_counts
from study_app.stats.raters import HUMAN, MODEL
from study_app.stats.results import HypothesisTestResult, Summarised

FAMILIES = ("weibull", "logistic")
DIRECTIONS = ("increasing", "decreasing")
#: psignifit's default upper bound of the lapse rate.
MAX_LAPSE = 0.1
#: Goodness of fit below this p-value is flagged in the note.
POOR_FIT_P = 0.05
_EPS = 1e-12
_ITERATIONS = 60
#: Log-likelihood gradient (per unit of log alpha, log beta or lapse) that counts as zero.
_GRADIENT_TOLERANCE = 1e-4
#: Starting points per axis (a, b): the full grid for a rater's own data; bootstrap replicates,
#: drawn from the rater's fit, also start from that fit, so a coarse grid is enough for them.
_GRID = (36, 16)
_COARSE_GRID = (12, 6)
_BLOCK_ROWS = 4096


class PsychometricError(StudyError):
    """Input that no psychometric function can be fitted to (bad levels, counts or arguments)."""


@dataclass(frozen=True)
class _Model:
    """What is fixed in one fit: the function, the guess rate, the lapse range and the levels' range."""

    family: str
    direction: str
    guess: float
    lapse_low: float
    lapse_high: float
    a_limits: tuple[float, float]
    b_limits: tuple[float, float]

    @property
    def free(self) -> np.ndarray:
        return np.array([True, True, self.lapse_high > self.lapse_low])

    def lower(self) -> np.ndarray:
        return np.array([self.a_limits[0], self.b_limits[0], self.lapse_low])

    def upper(self) -> np.ndarray:
        return np.array([self.a_limits[1], self.b_limits[1], self.lapse_high])

    def theta(self, alpha: float, beta: float, lapse: float) -> np.ndarray:
        """(alpha, beta, lapse) to the internal parameters."""
        return np.array([np.log(alpha) if self.family == "weibull" else alpha, np.log(beta), lapse])

    def alpha_beta(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Internal (a, b) to (alpha, beta): Weibull works in (log alpha, log beta), logistic in (alpha, log beta)."""
        alpha = np.exp(theta[..., 0]) if self.family == "weibull" else theta[..., 0]
        return alpha, np.exp(theta[..., 1])


def _model(levels: np.ndarray, family: str, direction: str, guess: float, lapse: float | None) -> _Model:
    """Search limits that contain every curve the tested levels can tell apart, and a little more."""
    low, high = float(levels.min()), float(levels.max())
    if family == "weibull":
        positive = levels[levels > 0]
        smallest = float(positive.min()) if len(positive) else high
        a_limits = (np.log(smallest / 20), np.log(high * 20))
        b_limits = (np.log(0.3), np.log(50.0))
    else:
        span = high - low
        a_limits = (low - 2 * span, high + 2 * span)
        b_limits = (np.log(span / 500), np.log(span * 5))
    lapse_low, lapse_high = (0.0, MAX_LAPSE) if lapse is None else (lapse, lapse)
    return _Model(family, direction, guess, lapse_low, lapse_high, a_limits, b_limits)


def _shape(model: _Model, x: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """H(x) and its derivatives by a and b; theta (..., 3), x (L,), results (..., L)."""
    a, b = theta[..., 0:1], theta[..., 1:2]
    if model.family == "weibull":
        positive = x > 0
        logx = np.log(np.where(positive, x, 1.0))
        beta = np.exp(b)
        z = beta * (logx - a)
        u = np.where(positive, np.exp(np.minimum(z, 50.0)), 0.0)
        survival = np.exp(-u)
        cdf = 1 - survival
        d_a = -beta * u * survival
        d_b = np.where(positive, z * u * survival, 0.0)
    else:
        t = (x - a) * np.exp(-b)
        cdf = 0.5 * (1 + np.tanh(0.5 * t))  # the logistic without overflow
        density = cdf * (1 - cdf)
        d_a = -density * np.exp(-b)
        d_b = -t * density
    if model.direction == "decreasing":
        return 1 - cdf, -d_a, -d_b
    return cdf, d_a, d_b


def _psi(model: _Model, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    shape, _, _ = _shape(model, x, theta)
    lapse = theta[..., 2:3]
    return model.guess + (1 - model.guess - lapse) * shape


def _loglik(psi: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    psi = np.clip(psi, _EPS, 1 - _EPS)
    return (k * np.log(psi) + (n - k) * np.log1p(-psi)).sum(axis=-1)


def _saturated_loglik(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The log-likelihood of a curve through every observed proportion (for the deviance)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / np.where(n > 0, n, 1), 0.5)
    return _loglik(p, n, k)


def _grid(model: _Model, size: tuple[int, int]) -> np.ndarray:
    """Starting points spread over the search box, shape (G, 3)."""
    a = np.linspace(*model.a_limits, size[0])
    b = np.linspace(*model.b_limits, size[1])
    lapse = np.linspace(model.lapse_low, model.lapse_high, 4) if model.free[2] else np.array([model.lapse_low])
    return np.stack(np.meshgrid(a, b, lapse, indexing="ij"), axis=-1).reshape(-1, 3)


def _best_starts(model: _Model, x: np.ndarray, n: np.ndarray, k: np.ndarray, near: np.ndarray | None) -> np.ndarray:
    """The start of highest likelihood for each data set (rows of n and k): a grid point or its row of ``near``."""
    grid = _grid(model, _GRID if near is None else _COARSE_GRID)
    psi = np.clip(_psi(model, x, grid), _EPS, 1 - _EPS)
    log_p, log_q = np.log(psi).T, np.log1p(-psi).T
    best = np.empty(len(k), dtype=np.int64)
    best_loglik = np.empty(len(k))
    for start in range(0, len(k), _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        scores = k[rows] @ log_p + (n[rows] - k[rows]) @ log_q
        best[rows] = scores.argmax(axis=1)
        best_loglik[rows] = scores[np.arange(len(scores)), best[rows]]
    if near is None:
        return grid[best]
    closer = _loglik(_psi(model, x, near), n, k) >= best_loglik
    return np.where(closer[:, None], near, grid[best])


def _refine(
    model: _Model, x: np.ndarray, n: np.ndarray, k: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levenberg-Marquardt ascent, all data sets at once.

    The curvature is minus the Hessian where it is positive definite, else the observed
    outer-product information ``sum (k / psi^2 + (n - k) / (1 - psi)^2) dpsi dpsi'``:
    unlike the expected (Fisher) information ``n / (psi (1 - psi))`` both stay finite
    where every trial is correct and the lapse rate is 0 (psi = 1), so the lapse can
    leave 0 when it should.

    Returns (theta, log-likelihood, converged). A step is taken only where it raises
    the likelihood; otherwise the damping grows, so the ascent never goes backwards.
    Limits are active constraints: a parameter at its limit that the ascent pushes
    outward, or that a step would carry outside, is set to the limit and the others
    are solved without it (a lapse rate of 0 is common and must not stall the rest).
    A data set has converged when the gradient in the directions it may move is below
    :data:`_GRADIENT_TOLERANCE`, with alpha and beta inside their search limits.
    """
    lower, upper = model.lower(), model.upper()
    snap = 1e-6 * (upper - lower)  # this close to a limit is at it (approaching a limit is otherwise endless)
    fixed = ~model.free
    loglik = _loglik(_psi(model, x, theta), n, k)
    damping = np.full(len(theta), 1e-3)
    done = np.zeros(len(theta), dtype=bool)
    for _ in range(_ITERATIONS):
        active = np.flatnonzero(~done)
        if not len(active):
            break
        th, nn, kk = theta[active], n[active], k[active]
        score, outer = _score(model, x, nn, kk, th)
        held = fixed | ((th <= lower) & (score < 0)) | ((th >= upper) & (score > 0))
        info = _curvature(model, x, nn, kk, th, score=score, outer=outer, held=held)
        step = _damped_step(info, score, held, damping[active])
        below, above = (th + step < lower) & ~held, (th + step > upper) & ~held
        if (below | above).any():
            step = _damped_step(info, score, held | below | above, damping[active])
            step = np.where(below, lower - th, np.where(above, upper - th, step))
        candidate = np.clip(th + step, lower, upper)
        candidate = np.where(candidate - lower < snap, lower, np.where(upper - candidate < snap, upper, candidate))
        candidate_loglik = _loglik(_psi(model, x, candidate), nn, kk)
        better = candidate_loglik >= loglik[active]
        gradient_left = np.abs(np.where(held, 0.0, score)).max(axis=1)
        settled = (gradient_left < _GRADIENT_TOLERANCE) | (better & (np.abs(candidate - th).max(axis=1) < 1e-9))
        theta[active[better]] = candidate[better]
        loglik[active[better]] = candidate_loglik[better]
        damping[active] = np.where(better, damping[active] / 4, damping[active] * 8)
        done[active] = settled | (damping[active] > 1e8)
    score, _ = _score(model, x, n, k, theta)
    held = fixed | ((theta <= lower) & (score < 0)) | ((theta >= upper) & (score > 0))
    converged = np.abs(np.where(held, 0.0, score)).max(axis=1) < _GRADIENT_TOLERANCE
    at_limit = (np.isclose(theta[:, :2], lower[:2]) | np.isclose(theta[:, :2], upper[:2])).any(axis=1)
    return theta, loglik, converged & ~at_limit


def _score(
    model: _Model, x: np.ndarray, n: np.ndarray, k: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the log-likelihood and the observed outer-product information, per data set."""
    shape, d_a, d_b = _shape(model, x, theta)
    lapse = theta[:, 2:3]
    psi = np.clip(model.guess + (1 - model.guess - lapse) * shape, _EPS, 1 - _EPS)
    gradient = np.stack([(1 - model.guess - lapse) * d_a, (1 - model.guess - lapse) * d_b, -shape], axis=-1)
    score = ((k / psi - (n - k) / (1 - psi))[:, None, :] @ gradient)[:, 0]
    weighted = (k / psi**2 + (n - k) / (1 - psi) ** 2)[:, :, None] * gradient
    return score, np.swapaxes(weighted, 1, 2) @ gradient


def _curvature(
    model: _Model,
    x: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    theta: np.ndarray,
    *,
    score: np.ndarray,
    outer: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """Minus the Hessian (differences of the analytic gradient) where it is positive definite, else ``outer``.

    Newton steps on the true Hessian converge in a few iterations even where the
    curve fits badly (large residuals), where Gauss-Newton steps on ``outer`` crawl.
    """
    hessian = np.empty_like(outer)
    for column in range(3):
        h = 1e-6 * (1 + np.abs(theta[:, column]))
        shifted = theta.copy()
        shifted[:, column] += h
        hessian[:, :, column] = (_score(model, x, n, k, shifted)[0] - score) / h[:, None]
    curvature = -(hessian + np.swapaxes(hessian, 1, 2)) / 2
    free = ~held
    checked = np.where(free[:, :, None] & free[:, None, :], curvature, np.eye(3))
    return np.where(_positive_definite(checked)[:, None, None], curvature, outer)


def _positive_definite(matrices: np.ndarray) -> np.ndarray:
    """Sylvester's criterion for symmetric 3 x 3 matrices: every leading minor > 0 (no eigenvalue solver)."""
    m = matrices
    second = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    return (m[:, 0, 0] > 0) & (second > 0) & (np.linalg.det(m) > 0)


def _damped_step(info: np.ndarray, score: np.ndarray, held: np.ndarray, damping: np.ndarray) -> np.ndarray:
    """Marquardt step (info + damping * diag(info)) step = score, with the held parameters not moving."""
    score = np.where(held, 0.0, score)
    info = np.where(held[:, :, None] | held[:, None, :], 0.0, info)
    scale = np.where(held, 1.0, np.diagonal(info, axis1=1, axis2=2) + 1e-9)
    system = info + (damping[:, None, None] * scale[:, :, None] + 1e-12) * np.eye(3)
    return np.linalg.solve(system, score[..., None])[..., 0]


def _fit_many(
    model: _Model, x: np.ndarray, n: np.ndarray, k: np.ndarray, near: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ML fits of many data sets on the same levels: n and k (data sets, levels).

    ``near``: one known good start per data set (a bootstrap replicate's parent fit).
    """
    n, k = np.atleast_2d(n).astype(float), np.atleast_2d(k).astype(float)
    n = np.broadcast_to(n, k.shape)
    return _refine(model, x, n, k, _best_starts(model, x, n, k, near))


def _threshold(model: _Model, theta: np.ndarray, accuracy: float) -> np.ndarray:
    """Level where psi = accuracy; +inf / -inf where the curve never gets there (toward the easy end)."""
    alpha, beta = model.alpha_beta(theta)
    p = (accuracy - model.guess) / (1 - model.guess - theta[..., 2])  # > 0: accuracy > guess is checked
    reachable = p < 1
    p = np.where(reachable, p, 0.5)
    target = p if model.direction == "increasing" else 1 - p  # the value of F at the threshold
    if model.family == "weibull":
        level = alpha * (-np.log1p(-target)) ** (1 / beta)
    else:
        level = alpha + beta * np.log(target / (1 - target))
    beyond = np.inf if model.direction == "increasing" else -np.inf
    return np.where(reachable, level, beyond)


def psychometric_curve(
    levels: np.ndarray,
    *,
    alpha: float,
    beta: float,
    guess: float,
    lapse: float = 0.0,
    family: str = "weibull",
    direction: str = "increasing",
) -> float | np.ndarray:
    """psi at ``levels`` for given parameters (for plotting fitted curves and simulating)."""
    _check_options(family, direction, guess=guess, accuracy=None, lapse=lapse)
    x = np.asarray(levels, dtype=float)
    if family == "weibull" and (x < 0).any():
        raise PsychometricError(f"the Weibull is defined for levels >= 0, got {x[x < 0].tolist()}")
    model, theta = _given(family, direction, guess, alpha, beta, lapse)
    values = _psi(model, x.reshape(-1), theta).reshape(x.shape)
    return float(values) if values.ndim == 0 else values


def threshold_level(
    accuracy: float,
    *,
    alpha: float,
    beta: float,
    guess: float,
    lapse: float = 0.0,
    family: str = "weibull",
    direction: str = "increasing",
) -> float:
    """The level where :func:`psychometric_curve` equals ``accuracy`` (±inf if it never does)."""
    _check_options(family, direction, guess=guess, accuracy=accuracy, lapse=lapse)
    model, theta = _given(family, direction, guess, alpha, beta, lapse)
    return float(_threshold(model, theta, accuracy))


def _given(
    family: str, direction: str, guess: float, alpha: float, beta: float, lapse: float
) -> tuple[_Model, np.ndarray]:
    """The model and internal parameters of a curve given by its parameters."""
    if beta <= 0 or (family == "weibull" and alpha <= 0):
        raise PsychometricError(f"beta (and a Weibull's alpha) must be > 0, got alpha {alpha}, beta {beta}")
    model = _Model(family, direction, guess, lapse, lapse, (-np.inf, np.inf), (-np.inf, np.inf))
    return model, model.theta(alpha, beta, lapse)


@dataclass(frozen=True, repr=False)
class PsychometricFit(Summarised):
    """A maximum-likelihood psychometric function of one rater, with its threshold.

    ``alpha, beta`` are the Weibull scale and shape or the logistic location and
    scale; ``deviance`` is twice the log-likelihood ratio against a curve through every
    observed proportion, ``gof_pvalue`` the share of bootstrap replicates with a larger
    deviance (chi-squared on levels - free parameters without bootstrap). ``threshold``
    is NaN when the fitted curve does not cross ``threshold_accuracy`` within the
    tested levels, and ``note`` says why; ``threshold_interval`` is the bootstrap
    percentile interval (a bound is ±inf where replicates never crossed).
    """

    title = "Psychometric function (maximum likelihood)"
    family: str
    direction: str
    n_levels: int
    n_trials: int
    guess: float
    alpha: float
    beta: float
    lapse: float
    loglik: float
    deviance: float
    gof_pvalue: float
    threshold_accuracy: float
    threshold: float
    threshold_interval: tuple[float, float]
    confidence: float
    n_boot: int
    converged: bool
    note: str


def fit_psychometric(
    levels: np.ndarray,
    n: np.ndarray,
    correct: np.ndarray,
    *,
    guess: float,
    family: str = "weibull",
    direction: str = "increasing",
    threshold_accuracy: float | None = None,
    lapse: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PsychometricFit:
    """Fit one rater's accuracy against the level, with a bootstrap threshold interval.

    Parameters
    ----------
    levels, n, correct : arrays of equal length
        Level of each condition, trials at it and how many were correct. Levels with
        no trials are ignored (and named in the note).
    guess : float
        Chance accuracy, 1 / number of classes.
    family : ``"weibull"`` or ``"logistic"``
    direction : ``"increasing"`` or ``"decreasing"``
        Whether accuracy rises or falls with the level.
    threshold_accuracy : float, optional
        Accuracy that defines the threshold; default ``(1 + guess) / 2``.
    lapse : float, optional
        Fixed lapse rate; by default it is estimated within ``[0, 0.1]``.
    n_boot : int
        Parametric bootstrap replicates (0: no interval; 200 is a fast, usable choice).
    seed : int
        Seed of the replicates.
    confidence : float
        Coverage of the interval.
    """
    accuracy = _check_options(
        family, direction, guess=guess, accuracy=threshold_accuracy, lapse=lapse, n_boot=n_boot, confidence=confidence
    )
    x, nn, kk, notes = _check_counts(levels, n, correct, family)
    batch = _fit_batch(
        [(x, nn, kk)],
        family=family,
        direction=direction,
        guess=guess,
        lapse=lapse,
        accuracy=accuracy,
        n_boot=n_boot,
        rngs=[np.random.default_rng(seed)],
        confidence=confidence,
    )
    return _with_notes(batch[0][0], notes)


def _check_options(
    family: str,
    direction: str,
    *,
    guess: float,
    accuracy: float | None,
    lapse: float | None,
    n_boot: int = 0,
    confidence: float = 0.95,
) -> float:
    """The threshold accuracy, after checking every option (errors say which value is wrong)."""
    if family not in FAMILIES:
        raise PsychometricError(f"unknown psychometric family {family!r}; use one of {', '.join(FAMILIES)}")
    if direction not in DIRECTIONS:
        raise PsychometricError(f"unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}")
    if not 0 <= guess < 1:
        raise PsychometricError(f"guess rate {guess} must be in [0, 1) (1 / number of classes)")
    if lapse is not None and not 0 <= lapse < 1 - guess:
        raise PsychometricError(f"lapse rate {lapse} must be in [0, 1 - guess rate)")
    if not 0 < confidence < 1 or n_boot < 0:
        raise PsychometricError(f"confidence {confidence} must be in (0, 1) and n_boot {n_boot} at least 0")
    accuracy = (1 + guess) / 2 if accuracy is None else float(accuracy)
    if not guess < accuracy < 1:
        raise PsychometricError(f"threshold accuracy {accuracy} must lie between the guess rate {guess} and 1")
    return accuracy


def _check_counts(
    levels: ArrayLike, n: ArrayLike, correct: ArrayLike, family: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Levels sorted, levels without trials dropped (noted); impossible counts are errors."""
    x, nn, kk = (np.asarray(v, dtype=float).ravel() for v in (levels, n, correct))
    if not len(x) == len(nn) == len(kk):
        raise PsychometricError(f"levels, trials and correct counts differ in length ({len(x)}, {len(nn)}, {len(kk)})")
    if not np.isfinite(x).all():
        raise PsychometricError(f"levels must be finite numbers, got {x[~np.isfinite(x)].tolist()}")
    if family == "weibull" and (x < 0).any():
        raise PsychometricError(
            "the Weibull is defined for levels >= 0, got "
            f"{x[x < 0].tolist()}; use family='logistic' for negative levels"
        )
    if (nn < 0).any() or (kk < 0).any() or (kk > nn).any() or (np.round(nn) != nn).any() or (np.round(kk) != kk).any():
        raise PsychometricError(
            "trial and correct counts must be whole numbers with 0 <= correct <= trials at every level"
        )
    if len(np.unique(x)) != len(x):
        raise PsychometricError(f"each level must appear once, got {x.tolist()}")
    order = np.argsort(x)
    x, nn, kk = x[order], nn[order], kk[order]
    empty = nn == 0
    notes = [f"levels without trials ignored: {', '.join(f'{v:g}' for v in x[empty])}"] if empty.any() else []
    return x[~empty], nn[~empty], kk[~empty], notes


def _with_notes(fit: PsychometricFit, notes: list[str]) -> PsychometricFit:
    if not notes:
        return fit
    return replace(fit, note="; ".join([*notes, *([fit.note] if fit.note else [])]))


def _no_fit(
    x: np.ndarray,
    nn: np.ndarray,
    *,
    family: str,
    direction: str,
    guess: float,
    accuracy: float,
    n_boot: int,
    confidence: float,
    note: str,
) -> PsychometricFit:
    return PsychometricFit(
        family,
        direction,
        len(x),
        int(nn.sum()),
        guess,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        np.nan,
        accuracy,
        np.nan,
        (np.nan, np.nan),
        confidence,
        n_boot,
        False,
        note,
    )


def _degenerate(x: np.ndarray, nn: np.ndarray, kk: np.ndarray, guess: float, accuracy: float) -> str:
    """Why no curve can be fitted to these counts ('' if one can)."""
    if len(x) == 0:
        return "no trials: nothing to fit"
    if len(x) == 1:
        return f"only one level with trials ({x[0]:g}): a curve needs at least two"
    if (kk == nn).all():
        return (
            "no threshold: every trial is correct at every level, accuracy never falls below "
            f"{accuracy:.3g} in the tested range [{x[0]:g}, {x[-1]:g}]"
        )
    deviance = 2 * (_saturated_loglik(nn, kk) - _loglik(np.full_like(x, guess), nn, kk))
    pvalue = chi2.sf(deviance, len(x))  # the curve psi = guess has no free parameter
    if pvalue > POOR_FIT_P:
        return f"no threshold: accuracy is consistent with chance ({guess:.3g}) at every level (p = {pvalue:.3g})"
    return ""


def _fit_batch(
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    family: str,
    direction: str,
    guess: float,
    lapse: float | None,
    accuracy: float,
    n_boot: int,
    rngs: list[np.random.Generator],
    confidence: float,
) -> list[tuple[PsychometricFit, np.ndarray | None]]:
    """Fit many raters: those on the same levels share one vectorised call, replicates included.

    Returns each rater's fit and its replicate thresholds (None without bootstrap or fit).
    Each rater's replicates come from its own generator in ``rngs``.
    """
    fits: list[tuple[PsychometricFit, np.ndarray | None] | None] = [None] * len(data)
    groups: dict[tuple[float, ...], list[int]] = {}
    for index, (x, nn, kk) in enumerate(data):
        reason = _degenerate(x, nn, kk, guess, accuracy)
        if reason:
            fits[index] = (
                _no_fit(
                    x,
                    nn,
                    family=family,
                    direction=direction,
                    guess=guess,
                    accuracy=accuracy,
                    n_boot=n_boot,
                    confidence=confidence,
                    note=reason,
                ),
                None,
            )
        else:
            groups.setdefault(tuple(x), []).append(index)
    for levels, members in groups.items():
        x = np.array(levels)
        model = _model(x, family, direction, guess, lapse)
        n = np.stack([data[i][1] for i in members])
        k = np.stack([data[i][2] for i in members])
        theta, loglik, converged = _fit_many(model, x, n, k)
        deviance = 2 * (_saturated_loglik(n, k) - loglik)
        replicate_thresholds = replicate_deviance = None
        if n_boot > 0:
            psi = _psi(model, x, theta)
            draws = np.concatenate(
                [rngs[i].binomial(n[j].astype(np.int64), psi[j], size=(n_boot, len(x))) for j, i in enumerate(members)]
            )
            boot_n = np.repeat(n, n_boot, axis=0)
            boot_theta, boot_loglik, _ = _fit_many(model, x, boot_n, draws, near=np.repeat(theta, n_boot, axis=0))
            replicate_thresholds = _threshold(model, boot_theta, accuracy).reshape(len(members), n_boot)
            replicate_deviance = (2 * (_saturated_loglik(boot_n, draws) - boot_loglik)).reshape(len(members), n_boot)
        point_thresholds = _threshold(model, theta, accuracy)
        alpha, beta = model.alpha_beta(theta)
        for j, i in enumerate(members):
            replicates = None if replicate_thresholds is None else replicate_thresholds[j]
            fit = _assemble(
                model,
                x,
                n[j],
                theta[j],
                alpha=alpha[j],
                beta=beta[j],
                loglik=loglik[j],
                deviance=deviance[j],
                converged=bool(converged[j]),
                accuracy=accuracy,
                threshold=point_thresholds[j],
                replicate_thresholds=replicates,
                replicate_deviance=None if replicate_deviance is None else replicate_deviance[j],
                n_boot=n_boot,
                confidence=confidence,
            )
            fits[i] = (fit, replicates)
    return fits  # type: ignore[return-value]


def _assemble(
    model: _Model,
    x: np.ndarray,
    n: np.ndarray,
    theta: np.ndarray,
    *,
    alpha: float,
    beta: float,
    loglik: float,
    deviance: float,
    converged: bool,
    accuracy: float,
    threshold: float,
    replicate_thresholds: np.ndarray | None,
    replicate_deviance: np.ndarray | None,
    n_boot: int,
    confidence: float,
) -> PsychometricFit:
    notes: list[str] = []
    low, high = float(x[0]), float(x[-1])
    location_at_limit = bool(np.isclose(theta[0], model.a_limits).any())
    if location_at_limit:  # the curve's position is not identified: a threshold read off it means nothing
        notes.append(
            "no threshold: the curve's location went to its search limit "
            "(accuracy does not change enough over the tested levels to place it)"
        )
        threshold = np.nan
    elif not low <= threshold <= high:
        above = (threshold > high) == (model.direction == "decreasing")
        notes.append(
            f"no threshold: fitted accuracy stays {'above' if above else 'below'} {accuracy:.3g} "
            f"over the tested range [{low:g}, {high:g}]"
        )
        threshold = np.nan
    if replicate_thresholds is None or replicate_deviance is None:  # no bootstrap: both None
        interval = (np.nan, np.nan)
        free = int(model.free.sum())
        dof = len(x) - free
        gof = float(chi2.sf(deviance, dof)) if dof > 0 else np.nan
    else:
        gof = float((np.sum(replicate_deviance >= deviance) + 1) / (n_boot + 1))
        interval = (np.nan, np.nan)
        if not np.isnan(threshold):  # replicates never cross at all as +-inf, so the order statistics stay right
            tail = (1 - confidence) / 2
            lowest, highest = np.quantile(replicate_thresholds, [tail, 1 - tail], method="inverted_cdf")
            interval = (float(lowest), float(highest))
            if not (low <= interval[0] and interval[1] <= high):
                notes.append(f"the threshold's interval reaches beyond the tested range [{low:g}, {high:g}]")
    if not converged and not location_at_limit:
        notes.append("fit did not converge inside the search limits: parameters are not identified by these data")
    if gof < POOR_FIT_P:
        notes.append(
            f"poor fit: deviance {deviance:.3g}, goodness-of-fit p = {gof:.3g} "
            f"(accuracy not a smooth {model.direction} curve of the level?)"
        )
    return PsychometricFit(
        model.family,
        model.direction,
        len(x),
        int(n.sum()),
        model.guess,
        float(alpha),
        float(beta),
        float(theta[2]),
        float(loglik),
        float(deviance),
        gof,
        accuracy,
        float(threshold),
        interval,
        confidence,
        n_boot,
        converged,
        "; ".join(notes),
    )


def level_counts(raters: pd.DataFrame, *, correctness: str = "correct_top1") -> pd.DataFrame:
    """Trials and correct answers per rater and numeric level: ``rater, kind, level, n, correct``.

    Levels are the ``condition`` column read as numbers (``"0.00"`` and ``"0"`` are one
    level). Raises :class:`PsychometricError` when there is no condition column, a
    level is not a number or is not finite (e.g. ``inf``: no curve has a value there).
    """
    no_conditions = PsychometricError(
        "psychometric fits need a numeric 'condition' column; this rater table has no conditions"
    )
    if "condition" not in raters.columns:
        raise no_conditions
    if correctness not in raters.columns:
        raise PsychometricError(f"no correctness column {correctness!r} in the rater table")
    correct = raters[correctness].fillna(False).astype(float)
    keys = [raters["rater"], raters["kind"], raters["condition"]]
    grouped = correct.groupby(keys, observed=True, sort=False).agg(["size", "sum"]).reset_index()
    written = grouped["condition"].astype(str)
    if (written == "").all():
        raise no_conditions
    numbers = pd.to_numeric(written.str.strip(), errors="coerce")
    bad = pd.Series(pd.unique(written[~np.isfinite(numbers.to_numpy(dtype=float))]))
    if len(bad):
        shown = ", ".join(repr(v) for v in bad[:5])
        raise PsychometricError(
            f"psychometric fits need finite numeric condition levels; not numbers: {shown}"
            f"{' ...' if len(bad) > 5 else ''} (fit such conditions per condition instead)"
        )
    frame = pd.DataFrame(
        {
            "rater": grouped["rater"].astype(str),
            "kind": grouped["kind"].astype(str),
            "level": numbers.astype(float),
            "n": grouped["size"],
            "correct": grouped["sum"],
        }
    )
    counts = frame.groupby(["rater", "kind", "level"], sort=True)[
        ["n", "correct"]
    ].sum()  # "0" and "0.00" are one level
    return counts.reset_index().astype({"n": int, "correct": int})


def rater_stream(seed: int, rater: str) -> np.random.Generator:
    """A rater's own random stream: its interval does not change when other raters are added."""
    return np.random.default_rng([seed, zlib.crc32(rater.encode("utf-8"))])


FIT_COLUMNS = (
    "rater",
    "kind",
    "family",
    "direction",
    "alpha",
    "beta",
    "lapse",
    "guess",
    "threshold_accuracy",
    "threshold",
    "threshold_low",
    "threshold_high",
    "deviance",
    "gof_pvalue",
    "converged",
    "note",
)


def fit_raters(
    raters: pd.DataFrame,
    *,
    guess: float,
    correctness: str = "correct_top1",
    family: str = "weibull",
    direction: str = "increasing",
    threshold_accuracy: float | None = None,
    lapse: float | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`fit_psychometric` for every rater of a rater table with numeric ``condition`` levels.

    One row per rater (phases pooled), columns :data:`FIT_COLUMNS`. Raters on the same
    levels are fitted together, bootstrap replicates included (seeded per rater by
    ``seed`` and its name). Thresholds outside the tested levels are NaN with a note.
    """
    accuracy = _check_options(
        family, direction, guess=guess, accuracy=threshold_accuracy, lapse=lapse, n_boot=n_boot, confidence=confidence
    )
    counts = level_counts(raters, correctness=correctness)
    keys, data, notes = [], [], []
    for (rater, kind), rows in counts.groupby(["rater", "kind"], sort=True):
        x, nn, kk, rater_notes = _check_counts(rows["level"], rows["n"], rows["correct"], family)
        keys.append((rater, kind))
        data.append((x, nn, kk))
        notes.append(rater_notes)
    rngs = [rater_stream(seed, rater) for rater, _ in keys]
    fits = _fit_batch(
        data,
        family=family,
        direction=direction,
        guess=guess,
        lapse=lapse,
        accuracy=accuracy,
        n_boot=n_boot,
        rngs=rngs,
        confidence=confidence,
    )
    rows = []
    for (rater, kind), (fit, _), rater_notes in zip(keys, fits, notes):
        fit = _with_notes(fit, rater_notes)
        rows.append(
            (
                rater,
                kind,
                fit.family,
                fit.direction,
                fit.alpha,
                fit.beta,
                fit.lapse,
                fit.guess,
                fit.threshold_accuracy,
                fit.threshold,
                *fit.threshold_interval,
                fit.deviance,
                fit.gof_pvalue,
                fit.converged,
                fit.note,
            )
        )
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))


@dataclass(frozen=True, repr=False)
class ThresholdDifference(HypothesisTestResult):
    """A model's threshold minus the annotators' pooled threshold, with a bootstrap test.

    The humans' curve is fitted to the counts summed over annotators; its replicates
    resample annotators with replacement (a cluster bootstrap: the interval reflects
    that the annotators are a sample) and refit. The model's replicates redraw its
    counts from its fitted curve (parametric bootstrap). ``statistic`` is the
    difference, ``interval`` the percentile interval of the replicate differences and
    ``pvalue`` the two-sided bootstrap p-value of "no difference":
    ``2 * (min(#{d* <= 0}, #{d* >= 0}) + 1) / (n_boot + 1)``, at most 1.
    """

    title = "Threshold difference, model - humans (bootstrap)"
    model: str
    n_annotators: int
    threshold_accuracy: float
    model_threshold: float
    humans_threshold: float
    statistic: float
    interval: tuple[float, float]
    pvalue: float
    confidence: float
    n_boot: int
    note: str


def compare_thresholds(
    levels: np.ndarray,
    model_n: np.ndarray,
    model_correct: np.ndarray,
    humans_n: np.ndarray,
    humans_correct: np.ndarray,
    *,
    guess: float,
    model: str = "model",
    family: str = "weibull",
    direction: str = "increasing",
    threshold_accuracy: float | None = None,
    lapse: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ThresholdDifference:
    """Does the model's threshold differ from the pooled annotators'? (See :class:`ThresholdDifference`.)

    ``model_n, model_correct`` have one value per level, ``humans_n, humans_correct``
    one row per annotator and one column per level (0 trials where an annotator did
    not see a level).
    """
    accuracy = _check_options(
        family, direction, guess=guess, accuracy=threshold_accuracy, lapse=lapse, n_boot=n_boot, confidence=confidence
    )
    if n_boot < 1:
        raise PsychometricError("the threshold difference test needs n_boot >= 1 bootstrap replicates")
    humans_n, humans_correct = (
        np.atleast_2d(np.asarray(humans_n, float)),
        np.atleast_2d(np.asarray(humans_correct, float)),
    )
    if humans_n.shape != humans_correct.shape or humans_n.shape[1] != len(levels) or len(humans_n) == 0:
        raise PsychometricError(
            f"human counts must be (annotators, {len(levels)} levels), got {humans_n.shape} and {humans_correct.shape}"
        )
    rng = np.random.default_rng(seed)
    model_x, model_nn, model_kk, model_notes = _check_counts(levels, model_n, model_correct, family)
    pooled_x, pooled_n, pooled_k, _ = _check_counts(levels, humans_n.sum(axis=0), humans_correct.sum(axis=0), family)
    ((model_fit, model_replicates),) = _fit_batch(
        [(model_x, model_nn, model_kk)],
        family=family,
        direction=direction,
        guess=guess,
        lapse=lapse,
        accuracy=accuracy,
        n_boot=n_boot,
        rngs=[rng],
        confidence=confidence,
    )
    ((humans_fit, _),) = _fit_batch(
        [(pooled_x, pooled_n, pooled_k)],
        family=family,
        direction=direction,
        guess=guess,
        lapse=lapse,
        accuracy=accuracy,
        n_boot=0,
        rngs=[rng],
        confidence=confidence,
    )
    problems = [f"model: {model_fit.note}"] if np.isnan(model_fit.threshold) else []
    problems += [f"humans: {humans_fit.note}"] if np.isnan(humans_fit.threshold) else []
    if problems:
        return ThresholdDifference(
            model,
            len(humans_n),
            accuracy,
            model_fit.threshold,
            humans_fit.threshold,
            np.nan,
            (np.nan, np.nan),
            np.nan,
            confidence,
            n_boot,
            "no test: " + "; ".join(problems),
        )
    order = np.argsort(np.asarray(levels, float))
    columns = order[np.isin(np.asarray(levels, float)[order], pooled_x)]
    weights = resample_counts(len(humans_n), n_boot, rng).astype(float)
    pooled = _model(pooled_x, family, direction, guess, lapse)
    start = pooled.theta(humans_fit.alpha, humans_fit.beta, humans_fit.lapse)
    theta, _, _ = _fit_many(
        pooled,
        pooled_x,
        weights @ humans_n[:, columns],
        weights @ humans_correct[:, columns],
        near=np.tile(start, (n_boot, 1)),
    )
    humans_replicates = _threshold(pooled, theta, accuracy)
    with np.errstate(invalid="ignore"):
        differences = model_replicates - humans_replicates
    differences = differences[~np.isnan(differences)]
    tail = (1 - confidence) / 2
    lowest, highest = np.quantile(differences, [tail, 1 - tail], method="inverted_cdf")
    interval = (float(lowest), float(highest))
    extreme = min(np.sum(differences <= 0), np.sum(differences >= 0))
    pvalue = float(min(1.0, 2 * (extreme + 1) / (len(differences) + 1)))
    notes = [
        *model_notes,
        *(f"{side}: {fit.note}" for side, fit in (("model", model_fit), ("humans", humans_fit)) if fit.note),
    ]
    return ThresholdDifference(
        model,
        len(humans_n),
        accuracy,
        model_fit.threshold,
        humans_fit.threshold,
        model_fit.threshold - humans_fit.threshold,
        interval,
        pvalue,
        confidence,
        n_boot,
        "; ".join(notes),
    )


def threshold_difference(
    raters: pd.DataFrame,
    model: str,
    *,
    guess: float,
    correctness: str = "correct_top1",
    **options: Any,
) -> ThresholdDifference:
    """:func:`compare_thresholds` of one model of a rater table against all its annotators."""
    counts = level_counts(raters, correctness=correctness)
    if not ((counts["rater"] == model) & (counts["kind"] == MODEL)).any():
        raise PsychometricError(f"no model {model!r} with condition levels in the rater table")
    humans = counts[counts["kind"] == HUMAN]
    if humans.empty:
        raise PsychometricError("no annotators with condition levels in the rater table to compare with")
    levels = np.sort(counts["level"].unique())
    mine = counts[counts["rater"] == model].set_index("level").reindex(levels, fill_value=0)
    trials = humans.pivot_table(index="rater", columns="level", values="n", fill_value=0).reindex(
        columns=levels, fill_value=0
    )
    right = humans.pivot_table(index="rater", columns="level", values="correct", fill_value=0).reindex(
        columns=levels, fill_value=0
    )
    return compare_thresholds(
        levels,
        mine["n"].to_numpy(),
        mine["correct"].to_numpy(),
        trials.to_numpy(),
        right.to_numpy(),
        guess=guess,
        model=model,
        **options,
    )
