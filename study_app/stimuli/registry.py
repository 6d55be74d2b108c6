"""The transforms ``new-study degrade`` offers, by name, with what a level means and which levels are valid.

Each entry wraps one function of :mod:`.transforms` into the common call
``apply(image, level, rng)`` (deterministic transforms ignore ``rng``) and says which image
sizes it needs, so that every image and level is checked before the first file is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from study_app.errors import TransformError
from study_app.stimuli import transforms


def condition_name(level: float) -> str:
    """A level as text, and so as its condition's name: the shortest exact decimal, no exponent.

    E.g. "0.35", "40", "inf".
    """
    return np.format_float_positional(level + 0.0, trim="-")  # + 0.0 turns -0.0 into 0


@dataclass(frozen=True)
class LevelRange:
    """An interval of valid levels; ``high`` may be infinite and then included or not."""

    low: float
    high: float
    low_included: bool = True
    high_included: bool = True

    def __contains__(self, level: float) -> bool:
        above = level >= self.low if self.low_included else level > self.low
        below = level <= self.high if self.high_included else level < self.high
        return above and below

    def __str__(self) -> str:
        low, high = condition_name(self.low), condition_name(self.high)
        return f"{'[' if self.low_included else '('}{low}, {high}{']' if self.high_included else ')'}"


def _no_size_limit(level: float) -> int:
    return 1


@dataclass(frozen=True)
class Transform:
    """One named degradation: how to apply it at a level, what the level means, which levels and sizes it takes."""

    name: str
    apply: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
    #: What a level is, with its unit and which end is the undegraded image.
    parameter: str
    levels: LevelRange
    #: The experiment of the reference the transform reproduces.
    reference: str
    #: Shortest image side (pixels) the transform accepts at a level, and the rule in words.
    min_side: Callable[[float], int] = _no_size_limit
    size_rule: str = ""

    def check_level(self, level: float) -> None:
        """Raise :class:`TransformError` unless ``level`` is a number in :attr:`levels`."""
        if math.isnan(level):
            raise TransformError(
                f"{self.name}: level {level} is not a number; levels are {self.parameter}, in {self.levels}"
            )
        if level not in self.levels:
            raise TransformError(
                f"{self.name}: level {condition_name(level)} is outside {self.levels}; levels are {self.parameter}"
            )

    def size_problem(self, width: int, height: int, level: float) -> str:
        """Why a ``width`` x ``height`` image cannot take this transform at ``level`` ("" if it can)."""
        needed = self.min_side(level)
        if min(width, height) >= needed:
            return ""
        return (
            f"{width}x{height} pixels is too small for {self.name} at level {condition_name(level)}: "
            f"{self.size_rule} ({needed} pixels here)"
        )


def _gaussian_filter(
    name: str, apply: Callable[[np.ndarray, float], np.ndarray], parameter: str, levels: LevelRange
) -> Transform:
    """A Gaussian filter of the 2018 paper, with the size rule of :func:`transforms.gaussian_min_side`."""
    return Transform(
        name,
        lambda image, sigma, rng: apply(image, sigma),
        parameter,
        levels,
        f"Geirhos et al. 2018, {name.replace('_', '-')} experiment",
        transforms.gaussian_min_side,
        "the shorter side must be at least 4 x sigma, so that the filter's central +-2 sigma fits in the image",
    )


TRANSFORMS: dict[str, Transform] = {
    transform.name: transform
    for transform in (
        Transform(
            "uniform_noise",
            lambda image, width, rng: transforms.uniform_noise(image, width, rng),
            "the noise width w (noise uniform in [-w, w), added to the grey image at contrast 0.3; 0 = no noise)",
            LevelRange(0.0, 1.0),
            "Geirhos et al. 2017/2018, uniform-noise experiment",
        ),
        Transform(
            "contrast",
            lambda image, level, rng: transforms.contrast(image, level),
            "the contrast c of the grey image (1 = full contrast, 0 = uniform grey 0.5; their c05 is 0.05)",
            LevelRange(0.0, 1.0),
            "Geirhos et al. 2017/2018, contrast experiment",
        ),
        Transform(
            "grey_scale",
            lambda image, amount, rng: transforms.grey_scale(image, amount),
            "the amount of grey-scaling (0 = the colour original, 1 = fully grey)",
            LevelRange(0.0, 1.0),
            "Geirhos et al. 2018, colour experiment (levels 0 and 1)",
        ),
        _gaussian_filter(
            "low_pass",
            transforms.low_pass,
            "the Gaussian filter's standard deviation sigma in pixels (0 = unfiltered grey image)",
            LevelRange(0.0, math.inf, high_included=False),
        ),
        _gaussian_filter(
            "high_pass",
            transforms.high_pass,
            "the standard deviation sigma in pixels of the Gaussian whose low-pass is removed (inf = unfiltered)",
            LevelRange(0.0, math.inf, low_included=False),
        ),
        Transform(
            "phase_noise",
            transforms.phase_noise,
            "the width w in degrees of the uniform phase shifts in [-w, w) (0 = no shift)",
            LevelRange(0.0, 180.0),
            "Geirhos et al. 2018, phase-noise experiment",
        ),
    )
}


def get_transform(name: str) -> Transform:
    """The transform called ``name``; :class:`TransformError` listing the known names otherwise."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        known = ", ".join(sorted(TRANSFORMS))
        raise TransformError(f"unknown transform {name!r}; known transforms: {known}") from None
