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
outcome. :func:`exchangeable_linear_gee` runs statsmodels' iteration (same updates, same moment estimate of rho, same stopping rule: the score
norm below ``ctol`` after at least one update of rho; the start values do not matter
for a linear model) and its robust (sandwich) covariance on those sums, so the
numbers agree with statsmodels to rounding (tests/stats/test_gee.py checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

#: statsmodels' defaults for ``GEE.fit``.
MAX_ITERATIONS = 60
SCORE_TOLERANCE = 1e-6
NOT_CONVERGED = "Iteration limit reached prior to convergence"


@dataclass(frozen=True)
class LinearGeeFit:
    """Coefficients with robust standard errors, as statsmodels' ``GEEResults`` gives them."""

    params: np.ndarray
    cov_robust: np.ndarray
    dep_param: float
    converged: bool

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_robust))

    @property
    def tvalues(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):  # a coefficient without spread: NaN or inf, as in statsmodels
            return self.params / self.bse

    @property
    def pvalues(self) -> np.ndarray:
        return 2 * norm.sf(np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(columns x 2) normal intervals of the coefficients."""
        half = norm.ppf(1 - alpha / 2) * self.bse
        return np.column_stack([self.params - half, self.params + half])


def exchangeable_linear_gee(endog: np.ndarray, design: np.ndarray, row_design: np.ndarray, groups: np.ndarray) -> LinearGeeFit:
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
    return LinearGeeFit(params, cov_robust, rho, score_norm < SCORE_TOLERANCE)


def _moment_rho(resid: np.ndarray, per_cell: Callable[[np.ndarray], np.ndarray], n: int, p: int, pairs: float) -> float:
    """statsmodels' ``Exchangeable.update``: mean product of residual pairs within clusters over the scale."""
    squares = np.float64((resid * resid).sum())
    if squares == 0:  # a perfect fit: any rho fits it (statsmodels, started by pseudo-inverse, finds 0 from rounding noise)
        return 0.0
    products = ((per_cell(resid).sum(axis=1) ** 2).sum() - squares) / 2
    with np.errstate(invalid="ignore", divide="ignore"):  # as few pairs as parameters: NaN, as in statsmodels
        scale = squares / np.float64(n * (n - p) / n)
        return float(products / scale / np.float64(pairs * (pairs - p) / pairs))
