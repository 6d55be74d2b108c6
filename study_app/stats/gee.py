"""A linear GEE with exchangeable correlation within clusters, fitted from cluster sums.

:func:`~study_app.stats.paired.humans_vs_model_gee` fits error ~ model indicator +
annotator effects with images as clusters. statsmodels' ``GEE`` (Gaussian family,
identity link, ``Exchangeable``) loops over the clusters in Python and starts from a
GLM fit by pseudo-inverse of the whole design; with 100 annotators x 1,500 images
(150,000 rows, 101 columns) one fit takes about 40 s. With an identity link and an
exchangeable working correlation every quantity of that algorithm is a sum over
clusters of ``x``, ``y`` and their cross products, because

    V_g^-1 = (I - c_g J) / (1 - rho),   c_g = rho / (1 + rho (m_g - 1))

for a cluster of ``m_g`` rows. :func:`exchangeable_linear_gee` runs statsmodels'
iteration (same updates, same moment estimate of rho, same stopping rule: the score
norm below ``ctol`` after at least one update of rho; the start values do not matter
for a linear model) and its robust (sandwich) covariance on those sums, so the
numbers agree with statsmodels to rounding (tests/stats/test_gee.py checks this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
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
        return self.params / self.bse

    @property
    def pvalues(self) -> np.ndarray:
        return 2 * norm.sf(np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """(columns x 2) normal intervals of the coefficients."""
        half = norm.ppf(1 - alpha / 2) * self.bse
        return np.column_stack([self.params - half, self.params + half])


def exchangeable_linear_gee(endog: np.ndarray, exog: np.ndarray, groups: np.ndarray) -> LinearGeeFit:
    """Fit ``endog ~ exog`` by GEE (identity link, exchangeable correlation within ``groups``).

    Parameters
    ----------
    endog : array (n,)
        Outcomes.
    exog : array (n, p)
        Design matrix (include the intercept).
    groups : array (n,)
        Cluster labels.

    Returns
    -------
    LinearGeeFit
        ``converged`` is False when the iteration limit was reached (statsmodels warns
        ``NOT_CONVERGED`` then).
    """
    endog, exog = np.asarray(endog, dtype=float), np.asarray(exog, dtype=float)
    codes, groups_found = _codes(groups)
    n, p = exog.shape
    member = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(groups_found, n))
    size = np.bincount(codes, minlength=groups_found).astype(float)
    column_sums = member @ exog  # s_g = X_g' 1, clusters x p
    cross = exog.T @ exog
    pairs = float((size * (size - 1) / 2).sum())
    update_rho = size.max() > 1  # statsmodels skips rho when every cluster has one row

    def weights(rho: float) -> np.ndarray:
        return rho / (1.0 - rho) / (1.0 + rho * (size - 1))

    def bread(rho: float) -> np.ndarray:
        """sum_g X_g' V_g^-1 X_g."""
        return cross / (1.0 - rho) - (column_sums * weights(rho)[:, None]).T @ column_sums

    def cluster_scores(resid: np.ndarray, rho: float) -> np.ndarray:
        """X_g' V_g^-1 r_g of each cluster, clusters x p."""
        weighted = member @ (exog * resid[:, None])
        return weighted / (1.0 - rho) - column_sums * (weights(rho) * (member @ resid))[:, None]

    def solve(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
        try:
            return np.linalg.solve(matrix, vector)
        except np.linalg.LinAlgError:
            return np.linalg.pinv(matrix) @ vector

    params, rho, score_norm, rho_updates = np.zeros(p), 0.0, -1.0, 0
    for _ in range(MAX_ITERATIONS):
        score = cluster_scores(endog - exog @ params, rho).sum(axis=0)
        params = params + solve(bread(rho), score)
        score_norm = float(np.sqrt(np.sum(score**2)))
        if score_norm < SCORE_TOLERANCE and (rho_updates > 0 or not update_rho):
            break
        if update_rho:
            rho = _moment_rho(endog - exog @ params, member, n, p, pairs)
            rho_updates += 1
    scores = cluster_scores(endog - exog @ params, rho)
    try:
        inverse = np.linalg.inv(bread(rho))
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(bread(rho))
    cov_robust = inverse @ (scores.T @ scores) @ inverse
    return LinearGeeFit(params, cov_robust, rho, score_norm < SCORE_TOLERANCE)


def _codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    labels, codes = np.unique(np.asarray(groups), return_inverse=True)
    return codes.ravel(), len(labels)


def _moment_rho(resid: np.ndarray, member: sparse.csr_matrix, n: int, p: int, pairs: float) -> float:
    """statsmodels' ``Exchangeable.update``: mean product of residual pairs within clusters over the scale."""
    squares = resid * resid
    scale = squares.sum() / (n * (n - p) / n)
    sums = member @ resid
    products = float(((sums**2 - member @ squares) / 2).sum())
    return products / scale / (pairs * (pairs - p) / pairs)
