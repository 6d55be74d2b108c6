"""The label files' optional ``kinds`` column: read when present, not needed, checked like synonyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from study_app.errors import ProtocolError
from study_app.protocol.study import load_study
from tests.factory import CLASSES, write_csv

HEADER = ["label_id", "name", "synonyms", "definition", "kinds"]


def with_kinds(root: Path, kinds: dict[str, str]) -> None:
    """Rewrite the tiny study's labels.csv with a kinds column (cells as given, "" for the rest)."""
    write_csv(root / "labels.csv", HEADER, [(*row, kinds.get(row[0], "")) for row in CLASSES])


def test_kinds_are_read_when_the_column_is_there(tiny_study):
    with_kinds(tiny_study, {"cat": "tabby; Siamese cat ;;Maine coon", "bus": "minibus"})
    labels = load_study(tiny_study).labels
    assert labels["cat"].kinds == ("tabby", "Siamese cat", "Maine coon")
    assert labels["bus"].kinds == ("minibus",) and labels["dog"].kinds == ()
    assert "tabby" not in labels["cat"].all_names  # a kind is not another name for the class
    assert labels["animal"].kinds == ()  # nodes.csv has no kinds column


def test_label_files_without_the_column_still_load(tiny_study):
    assert "kinds" not in (tiny_study / "labels.csv").read_text().splitlines()[0]
    labels = load_study(tiny_study).labels
    assert all(label.kinds == () for label in labels.by_id.values())
    imagenet = load_study("demo-imagenet", check_images=False).labels
    digits = load_study("demo-digits", check_images=False).labels
    assert len(imagenet) == 1000 and sum(map(bool, (label.kinds for label in imagenet))) > 300
    assert len(digits) == 10 and not any(label.kinds for label in digits)


def test_a_kind_without_a_letter_or_one_of_the_labels_own_names_is_refused(tiny_study):
    """A kind that no one can type, or that is the class itself, is a mistake in the file:
    every such cell is reported with its line, as synonyms are."""
    with_kinds(tiny_study, {"cat": "tabby;--", "dog": "puppy;Domestic Dog", "car": "sedan"})
    rows = (tiny_study / "labels.csv").read_text().splitlines()
    rows[4] = rows[4].replace("bus;coach", "bus;coach;?!")  # a synonym checked the same way
    (tiny_study / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ProtocolError) as caught:
        load_study(tiny_study)
    found = sorted((p.line, p.field, p.message) for p in caught.value.problems)
    assert found == [
        (2, "kinds", "kind '--' has no letter or digit"),
        (
            3,
            "kinds",
            "kind 'Domestic Dog' of 'dog' is one of its own names: a kind names something more specific "
            "(list another name under synonyms)",
        ),
        (5, "synonyms", "synonym '?!' has no letter or digit"),
    ]
    assert all(p.file == "labels.csv" for p in caught.value.problems)
