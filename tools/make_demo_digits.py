#!/usr/bin/env python3
"""Build the bundled demo study ``study_app/protocols/demo-digits/`` from scikit-learn's 8x8 digits.

The study asks annotators to classify the 1797 handwritten digits that scikit-learn
ships as ``sklearn.datasets.load_digits`` (a copy of the test partition, ``optdigits.tes``,
of the UCI "Optical Recognition of Handwritten Digits" data set, E. Alpaydin and
C. Kaynak, 1998, https://doi.org/10.24432/C50P49, CC BY 4.0) and compares them with three
small scikit-learn models.

What it writes (all paths relative to the output folder)::

    images/digit-0001.png ... digit-1797.png   64x64 8-bit greyscale, dark ink on white
    manifest.csv          image_id,path,labels,split
    labels.csv            label_id,name,synonyms,definition
    examples.csv          label_id,path             (13 example images per class)
    predictions/models.csv model,image_id,rank,label_id,score (top-3 per image and model)
    models/<model>.onnx   each fitted model, converted with skl2onnx (float64 input)
    models/<model>.toml   its spec for ``python main.py predict`` (64x64 PNG -> 64 features)
    instructions.md       what the annotator sees before starting
    study.toml            the study protocol
    README.md             contents, provenance, licences, splits, model accuracies

Everything is determined by ``--seed`` (default 1797): re-running the script with the
same library versions gives byte-identical files.

* Image numbers are a seeded random permutation of scikit-learn's sample order
  (which starts 0,1,2,...,9,0,1,... and would otherwise reveal the class).
* Pixels: ``grey = round(255 - v * 255 / 16)`` with halves rounded up, computed in
  integers, then every pixel repeated 8x8 (nearest neighbour) to 64x64. PNGs are written
  by Pillow with ``optimize=False``, a fixed ``compress_level`` and no text chunks.
* Splits, stratified by class: ``examples`` 13 per class, ``train`` 3 per class,
  ``model-train`` 800 images (per-class quotas by largest remainder, ties to the lower
  digit), ``test`` the rest.
* Models are fitted only on ``model-train``, on the original 64 features scaled by 1/16,
  with BLAS/OpenMP limited to one thread; predictions are written for ``train`` and
  ``test`` images only. Ranks come from the scores as written (6 decimals), ties broken
  by label id.
* The fitted models are also saved as ONNX (``models/``, needs ``skl2onnx``) with a model
  spec whose preprocessing maps each 64x64 PNG back to the features ``v / 16``: mean of
  each 8x8 block, ``255 - grey``, snapped to the 17 ink levels 0..16.

Usage (from the repository root; needs the ``tools`` extra, i.e. scikit-learn)::

    python tools/make_demo_digits.py            # writes study_app/protocols/demo-digits/
    python tools/make_demo_digits.py --out DIR  # somewhere else
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from study_app.io.csvfiles import write_csv

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "study_app" / "protocols" / "demo-digits"
DEFAULT_SEED = 1797

N_CLASSES = 10
EXAMPLES_PER_CLASS = 13
TRAIN_PER_CLASS = 3
MODEL_TRAIN_TOTAL = 800
UPSCALE = 8
TOP_K = 3
PNG_COMPRESS_LEVEL = 9

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EXTRA_SYNONYMS = {0: ["nought"]}

SPLITS = ("examples", "model-train", "train", "test")


# --------------------------------------------------------------------------- data


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 of shape (n, 8, 8) with values 0..16, targets int of shape (n,))."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.asarray(digits.images)
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 16:
        raise SystemExit("unexpected pixel values in sklearn digits (want integers 0..16)")
    return images.astype(np.uint8), np.asarray(digits.target, dtype=np.int64)


def label_id(c: int) -> str:
    return f"digit-{c}"


def image_id(number: int) -> str:
    """``number`` is 1-based."""
    return f"digit-{number:04d}"


def to_grey(image8: np.ndarray) -> np.ndarray:
    """0..16 ink counts -> 64x64 uint8, dark ink on light background.

    round(255 - v*255/16) with halves up == floor(((16 - v) * 255 * 2 + 16) / 32).
    """
    v = image8.astype(np.int64)
    grey = ((16 - v) * 255 * 2 + 16) // 32
    grey = grey.astype(np.uint8)
    return np.repeat(np.repeat(grey, UPSCALE, axis=0), UPSCALE, axis=1)


def png_bytes(grey: np.ndarray) -> bytes:
    if grey.dtype != np.uint8 or grey.ndim != 2:
        raise ValueError("want a 2-D uint8 array")
    buf = io.BytesIO()
    img = Image.fromarray(grey)
    assert img.mode == "L"
    img.save(buf, format="PNG", optimize=False, compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


# --------------------------------------------------------------------------- splits


def largest_remainder(sizes: list[int], total: int) -> list[int]:
    """Split ``total`` over groups proportionally to ``sizes``; ties go to the lower index."""
    whole = sum(sizes)
    exact = [total * s / whole for s in sizes]
    quotas = [int(e) for e in exact]
    left = total - sum(quotas)
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - quotas[i]), i))
    for i in order[:left]:
        quotas[i] += 1
    return quotas


def make_splits(targets_by_number: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Return the split name of each image (indexed by 0-based image number)."""
    n = len(targets_by_number)
    split = [""] * n
    pools: list[np.ndarray] = []
    for c in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(targets_by_number == c))
        for i in members[:EXAMPLES_PER_CLASS]:
            split[i] = "examples"
        for i in members[EXAMPLES_PER_CLASS : EXAMPLES_PER_CLASS + TRAIN_PER_CLASS]:
            split[i] = "train"
        pools.append(members[EXAMPLES_PER_CLASS + TRAIN_PER_CLASS :])
    quotas = largest_remainder([len(p) for p in pools], MODEL_TRAIN_TOTAL)
    for pool, q in zip(pools, quotas):
        for i in pool[:q]:
            split[i] = "model-train"
        for i in pool[q:]:
            split[i] = "test"
    assert all(split)
    return split


# --------------------------------------------------------------------------- models


def make_models(seed: int) -> dict:
    """The three models. ``seed`` is unused: none of them draws random numbers.

    The SVM's probabilities come from Platt (sigmoid) scaling fitted on 5-fold
    cross-validated decision values (unshuffled stratified folds), with one SVC fitted on
    all of ``model-train``. This is what scikit-learn recommends instead of
    ``SVC(probability=True)``, which is deprecated since scikit-learn 1.9 and removed in 1.11.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    del seed
    return {
        "logistic-regression": LogisticRegression(max_iter=10_000),
        "svm-rbf": CalibratedClassifierCV(SVC(kernel="rbf"), method="sigmoid", cv=5, ensemble=False),
        "knn-5": KNeighborsClassifier(n_neighbors=5),
    }


def fit_and_predict(
    features: np.ndarray, targets: np.ndarray, fit_idx: np.ndarray, pred_idx: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict]:
    """Return ({model name: probabilities of shape (len(pred_idx), 10)}, {model name: fitted model}).

    Probability columns are classes 0..9."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    out = {}
    models = make_models(seed)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for name, model in models.items():
            model.fit(features[fit_idx], targets[fit_idx])
            if list(model.classes_) != list(range(N_CLASSES)):
                raise SystemExit(f"{name}: unexpected classes {model.classes_}")
            out[name] = model.predict_proba(features[pred_idx])
    return out, models


MODEL_SPEC = """\
# Written by tools/make_demo_digits.py; run `python main.py predict --study demo-digits --model {name}`.
format = 1
name = "{name}"
description = "scikit-learn {kind} fitted on the model-train images (see ../README.md), \
converted to ONNX with skl2onnx {skl2onnx}"
top_k = {top_k}

[weights]
format = "onnx"
file = "{name}.onnx"
sha256 = "{sha256}"

[preprocess]                  # 64x64 PNG -> the 64 features v / 16 the model was fitted on
input_size = [8, 8]
colour = "L"
resize = 8
interpolation = "box"         # mean of each {upscale}x{upscale} block (each block is one cell of the 8x8 grid)
invert = true                 # ink = 255 - grey
levels = 16                   # snap to the 17 ink counts 0..16 the PNGs were rendered from
mean = [0.0]
std = [255.0]                 # 0..255 -> 0..1, i.e. v / 16
layout = "flat"               # row-major, as digits.images.reshape(n, -1)

[output]
name = "probabilities"
activation = "none"           # predict_proba already

[labels]
from = "study"                # columns are classes 0..9 = labels.csv order digit-0 .. digit-9
"""


def write_models(folder: Path, models: dict) -> None:
    """Each fitted model as ONNX (float64 input, plain probability tensor) plus its spec."""
    import hashlib

    import skl2onnx
    from skl2onnx.common.data_types import DoubleTensorType

    folder.mkdir(parents=True, exist_ok=True)
    for name, model in models.items():
        with warnings.catch_warnings():
            # skl2onnx reads SVC.probA_/probB_, deprecated by scikit-learn 1.9 (unused: sigmoid calibration)
            warnings.filterwarnings("ignore", message="Attribute `prob[AB]_` was deprecated", category=FutureWarning)
            onnx_model = skl2onnx.to_onnx(
                model,
                initial_types=[("features", DoubleTensorType([None, 64]))],
                options={"zipmap": False},
                target_opset=17,
            )
        data = onnx_model.SerializeToString()
        (folder / f"{name}.onnx").write_bytes(data)
        write_text(
            folder / f"{name}.toml",
            MODEL_SPEC.format(
                name=name,
                kind=type(model).__name__,
                skl2onnx=skl2onnx.__version__,
                top_k=TOP_K,
                sha256=hashlib.sha256(data).hexdigest(),
                upscale=UPSCALE,
            ),
        )


def top_k(probs: np.ndarray, k: int = TOP_K) -> list[tuple[int, str]]:
    """Top-k (class, formatted score), by score as written, ties by label id."""
    formatted = [f"{p:.6f}" for p in probs]
    order = sorted(range(N_CLASSES), key=lambda c: (-float(formatted[c]), label_id(c)))
    return [(c, formatted[c]) for c in order[:k]]


# --------------------------------------------------------------------------- writing


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def study_toml(seed: int) -> str:
    return f'''format = 1
name = "demo-digits"
version = "1.0"
title = "Handwritten digits (scikit-learn 8x8), 10 classes"
description = """Classify small, blurry scans of handwritten digits (0-9) from the UCI \\
"Optical Recognition of Handwritten Digits" test set, as bundled with scikit-learn, \\
shown as 8x8 grids of ink counts enlarged to 64x64 pixels. \\
Annotators first see {TRAIN_PER_CLASS * N_CLASSES} training images with feedback, then \\
200 test images without; their accuracy is compared with a logistic regression, \\
an RBF support vector machine and a 5-nearest-neighbour classifier fitted on a \\
separate set of {MODEL_TRAIN_TOTAL} images."""
seed = {seed}
instructions = "instructions.md"

[labels]
file = "labels.csv"
examples = "examples.csv"
examples_per_class = {EXAMPLES_PER_CLASS}

[images]
manifest = "manifest.csv"

[[phases]]
name = "training"
split = "train"
feedback = true
answers = 1
mode = "ranked"
order = "random"

[[phases]]
name = "test"
split = "test"
n = 200
feedback = false
answers = 1
mode = "ranked"
order = "random"
break_every = 50

[models]
predictions = ["predictions/models.csv"]
'''


INSTRUCTIONS = f"""# Handwritten digits: instructions

Each image shows **one handwritten digit, 0 to 9**. The images are very coarse:
the original scans were reduced to 8x8 squares, each square's shade saying how much
ink fell in it, and then enlarged. Some are hard to read; always give your best guess.

## Answering

1. Type the digit (`7`) or its name (`seven`) in the search box. The matching class
   is highlighted in the list.
2. Press **Enter** to put the highlighted class in the answer slot.
3. Press **Ctrl+Enter** to submit your answer and go to the next image.

Press **F1** at any time to show the help.

## Phases

* **Training** ({TRAIN_PER_CLASS * N_CLASSES} images, {TRAIN_PER_CLASS} of each digit):
  after each answer you are shown the correct digit, so you can get used to how
  these coarse images look.
* **Test** (200 images): no feedback is given. Answer as accurately as you can.

During the test you get a break every 50 images. Rest your eyes, then continue
when you are ready.

Thank you for taking part.
"""


def readme(
    seed: int,
    counts: dict[str, int],
    accuracies: dict[str, tuple[int, int]],
    versions: dict[str, str],
) -> str:
    acc_rows = "\n".join(f"| `{m}` | {k}/{n} | {100 * k / n:.1f} % |" for m, (k, n) in sorted(accuracies.items()))
    split_rows = "\n".join(
        f"| `{s}` | {counts[s]} | {desc} |"
        for s, desc in [
            (
                "examples",
                f"{EXAMPLES_PER_CLASS} per class; the reference images shown for each class (`examples.csv`)",
            ),
            ("train", f"{TRAIN_PER_CLASS} per class; the annotators' training phase, with feedback"),
            ("model-train", "used only to fit the three models; never shown to annotators"),
            ("test", "the rest; the test phase shows 200 of them (`n = 200` in `study.toml`)"),
        ]
    )
    ver = "\n".join(f"* {k} {v}" for k, v in versions.items())
    return f"""# demo-digits: handwritten digits (scikit-learn 8x8), 10 classes

A small, self-contained demo study: annotators classify coarse handwritten digits
(0-9) and their accuracy is compared with three simple machine-learning models.
Everything here is generated by `tools/make_demo_digits.py`; do not edit by hand.

## Files

| File | What it is |
| --- | --- |
| `study.toml` | the study protocol (phases, files, seed) |
| `instructions.md` | instructions shown to annotators |
| `labels.csv` | the 10 classes: `digit-0` ... `digit-9`, names, search synonyms, definitions |
| `manifest.csv` | all 1797 images: `image_id,path,labels,split` |
| `examples.csv` | the {counts["examples"]} example images, {EXAMPLES_PER_CLASS} per class |
| `images/digit-0001.png` ... `digit-1797.png` | the images, 64x64 8-bit greyscale PNG |
| `predictions/models.csv` | top-{TOP_K} predictions of 3 models for every `train` and `test` image |
| `README.md` | this file |

## Provenance and licences

**Data.** The digits are scikit-learn's bundled data set `sklearn.datasets.load_digits`
(file `sklearn/datasets/data/digits.csv.gz`), which scikit-learn describes as a copy of
the test set (`optdigits.tes`, 1797 images, written by 13 people) of the UCI
*Optical Recognition of Handwritten Digits* data set:
E. Alpaydin and C. Kaynak (1998), *Optical Recognition of Handwritten Digits*,
UCI Machine Learning Repository, <https://doi.org/10.24432/C50P49>
(<https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits>).
The UCI repository distributes it under the
[Creative Commons Attribution 4.0 International licence (CC BY 4.0)](https://creativecommons.org/licenses/by/4.0/).
Each image is a 32x32 bitmap (extracted with NIST preprocessing programs) reduced to
an 8x8 grid of ink counts 0..16.

**scikit-learn**, which bundles the data and fits the models, is licensed under the
BSD 3-Clause licence, "Copyright (c) 2007-2026 The scikit-learn developers. All rights
reserved." (as in scikit-learn 1.9.1's `COPYING`).

Per file:

* `images/*.png` are adaptations of the UCI data, under **CC BY 4.0** with the
  attribution above. Changes made: pixel values mapped to grey
  (`round(255 - v * 255 / 16)`, halves rounded up, so dark ink on a white background),
  each pixel enlarged to 8x8 (nearest neighbour, 64x64 in all), and the images
  renumbered in a seeded random order (`digit-0001` is not scikit-learn's sample 0)
  so that file names do not reveal the class.
* `manifest.csv`, `examples.csv`: the class of each image is from the UCI data
  (CC BY 4.0, attribution above); the ids, paths and splits were made by the script.
* `predictions/models.csv`: outputs of scikit-learn models trained on the UCI data;
  keep the attribution above when redistributing them.
* `study.toml`, `instructions.md`, `labels.csv`, `README.md` and the script
  `tools/make_demo_digits.py` were written for this project and are under the
  project's licence (MIT).

## Splits

A stratified split of all 1797 images, seeded with `seed = {seed}`; no image is in two
splits.

| Split | Images | Use |
| --- | ---: | --- |
{split_rows}

## Models

Fitted only on the {counts["model-train"]} `model-train` images, on the original 64
features (ink counts divided by 16), with scikit-learn defaults except as noted:

* `logistic-regression`: `LogisticRegression(max_iter=10000)`
* `svm-rbf`: `CalibratedClassifierCV(SVC(kernel="rbf"), method="sigmoid", cv=5,
  ensemble=False)`: one RBF SVC fitted on all `model-train` images, its scores turned
  into probabilities by Platt (sigmoid) scaling fitted on 5-fold cross-validated decision
  values (stratified, unshuffled folds, so no randomness). This replaces
  `SVC(probability=True)`, deprecated in scikit-learn 1.9 and due to be removed in 1.11.
* `knn-5`: `KNeighborsClassifier(n_neighbors=5)` (scores are vote fractions, multiples
  of 0.2; many rank-2 and rank-3 rows therefore have score 0 and are in label-id order)

`predictions/models.csv` has, for every `train` and `test` image and every model, the
{TOP_K} classes with the highest probability (`rank` 1..{TOP_K}, `score` with 6
decimals, ties broken by label id), sorted by model, image id and rank.

Top-1 accuracy on all {counts["test"]} `test` images:

| Model | Correct | Accuracy |
| --- | ---: | ---: |
{acc_rows}

## Regenerating

From the repository root, with scikit-learn installed (`pip install -e ".[tools]"`):

```sh
python tools/make_demo_digits.py
```

This rewrites this folder (`--out DIR` writes elsewhere, `--seed N` changes the seed).
The output is byte-identical on re-runs with the same library versions. These files were
made with:

{ver}

Other versions of scikit-learn or numpy may change the last digits of model scores (and
perhaps a few ranks), and other zlib builds may compress the PNGs differently (same
pixels).
"""


# --------------------------------------------------------------------------- main


def build(out: Path, seed: int) -> dict[str, tuple[int, int]]:
    """Write the whole study into ``out``; return {model: (correct, n)} on ``test``."""
    import PIL
    import sklearn

    images, targets = load_data()
    n = len(targets)
    rng = np.random.default_rng(seed)

    # image number (0-based) -> sklearn sample index
    sample_of = rng.permutation(n)
    imgs = images[sample_of]
    tgts = targets[sample_of]
    split = make_splits(tgts, rng)
    counts = {s: split.count(s) for s in SPLITS}

    # images
    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{image_id(i + 1)}.png" for i in range(n)}
    for stale in img_dir.glob("digit-*.png"):
        if stale.name not in wanted:
            stale.unlink()
    for i in range(n):
        (img_dir / f"{image_id(i + 1)}.png").write_bytes(png_bytes(to_grey(imgs[i])))

    # manifest, labels, examples
    write_csv(
        out / "manifest.csv",
        ["image_id", "path", "labels", "split"],
        [[image_id(i + 1), f"images/{image_id(i + 1)}.png", label_id(int(tgts[i])), split[i]] for i in range(n)],
    )
    write_csv(
        out / "labels.csv",
        ["label_id", "name", "synonyms", "definition"],
        [
            [
                label_id(c),
                f"{c} ({DIGIT_NAMES[c]})",
                ";".join([str(c), DIGIT_NAMES[c], *EXTRA_SYNONYMS.get(c, [])]),
                f"the handwritten digit {c}",
            ]
            for c in range(N_CLASSES)
        ],
    )
    write_csv(
        out / "examples.csv",
        ["label_id", "path"],
        [
            [label_id(c), f"images/{image_id(i + 1)}.png"]
            for c in range(N_CLASSES)
            for i in range(n)
            if split[i] == "examples" and tgts[i] == c
        ],
    )

    # models
    features = imgs.reshape(n, -1).astype(np.float64) / 16.0
    split_arr = np.array(split)
    fit_idx = np.flatnonzero(split_arr == "model-train")
    pred_idx = np.flatnonzero((split_arr == "train") | (split_arr == "test"))
    probs, fitted = fit_and_predict(features, tgts, fit_idx, pred_idx, seed)
    rows = []
    accuracies = {}
    for name in sorted(probs):
        correct = 0
        for row, i in enumerate(pred_idx):  # pred_idx is ascending, so image ids sort
            top = top_k(probs[name][row])
            if split[i] == "test" and top[0][0] == tgts[i]:
                correct += 1
            for rank, (c, score) in enumerate(top, start=1):
                rows.append([name, image_id(i + 1), rank, label_id(c), score])
        accuracies[name] = (correct, counts["test"])
    write_csv(out / "predictions" / "models.csv", ["model", "image_id", "rank", "label_id", "score"], rows)
    write_models(out / "models", fitted)

    # protocol texts
    versions = {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "Pillow": PIL.__version__}
    write_text(out / "study.toml", study_toml(seed))
    write_text(out / "instructions.md", INSTRUCTIONS)
    write_text(out / "README.md", readme(seed, counts, accuracies, versions))

    print(f"wrote {out}")
    for s in SPLITS:
        print(f"  {s:12s} {counts[s]:5d}")
    for name, (k, m) in sorted(accuracies.items()):
        print(f"  {name:20s} test top-1 accuracy {k}/{m} = {k / m:.4f}")
    return accuracies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate the bundled demo study study_app/protocols/demo-digits/ from scikit-learn's 8x8 digits.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    build(args.out, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
