"""Which study class each model output means, including coarser label sets.

A model's outputs rarely match a study's classes one to one. With ``aggregate = "none"``
output *i* is the study class named on line *i* of the spec's label file (an id that is
not a study class is an error: a typo there would silently score the model wrong). With
``"sum"`` or ``"mean"`` each output is credited to the nearest study class above it in
the study's hierarchy (:meth:`LabelSet.path_to_root`), as in the 16-class
model-vs-human studies where 1000 ImageNet probabilities become 16 coarse ones; outputs
under no study class are dropped. Either way, study classes that no output reaches are
never guessed: the model competes only on the classes it knows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from study_app.errors import ModelSpecError, Problem
from study_app.models.spec import LabelsSpec
from study_app.protocol.labels import LabelSet

MAX_LISTED = 10


@dataclass(frozen=True)
class LabelMap:
    """Maps a batch of output scores (N, outputs) to scores of study classes (N, len(label_ids))."""

    label_ids: tuple[str, ...]
    n_outputs: int
    aggregate: str = "none"
    members: np.ndarray | None = None  # (outputs, classes) 0/1 matrix when aggregating
    dropped: int = 0

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if self.members is None:
            return scores
        combined = scores.astype(np.float64) @ self.members
        if self.aggregate == "mean":
            combined /= self.members.sum(axis=0)
        return combined

    def describe(self) -> dict:
        return {
            "aggregate": self.aggregate,
            "outputs": self.n_outputs,
            "study_classes_predicted": len(self.label_ids),
            "outputs_under_no_class": self.dropped,
        }


def build_label_map(spec: LabelsSpec, labels: LabelSet, display: str) -> LabelMap:
    """Check the spec's output ids against the study's labels and build the map.

    Raises :class:`ModelSpecError` naming the label file's lines for ids the study does
    not know (or, when aggregating, that are neither classes nor hierarchy nodes).
    """
    ids = spec.ids if spec.ids is not None else tuple(label.label_id for label in labels.classes)
    lines = spec.lines or (None,) * len(ids)
    known = labels.class_ids if spec.aggregate == "none" else labels.by_id.keys() | labels.parent_of.keys()
    unknown = [(label, line) for label, line in zip(ids, lines) if label not in known]
    if unknown:
        what = "study's label set" if spec.aggregate == "none" else "study's label set or hierarchy"
        problems = [
            Problem(
                spec.source,
                f"output {ids.index(label)} is {label!r}, which is not in the {what}",
                line=line,
                field="labels.file",
            )
            for label, line in unknown[:MAX_LISTED]
        ]
        if len(unknown) > MAX_LISTED:
            problems.append(
                Problem(spec.source, f"... and {len(unknown) - MAX_LISTED} more unknown label ids", field="labels.file")
            )
        raise ModelSpecError(problems, display)
    if spec.aggregate == "none":
        return LabelMap(tuple(ids), len(ids))
    label_map = _aggregating_map(ids, labels, spec.aggregate)
    if not label_map.label_ids:
        raise ModelSpecError(
            [Problem(spec.source, "no output lies under any class of the study's hierarchy", field="labels.aggregate")],
            display,
        )
    return label_map


def _aggregating_map(ids: tuple[str, ...], labels: LabelSet, aggregate: str) -> LabelMap:
    """Credit each output to the nearest study class on its path to the root."""
    class_ids = labels.class_ids
    owner: list[str | None] = [next((n for n in labels.path_to_root(i) if n in class_ids), None) for i in ids]
    reached = [c.label_id for c in labels.classes if c.label_id in set(owner)]
    column = {label: j for j, label in enumerate(reached)}
    members = np.zeros((len(ids), len(reached)))
    for i, label in enumerate(owner):
        if label is not None:
            members[i, column[label]] = 1.0
    return LabelMap(tuple(reached), len(ids), aggregate, members, owner.count(None))
