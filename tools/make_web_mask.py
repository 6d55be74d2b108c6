"""Writes study_app/web/static/mask.png, the noise mask the browser page shows after a timed image.

It is the desktop window's mask (``study_app.gui.image_view.noise_mask``: 256 x 256 grey
levels drawn uniformly from numpy's ``default_rng(0)``), saved as an 8-bit greyscale PNG,
so that a study's timed phase masks the image the same way on a lab desk and in a browser.
The page scales it to a square as large as the image area with ``image-rendering:
pixelated``, as the desktop stretches its mask. Deterministic: rerunning it reproduces the
committed file byte for byte (numpy's PCG64 stream is stable across versions; Pillow's PNG
encoder at its default settings).

    python tools/make_web_mask.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 256
SEED = 0
OUT = Path(__file__).resolve().parents[1] / "study_app" / "web" / "static" / "mask.png"


def main() -> None:
    pixels = np.random.default_rng(SEED).integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    image = Image.fromarray(pixels)  # a 2-D uint8 array: an 8-bit greyscale ("L") image
    assert image.mode == "L"
    image.save(OUT, optimize=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
