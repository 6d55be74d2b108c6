"""EfficientNet-Lite0 through the runner reproduces the committed demo predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study_app.io.tidy_predictions import read_predictions
from study_app.protocol.study import BUNDLED_PROTOCOLS

COMMITTED = BUNDLED_PROTOCOLS / "demo-imagenet" / "predictions" / "efficientnet-lite0.csv"
TOLERANCE = 1e-4


def assert_same_guesses(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Identical (model, image, rank, label) rows in the same order; scores within TOLERANCE."""
    columns = ["model", "image_id", "rank", "label_id"]
    pd.testing.assert_frame_equal(got[columns].reset_index(drop=True), expected[columns].reset_index(drop=True))
    assert np.abs(got["score"].to_numpy() - expected["score"].to_numpy()).max() <= TOLERANCE


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_reproduces_committed_predictions(imagenet_runs: dict[str, pd.DataFrame], backend: str) -> None:
    committed = pd.read_csv(COMMITTED, dtype={"label_id": str})
    assert_same_guesses(imagenet_runs[backend], committed)


def test_backends_agree_on_every_image(imagenet_runs: dict[str, pd.DataFrame]) -> None:
    assert_same_guesses(imagenet_runs["onnxruntime"], imagenet_runs["torch"])


def test_output_is_a_valid_sorted_predictions_file(
    tmp_path, imagenet_runs: dict[str, pd.DataFrame], imagenet_study
) -> None:
    path = tmp_path / "p.csv"
    imagenet_runs["onnxruntime"].to_csv(path, index=False)
    problems: list = []
    frame = read_predictions(path, problems, image_ids=imagenet_study.images, label_ids=imagenet_study.labels.class_ids)
    assert problems == [] and frame is not None
    assert list(imagenet_runs["onnxruntime"]["image_id"]) == sorted(imagenet_runs["onnxruntime"]["image_id"])
    assert (frame.groupby("image_id")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * 20).all()
