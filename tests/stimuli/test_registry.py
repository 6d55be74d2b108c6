"""The transform registry: names, level ranges and the image-size rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from study_app.errors import StudyError, TransformError
from study_app.stimuli import transforms
from study_app.stimuli.registry import TRANSFORMS, LevelRange, get_transform

ISSUE_TRANSFORMS = {"uniform_noise", "contrast", "grey_scale", "low_pass", "high_pass", "phase_noise"}


def test_every_transform_of_the_issue_is_registered_and_documented() -> None:
    assert set(TRANSFORMS) == ISSUE_TRANSFORMS
    for name, transform in TRANSFORMS.items():
        assert transform.name == name
        assert transform.parameter and transform.reference.startswith("Geirhos")
        assert "out = " in getattr(transforms, name).__doc__  # the function it applies states its formula


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(TransformError) as caught:
        get_transform("gaussian_noise")
    assert isinstance(caught.value, StudyError)
    message = str(caught.value)
    assert "'gaussian_noise'" in message
    for name in ISSUE_TRANSFORMS:
        assert name in message


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("uniform_noise", [0.0, 0.35, 1.0], [-0.1, 1.5, 35.0, math.inf]),
        ("contrast", [0.0, 0.05, 1.0], [-0.01, 5.0, 100.0]),
        ("grey_scale", [0.0, 1.0], [2.0, -1.0]),
        ("low_pass", [0.0, 40.0], [-1.0, math.inf]),
        ("high_pass", [0.4, 3.0, math.inf], [0.0, -0.4, -math.inf]),
        ("phase_noise", [0.0, 90.0, 180.0], [-30.0, 181.0, 360.0]),
    ],
)
def test_level_ranges(name: str, good: list[float], bad: list[float]) -> None:
    transform = get_transform(name)
    for level in good:
        transform.check_level(level)
    for level in bad:
        with pytest.raises(TransformError, match=f"{name}: level .* is outside .*; levels are"):
            transform.check_level(level)


def test_nan_is_refused_with_the_valid_range() -> None:
    with pytest.raises(TransformError, match=r"level nan is not a number; .* in \[0, 1\]"):
        get_transform("contrast").check_level(math.nan)


def test_level_range_text() -> None:
    assert str(LevelRange(0.0, 1.0)) == "[0, 1]"
    assert str(LevelRange(0.0, math.inf, low_included=False)) == "(0, inf]"
    assert str(LevelRange(0.0, math.inf, high_included=False)) == "[0, inf)"


def test_size_rule_of_the_gaussian_filters() -> None:
    low_pass = get_transform("low_pass")
    assert low_pass.size_problem(224, 224, 40.0) == ""  # the reference's strongest level on its image size
    problem = low_pass.size_problem(200, 150, 40.0)
    assert "200x150 pixels is too small for low_pass at level 40" in problem
    assert "at least 4 x sigma" in problem and "(160 pixels here)" in problem
    assert get_transform("high_pass").size_problem(3, 3, math.inf) == ""
    assert get_transform("uniform_noise").size_problem(1, 1, 0.5) == ""


def test_registry_applies_each_transform_through_one_call() -> None:
    image = np.random.default_rng(0).uniform(size=(8, 8, 3))
    for transform in TRANSFORMS.values():
        level = 0.5 if transform.levels.high >= 0.5 else transform.levels.high
        out = transform.apply(image, level, np.random.default_rng(0))
        assert out.shape == image.shape
