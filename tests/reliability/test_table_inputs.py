"""Label sets, manifests, hierarchies, examples and predictions from other labs: clear errors, located."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from study_app.errors import InputFileError, Problem
from study_app.importers.predictions import read_prediction_file
from study_app.io.tidy_predictions import MAX_PROBLEMS_PER_KIND, read_predictions
from tests.io.test_predictions import HEADER, read
from tests.reliability.helpers import only, problems_of


def append_row(root, file: str, row: str) -> int:
    """Append a CSV row; returns its line number."""
    path = root / file
    text = path.read_text(encoding="utf-8")
    path.write_text(text + row + "\n", encoding="utf-8")
    return text.count("\n") + 1


# -- label sets ---------------------------------------------------------------------


def test_label_file_missing_column(tiny_study):
    (tiny_study / "labels.csv").write_text("label_id,title\ncat,cat\n", encoding="utf-8")
    problem = only(problems_of(tiny_study), "missing column(s) name")
    assert problem.file == "labels.csv" and problem.line == 1


def test_duplicate_label_ids(tiny_study):
    line = append_row(tiny_study, "labels.csv", "dog,another dog,,")
    problem = only(problems_of(tiny_study), "duplicate label_id 'dog'")
    assert (problem.file, problem.line, problem.field) == ("labels.csv", line, "label_id")


def test_label_id_with_space_or_separator(tiny_study):
    line = append_row(tiny_study, "labels.csv", "sea lion,sea lion,,")
    line2 = append_row(tiny_study, "labels.csv", "a;b,ab,,")
    problems = problems_of(tiny_study)
    assert only(problems, "'sea lion' contains spaces").line == line
    assert only(problems, "'a;b' contains spaces").line == line2


def test_hierarchy_unknown_second_parent_and_cycle(tiny_study):
    unknown = append_row(tiny_study, "hierarchy.csv", "cat,mammal")
    second = append_row(tiny_study, "hierarchy.csv", "cat,vehicle")
    append_row(tiny_study, "hierarchy.csv", "animal,vehicle")
    cycle = append_row(tiny_study, "hierarchy.csv", "vehicle,animal")
    problems = problems_of(tiny_study)
    assert only(problems, "parent 'mammal' is neither").line == unknown
    assert only(problems, "second parent 'vehicle'").line == second
    assert "cycle in the hierarchy" in only(problems, "cycle").message
    assert any(p.line in (cycle, cycle - 1) for p in problems if "cycle" in p.message)


def test_examples_unknown_label_and_missing_image(tiny_study):
    unknown = append_row(tiny_study, "examples.csv", "lion,images/img-001.png")
    missing = append_row(tiny_study, "examples.csv", "cat,images/nope.png")
    problems = problems_of(tiny_study)
    assert only(problems, "unknown label_id 'lion'").line == unknown
    assert only(problems, "example image not found").line == missing


# -- manifests ----------------------------------------------------------------------


def test_manifest_missing_columns(tiny_study):
    (tiny_study / "manifest.csv").write_text("image_id,file,labels\nx,images/img-003.png,cat\n", encoding="utf-8")
    problem = only(problems_of(tiny_study), "missing column(s) path, split")
    assert problem.file == "manifest.csv" and problem.line == 1


def test_duplicate_image_ids(tiny_study):
    line = append_row(tiny_study, "manifest.csv", "img-003,images/img-004.png,cat,test")
    problem = only(problems_of(tiny_study), "duplicate image_id 'img-003'")
    assert problem.line == line and "first on line 2" in problem.message


def test_unknown_label_and_missing_image_in_manifest(tiny_study):
    unknown = append_row(tiny_study, "manifest.csv", "x1,images/img-001.png,cat;lion,test")
    missing = append_row(tiny_study, "manifest.csv", "x2,images/nowhere.png,cat,test")
    problems = problems_of(tiny_study)
    assert only(problems, "unknown label 'lion'").line == unknown
    assert only(problems, "image file not found: images/nowhere.png").line == missing


def test_mixed_encodings_name_the_first_bad_line(tiny_study):
    path = tiny_study / "labels.csv"
    lines = path.read_bytes().split(b"\n")
    lines.insert(3, "tiger,tiger,Tigre \u00e9t\u00e9,".encode("latin-1"))  # one row saved as Latin-1
    path.write_bytes(b"\n".join(lines))
    problem = only(problems_of(tiny_study), "not UTF-8")
    assert problem.file == "labels.csv" and problem.line == 4 and "0xe9" in problem.message


def test_ragged_rows_and_unclosed_quotes(tiny_study):
    extra = append_row(tiny_study, "manifest.csv", "x3,images/img-001.png,cat,test,surplus")
    problems = problems_of(tiny_study)
    assert only(problems, "more cells than header columns").line == extra
    (tiny_study / "labels.csv").write_text('label_id,name\ncat,"cat\ndog,dog\n', encoding="utf-8")
    assert any(p.file == "labels.csv" for p in problems_of(tiny_study))


def test_oversized_csv_field_is_a_clear_error(tiny_study):
    append_row(tiny_study, "labels.csv", "huge,huge," + "x" * 200_000 + ",")
    problem = only(problems_of(tiny_study), "malformed CSV")
    assert problem.file == "labels.csv"


# -- predictions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, field, line",
    [
        ("m,a,1,x,nan\n", "score", 2),
        ("m,a,1,x,NaN\n", "score", 2),
        ("m,a,1,x,-0.5\n", "score", 2),
        ("m,a,1,x,abc\n", "score", 2),
        ("m,a,1e400,x,0.1\n", "rank", 2),
        ("m,a,99999999999999999999999,x,0.1\n", "rank", 2),
        ("m,a,-1,x,0.1\n", "rank", 2),
        ("m,a,,x,0.1\n", "rank", 2),
        ("m,a,2,x,0.5\nm,a,3,y,0.1\n", "rank", 2),
        ("m,,1,x,0.5\n", "image_id", 2),
    ],
    ids=[
        "nan",
        "NaN",
        "negative",
        "text",
        "rank-inf",
        "rank-huge",
        "rank-negative",
        "rank-blank",
        "no-rank-1",
        "no-image",
    ],
)
def test_bad_prediction_rows(tmp_path, rows, field, line):
    frame, problems = read(tmp_path, HEADER + rows)
    assert frame is None
    assert any(p.field == field and p.line == line for p in problems), [str(p) for p in problems]


def test_unknown_images_labels_and_missing_columns(tmp_path):
    frame, problems = read(tmp_path, HEADER + "m,a,1,x,1\nm,ghost,1,nolabel,1\n", image_ids={"a"}, label_ids={"x"})
    assert frame is None and {(p.field, p.line) for p in problems} == {("image_id", 3), ("label_id", 3)}
    frame, problems = read(tmp_path, "model,image_id,rank\nm,a,1\n")
    assert (
        frame is None and problems[0].line == 1 and "missing column(s) label_id;" in problems[0].message
    )  # score is optional
    frame, problems = read(tmp_path, "model,image_id,rank,label_id\nm,a,1,x\n")
    assert problems == [] and frame["score"].isna().all()


def test_duplicate_header_after_stripping_is_refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("model,image_id,rank,label_id,score, model\nm,a,1,x,1,n\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="model"):
        read_prediction_file(path)


def test_wide_file_problems(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("image_id,top1,top2\na,x,\nb,,y\nc,x,x\na,y,x\n", encoding="utf-8")
    with pytest.raises(InputFileError) as caught:
        read_prediction_file(path)
    located = {(p.line, p.message) for p in caught.value.problems}
    assert (3, "an empty topN before a filled one; guesses must be top1..topK without gaps") in located
    assert (4, "the same label twice for one image") in located
    assert (5, "the same image twice: 'a'") in located
    path.write_text("image_id,top1,top2\na,x,y\nd,x,y,z\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="Expected 3 fields in line 3"):
        read_prediction_file(path)


def test_wide_file_with_gap_in_columns(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("image_id,top1,top3\na,x,y\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="top1..top2 without gaps"):
        read_prediction_file(path)


def test_million_row_predictions_file(tmp_path):
    """1,000,000 rows (200,000 images x top-5) read and checked in seconds; one bad row among them is found."""
    images = 200_000
    image_ids = np.repeat([f"img{i:06d}" for i in range(images)], 5)
    ranks = np.tile(np.arange(1, 6), images)
    labels = np.array([f"c{j}" for j in range(10)])[(np.arange(images * 5) * 7) % 10]
    frame = pd.DataFrame({"model": "m", "image_id": image_ids, "rank": ranks, "label_id": labels, "score": 0.2})
    frame.loc[frame.groupby("image_id").cumcount() > 0, "label_id"] = [
        f"c{j}" for j in range(1, 5)
    ] * images  # distinct labels
    frame.loc[frame["rank"] == 1, "label_id"] = "c0"
    path = tmp_path / "million.csv"
    frame.to_csv(path, index=False)
    started = time.monotonic()
    problems: list[Problem] = []
    good = read_predictions(path, problems, "million.csv", label_ids={f"c{j}" for j in range(10)})
    assert problems == [] and len(good) == 1_000_000
    assert good["rank"].max() == 5 and good["image_id"].nunique() == images
    frame.loc[777_777, "score"] = -1.0
    frame.loc[12, "rank"] = 9
    frame.to_csv(path, index=False)
    assert read_predictions(path, problems, "million.csv") is None
    assert {(p.field, p.line) for p in problems} >= {("score", 777_779)}
    assert time.monotonic() - started < 120  # a loose guard against quadratic work, not a benchmark


def test_problem_flood_is_capped(tmp_path):
    frame, problems = read(tmp_path, HEADER + "".join(f"m,i{i},1,x,-1\n" for i in range(5000)))
    assert frame is None and len(problems) == MAX_PROBLEMS_PER_KIND + 1 and "4990 more rows" in problems[-1].message


CELL = st.one_of(
    st.sampled_from(
        ["", "m", "a", "b", "x", "y", "1", "2", "3", "0", "-1", "0.5", "nan", "inf", "1e999", " 1 ", "é", "=1"]
    ),
    st.text(max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL), max_size=12))
def test_any_prediction_table_is_read_or_refused_cleanly(tmp_path_factory, rows):
    """Property: any table of cells gives either a frame whose ranks are 1..k per model and image,
    or problems that each name the file; nothing else escapes."""
    path = tmp_path_factory.mktemp("p") / "p.csv"
    pd.DataFrame(rows, columns=["model", "image_id", "rank", "label_id", "score"]).to_csv(path, index=False)
    problems: list[Problem] = []
    frame = read_predictions(path, problems, "p.csv")
    if frame is None:
        assert problems and all(p.file == "p.csv" for p in problems)
        return
    assert problems == []
    for _, group in frame.groupby(["model", "image_id"]):
        assert list(group["rank"]) == list(range(1, len(group) + 1))
    assert (frame["score"].isna() | (frame["score"] >= 0)).all()
