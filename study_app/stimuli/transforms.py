"""The image degradations of the Geirhos et al. human-vs-DNN experiments, on float arrays.

Every function takes an RGB image as a ``float64`` array of shape ``(height, width, 3)``
with values in [0, 1] and returns a new array of the same shape and range; the input is
never modified. They follow the reference implementation of

- R. Geirhos, D. H. J. Janssen, H. H. Schütt, J. Rauber, M. Bethge, F. A. Wichmann (2017),
  "Comparing deep neural networks against humans: object recognition when the signal gets
  weaker", arXiv:1706.06969, and
- R. Geirhos, C. R. M. Temme, J. Rauber, H. H. Schütt, M. Bethge, F. A. Wichmann (2018),
  "Generalisation in humans and deep neural networks", NeurIPS 2018,

whose code (``code/image_manipulation.py`` in github.com/rgeirhos/generalisation-humans-DNNs)
made the stimuli that github.com/bethgelab/model-vs-human still benchmarks against. Where a
function departs from that code its docstring says how and why.

Randomness comes only from the ``numpy.random.Generator`` passed in, so that the caller
decides how it is seeded (degrade.py seeds one per image and level).
"""

from __future__ import annotations

import math
import sys

import numpy as np
from scipy.ndimage import gaussian_filter

#: Luminance weights of ``skimage.color.rgb2gray`` (ITU-R BT.709), which the reference code
#: uses to grey-scale; applied to the gamma-encoded values as it does. They sum to 1, so a
#: grey pixel keeps its value.
LUMINANCE_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])

#: Contrast of the grey image before noise is added in the uniform-noise experiment.
NOISE_CONTRAST = 0.3

#: Mean pixel value over the reference's stimulus images: the grey the Gaussian filters pad
#: the border with and the mean a high-passed image is shifted to (``bg_grey`` in their code).
BACKGROUND_GREY = 0.4423

#: Gaussian kernels are cut off at this many standard deviations (scipy's default, which the
#: reference code uses too).
GAUSSIAN_TRUNCATE = 4.0


def grey(image: np.ndarray) -> np.ndarray:
    """Luminance ``0.2125 R + 0.7154 G + 0.0721 B`` as a ``(height, width)`` array."""
    return image @ LUMINANCE_WEIGHTS


def as_rgb(channel: np.ndarray) -> np.ndarray:
    """A grey ``(height, width)`` channel repeated into three equal RGB channels."""
    return np.repeat(channel[:, :, np.newaxis], 3, axis=2)


def adjust_contrast(values: np.ndarray, contrast: float) -> np.ndarray:
    """``(1 - c) / 2 + c * x``: contrast ``c`` of 1 keeps ``x``, 0 gives uniform grey 0.5.

    The reference's ``adjust_contrast``: the image is blended towards mid-grey 0.5, so the
    range [0, 1] shrinks to [(1 - c) / 2, (1 + c) / 2] around 0.5 (not around the image's mean).
    """
    return (1.0 - contrast) / 2.0 + contrast * values


def grey_scale(image: np.ndarray, amount: float) -> np.ndarray:
    """``out = (1 - a) * x + a * grey(x)`` per channel, for an amount ``a`` in [0, 1].

    ``a = 1`` is the reference's ``rgb2gray`` (the "grey-scale" condition of the colour
    experiment in Geirhos et al. 2018; all three channels equal), ``a = 0`` the colour
    original. The reference only has these two; the blend in between (a partly
    desaturated image) is our addition, so that grey-scale is a level like the others.
    """
    return (1.0 - amount) * image + amount * as_rgb(grey(image))


def contrast(image: np.ndarray, level: float) -> np.ndarray:
    """Grey-scaled, then contrast ``c``: ``out = (1 - c) / 2 + c * grey(x)`` in all channels.

    The reference's ``grayscale_contrast`` (the contrast experiment of Geirhos et al. 2017 and
    2018, whose images are grey: model-vs-human's ``contrast`` data set). Their condition
    ``c05`` is level 0.05 here. ``c = 1`` gives the grey-scale image unchanged.
    """
    return as_rgb(adjust_contrast(grey(image), level))


def uniform_noise(image: np.ndarray, width: float, rng: np.random.Generator) -> np.ndarray:
    """Grey-scale, contrast 0.3, plus uniform noise in [-w, w), clipped to [0, 1].

    ``out = clip(0.35 + 0.3 * grey(x) + n, 0, 1)`` with ``n ~ Uniform[-w, w)`` drawn
    independently for every pixel (the same value in the three channels, as the image is
    grey): the reference's ``uniform_noise(image, width, 0.3, rng)``. The contrast is lowered
    first so that noise of the same width clips equally little for dark and light images.
    ``w = 0`` gives the contrast-reduced grey image. The reference draws with the legacy
    ``RandomState.uniform``; a ``Generator`` draws the same distribution, not the same numbers.
    """
    signal = adjust_contrast(grey(image), NOISE_CONTRAST)
    noise = rng.uniform(-width, width, size=signal.shape)
    return as_rgb(np.clip(signal + noise, 0.0, 1.0))


def gaussian_min_side(sigma: float) -> int:
    """Shortest image side a Gaussian filter of standard deviation ``sigma`` accepts: ``ceil(4 sigma)``.

    The filter's central +-2 sigma (95 % of its weight) must fit into the image; on a smaller
    image the grey padding outside the border, not the image, makes up most of every output
    pixel. The rule lets the reference's strongest level through (sigma 40 on 224 x 224
    images, which needs 160 pixels) and keeps a mistyped huge sigma from building a kernel
    larger than memory.
    """
    if math.isinf(sigma):
        return 0  # no filter: the high-pass limit
    span = 4.0 * sigma
    return math.ceil(span) if math.isfinite(span) else sys.maxsize  # 4 sigma beyond float range


def _gaussian_low_pass(channel: np.ndarray, sigma: float) -> np.ndarray:
    """The reference's filter: Gaussian ``sigma`` pixels, the image padded with ``BACKGROUND_GREY``."""
    return gaussian_filter(channel, sigma, mode="constant", cval=BACKGROUND_GREY, truncate=GAUSSIAN_TRUNCATE)


def low_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Grey-scale, then a Gaussian low-pass of standard deviation ``sigma`` pixels, clipped.

    ``out = clip(G_sigma * grey(x), 0, 1)``: the reference's ``low_pass_filter`` (grey, as
    the low-pass images of Geirhos et al. 2018 are, so not filtered per colour channel),
    with scipy's ``gaussian_filter`` cut off at 4 sigma and the image padded beyond its
    border with the constant ``BACKGROUND_GREY`` (0.4423), which greys the border at large
    sigma as in their stimuli. ``sigma = 0`` gives the grey-scale image unchanged.
    """
    return as_rgb(np.clip(_gaussian_low_pass(grey(image), sigma), 0.0, 1.0))


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Grey-scale, minus its Gaussian low-pass, shifted to mean 0.4423, clipped.

    ``h = g - G_sigma * g`` with ``g = grey(x)`` (padding as :func:`low_pass`), then
    ``out = clip(h - mean(h) + 0.4423, 0, 1)``: the reference's ``high_pass_filter``, which
    adds back the mean grey of their stimuli (``BACKGROUND_GREY``, not 0.5) so that the
    filtered image keeps the typical mean luminance. ``sigma = inf`` is the limit of no
    filtering (the low-pass is then the padding grey everywhere): ``clip(g - mean(g) + 0.4423)``,
    the unfiltered condition model-vs-human's ``high-pass`` data set calls ``inf``.
    """
    channel = grey(image)
    low = np.full_like(channel, BACKGROUND_GREY) if math.isinf(sigma) else _gaussian_low_pass(channel, sigma)
    detail = channel - low
    return as_rgb(np.clip(detail - detail.mean() + BACKGROUND_GREY, 0.0, 1.0))


def symmetric_phase_shifts(shape: tuple[int, int], width_degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Phase shifts in radians for a 2-D FFT of ``shape``, uniform in [-w, w) degrees, odd-symmetric.

    A shift ``phi(k)`` is drawn for every frequency ``k``; its mirror frequency ``-k`` (the
    complex-conjugate coefficient of a real image) gets ``-phi(k)`` and the frequencies that are
    their own mirror (the mean, and the Nyquist frequencies of even sides) get 0. Only then is
    the phase-shifted spectrum again that of a real image, with every amplitude kept.
    """
    height, width = shape
    drawn = rng.uniform(-width_degrees, width_degrees, size=shape) * (math.pi / 180.0)
    rows, cols = np.indices(shape)
    mirror_rows, mirror_cols = (-rows) % height, (-cols) % width
    # Of each pair (k, -k) the first in row-major order keeps its own draw.
    first = (rows * width + cols) < (mirror_rows * width + mirror_cols)
    own_mirror = (rows == mirror_rows) & (cols == mirror_cols)
    return np.where(first, drawn, np.where(own_mirror, 0.0, -drawn[mirror_rows, mirror_cols]))


def phase_noise(image: np.ndarray, width_degrees: float, rng: np.random.Generator) -> np.ndarray:
    """Grey-scale, then every Fourier phase shifted by a uniform angle in [-w, w) degrees, clipped.

    ``out = clip(IFFT2(FFT2(g) * exp(i phi)), 0, 1)`` with ``g = grey(x)`` and ``phi`` from
    :func:`symmetric_phase_shifts`: amplitudes stay, phases move (the reference's
    ``phase_scrambling``; their condition ``90`` is level 90 here). One noise field for the
    image, so all three output channels are equal, as in the reference (which grey-scales
    first). We differ from the reference code in one point: it adds a shift to each frequency
    of the centred spectrum's first half and subtracts the same shift from the frequency at
    the same place in the second half, which is not the frequency's mirror, so the inverse
    transform is complex; its imaginary part (up to a third of the grey range) was dropped,
    which changed the amplitude spectrum the manipulation is meant to keep. Here mirror
    frequencies get opposite shifts, so the result is real and, before clipping, has exactly
    the amplitude spectrum of ``g``; the mean luminance (zero frequency) is never shifted.
    """
    return as_rgb(np.clip(shift_phases(grey(image), width_degrees, rng), 0.0, 1.0))


def shift_phases(channel: np.ndarray, width_degrees: float, rng: np.random.Generator) -> np.ndarray:
    """``IFFT2(FFT2(channel) * exp(i phi))`` unclipped: the step of :func:`phase_noise` that keeps amplitudes."""
    shifts = symmetric_phase_shifts(channel.shape, width_degrees, rng)
    return np.fft.ifft2(np.fft.fft2(channel) * np.exp(1j * shifts)).real
