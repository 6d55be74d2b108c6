"""The one safe way this program opens images.

Image files come with protocol folders from other labs, so they are untrusted: a
decompression bomb must not exhaust memory, a truncated JPEG must give a clear error
rather than a half-grey picture, and camera photos must appear the right way up (EXIF
orientation). Every caller (validation, GUI, model runner, report) uses
:func:`load_image`, which returns an 8-bit RGB Pillow image.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from study_app.errors import ImageError
from study_app.io.program import program

#: Largest image accepted, in pixels: Pillow's own bomb limit (about 9,500 x 9,500).
#: A study may set a lower one in ``[images] max_pixels``.
DEFAULT_MAX_PIXELS = 89_478_485
#: Longest side and most extreme shape accepted, whatever the pixel count: an
#: 80,000,000 x 1 image is under the pixel limit, but scaling it to the screen needs
#: gigabytes (Pillow's resize fails with MemoryError), and no annotator could see it.
MAX_SIDE = 20_000
MAX_ASPECT = 25

# Never render truncated files silently: a half-loaded image would be shown to annotators.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (identifies the exact image shown)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is flattened onto white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        high = cast(float, image.getextrema()[1]) or 1  # one band: (low, high)
        scale = 255.0 / (65535 if high > 255 else 255)
        image = image.point(lambda v: v * scale).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode in ("L", "RGB") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


@contextmanager
def _opened(path: Path, source: Path | io.BytesIO, max_pixels: int) -> Iterator[Image.Image]:
    """``source`` opened by Pillow with its size checked.

    Every failure becomes an :class:`ImageError` about ``path``.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                width, height = opened.size
                if width <= 0 or height <= 0:
                    raise ImageError(f"{path}: image has no pixels ({width}x{height})")
                if max(width, height) > MAX_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
                    raise ImageError(
                        f"{path}: image is {width}x{height}; the longest side may be at most {MAX_SIDE:,} pixels "
                        f"and at most {MAX_ASPECT} times the shortest; crop or shrink the image file"
                    )
                if width * height > max_pixels:
                    raise ImageError(
                        f"{path}: image is {width}x{height} = {width * height:,} pixels, over the limit of "
                        f"{max_pixels:,} (a decompression bomb or an oversized file); "
                        "shrink the image file"
                    )
                yield opened
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (wrong extension or corrupt header)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: refused as a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None


def load_image(
    path: Path,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
    sha256: str | None = None,
    data: bytes | None = None,
) -> Image.Image:
    """Open, check and decode ``path`` into an upright 8-bit RGB image.

    ``draft_size`` lets JPEG decoding scale down by 1/2, 1/4 or 1/8 on the fly (much
    faster for thumbnails and checks). ``sha256``: the digest the study was checked with;
    the bytes decoded must still have it, so that the image an annotator sees is the one
    the answer records (a file edited or replaced since is refused). ``data``: the
    file's bytes, already read by the caller. Raises
    :class:`ImageError` naming the file and the reason for anything that is not a
    complete, reasonably sized image.
    """
    if sha256 is not None:
        data = _read(path) if data is None else data
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ImageError(
                f"{path}: the file changed since the study was checked (its SHA-256 differs); "
                f"check the study again: {program()} validate"
            )
    with _opened(path, path if data is None else io.BytesIO(data), max_pixels) as opened:
        if getattr(opened, "n_frames", 1) > 1:
            opened.seek(0)
        if draft_size is not None and opened.format == "JPEG":
            opened.draft("RGB", draft_size)
        opened.load()
        upright = ImageOps.exif_transpose(opened)
        return _to_rgb(upright).copy()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read: {exc.strerror or exc}") from None
