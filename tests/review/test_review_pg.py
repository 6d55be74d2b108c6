"""Reviews on the PostgreSQL results store: the same rows, revisions and resume as on SQLite."""

from __future__ import annotations

from study_app.protocol.study import load_study
from study_app.review.controller import ReviewController
from study_app.review.items import Selection, study_errors
from study_app.store import ResultsStore
from study_app.store.reviews import current_reviews, review_conflicts, reviews_frame
from tests.factory import make_study
from tests.review.conftest import fill
from tests.store.postgres.conftest import pg_server, pg_url  # noqa: F401 - the server fixtures

SAME_COLUMNS = [
    "reviewer",
    "blind",
    "item",
    "rater",
    "rater_kind",
    "phase",
    "image_id",
    "guesses",
    "truth",
    "causes",
    "note",
    "proposed_truth",
    "superseded",
]


def review_twice(store: ResultsStore, study) -> list:
    """R1 reviews A01's errors, quits after one, resumes, and revises the first."""
    items, selection = study_errors(study, store, None, Selection(("humans",), "top-k"))
    first = ReviewController(study, store, "R1", items, False, selection)
    first.save(["fine_grained"], "one", ["dog"], 1000.0)
    first.finish()
    again = ReviewController(study, store, "R1", items, False, selection)
    assert again.position == 1 and again.resumed
    while again.current() is not None and again.position < len(items):
        again.save(["other"], "", None, 500.0)
        again.go_to(again.next_position())
    again.go_to(0)
    again.save(["fine_grained", "multiple_objects"], "revised", ["dog"], 700.0)
    again.finish()
    return items


def test_reviews_on_postgres_match_sqlite(tmp_path, pg_url):  # noqa: F811 - a fixture
    study = load_study(make_study(tmp_path / "tiny"), check_images=False)
    frames = []
    for location in (pg_url, tmp_path / "results.sqlite"):
        with ResultsStore(location) as store:
            fill(store, study)
            review_twice(store, study)
            frame = reviews_frame(store, include_superseded=True)
            assert not review_conflicts(store) and len(current_reviews(store, "R1")) == 3
        frames.append(frame)
    on_server, on_file = frames
    assert len(on_server) == 4 and on_server["superseded"].sum() == 1
    key = ["rater", "image_id", "reviewer", "superseded"]
    server = on_server.sort_values(key).reset_index(drop=True)[SAME_COLUMNS]
    local = on_file.sort_values(key).reset_index(drop=True)[SAME_COLUMNS]
    # the items name trial UUIDs, which differ between the two runs: compare what they point at
    assert (server.drop(columns="item") == local.drop(columns="item")).all().all()
