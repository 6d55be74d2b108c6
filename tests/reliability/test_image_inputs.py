"""Awkward and hostile image files, through the loader and through a study's manifest."""

from __future__ import annotations

import resource
import time

import pytest
from PIL import Image

from study_app.errors import ImageError
from study_app.io.images import load_image
from study_app.protocol.study import load_study
from tests.io.test_images import png_header_only
from tests.reliability.helpers import only, problems_of

# EXIF orientation -> where the red top-left corner of the stored pixels ends up when displayed upright.
CORNER_AFTER = {
    1: "top-left",
    2: "top-right",
    3: "bottom-right",
    4: "bottom-left",
    5: "top-left",
    6: "top-right",
    7: "bottom-right",
    8: "bottom-left",
}


def corner_image(path, orientation: int) -> None:
    """A 40x20 JPEG, grey with a red 10x10 top-left corner, tagged with an EXIF orientation."""
    image = Image.new("RGB", (40, 20), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_shown_upright(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    corner_image(path, orientation)
    image = load_image(path)
    width, height = image.size
    assert (width, height) == ((40, 20) if orientation <= 4 else (20, 40))
    where = {
        "top-left": (2, 2),
        "top-right": (width - 3, 2),
        "bottom-left": (2, height - 3),
        "bottom-right": (width - 3, height - 3),
    }
    red = [name for name, xy in where.items() if image.getpixel(xy)[0] > 200 and image.getpixel(xy)[1] < 80]
    assert red == [CORNER_AFTER[orientation]]


def test_invalid_exif_orientation_is_ignored(tmp_path):
    path = tmp_path / "odd.jpg"
    corner_image(path, 9)
    assert load_image(path).size == (40, 20)


def test_sixteen_bit_keeps_its_grey_level(tmp_path):
    path = tmp_path / "grey16.png"
    Image.new("I;16", (8, 8), 32768).save(path)
    value = load_image(path).getpixel((0, 0))
    assert value[0] == value[1] == value[2] and 120 <= value[0] <= 135


def test_cmyk_colour_survives(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=100)  # pure red in CMYK
    red, green, blue = load_image(path).getpixel((4, 4))
    assert red > 200 and green < 60 and blue < 60


def test_fifty_thousand_square_png_is_refused_without_allocating(tmp_path):
    path = tmp_path / "bomb.png"
    png_header_only(path, 50_000, 50_000)  # 2.5 billion pixels claimed in a 100-byte file
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ImageError, match="decompression bomb"):
        load_image(path)
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB: nothing near the 7.5 GB decode


def replace_image(study, image_id: str, write) -> int:
    """Overwrite the file of manifest row ``image_id`` with ``write(path)``; returns the row's line."""
    lines = (study / "manifest.csv").read_text().splitlines()
    line = next(i for i, row in enumerate(lines, start=1) if row.startswith(image_id + ","))
    write(study / lines[line - 1].split(",")[1])
    return line


def truncated_jpeg(path):
    Image.effect_noise((120, 120), 60).convert("RGB").save(path, format="JPEG", quality=95)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    "write, reason",
    [
        (lambda p: p.write_bytes(b""), "not an image file"),
        (truncated_jpeg, "truncated"),
        (lambda p: png_header_only(p, 50_000, 50_000), "decompression bomb"),
        (lambda p: p.write_bytes(b"<html>not an image</html>"), "not an image file"),
    ],
    ids=["zero-bytes", "truncated-jpeg", "bomb-50000x50000", "html-named-png"],
)
def test_bad_images_are_named_with_manifest_line(tiny_study, write, reason):
    line = replace_image(tiny_study, "img-004", write)
    problem = only(problems_of(tiny_study), reason)
    assert (problem.file, problem.line, problem.field) == ("manifest.csv", line, "path")
    assert "images/img-004.png" in problem.message


def test_every_awkward_but_valid_kind_loads_in_a_study(tiny_study):
    def animated(p):
        frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
        frames[0].save(p, format="GIF", save_all=True, append_images=frames[1:])

    def palette_transparent(p):
        image = Image.new("P", (6, 6), 0)
        image.putpalette([0, 0, 0] * 256)
        image.save(p, format="PNG", transparency=0)

    writers = {
        "img-003": lambda p: Image.new("CMYK", (9, 9), (0, 255, 0, 0)).save(p, format="JPEG"),
        "img-004": lambda p: Image.new("I;16", (9, 9), 40000).save(p, format="PNG"),
        "img-005": palette_transparent,
        "img-010": animated,
        "img-009": lambda p: corner_image(p, 6),
    }
    for image_id, write in writers.items():
        replace_image(tiny_study, image_id, write)  # all keep their .png name: the extension is wrong for most
    study = load_study(tiny_study)
    for image_id in writers:
        assert load_image(study.images[image_id].path).mode == "RGB"
    assert load_image(study.images["img-009"].path).size == (20, 40)
