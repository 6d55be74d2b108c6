"""Reading tidy prediction files (CSV, Parquet): every malformation is named with its line, in columns of codes."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from study_app.errors import Problem
from study_app.io import tidy_predictions
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


# --- the columnar reader: pyarrow's batches and pandas' re-read give one answer ----------------


def frame_rows(frame):
    return None if frame is None else [[str(v) for v in row] for row in frame.astype(object).values.tolist()]


@pytest.mark.parametrize(
    "body",
    [
        "m,b,2,y,0.1\nm,b,1,x,0.9\nm,a,1,x,\n",
        "m, b ,2, y,0.1\nm,b,1,x , 0.9\n",  # blanks around values: stripped
        'm, "b",1,x,0.5\n',  # a quote after a blank: pandas' reading (the quotes go)
        '"m","b,c",1,x,0.5\n',
        "m,b,1,x\n",  # a short line: no score
        "m,b,1.0,x,1e-3\n\nm,b,2,y,0.1\n",  # a blank line; a rank written as a float
        "m,b,1,x, 0.5 \n",
        "m,b,1,x,0.12345678901234567891\nm,b,2,y,1e-320\n",
    ],
    ids=["plain", "blanks", "quote-after-blank", "quoted-comma", "short-line", "blank-line", "score-blanks", "digits"],
)
def test_both_csv_readers_agree(tmp_path, monkeypatch, body):
    """Whatever pyarrow reads is read as the pandas re-read reads it; the re-read is forced here."""
    fast, fast_problems = read(tmp_path, HEADER + body)
    monkeypatch.setattr(tidy_predictions, "_arrow_csv_columns", not_plain)
    slow, slow_problems = read(tmp_path, HEADER + body)
    assert frame_rows(fast) == frame_rows(slow) and fast_problems == slow_problems == []


def not_plain(*args):
    raise tidy_predictions._NotPlain


def test_a_file_out_of_order_is_sorted_and_its_repeats_are_the_later_lines(tmp_path):
    frame, problems = read(tmp_path, HEADER + "m2,b,2,y,0.1\nm1,b,1,x,0.9\nm2,b,1,x,0.9\nm1,b,2,y,0.1\n")
    assert problems == [] and frame_rows(frame) == [
        ["m1", "b", "1", "x", "0.9"],
        ["m1", "b", "2", "y", "0.1"],
        ["m2", "b", "1", "x", "0.9"],
        ["m2", "b", "2", "y", "0.1"],
    ]
    assert frame["rank"].dtype == np.int8 and isinstance(frame["label_id"].dtype, pd.CategoricalDtype)
    # rank 2 comes first in the file: the rank-1 row is the repeat of its label
    _, problems = read(tmp_path, HEADER + "m,a,2,x,0.1\nm,a,1,x,0.9\n")
    assert [(p.line, p.field) for p in problems] == [(3, "label_id")]


def test_long_rankings_find_repeated_labels_by_sorting(tmp_path):
    ranks = list(range(1, 21))
    rows = "".join(f"m,a,{r},l{r if r != 19 else 4},0.1\n" for r in reversed(ranks))
    _, problems = read(tmp_path, HEADER + rows)
    # rank 19 (line 3) comes before rank 4 (line 18) in the file: line 18 is the repeat
    assert [(p.line, p.message) for p in problems] == [(18, "the same label twice for one model and image")]


def test_parquet_predictions_read_as_the_csv(tmp_path):
    text = HEADER + "m,b,2,y,0.1\nm,b,1,x,0.9\nm,a,1,x,\n"
    from_csv, _ = read(tmp_path, text)
    table = pd.read_csv(io.StringIO(text), dtype={"model": "category", "image_id": str, "label_id": str})
    table["rank"] = table["rank"].astype(np.int64)
    table.to_parquet(tmp_path / "p.parquet")
    problems: list[Problem] = []
    from_parquet = read_predictions(tmp_path / "p.parquet", problems, "p.parquet")
    assert problems == [] and frame_rows(from_parquet) == frame_rows(from_csv)
    table.loc[1, "label_id"] = None  # a null is an empty cell; Parquet rows are named by number
    table.to_parquet(tmp_path / "p.parquet")
    assert read_predictions(tmp_path / "p.parquet", problems, "p.parquet") is None
    assert [str(p) for p in problems] == ["p.parquet [label_id]: row 2: empty label_id"]
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert read_predictions(tmp_path / "broken.parquet", problems, "broken.parquet") is None
    assert "cannot read as a Parquet file" in problems[-1].message
