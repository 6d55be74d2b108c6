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
from typing import Required, TypedDict, Unpack

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


def _model(levels: np.ndarray, options: FitOptions) -> _Model:
    """Search limits that contain every curve the tested levels can tell apart, and a little more."""
    low, high = float(levels.min()), float(levels.max())
    if options.family == "weibull":
        positive = levels[levels > 0]
        smallest = float(positive.min()) if len(positive) else high
        a_limits = (np.log(smallest / 20), np.log(high * 20))
        b_limits = (np.log(0.3), np.log(50.0))
    else:
        span = high - low
        a_limits = (low - 2 * span, high + 2 * span)
        b_limits = (np.log(span / 500), np.log(span * 5))
    lapse_low, lapse_high = (0.0, MAX_LAPSE) if options.lapse is None else (options.lapse, options.lapse)
    return _Model(options.family, options.direction, options.guess, lapse_low, lapse_high, a_limits, b_limits)


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


class CurveParameters(TypedDict, total=False):
    """One curve's parameters, as :func:`psychometric_curve` and :func:`threshold_level` take them.

    ``alpha, beta`` are the Weibull scale and shape or the logistic location and scale;
    ``lapse`` defaults to 0, ``family`` to ``"weibull"``, ``direction`` to ``"increasing"``.
    """

    alpha: Required[float]
    beta: Required[float]
    guess: Required[float]
    lapse: float
    family: str
    direction: str


def psychometric_curve(levels: ArrayLike, **curve: Unpack[CurveParameters]) -> float | np.ndarray:
    """psi at ``levels`` for given parameters (for plotting fitted curves and simulating)."""
    model, theta = _given(curve, accuracy=None)
    x = np.asarray(levels, dtype=float)
    if model.family == "weibull" and (x < 0).any():
        raise PsychometricError(f"the Weibull is defined for levels >= 0, got {x[x < 0].tolist()}")
    values = _psi(model, x.reshape(-1), theta).reshape(x.shape)
    return float(values) if values.ndim == 0 else values


def threshold_level(accuracy: float, **curve: Unpack[CurveParameters]) -> float:
    """The level where :func:`psychometric_curve` equals ``accuracy`` (±inf if it never does)."""
    model, theta = _given(curve, accuracy=accuracy)
    return float(_threshold(model, theta, accuracy))


def _given(curve: CurveParameters, accuracy: float | None) -> tuple[_Model, np.ndarray]:
    """The model and internal parameters of a curve given by its parameters (checked, as is ``accuracy``)."""
    alpha, beta, guess, lapse = curve["alpha"], curve["beta"], curve["guess"], curve.get("lapse", 0.0)
    family, direction = curve.get("family", "weibull"), curve.get("direction", "increasing")
    _check_options(family, direction, guess=guess, accuracy=accuracy, lapse=lapse)
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


@dataclass(frozen=True)
class FitOptions:
    """How psychometric functions are fitted and their thresholds bootstrapped.

    One value serves :func:`fit_psychometric`, :func:`fit_raters`, :func:`compare_thresholds`
    and :func:`threshold_difference`, so a caller that fits curves and tests thresholds states
    its settings once; a wrong value is refused where it is written (:class:`PsychometricError`).

    Attributes
    ----------
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

    guess: float
    family: str = "weibull"
    direction: str = "increasing"
    threshold_accuracy: float | None = None
    lapse: float | None = None
    n_boot: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        _check_options(
            self.family, self.direction, guess=self.guess, accuracy=self.threshold_accuracy, lapse=self.lapse
        )
        if not 0 < self.confidence < 1 or self.n_boot < 0:
            raise PsychometricError(
                f"confidence {self.confidence} must be in (0, 1) and n_boot {self.n_boot} at least 0"
            )

    @property
    def accuracy(self) -> float:
        """The accuracy that defines the threshold (``threshold_accuracy`` or its default)."""
        return _threshold_accuracy(self.guess, self.threshold_accuracy)


def fit_psychometric(levels: np.ndarray, n: np.ndarray, correct: np.ndarray, options: FitOptions) -> PsychometricFit:
    """Fit one rater's accuracy against the level, with a bootstrap threshold interval.

    Parameters
    ----------
    levels, n, correct : arrays of equal length
        Level of each condition, trials at it and how many were correct. Levels with
        no trials are ignored (and named in the note).
    options : FitOptions
        The curve, the threshold and the bootstrap; its ``seed`` seeds the replicates.
    """
    x, nn, kk, notes = _check_counts(levels, n, correct, options.family)
    batch = _fit_batch([(x, nn, kk)], options, [np.random.default_rng(options.seed)])
    return _with_notes(batch[0][0], notes)


def _check_options(family: str, direction: str, *, guess: float, accuracy: float | None, lapse: float | None) -> None:
    """Check the options of a curve and its threshold (errors say which value is wrong)."""
    if family not in FAMILIES:
        raise PsychometricError(f"unknown psychometric family {family!r}; use one of {', '.join(FAMILIES)}")
    if direction not in DIRECTIONS:
        raise PsychometricError(f"unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}")
    if not 0 <= guess < 1:
        raise PsychometricError(f"guess rate {guess} must be in [0, 1) (1 / number of classes)")
    if lapse is not None and not 0 <= lapse < 1 - guess:
        raise PsychometricError(f"lapse rate {lapse} must be in [0, 1 - guess rate)")
    accuracy = _threshold_accuracy(guess, accuracy)
    if not guess < accuracy < 1:
        raise PsychometricError(f"threshold accuracy {accuracy} must lie between the guess rate {guess} and 1")


def _threshold_accuracy(guess: float, accuracy: float | None) -> float:
    """The accuracy asked for, or by default midway between the guess rate and 1."""
    return (1 + guess) / 2 if accuracy is None else float(accuracy)


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


def _record(
    options: FitOptions,
    x: np.ndarray,
    n: np.ndarray,
    estimates: tuple[float, float, float, float, float, float],
    threshold: float,
    interval: tuple[float, float],
    converged: bool,
    note: str,
) -> PsychometricFit:
    """The fit of counts ``n`` on levels ``x`` under ``options``; ``estimates``: alpha, beta, lapse, loglik,
    deviance and gof_pvalue (all NaN where no curve could be fitted)."""
    return PsychometricFit(
        options.family,
        options.direction,
        len(x),
        int(n.sum()),
        options.guess,
        *estimates,
        options.accuracy,
        threshold,
        interval,
        options.confidence,
        options.n_boot,
        converged,
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
    data: list[tuple[np.ndarray, np.ndarray, np.ndarray]], options: FitOptions, rngs: list[np.random.Generator]
) -> list[tuple[PsychometricFit, np.ndarray | None]]:
    """Fit many raters: those on the same levels share one vectorised call, replicates included.

    Returns each rater's fit and its replicate thresholds (None without bootstrap or fit).
    Each rater's replicates come from its own generator in ``rngs``.
    """
    accuracy, n_boot = options.accuracy, options.n_boot
    fits: list[tuple[PsychometricFit, np.ndarray | None] | None] = [None] * len(data)
    groups: dict[tuple[float, ...], list[int]] = {}
    for index, (x, nn, kk) in enumerate(data):
        reason = _degenerate(x, nn, kk, options.guess, accuracy)
        if reason:
            no_fit = _record(options, x, nn, (np.nan,) * 6, np.nan, (np.nan, np.nan), False, reason)
            fits[index] = (no_fit, None)
        else:
            groups.setdefault(tuple(x), []).append(index)
    for levels, members in groups.items():
        x = np.array(levels)
        model = _model(x, options)
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
                options,
                alpha=alpha[j],
                beta=beta[j],
                loglik=loglik[j],
                deviance=deviance[j],
                converged=bool(converged[j]),
                threshold=point_thresholds[j],
                replicate_thresholds=replicates,
                replicate_deviance=None if replicate_deviance is None else replicate_deviance[j],
            )
            fits[i] = (fit, replicates)
    return fits  # type: ignore[return-value]


def _assemble(
    model: _Model,
    x: np.ndarray,
    n: np.ndarray,
    theta: np.ndarray,
    options: FitOptions,
    *,
    alpha: float,
    beta: float,
    loglik: float,
    deviance: float,
    converged: bool,
    threshold: float,
    replicate_thresholds: np.ndarray | None,
    replicate_deviance: np.ndarray | None,
) -> PsychometricFit:
    accuracy, n_boot, confidence = options.accuracy, options.n_boot, options.confidence
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
    estimates = (float(alpha), float(beta), float(theta[2]), float(loglik), float(deviance), gof)
    return _record(options, x, n, estimates, float(threshold), interval, converged, "; ".join(notes))


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


def fit_raters(raters: pd.DataFrame, options: FitOptions, *, correctness: str = "correct_top1") -> pd.DataFrame:
    """:func:`fit_psychometric` for every rater of a rater table with numeric ``condition`` levels.

    One row per rater (phases pooled), columns :data:`FIT_COLUMNS`. Raters on the same
    levels are fitted together, bootstrap replicates included (seeded per rater by
    ``options.seed`` and its name). Thresholds outside the tested levels are NaN with a note.
    """
    counts = level_counts(raters, correctness=correctness)
    keys, data, notes = [], [], []
    for (rater, kind), rows in counts.groupby(["rater", "kind"], sort=True):
        x, nn, kk, rater_notes = _check_counts(rows["level"], rows["n"], rows["correct"], options.family)
        keys.append((rater, kind))
        data.append((x, nn, kk))
        notes.append(rater_notes)
    fits = _fit_batch(data, options, [rater_stream(options.seed, rater) for rater, _ in keys])
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
    options: FitOptions,
    *,
    model: str = "model",
) -> ThresholdDifference:
    """Does the model's threshold differ from the pooled annotators'? (See :class:`ThresholdDifference`.)

    ``model_n, model_correct`` have one value per level, ``humans_n, humans_correct``
    one row per annotator and one column per level (0 trials where an annotator did
    not see a level).
    """
    accuracy, n_boot, confidence, family = options.accuracy, options.n_boot, options.confidence, options.family
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
    rng = np.random.default_rng(options.seed)
    model_x, model_nn, model_kk, model_notes = _check_counts(levels, model_n, model_correct, family)
    pooled_x, pooled_n, pooled_k, _ = _check_counts(levels, humans_n.sum(axis=0), humans_correct.sum(axis=0), family)
    ((model_fit, model_replicates),) = _fit_batch([(model_x, model_nn, model_kk)], options, [rng])
    ((humans_fit, _),) = _fit_batch([(pooled_x, pooled_n, pooled_k)], replace(options, n_boot=0), [rng])
    problems = [f"model: {model_fit.note}"] if np.isnan(model_fit.threshold) else []
    problems += [f"humans: {humans_fit.note}"] if np.isnan(humans_fit.threshold) else []
    if problems:
        statistic, interval, pvalue, note = np.nan, (np.nan, np.nan), np.nan, "no test: " + "; ".join(problems)
    else:
        order = np.argsort(np.asarray(levels, float))
        columns = order[np.isin(np.asarray(levels, float)[order], pooled_x)]
        humans_replicates = _cluster_replicates(
            pooled_x, humans_n[:, columns], humans_correct[:, columns], humans_fit, options, rng
        )
        with np.errstate(invalid="ignore"):
            differences = model_replicates - humans_replicates
        differences = differences[~np.isnan(differences)]
        tail = (1 - confidence) / 2
        lowest, highest = np.quantile(differences, [tail, 1 - tail], method="inverted_cdf")
        statistic, interval = model_fit.threshold - humans_fit.threshold, (float(lowest), float(highest))
        extreme = min(np.sum(differences <= 0), np.sum(differences >= 0))
        pvalue = float(min(1.0, 2 * (extreme + 1) / (len(differences) + 1)))
        sides = (("model", model_fit), ("humans", humans_fit))
        note = "; ".join([*model_notes, *(f"{side}: {fit.note}" for side, fit in sides if fit.note)])
    return ThresholdDifference(
        model,
        len(humans_n),
        accuracy,
        model_fit.threshold,
        humans_fit.threshold,
        statistic,
        interval,
        pvalue,
        confidence,
        n_boot,
        note,
    )


def _cluster_replicates(
    x: np.ndarray,
    humans_n: np.ndarray,
    humans_correct: np.ndarray,
    pooled_fit: PsychometricFit,
    options: FitOptions,
    rng: np.random.Generator,
) -> np.ndarray:
    """Thresholds of the pooled annotators' curve refitted to ``options.n_boot`` resamples of the
    annotators (rows of the counts on levels ``x``), each started from the pooled fit."""
    weights = resample_counts(len(humans_n), options.n_boot, rng).astype(float)
    pooled = _model(x, options)
    start = pooled.theta(pooled_fit.alpha, pooled_fit.beta, pooled_fit.lapse)
    theta, _, _ = _fit_many(
        pooled, x, weights @ humans_n, weights @ humans_correct, near=np.tile(start, (options.n_boot, 1))
    )
    return _threshold(pooled, theta, options.accuracy)


def threshold_difference(
    raters: pd.DataFrame, model: str, options: FitOptions, *, correctness: str = "correct_top1"
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
        options,
        model=model,
    )
