"""Turning one image file into one model input array, exactly as the model was trained.

Accuracy comparisons are only fair if the model sees what its authors fed it: the same
resize filter, crop, scaling and layout. Every step is declared in the spec's
``[preprocess]`` table and applied here, after :func:`study_app.io.images.load_image` (the
one safe loader: size limits, EXIF orientation, 8-bit RGB).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from study_app.errors import ImageError
from study_app.io.images import DEFAULT_MAX_PIXELS, load_image

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
COLOURS = {"RGB": 3, "L": 1}
CHANNEL_ORDERS = ("RGB", "BGR")
LAYOUTS = ("NCHW", "NHWC", "flat")


@dataclass(frozen=True)
class Preprocessing:
    """The declared steps, in the order they run.

    ``colour`` converts (``"L"``: one grey channel); ``resize`` scales the short side to
    that many pixels with ``interpolation``; ``crop`` cuts the centre ``(height, width)``;
    the result must be ``input_size`` ``(height, width)``. Pixel values 0..255 are then
    optionally inverted (``255 - v``), snapped to ``levels + 1`` evenly spaced values (to
    undo the rounding of images rendered from coarse data, e.g. 17 ink levels), and
    normalised ``(v - mean) / std`` per channel. ``layout`` orders the axes (``flat``:
    one feature vector in row-major order, for classic models).
    """

    input_size: tuple[int, int]
    colour: str = "RGB"
    resize: int | None = None
    interpolation: str = "bilinear"
    crop: tuple[int, int] | None = None
    invert: bool = False
    levels: int | None = None
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    channel_order: str = "RGB"
    layout: str = "NCHW"

    @property
    def channels(self) -> int:
        return COLOURS[self.colour]

    def input_shape(self) -> tuple[int, ...]:
        """Shape of one preprocessed image (no batch axis)."""
        height, width = self.input_size
        if self.layout == "NCHW":
            return (self.channels, height, width)
        if self.layout == "NHWC":
            return (height, width, self.channels)
        return (height * width * self.channels,)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for provenance files and the README."""
        steps = [f"Pillow via study_app.io.images.load_image, convert {self.colour}"]
        if self.resize is not None:
            steps.append(f"resize short side to {self.resize} ({self.interpolation})")
        if self.crop is not None:
            steps.append(f"centre crop {self.crop[0]}x{self.crop[1]} (HxW)")
        if self.invert:
            steps.append("v = 255 - v")
        if self.levels is not None:
            steps.append(f"snap to {self.levels + 1} levels")
        steps.append(f"x = (v - {_numbers(self.mean)}) / {_numbers(self.std)} in float32")
        if self.channel_order != "RGB" and self.channels == 3:
            steps.append(self.channel_order)
        steps.append(self.layout)
        return "; ".join(steps)

    def apply(self, image: Image.Image) -> np.ndarray:
        """The model input for one RGB image, float32 with :meth:`input_shape`."""
        if image.mode != self.colour:
            image = image.convert(self.colour)
        if self.resize is not None:
            image = _resize_short_side(image, self.resize, INTERPOLATIONS[self.interpolation])
        if self.crop is not None:
            image = _centre_crop(image, self.crop)
        if (image.height, image.width) != self.input_size:
            raise ValueError(
                f"is {image.height}x{image.width} (HxW) after preprocessing but the model takes "
                f"{self.input_size[0]}x{self.input_size[1]}; add a crop to [preprocess]"
            )
        pixels = np.asarray(image, dtype=np.float32).reshape(image.height, image.width, self.channels)
        if self.channel_order == "BGR":
            pixels = pixels[..., ::-1]
        if self.invert:
            pixels = np.float32(255) - pixels
        if self.levels is not None:
            step = np.float32(255 / self.levels)
            pixels = np.round(pixels / step) * step
        x = (pixels - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        if self.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x, dtype=np.float32).reshape(self.input_shape())

    def load(self, path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """Decode ``path`` safely and preprocess it (called from worker threads)."""
        try:
            return self.apply(load_image(path, max_pixels))
        except ValueError as exc:
            raise ImageError(f"{path}: {exc}") from None


def _resize_short_side(image: Image.Image, short: int, method: Image.Resampling) -> Image.Image:
    """Scale so that the short side is ``short`` pixels, keeping the aspect ratio."""
    width, height = image.size
    scale = short / min(width, height)
    size = (max(short, round(width * scale)), max(short, round(height * scale)))
    return image.resize(size, method)


def _centre_crop(image: Image.Image, crop: tuple[int, int]) -> Image.Image:
    height, width = crop
    if height > image.height or width > image.width:
        raise ValueError(f"is {image.height}x{image.width} (HxW), smaller than the {height}x{width} crop")
    left = (image.width - width) // 2
    top = (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def _numbers(values: tuple[float, ...]) -> str:
    text = [f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "(" + ", ".join(text) + ")"
