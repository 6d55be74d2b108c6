"""Humans vs a model as a claim about people: a logistic mixed model with crossed random effects.

The paired tests and the GEE (:mod:`study_app.stats.paired`) treat the annotators of a
study as fixed: they answer "do *these* people err more than the model?". A reviewer
asks about people in general, of whom the annotators are a sample, so the headline test
is a generalized linear mixed model of each answer's error (0/1)::

    logit P(error) = b0 + b1 [model] + a_j [annotator j, humans only] + u_i [image i]
    a_j ~ N(0, annotator_sd^2),  u_i ~ N(0, image_sd^2)

``b1`` is the model's log-odds of error minus that of a typical person on a typical
image. The model is *one* rater chosen by the researcher, not a draw from a population,
so it has no annotator effect: its rows carry the fixed effect ``kind = model`` only,
while the image effect is shared by all raters of an image (that is what pairs them).
In lme4 this is ``glmer(error ~ kind + (0 + human | annotator) + (1 | image),
family = binomial)`` with ``human`` the 0/1 indicator of an annotator's row: whatever
annotator level a model row gets, its effect is multiplied by 0.

Why our own fit rather than statsmodels' ``BinomialBayesMixedGLM``: that class fits by
mean-field variational Bayes, whose posterior standard deviations are known to be too
small when the random effects and the fixed effects are correlated (here the annotators'
mean and the intercept are nearly the same thing), puts a normal prior (SD 2) on the
fixed effects and reports no p-value; a test built on it has no calibration to point
to. The model here is small (a few to a hundred annotators, hundreds to thousands of
images), and it is fitted by the Laplace approximation that lme4's ``glmer`` (the
reference R users trust) uses, from raters x images arrays: the image effects are
eliminated in closed form (their block of the Hessian is diagonal), leaving a system
of (2 + annotators) unknowns per Newton step, so 100 annotators x 1,500 images take a
fraction of a second.

Two likelihoods:

- ``"REML"`` (the default): the fixed effects are integrated out too (the Laplace
  approximation over fixed and random effects with a flat prior on the fixed ones, as
  glmmTMB's ``REML = TRUE``). With four annotators ML's annotator SD is biased low by
  about a quarter of its variance (the annotators' mean is estimated from the same four),
  which makes the test of ``b1`` anticonservative; REML removes most of that bias.
- ``"ML"``: the Laplace approximation of the likelihood, maximized over the SDs and
  the fixed effects as ``glmer(nAGQ = 1)`` does; tests/stats/test_mixed.py checks it
  against lme4 numbers committed with their R script.

The test of ``b1`` is a Wald t test with Satterthwaite-type degrees of freedom: its
variance is split into the part that comes from the annotator SD (which is estimated
from ``annotators - 1`` degrees of freedom) and the rest (images), and the degrees of
freedom are Welch-Satterthwaite's of that sum. With few annotators the reference is
close to t with ``annotators - 1`` degrees of freedom, as the between-annotator
comparison it is; with many, the normal. The standard error holds the SDs at their
estimates (as lme4's ``vcov(use.hessian = FALSE)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import t as t_distribution
from threadpoolctl import threadpool_limits

from study_app.errors import StudyError
from study_app.stats.grid import rater_grid
from study_app.stats.paired import ModelVsAnnotatorsResult
from study_app.stats.raters import HUMAN
from study_app.stats.results import Result

METHODS = ("REML", "ML")
#: Newton steps per mode and the largest change of any effect at convergence.
_MAX_NEWTON = 100
_STEP_TOLERANCE = 1e-9
#: Change of an SD for numerical derivatives: of the deviance (absolute) and of the variance of ``b1``
#: (relative; Satterthwaite).
_SD_STEP = 1e-4
#: Relative change of the deviance at which the search for the SDs stops (at 150,000 answers: 0.015).
_DEVIANCE_TOLERANCE = 1e-7


@dataclass(frozen=True, repr=False)
class CrossedLogitFit(Result):
    """A fitted crossed-random-effects logistic model of errors (see the module docstring).

    ``params`` are (intercept: the humans' log-odds of error, model minus humans); ``cov``
    their covariance with the SDs held at their estimates; ``df`` the Satterthwaite degrees of
    freedom of the model effect; ``deviance`` -2 times the (restricted) Laplace log-likelihood
    up to a constant.
    """

    params: np.ndarray
    cov: np.ndarray
    annotator_sd: float
    image_sd: float
    df: float
    deviance: float
    method: str
    converged: bool

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))


@dataclass
class _Mode:
    """The mode of the random effects at given SDs, and the Laplace terms.

    At given fixed effects too, or at the joint mode of both.
    """

    beta: np.ndarray
    annotators: np.ndarray  # scaled annotator effects (N(0, 1) a priori)
    images: np.ndarray  # scaled image effects
    loglik: float
    logdet_random: float  # log det of the Hessian over the random effects
    logdet_all: float  # ... over fixed and random effects
    hessian: np.ndarray  # the Hessian over fixed and annotator effects, image effects eliminated (Schur complement)
    converged: bool

    @property
    def inverse(self) -> np.ndarray:
        """The covariance of the fixed and scaled annotator effects given the SDs."""
        try:
            return np.linalg.inv(self.hessian)
        except np.linalg.LinAlgError:  # every answer certain (weights 0): no information
            return np.linalg.pinv(self.hessian)

    @property
    def penalty(self) -> float:
        return float(self.annotators @ self.annotators + self.images @ self.images)


class _Problem:
    """Errors of annotators (rows 0..J-1) and the model (row J) on images (columns), and the Newton steps."""

    def __init__(self, errors: np.ndarray, seen: np.ndarray):
        self.y, self.seen = errors.astype(float), seen
        self.n_people, self.n_images = errors.shape[0] - 1, errors.shape[1]
        self.fixed_rows = np.zeros((self.n_people + 1, 2))
        self.fixed_rows[:, 0] = 1.0
        self.fixed_rows[-1, 1] = 1.0  # the model's row
        self.annotator_rows = np.vstack([np.eye(self.n_people), np.zeros((1, self.n_people))])

    def mode(self, sds: np.ndarray, beta: np.ndarray | None, start: _Mode | None) -> _Mode:
        """Penalized IRLS (Newton with step halving) for the effects at ``sds``.

        With ``beta`` None the fixed effects are found with the random ones (their joint
        mode); otherwise they are held at ``beta``.
        """
        annotator_sd, image_sd = sds
        free = beta is None
        design = (
            np.hstack([self.fixed_rows, annotator_sd * self.annotator_rows])
            if free
            else annotator_sd * self.annotator_rows
        )
        offset = np.zeros(self.n_people + 1) if free else self.fixed_rows @ beta
        penalty = np.r_[np.zeros(2), np.ones(self.n_people)] if free else np.ones(self.n_people)
        if start is None:
            beta0 = _logit(self.y[:-1][self.seen[:-1]].mean())
            start = _Mode(
                np.array([beta0, _logit(self.y[-1][self.seen[-1]].mean()) - beta0]),
                np.zeros(self.n_people),
                np.zeros(self.n_images),
                np.nan,
                np.nan,
                np.nan,
                np.empty((0, 0)),
                False,
            )
        dense = np.r_[start.beta, start.annotators] if free else start.annotators.copy()
        images = start.images.copy()

        def objective(dense: np.ndarray, images: np.ndarray) -> tuple[float, np.ndarray]:
            eta = (offset + design @ dense)[:, None] + image_sd * images[None, :]
            loglik = float(np.sum(np.where(self.seen, self.y * eta - np.logaddexp(0.0, eta), 0.0)))
            return loglik - 0.5 * float(penalty @ dense**2 + images @ images), eta

        value, eta = objective(dense, images)
        converged = False
        for _ in range(_MAX_NEWTON):
            resid = np.where(self.seen, self.y - expit(eta), 0.0)
            h_images, cross, schur = self._curvature(eta, sds, free, penalty)
            grad_dense = design.T @ resid.sum(axis=1) - penalty * dense
            grad_images = image_sd * resid.sum(axis=0) - images
            step_dense = np.linalg.solve(schur, grad_dense - cross @ (grad_images / h_images))
            step_images = (grad_images - cross.T @ step_dense) / h_images
            size = 1.0
            while True:  # step halving: a full Newton step can overshoot far from the mode
                new_value, new_eta = objective(dense + size * step_dense, images + size * step_images)
                if new_value >= value - 1e-12 * abs(value) or size < 1e-6:
                    break
                size /= 2
            dense, images, value, eta = dense + size * step_dense, images + size * step_images, new_value, new_eta
            if size * max(np.abs(step_dense).max(initial=0.0), np.abs(step_images).max(initial=0.0)) < _STEP_TOLERANCE:
                converged = True
                break
        # The Hessian over the fixed and all random effects: the Laplace terms need its
        # determinants, and its inverse's fixed block is the covariance of the fixed effects.
        h_images, _, schur = self._curvature(eta, sds, True, np.r_[0.0, 0.0, np.ones(self.n_people)])
        logdet_images = float(np.log(h_images).sum())
        return _Mode(
            dense[:2] if free else np.asarray(beta, dtype=float),
            dense[2:] if free else dense,
            images,
            value + 0.5 * float(penalty @ dense**2 + images @ images),
            logdet_images + _logdet(schur[2:, 2:]),
            logdet_images + _logdet(schur),
            schur,
            converged,
        )

    def _curvature(
        self, eta: np.ndarray, sds: np.ndarray, free: bool, penalty: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The negative Hessian of the penalized log-likelihood: its diagonal image block, the
        (dense x images) block, and the dense block's Schur complement (image effects
        eliminated). The dense part is (intercept, model, annotators) with ``free`` fixed
        effects, else the annotators; their design rows are indicators, so the products
        with the weights are row sums and rows of the weights."""
        annotator_sd, image_sd = sds
        mu = expit(eta)
        weight = np.where(self.seen, mu * (1.0 - mu), 0.0)
        h_images = image_sd**2 * weight.sum(axis=0) + 1.0
        annotators = annotator_sd * weight[:-1]
        cross = image_sd * (np.vstack([weight.sum(axis=0), weight[-1], annotators]) if free else annotators)
        per_rater = weight.sum(axis=1)
        diagonal = annotator_sd**2 * per_rater[:-1]
        if free:
            dense = np.diag(np.r_[per_rater.sum(), per_rater[-1], diagonal])
            dense[0, 1] = dense[1, 0] = per_rater[-1]
            dense[0, 2:] = dense[2:, 0] = annotator_sd * per_rater[:-1]
        else:
            dense = np.diag(diagonal)
        return h_images, cross, dense + np.diag(penalty) - (cross / h_images) @ cross.T


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return float(np.log(p / (1 - p)))


def _logdet(matrix: np.ndarray) -> float:
    if matrix.size == 0:
        return 0.0
    sign, value = np.linalg.slogdet(matrix)
    return float(value) if sign > 0 else np.inf


def fit_crossed_logit(errors: np.ndarray, seen: np.ndarray, *, method: str = "REML") -> CrossedLogitFit:
    """Fit the model of the module docstring to a raters x images grid.

    Parameters
    ----------
    errors : array (annotators + 1, images)
        1 where a rater erred; the last row is the model.
    seen : bool array, same shape
        Which rater answered which image.
    method : {"REML", "ML"}
        Restricted (fixed effects integrated out) or plain Laplace likelihood.
    """
    if method not in METHODS:
        raise StudyError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    problem = _Problem(np.asarray(errors), np.asarray(seen, dtype=bool))
    last: list[_Mode] = []

    def warm() -> _Mode | None:
        return last[-1] if last else None

    def profiled(sds: np.ndarray) -> float:
        """Deviance with the fixed effects at their joint mode with the random effects."""
        last.append(problem.mode(sds, None, warm()))
        return (
            -2 * last[-1].loglik
            + last[-1].penalty
            + (last[-1].logdet_all if method == "REML" else last[-1].logdet_random)
        )

    bounds = [(0.0, _MAX_SD)] * 2
    found = minimize(
        profiled,
        np.array([0.5, 1.0]),
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": _DEVIANCE_TOLERANCE, "eps": _SD_STEP},
    )
    sds, beta, deviance, converged = found.x, None, float(found.fun), bool(found.success)
    if method == "ML":  # as glmer(nAGQ = 1): the Laplace deviance over the SDs and the fixed effects together

        def laplace(values: np.ndarray) -> float:
            last.append(problem.mode(values[:2], values[2:], warm()))
            return -2 * last[-1].loglik + last[-1].penalty + last[-1].logdet_random

        start = problem.mode(sds, None, warm())
        near = [
            (b - _MAX_SD, b + _MAX_SD) for b in start.beta
        ]  # the joint mode is near: keeps the search off certain answers
        refined = minimize(laplace, np.r_[sds, start.beta], method="L-BFGS-B", bounds=bounds + near)
        sds, beta, deviance, converged = refined.x[:2], refined.x[2:], float(refined.fun), bool(refined.success)
    mode = problem.mode(sds, beta, warm())
    cov = mode.inverse[:2, :2]
    return CrossedLogitFit(
        mode.beta,
        cov,
        float(sds[0]),
        float(sds[1]),
        _satterthwaite(problem, sds, beta, mode),
        deviance,
        method,
        converged and mode.converged,
    )


#: Upper bound of the SDs searched (log-odds): beyond it every answer is certain.
_MAX_SD = 10.0


def _satterthwaite(problem: _Problem, sds: np.ndarray, beta: np.ndarray | None, mode: _Mode) -> float:
    """Welch-Satterthwaite degrees of freedom of the model effect's variance ``V``.

    The part due to the annotator SD ``s`` is ``s^2 dV/d(s^2)`` (all of that part scales
    so in a balanced linear model, where ``V = s^2 / J + ...``), with ``J - 1`` degrees of
    freedom; the rest has ``images - 1``.
    """
    if problem.n_people < 2:
        return np.nan
    variance = mode.inverse[1, 1]
    if sds[0] == 0:
        return float(problem.n_images - 1)
    up, down = (
        problem.mode(np.array([sds[0] * (1 + sign * _SD_STEP), sds[1]]), beta, mode).inverse[1, 1] for sign in (1, -1)
    )
    from_annotators = min(max((up - down) / (4 * _SD_STEP), 0.0), variance)  # s^2 dV/d(s^2) = s dV/ds / 2
    rest = variance - from_annotators
    return float(variance**2 / (from_annotators**2 / (problem.n_people - 1) + rest**2 / max(problem.n_images - 1, 1)))


@dataclass(frozen=True, repr=False)
class MixedModelResult(ModelVsAnnotatorsResult):
    """A model against the population of annotators: the mixed model's fixed effect of kind.

    ``effect`` is the model's log-odds of error minus a typical annotator's on a typical
    image (positive: the model errs more); ``ci_low``/``ci_high`` its interval and
    ``statistic`` its t statistic with ``df`` degrees of freedom. ``human_error`` and
    ``model_error`` are the plain error rates on the same images (the annotators' mean).
    """

    title = "Model vs the population of annotators: logistic mixed model, crossed annotator and image effects"
    effect: float
    se: float
    ci_low: float
    ci_high: float
    statistic: float
    df: float
    pvalue: float
    annotator_sd: float
    image_sd: float
    method: str
    note: str


def humans_vs_model_mixed(
    raters: pd.DataFrame, model: str, *, alpha: float = 0.05, correct: str = "correct_topk", method: str = "REML"
) -> MixedModelResult:
    """Does a model err more or less than people do (annotators as a sample of people)?

    Fits the model of the module docstring on the images the model and at least one
    annotator saw, with every annotator answer to them.

    Parameters
    ----------
    raters, model, correct
        As for :func:`~study_app.stats.paired.humans_vs_model_gee` (the same test with the
        annotators as fixed effects): the rater table, the model's name, the correctness column.
    alpha : float
        1 - confidence level of the interval of the effect.
    method : {"REML", "ML"}
        See the module docstring.

    Returns
    -------
    MixedModelResult
        NaN statistics, with a ``note``, where the model cannot say anything: fewer than
        two annotators (their spread is not estimable), or errors that separate the
        sides (the model or the annotators never err, or always do: the log-odds are
        infinite).
    """
    grid = rater_grid(raters, correct=correct)
    model_row = grid.row(model)
    people = grid.of_kind(HUMAN)
    shared = grid.seen[model_row] & people.seen.any(axis=0)
    present = (people.seen & shared).any(axis=1)
    seen = np.vstack([people.seen[present][:, shared], grid.seen[model_row, shared]])
    errors = np.vstack([people.errors[present][:, shared], grid.errors[model_row][None, shared]]).astype(float)
    human_rates = [row[s].mean() for row, s in zip(errors[:-1], seen[:-1])]
    base: dict[str, Any] = dict(
        model=model,
        n_images=int(shared.sum()),
        n_annotators=int(present.sum()),
        n_observations=int(seen.sum()),
        human_error=float(np.mean(human_rates)) if human_rates else np.nan,
        model_error=float(errors[-1][seen[-1]].mean()) if shared.any() else np.nan,
        method=method,
    )
    note = _untestable(errors, seen)
    if note:
        return MixedModelResult.untested(**base, note=note)
    # Many mid-size matrix products: BLAS threads fight over them (24.6 s vs 3.4 s for 3 models
    # at 100 annotators x 1,500 images on 2 loaded cores), so the fit runs on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        fit = fit_crossed_logit(errors, seen, method=method)
    effect, se = float(fit.params[1]), float(fit.bse[1])
    half = t_distribution.ppf(1 - alpha / 2, fit.df) * se
    return MixedModelResult(
        **base,
        effect=effect,
        se=se,
        ci_low=effect - half,
        ci_high=effect + half,
        statistic=effect / se,
        df=fit.df,
        pvalue=float(2 * t_distribution.sf(abs(effect / se), fit.df)),
        annotator_sd=fit.annotator_sd,
        image_sd=fit.image_sd,
        note="" if fit.converged else "the fit did not converge: treat its numbers with caution",
    )


def _untestable(errors: np.ndarray, seen: np.ndarray) -> str:
    """Why the model cannot be fitted to this grid, or "" if it can."""
    if seen[:-1].any(axis=1).sum() < 2:
        return "fewer than two annotators share images with the model: their spread, and so people's, is not estimable"
    for side, rows, verb in (
        ("the model", errors[-1][seen[-1]], "errs"),
        ("the annotators", errors[:-1][seen[:-1]], "err"),
    ):
        if rows.min() == rows.max():
            return (
                f"{side} {'never' if rows.max() == 0 else 'always'} {verb} "
                "on these images: the log-odds difference is infinite"
            )
    return ""


#: The columns of :func:`population_table` (``compare``'s ``population``, ``condition_population``).
POPULATION_COLUMNS = [
    "model",
    "n_images",
    "n_annotators",
    "human_error",
    "model_error",
    "effect",
    "se",
    "ci_low",
    "ci_high",
    "df",
    "pvalue",
    "annotator_sd",
    "image_sd",
    "method",
    "note",
]


def population_table(
    raters: pd.DataFrame, models: list[str], *, alpha: float = 0.05, correct: str = "correct_topk"
) -> pd.DataFrame:
    """:func:`humans_vs_model_mixed` of each of ``models`` on one rater table, a row each.

    The columns are :data:`POPULATION_COLUMNS`.
    """
    found = [humans_vs_model_mixed(raters, model, alpha=alpha, correct=correct) for model in models]
    return pd.DataFrame(
        [[getattr(result, column) for column in POPULATION_COLUMNS] for result in found], columns=POPULATION_COLUMNS
    )
