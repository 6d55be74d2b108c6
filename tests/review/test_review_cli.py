"""The review command, compare --taxonomy and the report's taxonomy section, from the command line."""

from __future__ import annotations

import json

import pandas as pd

from study_app.cli.main import main
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.store import ResultsStore, export_answers


def review_people(study, store_path) -> None:
    """R1 reviews A01's three top-k errors: fine-grained, other, and img-004's truth corrected to dog."""
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
        controller = ReviewController(study, store, "R1", items, False, selection)
        for position, item in enumerate(controller.items):
            controller.go_to(position)
            if item.image_id == "img-004":
                controller.save(["incorrect_ground_truth"], "@it is a dog", ["dog"])
            else:
                controller.save(["fine_grained"] if item.image_id == "img-016" else ["other"])
        controller.finish()


def test_review_without_errors_or_with_unknown_raters(answered, capsys):
    study, store_path = answered
    args = ["review", "--study", str(study.root), "--store", str(store_path), "--reviewer", "R1"]
    assert main([*args, "--raters", "model-a"]) == 0
    assert "no errors to review for model-a" in capsys.readouterr().out
    assert main([*args, "--raters", "nobody"]) == 1
    assert "no rater 'nobody'" in capsys.readouterr().err
    assert main([*args, "--raters", "humans", "model-a"]) == 1
    assert main([*args, "--phase", "lunch"]) == 1 and "no phase 'lunch'" in capsys.readouterr().err
    typo = store_path.parent / "typo" / "results.sqlite"
    assert main(["review", "--study", str(study.root), "--store", str(typo), "--reviewer", "R1"]) == 1
    assert "no results store there" in capsys.readouterr().err and not typo.parent.exists()  # nothing created


def test_export_compare_and_report_show_the_reviews(answered, tmp_path, capsys):
    study, store_path = answered
    common = ["--study", str(study.root), "--store", str(store_path)]
    compare = ["compare", *common, "--n-boot", "200", "--out", str(tmp_path / "compare")]
    assert main([*compare, "--taxonomy"]) == 0
    assert "no reviews of this study yet" in capsys.readouterr().out
    with ResultsStore(store_path, readonly=True) as store:
        export_answers(store, tmp_path / "answers.csv")
    files = ["--answers", str(tmp_path / "answers.csv"), "--truth", str(study.root / "manifest.csv"), "--n-boot", "200"]
    assert main(["compare", *files, "--out", str(tmp_path / "files"), "--taxonomy"]) == 1
    assert "--taxonomy needs --study" in capsys.readouterr().err
    review_people(study, store_path)

    assert main(["review", *common, "--export", str(tmp_path / "reviews.csv")]) == 0
    exported = pd.read_csv(tmp_path / "reviews.csv", dtype=str, keep_default_na=False)
    assert len(exported) == 3 and "'@it is a dog" in set(exported["note"])
    assert capsys.readouterr().out.startswith("wrote ")

    assert main([*compare, "--taxonomy", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["taxonomy"]
    people = {row["cause"]: row for row in result["taxonomy"] if row["group"] == "humans"}
    assert (
        people["incorrect_ground_truth"]["count"] == 1
        and people["other"]["count"] == 1
        and people["fine_grained"]["count"] == 1
    )
    assert people["other"]["errors_reviewed"] == 3
    rescored = {row["rater"]: row for row in result["rescored_error_rates"]}
    assert (rescored["A01"]["errors_original"], rescored["A01"]["errors_reviewed"], rescored["A01"]["fixed"]) == (
        3,
        2,
        1,
    )
    assert (tmp_path / "compare" / "taxonomy.csv").is_file() and (
        tmp_path / "compare" / "rescored_error_rates.csv"
    ).is_file()

    out = tmp_path / "report"
    assert main(["report", *common, "--n-boot", "200", "--out", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert (
        "Error taxonomy" in page and "Causes of errors" in page and "Error rates with the reviewed ground truth" in page
    )
    causes = pd.read_csv(out / "tables" / "error_taxonomy.csv")
    assert causes.set_index(["group", "cause"]).loc[("humans", "fine_grained"), "count"] == 1
    assert (out / "figures" / "error-taxonomy.svg").is_file()
    corrections = pd.read_csv(out / "tables" / "truth_corrections.csv", dtype=str)
    assert corrections[["image_id", "original", "reviewed", "status"]].values.tolist() == [
        ["img-004", "cat", "dog", "corrected"]
    ]
