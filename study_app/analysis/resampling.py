"""The confidence level and bootstrap of one analysis run, as one value.

``--alpha``, ``--n-boot`` and ``--seed`` (or the same keywords of :mod:`study_app.api`)
reach every statistic of a ``compare`` or ``report`` run: the comparison, the
per-condition analysis, the psychometric fits and the error taxonomy. They travel
together as a :class:`Resampling`, checked once when it is made, so that no step of a
run can use another level or seed than the others, and no layer re-checks them.
The statistics functions themselves keep plain keywords (``alpha=``, ``n_boot=``,
``seed=``), as statsmodels and SciPy do; :attr:`Resampling.keywords` passes them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from study_app.io.ranges import ALPHA, N_BOOT, RUN_SEED


class ResamplingKeywords(TypedDict):
    """The keywords of the statistics functions that a :class:`Resampling` fills."""

    alpha: float
    n_boot: int
    seed: int


@dataclass(frozen=True)
class Resampling:
    """``alpha`` (1 - the confidence level), bootstrap replicates and the bootstrap's seed."""

    alpha: float = 0.05
    n_boot: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        ALPHA.check("alpha", self.alpha)
        N_BOOT.check("n_boot", self.n_boot, whole=True)
        RUN_SEED.check("seed", self.seed, whole=True)

    @property
    def keywords(self) -> ResamplingKeywords:
        """``alpha``, ``n_boot`` and ``seed`` as the statistics functions take them."""
        return {"alpha": self.alpha, "n_boot": self.n_boot, "seed": self.seed}
