"""A store in a folder whose name has URI characters opens read-only too (export, merge
inputs and check-store open stores read-only: a '?' once cut the path there)."""

from __future__ import annotations

import pytest

from study_app.store.results_store import ResultsStore
from tests.factory import make_study


@pytest.mark.parametrize("folder", ["what?", "take #2", "100% done", "a b"])
def test_a_store_under_a_folder_named_with_uri_characters_opens_read_only(tmp_path, folder):
    from study_app.protocol.study import load_study
    from study_app.session.controller import SessionController
    from tests.store.postgres.conftest import answer_all

    study = load_study(make_study(tmp_path / "tiny"))
    path = tmp_path / folder / "results.sqlite"
    with ResultsStore(path) as store:
        answer_all(SessionController(study, store, "A01"), limit=3)
    with ResultsStore(path, readonly=True) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 3
