"""The image transforms: hand-computed pixels, their defining properties, and the reference's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from study_app.stimuli import transforms
from study_app.stimuli.transforms import BACKGROUND_GREY
from tests.stimuli import reference

WHITE, BLACK, GREEN, BLUISH = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.2, 0.4, 0.6)
# Luminance 0.2125 R + 0.7154 G + 0.0721 B of the four pixels, by hand:
#   white 1, black 0, green 0.7154, bluish 0.0425 + 0.28616 + 0.04326 = 0.37192.
FOUR = np.array([[WHITE, GREEN], [BLACK, BLUISH]])
FOUR_GREY = np.array([[1.0, 0.7154], [0.0, 0.37192]])


def rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(grey, dtype=float)[:, :, None], 3, axis=2)


def random_image(seed: int, height: int = 24, width: int = 20) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(height, width, 3))


# --- hand-computed pixel cases ---------------------------------------------------------


def test_grey_scale_by_hand() -> None:
    assert np.allclose(transforms.grey_scale(FOUR, 1.0), rgb(FOUR_GREY), atol=1e-15)
    # Half-way for the red pixel (1, 0, 0), luminance 0.2125: 0.5 * (1, 0, 0) + 0.5 * 0.2125
    # = (0.60625, 0.10625, 0.10625).
    red = np.array([[[1.0, 0.0, 0.0]]])
    assert np.allclose(transforms.grey_scale(red, 0.5), [[[0.60625, 0.10625, 0.10625]]], atol=1e-15)


def test_contrast_by_hand() -> None:
    # (1 - 0.3) / 2 + 0.3 * g = 0.35 + 0.3 g: white 0.65, green 0.35 + 0.21462 = 0.56462,
    # black 0.35, bluish 0.35 + 0.111576 = 0.461576.
    assert np.allclose(transforms.contrast(FOUR, 0.3), rgb([[0.65, 0.56462], [0.35, 0.461576]]), atol=1e-15)
    # Contrast 0 leaves only the mid-grey 0.5.
    assert np.allclose(transforms.contrast(FOUR, 0.0), 0.5, atol=1e-15)


def test_uniform_noise_by_hand() -> None:
    # default_rng(41).uniform(-0.5, 0.5, (2, 2)) draws
    #   [[ 0.45415110296200456, 0.2679320906355993],
    #    [-0.3740292532117979,  0.3269880859307448]]
    # added to the contrast-0.3 grey of test_contrast_by_hand:
    #   white  0.65     + 0.454151 = 1.104151 -> clipped to 1
    #   green  0.56462  + 0.267932 = 0.832552
    #   black  0.35     - 0.374029 = -0.024029 -> clipped to 0
    #   bluish 0.461576 + 0.326988 = 0.788564
    expected = rgb([[1.0, 0.56462 + 0.2679320906355993], [0.0, 0.461576 + 0.3269880859307448]])
    assert np.allclose(transforms.uniform_noise(FOUR, 0.5, np.random.default_rng(41)), expected, atol=1e-15)


def test_low_pass_by_hand() -> None:
    # sigma 0.5, cut at 4 sigma: radius 2, weights exp(-k^2 / (2 * 0.25)) = exp(-2 k^2) for
    # k = 0, +-1, +-2: 1, 0.135335, 0.000335, sum 1.271341, normalised w0 = 0.786571,
    # w1 = 0.106451, w2 = 0.000264. On a 2-pixel line of value v padded with c = 0.4423,
    # each pixel gets v (w0 + w1) + c (w1 + 2 w2) = c + a (v - c) with a = w0 + w1 = 0.893021;
    # filtering rows then columns gives c + a^2 (v - c). For a white image (v = 1):
    # 0.4423 + 0.797487 * 0.5577 = 0.887059.
    w = np.exp(-2.0 * np.arange(3.0) ** 2)
    w /= w[0] + 2 * (w[1] + w[2])
    a = w[0] + w[1]
    assert a == pytest.approx(0.893021, abs=1e-6)
    expected = BACKGROUND_GREY + a * a * (1.0 - BACKGROUND_GREY)
    assert expected == pytest.approx(0.887059, abs=1e-6)
    assert np.allclose(transforms.low_pass(rgb(np.ones((2, 2))), 0.5), expected, atol=1e-12)


def test_high_pass_by_hand() -> None:
    # sigma = inf: the low-pass is the padding grey c, so out = clip(g - mean(g) + c). For the
    # grey [[1, 0], [0, 0]], mean 0.25: [[1.1923 -> 1, 0.1923], [0.1923, 0.1923]].
    image = rgb([[1.0, 0.0], [0.0, 0.0]])
    low = BACKGROUND_GREY - 0.25
    assert np.allclose(transforms.high_pass(image, math.inf), rgb([[1.0, low], [low, low]]), atol=1e-15)
    # A uniform image has no detail: g - G*g is the same everywhere, so after the mean shift
    # every pixel is c, whatever sigma.
    assert np.allclose(transforms.high_pass(rgb(np.full((2, 2), 0.9)), 0.5), BACKGROUND_GREY, atol=1e-12)


def test_phase_noise_by_hand() -> None:
    # A 1 x 4 line [1, 0, 0, 0] has the spectrum F_k = 1 for k = 0..3. Frequencies 0 and 2
    # (the mean and the Nyquist frequency) are their own mirrors and keep their phase; 1 and 3
    # are mirrors, shifted by +phi and -phi. default_rng(3).uniform(-90, 90, (1, 4)) draws
    # -74.58, -47.374108812702055, 54.23, 14.79 degrees; frequency 1 (the first of its pair)
    # keeps its draw, phi = -47.374 degrees. The inverse transform is
    #   out_n = 1/4 + (1/4) (-1)^n + (1/2) cos(2 pi n / 4 + phi),
    # with cos(phi) = 0.677209 and sin(phi) = -0.735791:
    # n = 0: 1/2 + cos(phi)/2 = 0.838604;  n = 1: cos(pi/2 + phi)/2 = -sin(phi)/2 = 0.367896;
    # n = 2: 1/2 - cos(phi)/2 = 0.161396;  n = 3: sin(phi)/2 = -0.367896 -> clipped to 0.
    phi = math.radians(-47.374108812702055)
    n = np.arange(4)
    unclipped = 0.25 + 0.25 * (-1.0) ** n + 0.5 * np.cos(2 * math.pi * n / 4 + phi)
    assert np.allclose(unclipped, [0.838604, 0.367896, 0.161396, -0.367896], atol=1e-6)
    line = np.array([[1.0, 0.0, 0.0, 0.0]])
    assert np.allclose(transforms.shift_phases(line, 90.0, np.random.default_rng(3)), [unclipped], atol=1e-12)
    scrambled = transforms.phase_noise(rgb(line), 90.0, np.random.default_rng(3))
    assert np.allclose(scrambled, rgb([np.clip(unclipped, 0, 1)]), atol=1e-12)


# --- properties --------------------------------------------------------------------------

EVERY_TRANSFORM_AT_EXTREMES = [
    ("grey_scale", lambda image, rng: transforms.grey_scale(image, 1.0)),
    ("contrast", lambda image, rng: transforms.contrast(image, 0.05)),
    ("uniform_noise", lambda image, rng: transforms.uniform_noise(image, 1.0, rng)),
    ("low_pass", lambda image, rng: transforms.low_pass(image, 3.0)),
    ("high_pass", lambda image, rng: transforms.high_pass(image, 0.4)),
    ("phase_noise", lambda image, rng: transforms.phase_noise(image, 180.0, rng)),
]


@pytest.mark.parametrize(
    ("name", "apply"), EVERY_TRANSFORM_AT_EXTREMES, ids=[n for n, _ in EVERY_TRANSFORM_AT_EXTREMES]
)
def test_outputs_are_grey_images_in_the_unit_range(name: str, apply) -> None:
    """Strong levels on high-contrast images push values outside [0, 1]: all must be clipped back."""
    for seed in range(5):
        image = np.random.default_rng(seed).integers(0, 2, size=(16, 18, 3)).astype(float)  # black-and-white noise
        out = apply(image, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.float64
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert np.array_equal(out[:, :, 0], out[:, :, 1]) and np.array_equal(out[:, :, 1], out[:, :, 2])
    # and the input is left as it was
    image = random_image(9)
    before = image.copy()
    apply(image, np.random.default_rng(0))
    assert np.array_equal(image, before)


def test_clipping_happens_for_strong_noise() -> None:
    out = transforms.uniform_noise(random_image(1, 40, 40), 0.9, np.random.default_rng(1))
    assert (out == 0.0).any() and (out == 1.0).any()


def test_identity_levels_give_the_input_back() -> None:
    image = random_image(2)
    grey = transforms.grey(image)
    assert np.array_equal(transforms.grey_scale(image, 0.0), image)
    assert np.allclose(transforms.contrast(image, 1.0), rgb(grey), atol=1e-15)
    assert np.allclose(
        transforms.uniform_noise(image, 0.0, np.random.default_rng(0)), rgb(0.35 + 0.3 * grey), atol=1e-15
    )
    assert np.allclose(transforms.low_pass(image, 0.0), rgb(grey), atol=1e-15)
    assert np.allclose(transforms.phase_noise(image, 0.0, np.random.default_rng(0)), rgb(grey), atol=1e-12)


def test_a_grey_pixel_keeps_its_value_when_grey_scaled() -> None:
    image = rgb(np.linspace(0, 1, 12).reshape(3, 4))
    assert np.allclose(transforms.grey_scale(image, 1.0), image, atol=1e-15)


@pytest.mark.parametrize("shape", [(6, 6), (5, 7), (6, 9), (1, 4), (7, 1)])
def test_phase_shifts_are_odd_symmetric_so_the_image_stays_real(shape: tuple[int, int]) -> None:
    shifts = transforms.symmetric_phase_shifts(shape, 120.0, np.random.default_rng(4))
    mirrored = shifts[(-np.arange(shape[0])) % shape[0]][:, (-np.arange(shape[1])) % shape[1]]
    assert np.array_equal(shifts, -mirrored)
    assert shifts[0, 0] == 0.0
    assert np.abs(shifts).max() <= math.radians(120.0)
    channel = np.random.default_rng(5).uniform(size=shape)
    complex_result = np.fft.ifft2(np.fft.fft2(channel) * np.exp(1j * shifts))
    assert np.abs(complex_result.imag).max() < 1e-12


@pytest.mark.parametrize("shape", [(32, 32), (31, 24)])
def test_phase_noise_keeps_the_amplitude_spectrum_and_mean_before_clipping(shape: tuple[int, int]) -> None:
    channel = transforms.grey(random_image(6, *shape))
    scrambled = transforms.shift_phases(channel, 180.0, np.random.default_rng(6))
    assert np.allclose(np.abs(np.fft.fft2(scrambled)), np.abs(np.fft.fft2(channel)), atol=1e-10)
    assert scrambled.mean() == pytest.approx(channel.mean(), abs=1e-12)
    assert not np.allclose(scrambled, channel, atol=0.01)  # and it did move the phases


def test_gaussian_min_side_is_four_sigma() -> None:
    assert transforms.gaussian_min_side(40.0) == 160  # the reference's strongest low-pass, on 224 px images
    assert transforms.gaussian_min_side(0.45) == 2
    assert transforms.gaussian_min_side(0.0) == 0
    assert transforms.gaussian_min_side(math.inf) == 0  # high_pass at inf filters nothing
    assert transforms.gaussian_min_side(1e308) > 10**18  # 4 sigma overflows a float: no image is that large


# --- the reference implementation's formulas ---------------------------------------------


def test_grey_contrast_and_uniform_noise_equal_the_reference() -> None:
    image = random_image(7, 30, 26)
    assert np.array_equal(transforms.grey(image), reference.rgb2gray(image))
    assert np.allclose(
        transforms.contrast(image, 0.1), rgb(reference.adjust_contrast(reference.rgb2gray(image), 0.1)), atol=1e-15
    )
    # Given the same legacy RandomState (their code's generator), the noise images are identical.
    ours = transforms.uniform_noise(image, 0.35, np.random.RandomState(42))
    theirs = reference.uniform_noise(image, 0.35, 0.3, np.random.RandomState(42))
    assert np.allclose(ours, rgb(theirs), atol=1e-15)


@pytest.mark.parametrize("sigma", [1.0, 3.0, 7.0])
def test_low_pass_equals_the_reference(sigma: float) -> None:
    image = random_image(8, 40, 36)
    assert np.allclose(transforms.low_pass(image, sigma), reference.low_pass_filter(image, sigma), atol=1e-15)


@pytest.mark.parametrize("sigma", [0.4, 0.7, 1.5, 3.0])
def test_high_pass_equals_the_reference(sigma: float) -> None:
    image = random_image(10, 40, 36)
    assert np.allclose(transforms.high_pass(image, sigma), reference.high_pass_filter(image, sigma), atol=1e-15)


def test_phase_noise_equals_the_amplitude_and_phase_formula() -> None:
    """The reference's route (centred spectrum, amplitude * exp(i (phase + shift))) with our shifts gives our image."""
    from scipy import fftpack

    image = random_image(11, 16, 16)
    shifts = transforms.symmetric_phase_shifts((16, 16), 90.0, np.random.default_rng(11))
    f = fftpack.fftshift(fftpack.fft2(reference.rgb2gray(image)))
    rebuilt = fftpack.ifft2(fftpack.ifftshift(np.abs(f) * np.exp(1j * (np.angle(f) + fftpack.fftshift(shifts)))))
    ours = transforms.phase_noise(image, 90.0, np.random.default_rng(11))
    assert np.allclose(ours, rgb(np.clip(rebuilt.real, 0, 1)), atol=1e-12)


def test_the_reference_phase_scrambling_is_not_real_which_ours_fixes() -> None:
    """Why phase_noise departs from the reference code (see its docstring): their shifts are
    not odd-symmetric, so the inverse transform has an imaginary part of a size that matters."""
    image = random_image(12, 16, 16)
    shifts = np.random.RandomState(0).uniform(-math.pi / 2, math.pi / 2, size=(15 * 15) // 2)
    theirs = reference.scramble_phases_unclipped(image, shifts)
    assert np.abs(theirs.imag).max() > 0.05
