"""Reading a source image for degradation: RGB floats in [0, 1], with any conversion said out loud.

The transforms work on RGB. Grey-scale and palette images convert without loss of what the
transforms use (a grey pixel's luminance is its value), so they are converted and a note says
so. An alpha channel that is fully opaque is dropped with a note; real transparency is
refused, because what lies behind a transparent pixel (and so the degraded stimulus) is
undefined. Colour spaces whose conversion needs a colour profile (CMYK, LAB, HSV) are
refused rather than guessed. Decoding itself (missing and corrupt files, decompression
bombs, EXIF orientation) is :func:`study_app.io.images.load_image`'s.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from PIL import Image

from study_app.errors import ImageError
from study_app.io.images import DEFAULT_MAX_PIXELS, load_image

_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_PALETTE_MODES = {"P", "PA"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_ACCEPTED_MODES = _GREY_MODES | _PALETTE_MODES | {"RGB", "RGBA", "RGBa"}


@dataclass(frozen=True)
class SourcePixels:
    """A decoded source image and what was done to make it RGB."""

    #: ``float64`` array of shape (height, width, 3) in [0, 1].
    pixels: np.ndarray
    #: SHA-256 of the file's bytes, which the pixels were decoded from.
    sha256: str
    #: What was converted ("" for a plain RGB file).
    note: str


def read_source_image(
    path: Path, expected_sha256: str | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> SourcePixels:
    """Decode ``path`` as RGB floats; :class:`ImageError` for unreadable, transparent or colour-managed images.

    ``expected_sha256``: the digest a first reading found; a file changed since is refused.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    decoded = load_image(path, max_pixels, sha256=expected_sha256, data=data)
    note = _conversion_note(path, data)
    pixels = np.asarray(decoded, dtype=np.float64) / 255.0
    return SourcePixels(pixels, hashlib.sha256(data).hexdigest(), note)


def _conversion_note(path: Path, data: bytes) -> str:
    """What converting the (already decoded, so readable) file to RGB does; raises where it must not."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            mode = opened.mode
            has_alpha = mode in _ALPHA_MODES or "transparency" in opened.info
            lowest_alpha = (
                cast(int, opened.convert("RGBA").getchannel("A").getextrema()[0]) if has_alpha else 255
            )  # one band
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None
    if mode not in _ACCEPTED_MODES:
        raise ImageError(
            f"{path}: a {mode} image; converting it to RGB needs a colour profile this program does not apply. "
            "Save it as RGB (or grey-scale) in an image editor first"
        )
    if lowest_alpha < 255:
        raise ImageError(
            f"{path}: has transparent pixels (alpha down to {lowest_alpha} of 255); what lies behind them, "
            "and so the degraded stimulus, is undefined. Flatten it onto the background you want and save it as RGB"
        )
    steps = []
    if mode in _GREY_MODES:
        steps.append(
            f"grey-scale ({mode}) image converted to 8-bit RGB by repeating its grey value in the three channels"
        )
    elif mode in _PALETTE_MODES:
        steps.append(f"palette ({mode}) image converted to RGB by looking up its colours")
    if has_alpha:
        steps.append("its alpha channel is fully opaque and was dropped")
    return f"{path}: {'; '.join(steps)}" if steps else ""
