"""Small rater tables written out in full, so every expected number can be checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.protocol.labels import Label, LabelSet
from study_app.stats import raters_from_guesses


def top1_table(answers: dict[str, str], truth: str, models: tuple[str, ...] = (), phase: str = "test") -> pd.DataFrame:
    """Raters' top-1 answers as strings, one character per image: ``answers["A"] = "aab-"``.

    ``truth`` is the true label of each image, one character each; ``-`` is a non-answer
    (a timeout), ``.`` an image the rater did not see. Raters named in ``models`` are
    models, the rest annotators. Image ids are ``img0``, ``img1``, ...
    """
    rows = []
    for rater, labels in answers.items():
        assert len(labels) == len(truth), rater
        for index, label in enumerate(labels):
            if label == ".":
                continue
            rows.append(
                {
                    "rater": rater,
                    "kind": "model" if rater in models else "human",
                    "image_id": f"img{index}",
                    "phase": phase,
                    "trial": index,
                    "rt_ms": 500.0 + index if rater not in models else float("nan"),
                    "outcome": "timeout" if label == "-" else "answer",
                    "rank": None if label == "-" else 1,
                    "label_id": "" if label == "-" else label,
                }
            )
    return raters_from_guesses(pd.DataFrame(rows), {f"img{i}": (t,) for i, t in enumerate(truth)}, k=1)


def correctness_table(patterns: dict[str, str], models: tuple[str, ...] = (), phase: str = "test") -> pd.DataFrame:
    """Raters' correctness as strings of ``1`` (right) and ``0`` (wrong), one per image (``.``: not seen)."""
    length = len(next(iter(patterns.values())))
    answers = {rater: "".join({"1": "a", ".": "."}.get(c, "b") for c in pattern) for rater, pattern in patterns.items()}
    return top1_table(answers, "a" * length, models, phase)


def animals_and_vehicles() -> LabelSet:
    """cat, dog (animal) and car, bus (vehicle); animal and vehicle under entity."""
    classes = tuple(Label(i, i) for i in ("cat", "dog", "car", "bus", "apple"))
    nodes = tuple(Label(i, i, is_class=False) for i in ("animal", "vehicle", "entity"))
    parents = {
        "cat": "animal",
        "dog": "animal",
        "car": "vehicle",
        "bus": "vehicle",
        "animal": "entity",
        "vehicle": "entity",
    }
    return LabelSet(classes, nodes, parents)


def model_beyond_people() -> pd.DataFrame:
    """A rater table where a model predicted 40 images and two annotators saw the first 10.

    P1 is always right, P2 right on half of its images; the model answers "a" everywhere, so
    it is wrong on half of the 40 and on half of the 10 shared ones.
    """
    from study_app.stats import rater_table

    truth = {f"i{n}": [("a", "b")[n % 2]] for n in range(40)}
    answers = pd.DataFrame(
        {
            "annotator": np.repeat(["P1", "P2"], 10),
            "phase": "test",
            "image_id": [f"i{n}" for n in range(10)] * 2,
            "trial": list(range(10)) * 2,
            "trial_uuid": [f"t{n}" for n in range(20)],
            "rank": 1,
            "label_id": ["a", "b"] * 5 + ["b", "b"] * 5,
            "rt_ms": 800.0,
            "outcome": "answer",
        }
    )
    predictions = pd.DataFrame({"model": "m", "image_id": list(truth), "rank": 1, "label_id": "a", "score": np.nan})
    return rater_table(answers, predictions, truth, k=1)
