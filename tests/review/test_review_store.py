"""Reviews in the results store: revisions, resume, merging two reviewers' stores, export, checks."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from study_app.errors import StudyError
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.stats.error_taxonomy import reviewer_agreement
from study_app.store import ResultsStore, check_store, merge_stores
from study_app.store.reviews import export_reviews, review_conflicts, reviews_frame

HUMANS_TOP_1 = Selection(("all",), "top-1")


def review_all(study, store_path, reviewer, causes_of):
    """Review every error in order, giving ``causes_of(position, item)``; returns the items."""
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, HUMANS_TOP_1)
        controller = ReviewController(study, store, reviewer, items, False, selection)
        while controller.current() is not None:
            controller.save(causes_of(controller.position, controller.current()), note=f"by {reviewer}")
            controller.go_to(controller.next_position())
        controller.finish()
    return controller.items


def test_merging_two_reviewers_stores_is_idempotent(answered, tmp_path):
    study, base = answered
    first, second = tmp_path / "desk1.sqlite", tmp_path / "desk2.sqlite"
    shutil.copy(base, first)
    shutil.copy(base, second)
    # R1 says "other" for all 12; R2 agrees on the first 9 and says "multiple objects" for the last 3
    items = review_all(study, first, "R1", lambda i, item: ["other"])
    review_all(study, second, "R2", lambda i, item: ["other"] if i < 9 else ["multiple_objects"])
    merged = tmp_path / "merged.sqlite"
    report = merge_stores(merged, [first, second])
    assert report.added["reviews"] == 24 and report.added["review_sessions"] == 2 and report.added["trials"] == 16
    again = merge_stores(merged, [first, second])
    assert again.added["reviews"] == 0 and again.added["review_sessions"] == 0
    assert check_store(merged).ok and check_store(merged).counts["reviews"] == 24
    with ResultsStore(merged, readonly=True) as store:
        frame = reviews_frame(store)
        assert not review_conflicts(store)
    assert sorted(frame["reviewer"].value_counts().to_dict().items()) == [("R1", 12), ("R2", 12)]
    assert set(frame["item"]) == {item.item for item in items}
    kappa = reviewer_agreement(frame, study.taxonomy).set_index("cause")
    # "other": R1 ticks all 12, R2 9 -> agreement 9/12; one reviewer never varies, so p_e = 9/12 and kappa = 0
    assert kappa.loc["other", "n"] == 12 and kappa.loc["other", "agreement"] == pytest.approx(0.75)
    assert kappa.loc["other", "kappa"] == pytest.approx(0.0)
    assert kappa.loc["multiple_objects", ["both", "only_a", "only_b", "neither"]].tolist() == [0, 0, 3, 9]


def test_same_reviewer_on_two_machines_later_review_counts(answered, tmp_path):
    study, base = answered
    first, second = tmp_path / "desk1.sqlite", tmp_path / "desk2.sqlite"
    shutil.copy(base, first)
    shutil.copy(base, second)
    review_all(study, first, "R1", lambda i, item: ["other"])
    review_all(study, second, "R1", lambda i, item: ["multiple_objects"])
    merged = tmp_path / "merged.sqlite"
    merge_stores(merged, [first, second])
    with ResultsStore(merged, readonly=True) as store:
        conflicts = review_conflicts(store)
        current = reviews_frame(store)
    assert len(conflicts) == 12 and all(count == 2 for _, _, count in conflicts)
    assert len(current) == 12 and (current["causes"] == "multiple_objects").all()


def test_refusals_leave_the_store_unchanged(answered):
    study, store_path = answered
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
        controller = ReviewController(study, store, "R1", items, False, selection)
        with pytest.raises(StudyError, match="not offered"):
            controller.save(["small_thin"])
        with pytest.raises(StudyError, match="not a class"):
            controller.save(["other"], proposed_truth=["animal"])  # an inner node of the hierarchy
        with pytest.raises(StudyError, match="at least one cause"):
            controller.save([])
        with pytest.raises(StudyError, match="ground truth already"):  # a "correction" that changes nothing
            controller.save(["other"], proposed_truth=list(controller.current().truth))
        with pytest.raises(StudyError, match="not valid"):
            ReviewController(study, store, "reviewer@example.org", items, False, selection)
        assert store.conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0


def test_export_is_spreadsheet_safe_and_keeps_revisions(answered, tmp_path):
    study, store_path = answered
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
        controller = ReviewController(study, store, "R1", items, False, selection)
        controller.save(["other"], note="=HYPERLINK(1)")
        controller.save(["other", "fine_grained"], note="+revised", proposed_truth=["dog"])
        out = export_reviews(store, tmp_path / "reviews.csv")
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert table["note"].tolist() == ["'=HYPERLINK(1)", "'+revised"]
    assert table["superseded"].tolist() == ["True", "False"] and table["causes"].tolist() == [
        "other",
        "fine_grained;other",
    ]
    assert table["proposed_truth"].tolist() == ["", "dog"] and table["truth"].tolist() == ["cat", "cat"]


def test_check_store_finds_broken_reviews(answered, tmp_path):
    study, store_path = answered
    review_all(study, store_path, "R1", lambda i, item: ["other"])
    assert check_store(store_path).ok
    import sqlite3

    conn = sqlite3.connect(store_path)
    first, second = [row[0] for row in conn.execute("SELECT uuid FROM reviews ORDER BY reviewed_at LIMIT 2")]
    conn.execute("UPDATE reviews SET causes = '[]' WHERE uuid = ?", (first,))
    conn.execute("UPDATE reviews SET supersedes = ? WHERE uuid = ?", (first, second))
    conn.commit()
    conn.close()
    problems = check_store(store_path).problems
    assert any(p.startswith("1 reviews without a cause") for p in problems), problems
    assert any(p.startswith("1 review revisions that replace a review of another error") for p in problems), problems


def test_saving_an_unchanged_review_again_adds_no_row(answered):
    """Only a change makes a revision: a re-save would move the review's time, and with it
    which of a reviewer's proposals for one image counts."""
    study, store_path = answered
    with ResultsStore(store_path) as store:
        items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
        controller = ReviewController(study, store, "R1", items, False, selection)
        first = controller.save(["other"], "a note", ["dog"])
        assert controller.save(["other"], "a note ", ["dog"]) == first  # the same, up to the note's spaces
        changed = controller.save(["other"], "a longer note", ["dog"])
        rows = store.conn.execute("SELECT uuid, supersedes FROM reviews ORDER BY reviewed_at, rowid").fetchall()
    assert rows == [(first.uuid, None), (changed.uuid, first.uuid)]
