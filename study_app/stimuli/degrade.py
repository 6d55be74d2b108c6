"""Applying one transform at several levels to a set of images, reproducibly, as lossless PNGs.

Every (source image, level) pair becomes one stimulus: a PNG file and a manifest row that
keeps the source's id and attributes and adds the ``condition`` (the level as text). Noise
comes from a generator seeded from (seed, transform, image id, condition) alone, so the same
seed writes byte-identical files in any order, for any subset of the images, and adding a
level or an image leaves the other stimuli as they were.

Nothing is written until every image has been read and checked against every level, so a bad
image or level leaves no half-made folder; an existing file is never overwritten.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from study_app.errors import ImageError, TransformError
from study_app.stimuli.registry import Transform, condition_name, get_transform
from study_app.stimuli.source_images import read_source_image

#: Columns every stimulus row starts with; the source's own attribute columns follow.
STIMULUS_COLUMNS = ("image_id", "path", "condition", "source_image_id", "source_sha256")

#: zlib level of the PNGs (zlib's default); fixed so that the same pixels always give the same
#: bytes. Level 9 took 5 to 12 times as long for files 10 to 20 % smaller.
PNG_COMPRESS_LEVEL = 6

_FILE_NAME_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class SourceImage:
    """One image to degrade: its id, its file, and the manifest columns each stimulus keeps (labels, split ...)."""

    image_id: str
    path: Path
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DegradeResult:
    """The manifest rows of the stimuli written (in source order, then level order) and any conversion notes."""

    rows: list[dict[str, str]]
    notes: list[str]


def stimulus_rng(seed: int, transform_name: str, image_id: str, condition: str) -> np.random.Generator:
    """The generator for one stimulus, from the seed and what identifies the stimulus, never from call order."""
    key = hashlib.sha256("\0".join((transform_name, image_id, condition)).encode("utf-8")).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(key, "little")]))


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB float image in [0, 1] as 8-bit PNG bytes, each value rounded to the nearest of 0..255.

    The reference code truncated (``(x * 255).astype(uint8)``), which darkens every pixel by
    half a grey level on average and turns a float 1.0 computed as 0.99999... into 254. An
    image whose three channels are equal (every transform but partial grey-scaling) is stored
    as a one-channel grey PNG: a third of the data, and read back as RGB
    (:func:`study_app.io.images.load_image`, Pillow's ``convert("RGB")``) it gives the same pixels.
    """
    pixels = np.rint(image * 255.0).astype(np.uint8)
    is_grey = np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(pixels[:, :, 1], pixels[:, :, 2])
    buffer = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if is_grey else pixels).save(
        buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL
    )
    return buffer.getvalue()


def degrade_images(
    sources: Sequence[SourceImage],
    transform_name: str,
    levels: Sequence[float],
    seed: int,
    out_dir: Path,
    image_folder: str = "images",
) -> DegradeResult:
    """Write ``transform_name`` at each of ``levels`` of every source image under ``out_dir / image_folder``.

    A stimulus goes to ``<image_folder>/<transform>-<condition>/<image id>.png`` (ids that are
    not safe file names are spelled safe and get a hash of the id); its row's ``path`` is
    relative to ``out_dir`` and its ``image_id`` is ``<source id>@<condition>``. Raises
    :class:`TransformError` for an unknown transform, a bad level or seed, and
    :class:`ImageError` listing every image that cannot be read or is too small, before
    anything is written.
    """
    transform = get_transform(transform_name)
    if not sources:
        raise TransformError("no source images to degrade")
    conditions = _checked_conditions(transform, levels)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise TransformError(f"seed {seed!r} is not a whole number >= 0")
    targets = _target_paths(sources, transform, conditions, out_dir, image_folder)
    digests, notes = _check_sources(sources, transform, conditions)
    rows = []
    for source in sources:
        pixels = read_source_image(source.path, digests[source.image_id]).pixels
        for level, condition in conditions:
            rng = stimulus_rng(seed, transform.name, source.image_id, condition)
            target = targets[source.image_id, condition]
            _write_new(target, png_bytes(transform.apply(pixels, level, rng)))
            rows.append(
                {
                    "image_id": f"{source.image_id}@{condition}",
                    "path": target.relative_to(out_dir).as_posix(),
                    "condition": condition,
                    "source_image_id": source.image_id,
                    "source_sha256": digests[source.image_id],
                    **source.attributes,
                }
            )
    return DegradeResult(rows, notes)


def _write_new(target: Path, data: bytes) -> None:
    """Create ``target`` with ``data``; a file that appeared there since the check is left alone."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "xb") as handle:
            handle.write(data)
    except FileExistsError:
        raise ImageError(
            f"{target}: already exists; degrade never overwrites a file: choose a new output folder"
        ) from None
    except OSError as exc:
        raise ImageError(f"{target}: cannot write: {exc.strerror or exc}") from None


def _checked_conditions(transform: Transform, levels: Sequence[float]) -> list[tuple[float, str]]:
    """(level, condition) for each level, after checking its range and that no condition repeats."""
    if not levels:
        raise TransformError(
            f"{transform.name}: no levels given; levels are {transform.parameter}, in {transform.levels}"
        )
    conditions: list[tuple[float, str]] = []
    for level in levels:
        transform.check_level(level)
        condition = condition_name(level)
        if any(condition == seen for _, seen in conditions):
            raise TransformError(f"{transform.name}: level {condition} is given twice")
        conditions.append((level, condition))
    return conditions


def _file_stem(image_id: str) -> str:
    """``image_id`` if it is a safe file name, else a safe spelling of it plus a hash that keeps ids apart."""
    if _FILE_NAME_SAFE.fullmatch(image_id):
        return image_id
    spelled = re.sub(r"[^A-Za-z0-9._-]", "_", image_id).lstrip("._-")[:80]
    return f"{spelled}-{hashlib.sha256(image_id.encode('utf-8')).hexdigest()[:12]}"


def _target_paths(
    sources: Sequence[SourceImage],
    transform: Transform,
    conditions: list[tuple[float, str]],
    out_dir: Path,
    image_folder: str,
) -> dict[tuple[str, str], Path]:
    """The file of every (image id, condition); refuses repeated ids, clashing names and existing files."""
    targets: dict[tuple[str, str], Path] = {}
    by_name: dict[str, str] = {}
    for source in sources:
        if clashes := sorted(set(STIMULUS_COLUMNS) & set(source.attributes)):
            raise TransformError(
                f"image {source.image_id!r}: column {clashes[0]!r} is one degrade writes itself; rename it"
            )
        if any((source.image_id, condition) in targets for _, condition in conditions):
            raise TransformError(f"image id {source.image_id!r} is listed twice; every source image needs its own id")
        stem = _file_stem(source.image_id)
        earlier = by_name.setdefault(stem.casefold(), source.image_id)
        if earlier != source.image_id:  # e.g. "Cat" and "cat" on a case-insensitive disk
            raise TransformError(f"image ids {earlier!r} and {source.image_id!r} would share the file name {stem}.png")
        for _, condition in conditions:
            targets[source.image_id, condition] = (
                out_dir / image_folder / f"{transform.name}-{condition}" / f"{stem}.png"
            )
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing:
        raise ImageError(
            f"{len(existing)} stimulus file{'s' if len(existing) != 1 else ''} already exist, e.g. {existing[0]}; "
            "degrade never overwrites a file: choose a new output folder"
        )
    return targets


def _check_sources(
    sources: Sequence[SourceImage], transform: Transform, conditions: list[tuple[float, str]]
) -> tuple[dict[str, str], list[str]]:
    """Read every source once; the SHA-256 of each and the conversion notes, or one error listing every problem."""
    digests: dict[str, str] = {}
    notes: list[str] = []
    problems: list[str] = []
    for source in sources:
        try:
            read = read_source_image(source.path)
        except ImageError as exc:
            problems.append(f"image {source.image_id!r}: {exc}")
            continue
        digests[source.image_id] = read.sha256
        if read.note:
            notes.append(read.note)
        height, width = read.pixels.shape[:2]
        for level, _ in conditions:
            if problem := transform.size_problem(width, height, level):
                problems.append(f"image {source.image_id!r} ({source.path}): {problem}")
    if problems:
        count = len(problems)
        raise ImageError(
            "\n".join(
                [f"{count} problem{'s' if count != 1 else ''} with the source images:", *(f"  - {p}" for p in problems)]
            )
        )
    return digests, notes
