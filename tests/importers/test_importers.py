"""Prediction files (tidy and wide) and answers tables from other tools."""

from __future__ import annotations

import pytest

from study_app.errors import InputFileError
from study_app.importers import read_answers, read_prediction_file, read_prediction_files
from study_app.stats import raters_from_answers

TIDY = "model,image_id,rank,label_id,score\nm1,i1,1,cat,0.9\nm1,i1,2,dog,0.1\nm2,i1,1,dog,\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_file_becomes_tidy_named_after_the_file(tmp_path):
    path = write(tmp_path, "resnet.csv", "image_id,top1,top2,top3\ni2,dog,cat,\ni1,cat,,\n")
    frame = read_prediction_file(path)
    assert frame[["model", "image_id", "rank", "label_id"]].values.tolist() == [
        ["resnet", "i1", 1, "cat"],
        ["resnet", "i2", 1, "dog"],
        ["resnet", "i2", 2, "cat"],
    ]
    assert frame["score"].isna().all()
    assert set(read_prediction_file(path, model="ResNet-50")["model"]) == {"ResNet-50"}


def test_wide_file_problems_are_listed_with_lines(tmp_path):
    path = write(tmp_path, "w.csv", "image_id,top1,top2\ni1,cat,cat\ni1,dog,\ni3,,dog\ni9,lion,\n")
    with pytest.raises(InputFileError) as caught:
        read_prediction_file(path, image_ids={"i1", "i3"}, label_ids={"cat", "dog"})
    found = {(p.line, p.message) for p in caught.value.problems}
    assert (2, "the same label twice for one image") in found
    assert (3, "the same image twice: 'i1'") in found
    assert (4, "an empty topN before a filled one; guesses must be top1..topK without gaps") in found
    assert (5, "image_id not in the study's manifest: 'i9'") in found and (
        5,
        "label not in the study's label set",
    ) in found
    with pytest.raises(InputFileError, match="top1..top2 without gaps"):
        read_prediction_file(write(tmp_path, "g.csv", "image_id,top1,top3\ni1,cat,dog\n"))
    with pytest.raises(InputFileError, match="neither tidy"):
        read_prediction_file(write(tmp_path, "x.csv", "id,guess\ni1,cat\n"))


def test_tidy_files_select_models_and_refuse_repeated_names(tmp_path):
    path = write(tmp_path, "p.csv", TIDY)
    assert set(read_prediction_file(path)["model"]) == {"m1", "m2"}
    assert read_prediction_file(path, model="m2")["label_id"].tolist() == ["dog"]
    with pytest.raises(InputFileError, match="no model 'm3'"):
        read_prediction_file(path, model="m3")
    with pytest.raises(InputFileError, match="image_id not in the study's manifest"):
        read_prediction_file(path, image_ids={"i2"})
    with pytest.raises(InputFileError, match="model 'm1' is also in"):
        read_prediction_files([path, write(tmp_path, "again.csv", TIDY)])
    with pytest.raises(InputFileError, match="predictions file not found"):
        read_prediction_file(tmp_path / "missing.csv")


def test_minimal_answers_table_is_completed(tmp_path):
    path = write(
        tmp_path, "answers.csv", "annotator,image_id,rank,label_id\nA,i1,1,cat\nA,i1,2,dog\nA,i2,,\nB,i2,1,dog\n"
    )
    answers = read_answers(path)
    assert answers["outcome"].tolist() == ["answer", "answer", "skip", "answer"]
    assert answers["trial"].tolist() == [0, 0, 1, 0]
    assert answers["trial_uuid"].nunique() == 3 and not answers["superseded"].any()
    table = raters_from_answers(answers, {"i1": ("dog",), "i2": ("dog",)}, k=2)
    assert table["correct_topk"].tolist() == [True, False, True]
    assert table["correct_top1"].tolist() == [False, False, True]
    with pytest.raises(InputFileError, match="needs at least annotator, image_id, label_id"):
        read_answers(write(tmp_path, "bad.csv", "who,image_id,label_id\nA,i1,cat\n"))
    with pytest.raises(InputFileError, match="rank must be a whole number"):
        read_answers(write(tmp_path, "rank.csv", "annotator,image_id,rank,label_id\nA,i1,x,cat\n"))


def test_parquet_files_tidy_and_wide(tmp_path):
    import pandas as pd

    tidy = pd.read_csv(write(tmp_path, "t.csv", TIDY), dtype={"model": str, "image_id": str, "label_id": str})
    tidy.to_parquet(tmp_path / "zoo.parquet")
    from_parquet = read_prediction_file(tmp_path / "zoo.parquet")
    assert (
        from_parquet.astype(object).fillna("").values.tolist()
        == read_prediction_file(tmp_path / "t.csv").astype(object).fillna("").values.tolist()
    )
    pd.DataFrame({"image_id": ["i2", "i1"], "top1": ["dog", "cat"], "top2": ["cat", None]}).to_parquet(
        tmp_path / "resnet.parquet"
    )
    wide = read_prediction_file(tmp_path / "resnet.parquet")
    assert wide[["model", "image_id", "rank", "label_id"]].astype(object).values.tolist() == [
        ["resnet", "i1", 1, "cat"],
        ["resnet", "i2", 1, "dog"],
        ["resnet", "i2", 2, "cat"],
    ]
    both = read_prediction_files([tmp_path / "zoo.parquet", tmp_path / "resnet.parquet"])
    assert sorted(both["model"].cat.categories) == ["m1", "m2", "resnet"] and len(both) == 6
