"""Writing degraded stimuli: files, manifest rows, reproducibility from the seed, and bad input."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from study_app.errors import ImageError, StudyError, TransformError
from study_app.io.images import load_image
from study_app.stimuli import transforms
from study_app.stimuli.degrade import SourceImage, degrade_images, stimulus_rng
from study_app.stimuli.registry import condition_name


def write_image(path: Path, seed: int, size: tuple[int, int] = (32, 24), mode: str = "RGB", fmt: str = "PNG") -> Path:
    """A real image file of random colours (``size`` is width x height) in ``mode``."""
    width, height = size
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path, format=fmt)
    return path


@pytest.fixture
def sources(tmp_path: Path) -> list[SourceImage]:
    return [
        SourceImage("cat-1", write_image(tmp_path / "src" / "cat-1.png", 1), {"labels": "cat", "split": "test"}),
        SourceImage(
            "dog-1", write_image(tmp_path / "src" / "dog-1.jpg", 2, fmt="JPEG"), {"labels": "dog", "split": "test"}
        ),
        SourceImage(
            "car-1", write_image(tmp_path / "src" / "car-1.png", 3, size=(40, 40)), {"labels": "car", "split": "train"}
        ),
    ]


def read_pixels(path: Path, mode: str = "L") -> np.ndarray:
    """The stimulus as the app reads it (RGB), after checking that it is a PNG stored in ``mode``."""
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == mode
    return np.asarray(load_image(path))


def stimulus_bytes(out_dir: Path, rows: list[dict[str, str]]) -> dict[str, bytes]:
    return {row["image_id"]: (out_dir / row["path"]).read_bytes() for row in rows}


def test_every_image_at_every_level_becomes_a_png_and_a_row(tmp_path: Path, sources: list[SourceImage]) -> None:
    out = tmp_path / "out"
    result = degrade_images(sources, "uniform_noise", [0.0, 0.1, 0.35], seed=7, out_dir=out)
    assert result.notes == []
    assert [row["image_id"] for row in result.rows] == [
        f"{source}@{level}" for source in ("cat-1", "dog-1", "car-1") for level in ("0", "0.1", "0.35")
    ]
    first = result.rows[1]
    assert list(first) == ["image_id", "path", "condition", "source_image_id", "source_sha256", "labels", "split"]
    assert first == {
        "image_id": "cat-1@0.1",
        "path": "images/uniform_noise-0.1/cat-1.png",
        "condition": "0.1",
        "source_image_id": "cat-1",
        "source_sha256": hashlib.sha256(sources[0].path.read_bytes()).hexdigest(),
        "labels": "cat",
        "split": "test",
    }
    # The file holds exactly the transform's output, rounded to 8 bits (PNG is lossless).
    with Image.open(sources[0].path) as source:
        pixels = np.asarray(source.convert("RGB"), dtype=float) / 255.0
    expected = transforms.uniform_noise(pixels, 0.1, stimulus_rng(7, "uniform_noise", "cat-1", "0.1"))
    assert np.array_equal(read_pixels(out / first["path"]), np.rint(expected * 255).astype(np.uint8))
    assert len(list((out / "images").rglob("*.png"))) == 9


def test_colour_stimuli_are_rgb_pngs_and_grey_ones_grey_pngs_with_the_same_pixels(
    tmp_path: Path, sources: list[SourceImage]
) -> None:
    out = tmp_path / "out"
    rows = degrade_images(sources[:1], "grey_scale", [0.5, 1.0], seed=0, out_dir=out).rows
    with Image.open(sources[0].path) as source:
        pixels = np.asarray(source, dtype=float) / 255.0
    for row, level, mode in zip(rows, (0.5, 1.0), ("RGB", "L"), strict=True):
        expected = np.rint(transforms.grey_scale(pixels, level) * 255).astype(np.uint8)
        assert np.array_equal(read_pixels(out / row["path"], mode), expected)


def test_the_same_seed_gives_the_same_bytes_in_any_order_and_for_any_subset(
    tmp_path: Path, sources: list[SourceImage]
) -> None:
    levels = [0.2, 0.6]
    forward = degrade_images(sources, "uniform_noise", levels, seed=11, out_dir=tmp_path / "a")
    backward = degrade_images(sources[::-1], "uniform_noise", levels[::-1], seed=11, out_dir=tmp_path / "b")
    alone = degrade_images(sources[1:2], "uniform_noise", [0.6], seed=11, out_dir=tmp_path / "c")
    first = stimulus_bytes(tmp_path / "a", forward.rows)
    assert first == stimulus_bytes(tmp_path / "b", backward.rows)
    assert stimulus_bytes(tmp_path / "c", alone.rows) == {"dog-1@0.6": first["dog-1@0.6"]}
    other_seed = stimulus_bytes(
        tmp_path / "d", degrade_images(sources, "uniform_noise", levels, seed=12, out_dir=tmp_path / "d").rows
    )
    assert all(other_seed[image_id] != data for image_id, data in first.items())


def test_each_stimulus_has_its_own_noise_stream() -> None:
    def draws(*key: object) -> list[float]:
        return stimulus_rng(*key).uniform(size=4).tolist()

    reference = draws(5, "uniform_noise", "cat-1", "0.1")
    assert draws(5, "uniform_noise", "cat-1", "0.1") == reference
    for other in [
        (6, "uniform_noise", "cat-1", "0.1"),
        (5, "phase_noise", "cat-1", "0.1"),
        (5, "uniform_noise", "cat-2", "0.1"),
        (5, "uniform_noise", "cat-1", "0.2"),
    ]:
        assert draws(*other) != reference
    # the parts are kept apart: ("a\0b", "c") is not ("a", "b\0c")
    assert draws(5, "uniform_noise", "a", "b") != draws(5, "uniform_noise", "a\0", "b")


def test_phase_noise_also_depends_on_the_seed_and_only_on_it(tmp_path: Path, sources: list[SourceImage]) -> None:
    runs = [
        stimulus_bytes(tmp_path / name, degrade_images(sources, "phase_noise", [90.0], seed, tmp_path / name).rows)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    assert runs[0] == runs[1]
    assert all(runs[2][image_id] != data for image_id, data in runs[0].items())


def test_deterministic_transforms_do_not_depend_on_the_seed(tmp_path: Path, sources: list[SourceImage]) -> None:
    one = degrade_images(sources, "low_pass", [1.0, 3.0], seed=1, out_dir=tmp_path / "a")
    two = degrade_images(sources, "low_pass", [1.0, 3.0], seed=2, out_dir=tmp_path / "b")
    assert stimulus_bytes(tmp_path / "a", one.rows) == stimulus_bytes(tmp_path / "b", two.rows)


def test_condition_names() -> None:
    assert [condition_name(level) for level in (0.35, 40.0, -0.0, math.inf, 0.05, 1e-7)] == [
        "0.35",
        "40",
        "0",
        "inf",
        "0.05",
        "0.0000001",
    ]


def test_greyscale_palette_and_opaque_alpha_images_are_converted_with_a_note(tmp_path: Path) -> None:
    grey = write_image(tmp_path / "grey.png", 4, mode="L")
    palette = write_image(tmp_path / "palette.png", 5, mode="P")
    opaque = write_image(tmp_path / "opaque.png", 6, mode="RGBA")
    sources = [SourceImage("grey", grey), SourceImage("palette", palette), SourceImage("opaque", opaque)]
    result = degrade_images(sources, "contrast", [0.5], seed=0, out_dir=tmp_path / "out")
    assert result.notes == [
        f"{grey}: grey-scale (L) image converted to 8-bit RGB by repeating its grey value in the three channels",
        f"{palette}: palette (P) image converted to RGB by looking up its colours",
        f"{opaque}: its alpha channel is fully opaque and was dropped",
    ]
    # A grey image's luminance is its value: contrast 0.5 gives 0.25 + 0.5 v.
    with Image.open(grey) as image:
        values = np.asarray(image, dtype=float) / 255.0
    written = read_pixels(tmp_path / "out" / result.rows[0]["path"])  # grey: stored as L, read as RGB
    assert np.array_equal(written[:, :, 0], np.rint((0.25 + 0.5 * values) * 255).astype(np.uint8))


def test_real_transparency_and_cmyk_are_refused_nothing_written(tmp_path: Path) -> None:
    transparent = tmp_path / "transparent.png"
    pixels = np.full((20, 20, 4), 200, dtype=np.uint8)
    pixels[0, 0, 3] = 10
    Image.fromarray(pixels, "RGBA").save(transparent)
    cmyk = write_image(tmp_path / "print.jpg", 7, mode="CMYK", fmt="JPEG")
    out = tmp_path / "out"
    with pytest.raises(ImageError) as caught:
        degrade_images(
            [SourceImage("t", transparent), SourceImage("p", cmyk)], "grey_scale", [1.0], seed=0, out_dir=out
        )
    message = str(caught.value)
    assert message.startswith("2 problems with the source images:")
    assert f"image 't': {transparent}: has transparent pixels (alpha down to 10 of 255)" in message
    assert f"image 'p': {cmyk}: a CMYK image; converting it to RGB needs a colour profile" in message
    assert not out.exists()


def test_every_unusable_image_is_listed_before_anything_is_written(tmp_path: Path, sources: list[SourceImage]) -> None:
    garbage = tmp_path / "src" / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    small = write_image(tmp_path / "src" / "small.png", 8, size=(30, 12))
    bad = [
        *sources,
        SourceImage("garbage", garbage),
        SourceImage("missing", tmp_path / "nowhere.png"),
        SourceImage("small", small),
    ]
    out = tmp_path / "out"
    with pytest.raises(ImageError) as caught:
        degrade_images(bad, "low_pass", [1.0, 4.0], seed=0, out_dir=out)
    message = str(caught.value)
    assert message.startswith("3 problems with the source images:")
    assert f"image 'garbage': {garbage}: not an image file Pillow can read" in message
    assert "image 'missing': " in message and "image file not found" in message
    # 12 px is enough for sigma 1 (needs 4) but not for sigma 4 (needs 16); the 24 px images pass both.
    assert (
        f"image 'small' ({small}): 30x12 pixels is too small for low_pass "
        "at level 4: the shorter side must be at least 4 x sigma" in message
    )
    assert "level 1:" not in message
    assert not out.exists()


@pytest.mark.parametrize(
    ("transform", "levels", "seed", "expected"),
    [
        (
            "gaussian_blur",
            [1.0],
            0,
            r"unknown transform 'gaussian_blur'; known transforms: contrast, grey_scale, high_pass",
        ),
        ("uniform_noise", [0.1, 35.0], 0, r"uniform_noise: level 35 is outside \[0, 1\]"),
        ("phase_noise", [math.nan], 0, r"phase_noise: level nan is not a number"),
        ("low_pass", [math.inf], 0, r"low_pass: level inf is outside \[0, inf\)"),
        ("contrast", [0.1, 0.10], 0, r"contrast: level 0.1 is given twice"),
        ("contrast", [], 0, r"contrast: no levels given"),
        ("contrast", [0.5], -1, r"seed -1 is not a whole number >= 0"),
        ("contrast", [0.5], 1.5, r"seed 1.5 is not a whole number >= 0"),
    ],
    ids=[
        "unknown-name",
        "out-of-range",
        "nan",
        "inf-for-low-pass",
        "given-twice",
        "no-levels",
        "negative-seed",
        "fractional-seed",
    ],
)
def test_bad_transform_levels_and_seeds_are_refused(
    tmp_path: Path, sources: list[SourceImage], transform: str, levels: list[float], seed: int, expected: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(TransformError, match=expected) as caught:
        degrade_images(sources, transform, levels, seed, out)
    assert isinstance(caught.value, StudyError)
    assert not out.exists()


def test_high_pass_takes_inf_as_the_unfiltered_level(tmp_path: Path, sources: list[SourceImage]) -> None:
    result = degrade_images(sources, "high_pass", [math.inf, 3.0], seed=0, out_dir=tmp_path / "out")
    assert [row["condition"] for row in result.rows[:2]] == ["inf", "3"]
    assert result.rows[0]["path"] == "images/high_pass-inf/cat-1.png"


def test_existing_files_are_never_overwritten(tmp_path: Path, sources: list[SourceImage]) -> None:
    out = tmp_path / "out"
    degrade_images(sources, "grey_scale", [1.0], seed=0, out_dir=out)
    written = out / "images" / "grey_scale-1" / "dog-1.png"
    written.write_bytes(b"the researcher's own file")
    with pytest.raises(ImageError, match=r"3 stimulus files already exist, e.g. .*; degrade never overwrites a file"):
        degrade_images(sources, "grey_scale", [1.0], seed=0, out_dir=out)
    assert written.read_bytes() == b"the researcher's own file"
    # another level into the same folder is fine
    assert len(degrade_images(sources, "grey_scale", [0.5], seed=0, out_dir=out).rows) == 3


def test_ids_that_are_not_file_names_are_spelled_safe_and_kept_apart(tmp_path: Path) -> None:
    image = write_image(tmp_path / "a.png", 9)
    sources = [SourceImage("n01/photo 1", image), SourceImage("n01:photo 1", image), SourceImage("../up", image)]
    rows = degrade_images(sources, "contrast", [0.3], seed=0, out_dir=tmp_path / "out").rows
    names = [Path(row["path"]).name for row in rows]
    assert names[0].startswith("n01_photo_1-") and names[1].startswith("n01_photo_1-") and names[0] != names[1]
    assert names[2].startswith("up-")
    assert all((tmp_path / "out" / "images" / "contrast-0.3" / name).is_file() for name in names)
    assert [row["image_id"] for row in rows] == ["n01/photo 1@0.3", "n01:photo 1@0.3", "../up@0.3"]


@pytest.mark.parametrize(
    ("ids", "attributes", "expected"),
    [
        (["cat", "cat"], {}, r"image id 'cat' is listed twice"),
        (["Cat", "cat"], {}, r"image ids 'Cat' and 'cat' would share the file name cat.png"),
        (["cat"], {"condition": "x"}, r"image 'cat': column 'condition' is one degrade writes itself"),
    ],
)
def test_clashing_ids_and_columns_are_refused(
    tmp_path: Path, ids: list[str], attributes: dict[str, str], expected: str
) -> None:
    image = write_image(tmp_path / "a.png", 10)
    with pytest.raises(TransformError, match=expected):
        degrade_images(
            [SourceImage(image_id, image, attributes) for image_id in ids], "contrast", [0.3], 0, tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


def test_no_sources_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TransformError, match="no source images"):
        degrade_images([], "contrast", [0.3], 0, tmp_path / "out")
