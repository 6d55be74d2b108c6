"""A linear GEE with exchangeable correlation within clusters, fitted from cluster sums.

:func:`~study_app.stats.paired.humans_vs_model_gee` fits error ~ model indicator +
annotator effects with images as clusters. statsmodels' ``GEE`` (Gaussian family,
identity link, ``Exchangeable``) loops over the clusters in Python and starts from a
GLM fit by pseudo-inverse of the whole design; with 100 annotators x 1,500 images
(150,000 rows, 101 columns) one fit takes about 40 s. With an identity link and an
exchangeable working correlation every quantity of that algorithm is a sum over
clusters of ``x``, ``y`` and their cross products, because

    V_g^-1 = (I - c_g J) / (1 - rho),   c_g = rho / (1 + rho (m_g - 1))

for a cluster of ``m_g`` rows, and the design has only a few distinct rows (the model,
or annotator j), so those sums are per (cluster, design row) counts and sums of the
outcome. :func:`exchangeable_linear_gee` runs statsmodels' iteration (same updates, same
moment estimate of rho, same stopping rule: the score norm below ``ctol`` after at least
one update of rho; the start values do not matter for a linear model) and its robust
(sandwich) covariance on those sums, so the numbers agree with statsmodels to rounding
(tests/stats/test_fast_paths.py checks this).

The robust sandwich is biased low with few clusters (each cluster's residuals are
shrunk by its own leverage), and its normal reference makes that worse: with 15 images
a test of annotators against a model rejected a true null 10.7% of the time at 5%. So
the fit also gives Mancl and DeRouen's (2001) bias-reduced sandwich (statsmodels'
``cov_type="bias_reduced"``), whose cluster score ``X_g' V_g^-1 (I - H_gg)^-1 r_g`` is,
by the Woodbury identity, ``A (A - B_g)^-1 s_g`` (``A`` the bread, ``B_g`` the cluster's
share of it, ``s_g`` its ordinary score), so only p x p matrices per cluster; and
:meth:`LinearGeeFit.wald` tests with it against t with (clusters - 1) degrees of freedom.
Both below :data:`FEW_CLUSTERS` clusters only: beyond, the correction is of order
1 / clusters while its p x p solve per cluster is not (100 annotators x 1,500 images:
seconds), and the robust sandwich with the normal reference is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, t as t_distribution

from study_app.stats.results import Result

#: statsmodels' defaults for ``GEE.fit``.
MAX_ITERATIONS = 60
SCORE_TOLERANCE = 1e-6
NOT_CONVERGED = "Iteration limit reached prior to convergence"
#: Below this many clusters :meth:`LinearGeeFit.wald` uses the bias-reduced sandwich and t with
#: (clusters - 1) degrees of freedom.
FEW_CLUSTERS = 40
#: Entries of the per-cluster p x p matrices held at once by the bias-reduced sandwich.
_BLOCK_ENTRIES = 4_000_000


@dataclass(frozen=True, repr=False)
class LinearGeeFit(Result):
    """Coefficients with robust standard errors, as statsmodels' ``GEEResults`` gives them.

    ``bse``, ``tvalues``, ``pvalues`` and ``conf_int`` are statsmodels' (robust sandwich,
    normal reference); :meth:`wald` is the small-sample test the statistics report.
    """

    params: np.ndarray
    cov_robust: np.ndarray
    cov_bias_reduced: np.ndarray | None  # None from FEW_CLUSTERS clusters on
    n_clusters: int
    dep_param: float
    converged: bool

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_robust))

    @property
    def tvalues(self) -> np.ndarray:
        with np.errstate(
            invalid="ignore", divide="ignore"
        ):  # a coefficient without spread: NaN or inf, as in statsmodels
            return self.params / self.bse

    @property
    def pvalues(self) -> np.ndarray:
        return 2 * norm.sf(np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(columns x 2) normal intervals of the coefficients."""
        half = norm.ppf(1 - alpha / 2) * self.bse
        return np.column_stack([self.params - half, self.params + half])

    @property
    def df(self) -> float:
        """Degrees of freedom of :meth:`wald`'s reference distribution.

        Clusters - 1 below :data:`FEW_CLUSTERS`, else infinite (normal).
        """
        return float(self.n_clusters - 1) if self.n_clusters < FEW_CLUSTERS else np.inf

    def wald(self, column: int, alpha: float = 0.05) -> tuple[float, float, float, float, float]:
        """(standard error, statistic, p, interval low, interval high) of one coefficient:
        below :data:`FEW_CLUSTERS` clusters the bias-reduced sandwich and t with :attr:`df`
        degrees of freedom, else the robust sandwich and the normal."""
        cov = self.cov_robust if self.cov_bias_reduced is None else self.cov_bias_reduced
        se = float(np.sqrt(cov[column, column]))
        estimate = float(self.params[column])
        with np.errstate(invalid="ignore", divide="ignore"):
            statistic = float(np.divide(estimate, se))
        half = t_distribution.ppf(1 - alpha / 2, self.df) * se
        return se, statistic, float(2 * t_distribution.sf(abs(statistic), self.df)), estimate - half, estimate + half


def exchangeable_linear_gee(
    endog: np.ndarray, design: np.ndarray, row_design: np.ndarray, groups: np.ndarray
) -> LinearGeeFit:
    """Fit ``endog ~ design[row_design]`` by GEE (identity link, exchangeable within ``groups``).

    The design is given as its distinct rows (``design``, k x p) and the row each
    observation has (``row_design``): a design of a few indicator patterns (model or
    annotator j) then costs O(observations + clusters x k x p) instead of
    O(observations x p^2).

    Parameters
    ----------
    endog : array (n,)
        Outcomes.
    design : array (k, p)
        The distinct rows of the design matrix (include the intercept).
    row_design : int array (n,)
        Which row of ``design`` each observation has.
    groups : array (n,)
        Cluster labels.

    Returns
    -------
    LinearGeeFit
        ``converged`` is False when the iteration limit was reached (statsmodels warns
        ``NOT_CONVERGED`` then).
    """
    endog, design = np.asarray(endog, dtype=float), np.asarray(design, dtype=float)
    row_design = np.asarray(row_design, dtype=np.int64)
    labels, codes = np.unique(np.asarray(groups), return_inverse=True)
    n, (k, p) = len(endog), design.shape
    cell = codes.ravel() * k + row_design

    def per_cell(values: np.ndarray | None) -> np.ndarray:
        """Sums over the observations of each (cluster, design row), clusters x k."""
        return np.bincount(cell, weights=values, minlength=len(labels) * k).reshape(len(labels), k)

    counts = per_cell(None)
    size = counts.sum(axis=1)
    column_sums = counts @ design  # s_g = X_g' 1, clusters x p
    cross = design.T @ (counts.sum(axis=0)[:, None] * design)  # X'X
    pairs = float((size * (size - 1) / 2).sum())
    update_rho = size.max() > 1  # statsmodels skips rho when every cluster has one row

    def weights(rho: float) -> np.ndarray:
        return rho / (1.0 - rho) / (1.0 + rho * (size - 1))

    def bread(rho: float) -> np.ndarray:
        """sum_g X_g' V_g^-1 X_g."""
        return cross / (1.0 - rho) - (column_sums * weights(rho)[:, None]).T @ column_sums

    def residuals(params: np.ndarray) -> np.ndarray:
        return endog - (design @ params)[row_design]

    def cluster_scores(resid: np.ndarray, rho: float) -> np.ndarray:
        """X_g' V_g^-1 r_g of each cluster, clusters x p."""
        sums = per_cell(resid)
        return sums @ design / (1.0 - rho) - column_sums * (weights(rho) * sums.sum(axis=1))[:, None]

    def solve(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.solve(matrix, vector)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(matrix) @ vector

    params, rho, score_norm, rho_updates = np.zeros(p), 0.0, -1.0, 0
    for _ in range(MAX_ITERATIONS):
        score = cluster_scores(residuals(params), rho).sum(axis=0)
        params = params + solve(bread(rho), score)
        score_norm = float(np.sqrt(np.sum(score**2)))
        if score_norm < SCORE_TOLERANCE and (rho_updates > 0 or not update_rho):
            break
        if update_rho:
            rho = _moment_rho(residuals(params), per_cell, n, p, pairs)
            rho_updates += 1
    scores = cluster_scores(residuals(params), rho)
    try:
        inverse = np.linalg.inv(bread(rho))
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(bread(rho))
    cov_robust = inverse @ (scores.T @ scores) @ inverse
    few = len(labels) < FEW_CLUSTERS
    cov_bias_reduced = _bias_reduced(bread(rho), counts, design, weights(rho), rho, scores) if few else None
    return LinearGeeFit(params, cov_robust, cov_bias_reduced, len(labels), rho, score_norm < SCORE_TOLERANCE)


def _bias_reduced(
    bread: np.ndarray, counts: np.ndarray, design: np.ndarray, weights: np.ndarray, rho: float, scores: np.ndarray
) -> np.ndarray:
    """Mancl-DeRouen: ``sum_g (A - B_g)^-1 s_g s_g' (A - B_g)^-1`` (see the module docstring).

    ``B_g = X_g' V_g^-1 X_g`` comes from the per-(cluster, design row) ``counts`` as the
    bread does, a block of clusters at a time.

    A cluster that alone determines a coefficient makes ``A - B_g`` singular (its
    leverage is 1, as statsmodels' ``I - H_gg``); a pseudo-inverse keeps the other
    clusters' part then."""
    clusters, p = scores.shape
    step = max(1, _BLOCK_ENTRIES // max(p * p, 1))
    total = np.zeros((p, p))
    for start in range(0, clusters, step):
        part = slice(start, min(start + step, clusters))
        sums = counts[part] @ design
        own = np.einsum("gk,kp,kq->gpq", counts[part], design, design, optimize=True)
        reduced = bread[None] - own / (1.0 - rho) + weights[part][:, None, None] * sums[:, :, None] * sums[:, None, :]
        try:
            adjusted = np.linalg.solve(reduced, scores[part][:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            adjusted = (np.linalg.pinv(reduced) @ scores[part][:, :, None])[:, :, 0]
        total += adjusted.T @ adjusted
    return total


def _moment_rho(resid: np.ndarray, per_cell: Callable[[np.ndarray], np.ndarray], n: int, p: int, pairs: float) -> float:
    """statsmodels' ``Exchangeable.update``: mean product of residual pairs within clusters over the scale."""
    squares = np.float64((resid * resid).sum())
    if (
        squares == 0
    ):  # a perfect fit: any rho fits it (statsmodels, started by pseudo-inverse, finds 0 from rounding noise)
        return 0.0
    products = ((per_cell(resid).sum(axis=1) ** 2).sum() - squares) / 2
    with np.errstate(invalid="ignore", divide="ignore"):  # as few pairs as parameters: NaN, as in statsmodels
        scale = squares / np.float64(n * (n - p) / n)
        return float(products / scale / np.float64(pairs * (pairs - p) / pairs))
