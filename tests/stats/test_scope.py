"""Every rater's full score (scope ``all``) beside the shared images (scope ``shared``), and the
prediction layouts of published dumps: no scores, class-index arrays, images without truth.

The ILSVRC-scale case is run as a user runs it (``python main.py compare --json`` in a
subprocess) on 50,000 images x 3 models x top-5, and every model's error is recomputed
directly with pandas from the files written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study_app.errors import InputFileError
from study_app.importers import read_prediction_file
from study_app.stats import compare
from tests.stats.builders import model_beyond_people

ROOT = Path(__file__).resolve().parents[2]
N_IMAGES, N_CLASSES, K = 50_000, 1000, 5
ACCURACY = {"zoo-a": 0.9, "zoo-b": 0.8, "zoo-c": 0.7}
CLASSES = np.array([f"n{i:08d}" for i in range(N_CLASSES)], dtype=object)
IMAGES = np.array([f"ILSVRC2012_val_{i + 1:08d}" for i in range(N_IMAGES)], dtype=object)


def run_compare(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "compare", *args, "--json", "--n-boot", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def top_k(rng: np.random.Generator, truth: np.ndarray, accuracy: float) -> np.ndarray:
    """N x K distinct class indices, the true class among them with probability ``accuracy``."""
    offsets = np.sort(rng.integers(1, N_CLASSES - K + 1, size=(len(truth), K)), axis=1)
    offsets += np.arange(K)  # strictly increasing within 1..N_CLASSES-1: K distinct classes, none of them the truth
    guesses = (truth[:, None] + offsets) % N_CLASSES
    hit = rng.random(len(truth)) < accuracy
    guesses[hit, rng.integers(0, K, hit.sum())] = truth[hit]
    return np.array([rng.permutation(row) for row in guesses[:200]] + list(guesses[200:]))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Truth for 50,000 images (single-label, and multi-label for 46,837 of them) and three
    models' top-5: a tidy CSV without a score column and an .npy of class indices."""
    folder = tmp_path_factory.mktemp("zoo")
    rng = np.random.default_rng(2012)
    truth = rng.integers(0, N_CLASSES, N_IMAGES)
    pd.DataFrame({"image_id": IMAGES, "path": IMAGES + ".JPEG", "labels": CLASSES[truth], "split": "test"}).to_csv(
        folder / "truth.csv", index=False
    )
    labelled = np.sort(rng.choice(N_IMAGES, 46_837, replace=False))  # re-assessed truth labels only these
    second = (truth[labelled] + 1 + rng.integers(0, N_CLASSES - 1, len(labelled))) % N_CLASSES
    extra = rng.random(len(labelled)) < 0.3
    multi = [a if not e else f"{a};{b}" for a, b, e in zip(CLASSES[truth[labelled]], CLASSES[second], extra)]
    pd.DataFrame({"image_id": IMAGES[labelled], "path": "x.JPEG", "labels": multi, "split": "test"}).to_csv(
        folder / "multi.csv", index=False
    )
    predictions = {name: top_k(rng, truth, accuracy) for name, accuracy in ACCURACY.items()}
    tidy = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": name,
                    "image_id": np.repeat(IMAGES, K),
                    "rank": np.tile(np.arange(1, K + 1), N_IMAGES),
                    "label_id": CLASSES[guesses.ravel()],
                }
            )
            for name, guesses in predictions.items()
        ]
    )
    tidy.to_csv(folder / "zoo.csv", index=False)  # model,image_id,rank,label_id: no score column
    np.save(folder / "zoo-c.npy", predictions["zoo-c"].astype(np.int16))
    (folder / "images.txt").write_text("\n".join(IMAGES) + "\n")
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return folder


def direct_errors(predictions: pd.DataFrame, truth_csv: Path, k: int) -> dict[str, tuple[int, int]]:
    """Each model's (images, top-k errors) straight from the files: right if a guess is a true label."""
    truth = pd.read_csv(truth_csv, dtype=str)
    valid = truth.assign(label_id=truth["labels"].str.split(";")).explode("label_id")[["image_id", "label_id"]]
    guesses = predictions[predictions["rank"] <= k].merge(
        valid, on=["image_id", "label_id"], how="left", indicator=True
    )
    guesses = guesses[guesses["image_id"].isin(set(truth["image_id"]))]
    right = guesses.assign(hit=guesses["_merge"] == "both").groupby(["model", "image_id"])["hit"].any()
    return {model: (len(hits), int((~hits).sum())) for model, hits in right.groupby(level="model")}


def model_rates(result: dict) -> dict[str, tuple[int, int]]:
    """Each model's (images, errors) on all its images, from ``compare --json``."""
    rows = [r for r in result["rates"] if r["scope"] == "all" and r["kind"] == "model"]
    for r in rows:
        assert r["error_rate"] == pytest.approx(r["errors"] / r["n"], rel=1e-9)
    return {r["rater"]: (r["n"], r["errors"]) for r in rows}


def test_predictions_alone_without_scores_give_every_models_error_on_all_50000_images(zoo):
    result = run_compare(
        "--truth", str(zoo / "truth.csv"), "--predictions", str(zoo / "zoo.csv"), "--out", str(zoo / "out-single")
    )
    expected = direct_errors(pd.read_csv(zoo / "zoo.csv", dtype={"rank": int}), zoo / "truth.csv", K)
    got = model_rates(result)
    assert set(got) == set(ACCURACY)
    assert got == expected
    for model, (n, errors) in expected.items():
        assert (
            n == N_IMAGES and abs(errors / n - (1 - ACCURACY[model])) < 0.01
        )  # the simulated accuracy: the fixture is sane
    assert len(result["paired"]) == 3 and {r["n_images"] for r in result["paired"]} == {
        N_IMAGES
    }  # models against each other


def test_multi_label_truth_of_fewer_images_skips_the_others_with_a_count(zoo):
    args = ("--truth", str(zoo / "multi.csv"), "--predictions", str(zoo / "zoo.csv"), "--out", str(zoo / "out-multi"))
    refused = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "compare", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert (
        refused.returncode == 1 and "image_id not in the study's manifest" in refused.stderr
    )  # the default stays an error
    result = run_compare(*args, "--unknown-images", "skip")
    expected = direct_errors(pd.read_csv(zoo / "zoo.csv", dtype={"rank": int}), zoo / "multi.csv", K)
    got = model_rates(result)
    assert got == expected and {n for n, _ in got.values()} == {46_837}
    assert any("3,163 predicted image(s) have no ground truth" in note for note in result["notes"])


def test_a_class_index_array_reads_as_the_same_predictions_as_its_csv(zoo):
    from_array = read_prediction_file(zoo / "zoo-c.npy", image_list=zoo / "images.txt", class_list=zoo / "classes.txt")
    tidy = pd.read_csv(zoo / "zoo.csv", dtype={"rank": np.int64})
    from_csv = tidy[tidy["model"] == "zoo-c"].sort_values(["image_id", "rank"]).reset_index(drop=True)
    assert from_array["model"].eq("zoo-c").all() and from_array["score"].isna().all()
    pd.testing.assert_frame_equal(  # predictions are read compact (categoricals): compared as their text
        from_array[["image_id", "rank", "label_id"]].astype({"image_id": str, "label_id": str}),
        from_csv[["image_id", "rank", "label_id"]],
        check_dtype=False,
    )
    result = run_compare(
        "--truth",
        str(zoo / "truth.csv"),
        "--predictions",
        str(zoo / "zoo-c.npy"),
        "--image-list",
        str(zoo / "images.txt"),
        "--class-list",
        str(zoo / "classes.txt"),
        "--out",
        str(zoo / "out-npy"),
    )
    assert model_rates(result)["zoo-c"] == direct_errors(from_csv, zoo / "truth.csv", K)["zoo-c"]


@pytest.mark.parametrize(
    ("array", "images", "message"),
    [
        (np.array([[0, 1], [2, 3]]), ["a", "b", "c"], "2 rows, but"),
        (np.array([[0, 5], [2, 3]]), ["a", "b"], "outside 0..4"),
        (np.array([[0, 0], [2, 3]]), ["a", "b"], "give one class twice, first row 0 (image 'a')"),
        (np.array([[0.0, 1.0], [2.0, 3.0]]), ["a", "b"], "integer class indices"),
        (np.array([[0, 1], [2, 3]]), ["a", "a"], "'a' already on line 1"),
    ],
    ids=["rows", "range", "repeat", "float", "image-twice"],
)
def test_a_bad_class_index_array_is_a_clear_error(tmp_path, array, images, message):
    np.save(tmp_path / "m.npy", array)
    (tmp_path / "images.txt").write_text("\n".join(images))
    (tmp_path / "classes.txt").write_text("\n".join("vwxyz"))
    with pytest.raises(InputFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_prediction_file(
            tmp_path / "m.npy", image_list=tmp_path / "images.txt", class_list=tmp_path / "classes.txt"
        )


def test_an_object_array_is_refused_without_running_pickle(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[object()]], dtype=object), allow_pickle=True)
    (tmp_path / "i.txt").write_text("a")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(InputFileError, match="cannot read as a NumPy .npy array"):
        read_prediction_file(tmp_path / "m.npy", image_list=tmp_path / "i.txt", class_list=tmp_path / "c.txt")


def test_a_models_rate_comes_in_both_scopes_when_it_predicted_more_than_people_saw():
    raters = model_beyond_people()
    result = compare(raters, rule="top-1", k=1, n_boot=200)
    rates = result.rates.set_index(["scope", "phase", "rater"])
    assert rates.loc[("all", "(all)", "m"), "n"] == 40 and rates.loc[("all", "(all)", "m"), "error_rate"] == 0.5
    assert rates.loc[("shared", "test", "m"), "n"] == 10 and rates.loc[("shared", "test", "m"), "error_rate"] == 0.5
    assert rates.loc[("all", "test", "P2"), "error_rate"] == rates.loc[("shared", "test", "P2"), "error_rate"] == 0.5
    assert result.paired["n_images"].eq(10).all()  # paired statistics stay on the shared images
    text = result.summary()
    assert "Error rates on the shared images" in text and "Error rates on all of each model's images" in text
