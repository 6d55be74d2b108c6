"""Reading tidy prediction files: every malformation is named with its line."""

from __future__ import annotations

import pytest

from study_app.errors import Problem
from study_app.io.tidy_predictions import MAX_PROBLEMS_PER_KIND, read_predictions

HEADER = "model,image_id,rank,label_id,score\n"


def read(tmp_path, text, **known):
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    problems: list[Problem] = []
    return read_predictions(path, problems, "p.csv", **known), problems


def test_good_file_is_sorted_and_typed(tmp_path):
    frame, problems = read(tmp_path, HEADER + "m,b,2,y,0.1\nm,b,1,x,0.9\nm,a,1,x,\n")
    assert problems == []
    assert list(frame["image_id"]) == ["a", "b", "b"] and list(frame["rank"]) == [1, 1, 2]
    assert frame["score"].isna().tolist() == [True, False, False]


@pytest.mark.parametrize(
    "rows, field, line",
    [
        ("m,a,0,x,0.1\n", "rank", 2),
        ("m,a,1.5,x,0.1\n", "rank", 2),
        ("m,a,1,x,-1\n", "score", 2),
        ("m,a,1,x,inf\n", "score", 2),
        ("m,a,1,x,0.5\nm,a,3,y,0.1\n", "rank", 3),
        ("m,a,1,x,0.5\nm,a,1,y,0.1\n", "rank", 3),
        ("m,a,1,x,0.5\nm,a,2,x,0.1\n", "label_id", 3),
        (",a,1,x,0.5\n", "model", 2),
    ],
    ids=["rank-0", "rank-fraction", "negative", "inf", "gap", "dup-rank", "dup-label", "no-model"],
)
def test_malformed_rows(tmp_path, rows, field, line):
    frame, problems = read(tmp_path, HEADER + rows)
    assert frame is None
    assert any(p.field == field and p.line == line for p in problems), problems


def test_unknown_images_and_labels_are_named(tmp_path):
    frame, problems = read(tmp_path, HEADER + "m,a,1,x,1\nm,zz,1,qq,1\n", image_ids={"a"}, label_ids={"x"})
    assert frame is None
    assert {(p.field, p.line) for p in problems} == {("image_id", 3), ("label_id", 3)}
    assert {p.message for p in problems} == {
        "image_id not in the study's manifest: 'zz'",
        "label_id not in the study's label set: 'qq'",
    }


def test_a_rank_twice_does_not_hide_another_images_gap(tmp_path):
    frame, problems = read(tmp_path, HEADER + "m,a,1,x,0.5\nm,a,1,y,0.1\nm,b,1,x,0.5\nm,b,3,y,0.1\n")
    assert frame is None
    assert {(p.line, p.message) for p in problems} == {
        (3, "the same rank twice for one model and image"),
        (4, "ranks of one model and image must be 1..k without gaps"),
        (5, "ranks of one model and image must be 1..k without gaps"),
    }


def test_missing_columns_and_problem_cap(tmp_path):
    frame, problems = read(tmp_path, "model,image,rank\nm,a,1\n")
    assert frame is None and "missing column(s) image_id, label_id;" in problems[0].message
    many = HEADER + "".join(f"m,i{i},0,x,1\n" for i in range(100))
    frame, problems = read(tmp_path, many)
    assert len(problems) == MAX_PROBLEMS_PER_KIND + 1 and "90 more rows" in problems[-1].message


def test_bom_and_not_utf8(tmp_path):
    frame, problems = read(tmp_path, "\ufeff" + HEADER + "m,a,1,x,1\n")
    assert problems == [] and len(frame) == 1
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "m,caf\xe9,1,x,1\n").encode("latin-1"))
    found: list[Problem] = []
    assert read_predictions(path, found) is None and "UTF-8" in found[0].message
