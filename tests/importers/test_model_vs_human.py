"""The published model-vs-human benchmark values, reproduced from the raw trial data.

Published (``published/benchmark_table_humanlike.tex`` and ``benchmark_table_accuracy.tex``
in /work/shared/data/model-vs-human): per model the accuracy difference, observed
consistency and error consistency, each computed per model, human subject and kept
condition, then averaged over conditions, subjects and the 17 data sets; and the OOD
accuracy (pooled within a data set, averaged over data sets).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from study_app.errors import InputFileError
from study_app.importers import read_model_vs_human
from study_app.importers.model_vs_human import short_image_id
from study_app.stats import humanlike_metrics, ood_accuracy
from study_app.stats.conditions import condition_level

DATA = Path("/work/shared/data/model-vs-human")
RAW = DATA / "raw-data"
pytestmark = pytest.mark.skipif(not RAW.is_dir(), reason="model-vs-human data not available")

PUBLISHED = {  # model: (accuracy difference, observed consistency, error consistency, OOD accuracy)
    "simclr_resnet50x1": (0.080, 0.667, 0.179, 0.596),
    "resnet50": (0.087, 0.665, 0.208, 0.559),
    "bagnet33": (0.156, 0.567, 0.137, 0.398),
}


@pytest.fixture(scope="module")
def benchmark_raters():
    return read_model_vs_human(RAW)


def published_table(name: str) -> dict[str, list[float]]:
    """Rows of a published LaTeX table: model plotting name -> numbers (\\textbf removed)."""
    rows = {}
    for line in (DATA / "published" / name).read_text().splitlines():
        cells = [c.strip().replace("\\textbf{", "").replace("}", "").rstrip("\\").strip() for c in line.split("&")]
        if len(cells) > 2 and cells[0] in ("SimCLR-x1", "ResNet-50", "BagNet-33"):
            rows[cells[0]] = [float(c) for c in cells[1:]]
    return rows


def test_published_tables_are_what_the_test_expects():
    humanlike, accuracy = (
        published_table("benchmark_table_humanlike.tex"),
        published_table("benchmark_table_accuracy.tex"),
    )
    names = {"simclr_resnet50x1": "SimCLR-x1", "resnet50": "ResNet-50", "bagnet33": "BagNet-33"}
    for model, values in PUBLISHED.items():
        assert tuple(humanlike[names[model]][:3]) == values[:3]
        assert accuracy[names[model]][0] == values[3]


def test_humanlike_metrics_reproduce_the_published_table(benchmark_raters):
    table = humanlike_metrics(benchmark_raters).set_index("model")
    assert set(table.index) == set(PUBLISHED)
    for model, (difference, observed, error, _) in PUBLISHED.items():
        row = table.loc[model]
        assert round(row["accuracy_difference"], 3) == difference
        assert round(row["observed_consistency"], 3) == observed
        assert round(row["error_consistency"], 3) == error
        assert row["n_datasets"] == 17


def test_ood_accuracy_reproduces_the_published_table(benchmark_raters):
    table = ood_accuracy(benchmark_raters).set_index("model")["ood_accuracy"]
    for model, values in PUBLISHED.items():
        assert round(table[model], 3) == values[3]


def test_all_conditions_match_the_toolbox_performances_and_trial_counts():
    raters = read_model_vs_human(RAW, benchmark_conditions_only=False)
    humans = raters[raters["kind"] == "human"]
    assert len(humans) == 85_120  # the paper's count of human trials
    assert (raters["outcome"] == "timeout").sum() == 597  # 'na' responses, counted as errors
    assert not raters.loc[raters["outcome"] == "timeout", "correct_top1"].any()
    accuracy = raters[raters["kind"] == "model"].groupby(["rater", "phase"], observed=True)["correct_top1"].mean()
    for path in sorted((RAW / "performances").glob("*.csv")):
        published = pd.read_csv(path)
        top1 = published[published["metric_name"] == "accuracy (top-1)"]
        for row in top1.itertuples():
            assert accuracy[(row.subj, row.dataset_name)] == pytest.approx(row.performance, abs=1e-12)


def test_image_ids_conditions_and_rater_names():
    assert short_image_id("0001_cop_s01_c30_knife_10_n03041632_7380.png") == "n03041632_7380.png"
    assert short_image_id("0001_edg_s01_0_oven_00_oven10.png") == "oven10.png"
    assert short_image_id("airplane1-bicycle2.png") == "airplane1-bicycle2.png"
    assert [condition_level(c) for c in ("0.90", "3", "inf", "false", "c30", "1-10-10", "NaN")] == [
        "0.9",
        "3",
        "inf",
        "false",
        "c30",
        "1-10-10",
        "",
    ]
    raters = read_model_vs_human(RAW, datasets=["edge"])
    assert sorted(raters.loc[raters["kind"] == "model", "rater"].astype(str).unique()) == sorted(PUBLISHED)
    assert "edge:subject-01" in set(raters["rater"].astype(str))
    assert raters["image_id"].astype(str).str.startswith("edge/").all() and (raters["condition"] == "").all()
    per_image = raters.groupby("image_id", observed=True)["rater"].nunique()
    assert per_image.eq(13).all()  # 10 subjects and 3 models saw every image


def test_a_missing_excluded_condition_is_an_error(tmp_path):
    folder = tmp_path / "raw" / "contrast"
    folder.mkdir(parents=True)
    for path in (RAW / "contrast").glob("*.csv"):
        lines = path.read_text().splitlines()
        (folder / path.name).write_text("\n".join(line for line in lines if ",c100," not in line) + "\n")
    with pytest.raises(InputFileError, match="c100 not found"):
        read_model_vs_human(tmp_path / "raw")
    shutil.copytree(RAW / "performances", tmp_path / "raw" / "performances")
    assert len(read_model_vs_human(tmp_path / "raw", benchmark_conditions_only=False)) == 7 * 1120
