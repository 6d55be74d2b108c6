"""The search results and descriptions on the real 1000-class label set: hits through a kind."""

from __future__ import annotations

from PyQt5.QtCore import Qt

from study_app.gui.label_models import describe_label
from study_app.protocol.labels import Label, LabelSet
from tests.gui.keys import press, type_text
from tests.gui.test_picker_gui import open_first_trial, shown_results

FOLDING_CHAIR, DRUM = "n03376595", "n03249569"


def test_a_kind_finds_its_class_and_says_it_is_a_kind(qtbot, imagenet_session):
    """Issue #22 item 6: "deck chair" ranked barber chair first and "snare" gave snail and snakes."""
    window = open_first_trial(qtbot, imagenet_session, "K01")
    picker, slots = window.trial.picker, window.trial.slots
    type_text(qtbot, "deck chair")
    assert shown_results(window, 1) == ["folding chair  (deck chair: a kind of it)"]
    press(qtbot, Qt.Key_Return)
    type_text(qtbot, "snare")
    assert shown_results(window, 1) == ["drum  (snare: a kind of it)"]
    tooltip = picker.results_model.data(picker.results_model.index(0), Qt.ToolTipRole)
    first_kinds = "bass drum, gran casa, bongo, bongo drum, snare drum, snare, side drum, tabor"
    assert f"kinds: {first_kinds}, … (14 in all)" in tooltip
    assert "snare drum" in picker.details.text()  # the highlighted hit's description names its kinds
    press(qtbot, Qt.Key_Return)
    assert slots.labels == (FOLDING_CHAIR, DRUM)
    type_text(qtbot, "folding chair")  # its own name: shown plainly
    assert shown_results(window, 1) == ["folding chair"]
    imagenet_session.close(window)


def test_a_description_lists_a_few_kinds_escaped():
    labels = LabelSet((Label("drum", "drum", kinds=("snare <drum>", "tom-tom")), Label("cat", "cat")))
    text = describe_label(labels, "drum")
    assert "kinds: snare &lt;drum&gt;, tom-tom" in text and "kinds" not in describe_label(labels, "cat")
