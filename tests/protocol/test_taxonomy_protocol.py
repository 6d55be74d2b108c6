"""A protocol's [review] table: a custom taxonomy loads; every mistake is reported with file:line [field]."""

from __future__ import annotations

import pytest

from study_app.errors import ProtocolError
from study_app.protocol.study import load_study
from study_app.protocol.taxonomy import DEFAULT_TAXONOMY
from tests.factory import make_study

GOOD = """
[review]

[[review.causes]]
key = "blur"
name = "motion blur"
applies_to = "both"
shortcut = "b"
description = "the object is blurred"

[[review.causes]]
key = "tiny"
name = "object too small"
applies_to = "models"
shortcut = "F5"
"""

BAD = """
[review]
colour = "red"

[[review.causes]]
key = "blur"
name = "motion blur"
applies_to = "both"
shortcut = "1"

[[review.causes]]
key = "blur"
name = "blur again"
applies_to = "people"
shortcut = "Ctrl+2"

[[review.causes]]
key = "Help Me"
name = "help"
applies_to = "humans"
shortcut = "F1"

[[review.causes]]
key = "dup_key"
name = "same key as the first"
applies_to = "humans"
shortcut = "1"

[[review.causes]]
name = "no key"
applies_to = "humans"
shortcut = 3
"""


def study_with(tmp_path, table: str):
    root = make_study(tmp_path / "tiny")
    (root / "study.toml").write_text((root / "study.toml").read_text(encoding="utf-8") + table, encoding="utf-8")
    return root


def test_default_taxonomy_is_the_ilsvrc_papers(tiny_study):
    taxonomy = load_study(tiny_study, check_images=False).taxonomy
    assert taxonomy == DEFAULT_TAXONOMY
    sides = {side: [c.name for c in taxonomy.causes if c.applies_to == side] for side in ("both", "humans", "models")}
    assert sides == {
        "both": ["multiple objects", "incorrect ground truth", "other"],
        "humans": ["fine-grained recognition", "class unawareness", "insufficient training data"],
        "models": ["small or thin objects", "image filters or distortions", "abstract representation"],
    }
    assert [c.shortcut for c in taxonomy.causes] == [str(n) for n in range(1, 10)]


def test_a_custom_taxonomy_replaces_the_default(tmp_path):
    taxonomy = load_study(study_with(tmp_path, GOOD), check_images=False).taxonomy
    assert [(c.key, c.shortcut, c.applies_to) for c in taxonomy.causes] == [
        ("blur", "B", "both"),
        ("tiny", "F5", "models"),
    ]
    assert [c.key for c in taxonomy.offered("human")] == ["blur"] and len(taxonomy.offered(None)) == 2


def test_every_mistake_is_reported_with_its_line_and_field(tmp_path):
    root = study_with(tmp_path, BAD)
    with pytest.raises(ProtocolError) as caught:
        load_study(root, check_images=False)
    problems = [p for p in caught.value.problems if p.field and p.field.startswith("review")]
    text = (root / "study.toml").read_text(encoding="utf-8").splitlines()

    def found(field: str, words: str) -> int:
        hits = [p for p in problems if p.field == field and words in p.message]
        assert hits, (field, words, [str(p) for p in problems])
        assert hits[0].file == "study.toml"
        return hits[0].line

    assert text[found("review.colour", "unknown key 'colour'") - 1].startswith("colour")
    assert text[found("review.causes.1.key", "already used by cause 1") - 1] == 'key = "blur"'
    assert text[found("review.causes.1.applies_to", "humans, models, both") - 1] == 'applies_to = "people"'
    assert text[found("review.causes.1.shortcut", "no modifiers") - 1] == 'shortcut = "Ctrl+2"'
    assert text[found("review.causes.2.key", "lower-case") - 1] == 'key = "Help Me"'
    assert text[found("review.causes.2.shortcut", "review window itself") - 1] == 'shortcut = "F1"'
    assert text[found("review.causes.3.shortcut", "already used by cause 1") - 1] == 'shortcut = "1"'
    assert text[found("review.causes.4", "missing required key 'key'") - 1] == "[[review.causes]]"
    assert text[found("review.causes.4.shortcut", "must be a string") - 1] == "shortcut = 3"
    assert "study.toml:" in str(caught.value)
