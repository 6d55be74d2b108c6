"""Trial order: deterministic per annotator, different between annotators."""

from __future__ import annotations

import pytest

from study_app.errors import StudyError
from study_app.protocol.schedule import check_annotator_id, session_trials
from study_app.protocol.study import load_study


def test_order_is_reproducible_and_per_annotator(tiny_study):
    study = load_study(tiny_study)
    first = session_trials(study, "A01")
    assert first == session_trials(load_study(tiny_study), "A01")
    assert [t.phase for t in first] == ["training"] * 4 + ["test"] * 12
    assert sorted(t.image_id for t in first if t.phase == "test") == sorted(study.phase("test").image_ids)
    others = {tuple(t.image_id for t in session_trials(study, f"A{i:02d}")) for i in range(2, 12)}
    assert len(others) > 5


@pytest.mark.parametrize("good", ["A01", "p-12", "x.y_z", "7"])
def test_valid_ids(good):
    assert check_annotator_id(f" {good} ") == good


@pytest.mark.parametrize("bad", ["", "a b", "me@lab.org", "-x", "a" * 65, "../x", "Zoë"])
def test_invalid_ids(bad):
    with pytest.raises(StudyError, match="pseudonym"):
        check_annotator_id(bad)
