"""The reference formulas, transcribed for cross-checks from ``code/image_manipulation.py`` of
github.com/rgeirhos/generalisation-humans-DNNs (commit 0b88343, CC BY 4.0; Geirhos et al. 2018).

Kept as close to their code as numpy and scipy allow: ``skimage.color.rgb2gray`` is its
weighted sum (scikit-image is no dependency here), ``scipy.fftpack`` is theirs. The phase
scrambling is their algorithm with the random shifts passed in, so that a test can show
where ours departs from it.
"""

from __future__ import annotations

import numpy as np
from scipy import fftpack
from scipy.ndimage import gaussian_filter

BG_GREY = 0.4423


def rgb2gray(image: np.ndarray) -> np.ndarray:
    return image @ np.array([0.2125, 0.7154, 0.0721])


def adjust_contrast(image: np.ndarray, contrast_level: float) -> np.ndarray:
    return (1 - contrast_level) / 2.0 + image.dot(contrast_level)


def uniform_noise(image: np.ndarray, width: float, contrast_level: float, rng: np.random.RandomState) -> np.ndarray:
    image = adjust_contrast(rgb2gray(image), contrast_level)
    image = image + rng.uniform(low=-width, high=width, size=(image.shape[0], image.shape[1]))
    image = np.where(image < 0, 0, image)
    return np.where(image > 1, 1, image)


def low_pass_filter(image: np.ndarray, std: float) -> np.ndarray:
    new_image = gaussian_filter(rgb2gray(image), std, mode="constant", cval=BG_GREY)
    new_image[new_image < 0] = 0
    new_image[new_image > 1] = 1
    return np.dstack((new_image, new_image, new_image))


def high_pass_filter(image: np.ndarray, std: float) -> np.ndarray:
    image = rgb2gray(image)
    new_image = image - gaussian_filter(image, std, mode="constant", cval=BG_GREY)
    new_image = new_image + (BG_GREY - np.mean(new_image, axis=(0, 1)))
    new_image[new_image < 0] = 0
    new_image[new_image > 1] = 1
    return np.dstack((new_image, new_image, new_image))


def scramble_phases_unclipped(image: np.ndarray, phase_shifts: np.ndarray) -> np.ndarray:
    """Their ``scramble_phases`` up to the inverse FFT (complex; they keep ``.real``, then clip)."""
    f = fftpack.fftshift(fftpack.fft2(rgb2gray(image)))
    f_amp, f_phase = np.abs(f), np.angle(f)
    flat = f_phase[1:, 1:].flatten()
    length = flat.shape[0]
    flat[: length // 2] += phase_shifts
    flat[length // 2 + 1 :] -= phase_shifts
    f_phase[1:, 1:] = flat.reshape(f_phase[1:, 1:].shape)
    return fftpack.ifft2(fftpack.ifftshift(f_amp * np.exp(1j * f_phase)))
