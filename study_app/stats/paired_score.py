"""Tango's score interval for the difference of two paired proportions.

Two raters scored on the same images give a 2x2 table; their difference in error rate
is ``(b - c) / n``, with ``b`` the images only A got wrong and ``c`` those only B got
wrong. A percentile bootstrap of that difference can exclude 0 where the exact McNemar
test does not reject (it is too narrow on few discordant images), and it collapses to
[0, 0] when the raters never disagree, as if 15 images proved them equal.

Tango's (1998) interval inverts the score test of ``H0: difference = d``: the test
statistic

    T(d) = (b - c - n d) / sqrt(n (2 p21(d) + d (1 - d)))

uses ``p21(d)``, the maximum-likelihood probability of a "only B wrong" image under
``H0`` (a root of a quadratic), and the interval is every ``d`` with ``|T(d)| < z``. At
``d = 0``, ``T`` is McNemar's statistic ``(b - c) / sqrt(b + c)``, so the interval
excludes 0 exactly when the asymptotic McNemar test rejects; it depends only on ``b``,
``c`` and ``n``, and with ``b = c = 0`` it is ``+-z^2 / (n + z^2)``, not a point.
Fagerland, Lydersen & Laake (2014, Stat Med 33:2850) recommend it; its coverage is
checked by simulation in the tests, and its limits against the R package
``contingencytables`` (the book's code) in ``tests/stats/data/tango_reference.csv``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

#: Bisection steps: 2**-60 of the interval [-1, 1] is far below float rounding of a rate.
_STEPS = 60


def _statistic(only_a_wrong: np.ndarray, only_b_wrong: np.ndarray, n: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Tango's score statistic ``T(delta)`` of each table (decreasing in ``delta``)."""
    a = 2 * n
    b = -only_a_wrong - only_b_wrong + (2 * n - only_a_wrong + only_b_wrong) * delta
    c = -only_b_wrong * delta * (1 - delta)
    with np.errstate(divide="ignore", invalid="ignore"):  # n = 0 (no table) and the ends -1 and 1
        p21 = (np.sqrt(np.maximum(b * b - 4 * a * c, 0.0)) - b) / (2 * a)
        return (only_a_wrong - only_b_wrong - n * delta) / np.sqrt(n * (2 * p21 + delta * (1 - delta)))


def tango_interval(
    only_a_wrong: ArrayLike, only_b_wrong: ArrayLike, n: ArrayLike, *, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Tango's score interval of ``error A - error B`` for many paired 2x2 tables at once.

    Parameters
    ----------
    only_a_wrong, only_b_wrong : array_like of int
        Discordant counts: images only A got wrong (``b``), only B got wrong (``c``).
    n : array_like of int
        Images of each table (``n >= b + c``); a table with ``n = 0`` gets NaN.
    alpha : float
        1 - confidence level.

    Returns
    -------
    (low, high) : ndarrays
        Limits, within [-1, 1]; found by bisection on ``T(d) = +-z``, each side
        bracketed by the estimate and -1 or 1 (where ``T`` goes to ``+-inf``).
    """
    b, c, size = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (only_a_wrong, only_b_wrong, n))
    z = norm.isf(alpha / 2)
    valid = size > 0
    estimate = np.where(valid, (b - c) / np.where(valid, size, 1), 0.0)

    def solve(target: float, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        # T(start) >= target >= T(stop): T decreases from +inf at -1 through 0 at the estimate to -inf at 1.
        for _ in range(_STEPS):
            middle = (start + stop) / 2
            above = _statistic(b, c, size, middle) >= target
            start, stop = np.where(above, middle, start), np.where(above, stop, middle)
        return (start + stop) / 2

    low = np.where(estimate <= -1, -1.0, solve(z, np.full_like(estimate, -1.0), estimate))
    high = np.where(estimate >= 1, 1.0, solve(-z, estimate, np.ones_like(estimate)))
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)
