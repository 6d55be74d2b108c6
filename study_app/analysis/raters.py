"""From a study's results store, tidy files or model-vs-human data to one rater table.

:func:`study_raters`, :func:`file_raters` and :func:`model_vs_human_raters` are the only
way a study or a set of files becomes the table the statistics read; ``compare``,
``report``, the error taxonomy and the Python API all call them, so they analyse the same
rows. Each returns a frozen :class:`RaterInputs` that carries, besides the table, every
choice it resolved (phases, correctness rule, k) and what a reader must be told (notes,
a pilot store's dry run): options are keyword-only and nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from study_app.analysis.notes import input_notes, is_pilot
from study_app.analysis.phases import analysed_trials, chosen_phases, default_phases
from study_app.analysis.resampling import Resampling
from study_app.analysis.sources import answers_file, read_predictions, study_answers, study_predictions
from study_app.errors import StudyError

if TYPE_CHECKING:  # pandas loads on first use: every start of the app would pay for it
    import pandas as pd

    from study_app.protocol.labels import LabelSet
    from study_app.protocol.study import Study
    from study_app.stats.compare import Comparison

#: The correctness rules a rater table can be scored by: the keys of :data:`study_app.stats.RULES`,
#: here without loading the statistics (the command line declares them as choices at start-up).
RULE_NAMES = ("top-k", "top-1", "all-valid")


@dataclass(frozen=True)
class Reading:
    """How answers and predictions are read and scored: the options :func:`study_raters` and
    :func:`file_raters` share, as the command line and :func:`study_app.load_raters` pass them on.

    ``phases``: default, a study's phases without feedback (a file's: every phase in it);
    ``k``: default the answers per trial of those phases (a file's: the most guesses a person
    gave; predictions alone: their most guesses), so that models are scored by the rule people
    answered under; ``rule``: default ``all-valid`` when every analysed phase is multi-label,
    else ``top-k``; ``include_interrupted=False`` leaves out the trials during which the window
    lost focus; ``predictions`` (a study's default: its own), ``unknown_images``, ``image_list``
    and ``class_list``: how prediction files are read (see
    :func:`~study_app.analysis.sources.read_predictions`).
    """

    predictions: Sequence[str | Path] = ()
    phases: Sequence[str] | None = None
    k: int | None = None
    rule: str | None = None
    include_interrupted: bool = True
    unknown_images: str = "error"
    image_list: str | Path | None = None
    class_list: str | Path | None = None


@dataclass(frozen=True)
class StudySource:
    """A study's answers from its results store (a file, or a PostgreSQL server URL)."""

    study: Study
    store: Path | str


@dataclass(frozen=True)
class FileSource:
    """An answers table (``None``: predictions alone) scored against a manifest's ground truth."""

    truth: Path
    answers: Path | None


@dataclass(frozen=True)
class BenchmarkSource:
    """Published model-vs-human trials (Geirhos et al. 2021): the raw-data folder and its data sets."""

    folder: Path
    datasets: tuple[str, ...]


Source = StudySource | FileSource | BenchmarkSource


@dataclass(frozen=True, repr=False)
class RaterInputs:
    """What ``compare`` and ``report`` analyse, the choices made for it, and what a reader must know about it."""

    #: Every trial of the analysed phases, people and models alike, and the model rows of
    #: images that no phase shows (phase ""): a model's error on all its images (scope ``all``).
    raters: pd.DataFrame
    phases: tuple[str, ...]
    #: ``top-k``, ``top-1`` or ``all-valid`` (the default for phases whose images have several valid labels).
    rule: str
    #: Guesses that count for top-k: as many as a person could give in the analysed phases, unless asked otherwise.
    k: int
    #: The study's name: it names the results folder of the outputs.
    name: str
    labels: LabelSet | None  # None for tidy files and model-vs-human data
    notes: tuple[str, ...]
    #: Simulated sessions only: a dry run, whose outputs must not replace the real ones.
    pilot: bool
    source: Source
    #: The answers read (after ``include_interrupted``) and the predictions: the error taxonomy
    #: re-scores exactly these against the reviewed ground truth.
    answers: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None

    def __repr__(self) -> str:
        return (
            f"RaterInputs(name={self.name!r}, phases={list(self.phases)}, rule={self.rule!r}, k={self.k}, "
            f"rows={len(self.raters)}, notes={len(self.notes)}, pilot={self.pilot})"
        )

    def pooled_raters(self) -> pd.DataFrame:
        """The rows the pooled statistics use: all of :attr:`raters`, except that model-vs-human
        data keeps only the conditions its benchmark keeps (the per-condition tables keep all)."""
        return benchmark_conditions(self.raters) if isinstance(self.source, BenchmarkSource) else self.raters

    def compare(self, resampling: Resampling, *, rule: str | None = None) -> Comparison:
        """Every analysis of ``compare`` on :meth:`pooled_raters`, scored as they were read (by
        :attr:`rule` unless another is asked for), with the labels and notes they came with:
        the one call behind the ``compare`` command and :func:`study_app.compare`."""
        from study_app.stats import compare

        return compare(
            self.pooled_raters(),
            rule=rule or self.rule,
            k=self.k,
            labels=self.labels,
            notes=self.notes,
            **resampling.keywords,
        )

    def output_folder(self, kind: str) -> Path:
        """``results/<study>/<kind>/`` (``<kind>-pilot/`` for a pilot store's dry run)."""
        from study_app.store.results_store import study_results_dir

        return study_results_dir(self.name) / (f"{kind}-pilot" if self.pilot else kind)


def study_raters(study: Study, *, store: str | Path | None = None, reading: Reading = Reading()) -> RaterInputs:
    """A study's stored answers and its models' predictions as one rater table.

    ``store``: the results store (default: the study's, ``results/<study>/results.sqlite``);
    ``reading``: how the answers and predictions are read and scored.
    """
    phases, k, rule = reading.phases, reading.k, reading.rule
    from study_app.io.store_url import printable_location
    from study_app.stats import image_phases, rater_table
    from study_app.store import ResultsStore, default_store_path
    from study_app.store.results_store import store_location

    _check_scoring(k, rule)
    store_path = store_location(store) if store else default_store_path(study)
    with ResultsStore(store_path, readonly=True) as opened:
        answers = study_answers(opened, study, include_interrupted=reading.include_interrupted)
    if answers.empty:
        raise StudyError(f"{printable_location(store_path)}: no answers for study {study.name!r} yet")
    predicted, skipped = study_predictions(
        study,
        reading.predictions,
        unknown_images=reading.unknown_images,
        image_list=reading.image_list,
        class_list=reading.class_list,
    )
    analysed = chosen_phases(phases, default_phases(study), [p.name for p in study.phases])
    chosen = [study.phase(name) for name in analysed]
    # Models are scored by the same rule as people: as many guesses as a person gave.
    people_k, pilot = max(p.answers for p in chosen), is_pilot(answers)
    notes = input_notes(answers[answers["phase"].isin(analysed)], k, people_k, pilot) + skipped
    k = k or people_k
    raters = with_conditions(
        rater_table(answers, predicted, study, k=k, labels=study.labels, phase_of=image_phases(study)), study
    )
    rule = rule or ("all-valid" if all(p.multi_label for p in chosen) else "top-k")
    return RaterInputs(
        analysed_trials(raters, analysed),
        tuple(analysed),
        rule,
        k,
        study.name,
        study.labels,
        tuple(notes),
        pilot,
        StudySource(study, store_path),
        answers,
        predicted,
    )


def file_raters(*, truth: str | Path, answers: str | Path | None = None, reading: Reading = Reading()) -> RaterInputs:
    """Answers and/or predictions from files, scored against a manifest's ground truth.

    ``truth``: a manifest CSV (``image_id,path,labels,split``); ``answers``: an answers table
    (CSV or Parquet, e.g. from ``export``), or ``None`` for predictions alone, which are scored
    on every image they predict; ``reading``: how they are read and scored.
    """
    predictions, phases, k, rule = reading.predictions, reading.phases, reading.k, reading.rule
    from study_app.stats import rater_table, truth_table
    from study_app.stats.rates import ALL_PHASES

    _check_scoring(k, rule)
    if not answers and phases:
        raise StudyError("--phase needs --answers: predictions alone have no phases")
    if not answers and not predictions:
        raise StudyError("nothing to analyse: give answers and/or predictions to score against the truth")
    truth_frame = truth_table(Path(truth))
    predicted: pd.DataFrame | None = None
    notes: list[str] = []
    if predictions:
        predicted, notes = read_predictions(
            predictions,
            set(truth_frame["image_id"]),
            unknown_images=reading.unknown_images,
            image_list=reading.image_list,
            class_list=reading.class_list,
        )
    answers_path = Path(answers) if answers else None
    source = FileSource(Path(truth), answers_path)
    if (
        answers_path is None
    ):  # predictions alone (refused above without them): models scored on every image they predicted
        alone = cast("pd.DataFrame", predicted)
        k = k or int(alone["rank"].max())
        raters = analysed_trials(rater_table(None, alone, truth_frame, k=k), [ALL_PHASES])
        return RaterInputs(
            raters,
            (ALL_PHASES,),
            rule or "top-k",
            k,
            Path(predictions[0]).stem,
            None,
            tuple(notes),
            False,
            source,
            None,
            alone,
        )
    given = answers_file(answers_path, include_interrupted=reading.include_interrupted)
    if given.empty:
        raise StudyError(f"{answers}: no answers")
    ranks = given["rank"].dropna() if "rank" in given.columns else []
    people_k, pilot = (int(max(ranks)) if len(ranks) else 1), is_pilot(given)
    present = sorted(given["phase"].astype(str).unique())
    analysed = chosen_phases(phases, present, present)
    notes = input_notes(given[given["phase"].astype(str).isin(analysed)], k, people_k, pilot) + notes
    k = k or people_k
    raters = analysed_trials(rater_table(given, predicted, truth_frame, k=k), analysed)
    studies = sorted(set(given["study"].astype(str)) - {""})
    name = studies[0] if len(studies) == 1 else answers_path.stem
    return RaterInputs(
        raters, tuple(analysed), rule or "top-k", k, name, None, tuple(notes), pilot, source, given, predicted
    )


def model_vs_human_raters(folder: str | Path, datasets: Sequence[str], *, k: int | None = None) -> RaterInputs:
    """Every trial of the model-vs-human raw data: one phase per data set, top-1, every condition kept
    (:meth:`RaterInputs.pooled_raters` gives the rows the benchmark pools)."""
    from study_app.importers import read_model_vs_human

    _check_scoring(k, None)
    names = tuple(sorted(set(datasets)))
    if not names:
        raise StudyError("name the model-vs-human data set(s) to analyse, e.g. uniform-noise")
    raters = analysed_trials(read_model_vs_human(Path(folder), names, benchmark_conditions_only=False), names)
    return RaterInputs(
        raters,
        names,
        "top-1",
        k or 1,
        "model-vs-human-" + "-".join(names),
        None,
        (),
        False,
        BenchmarkSource(Path(folder), names),
    )


def with_conditions(raters: pd.DataFrame, study: Study) -> pd.DataFrame:
    """The rater table with its ``condition`` column filled from the study's manifest, for
    people and models alike: a stimulus has an image id of its own, so a model's prediction
    for ``src@0.35`` belongs to condition 0.35 as a person's answer does ("" without conditions)."""
    from study_app.stats.raters import per_image

    condition_of = study.conditions()
    return raters.assign(condition=per_image(raters["image_id"], lambda image_id: condition_of.get(image_id, "")))


def benchmark_conditions(raters: pd.DataFrame) -> pd.DataFrame:
    """The rows at conditions the model-vs-human benchmark keeps (as ``report`` and the benchmark
    metrics read them); the per-condition tables keep every level of the raw files."""
    from study_app.importers.model_vs_human import EXCLUDED_CONDITIONS
    from study_app.stats.conditions import condition_level

    excluded = {
        (dataset, condition_level(level)) for dataset, levels in EXCLUDED_CONDITIONS.items() for level in levels
    }
    keep = [
        (phase, level) not in excluded
        for phase, level in zip(raters["phase"].astype(str), raters["condition"].astype(str))
    ]
    return raters[keep].reset_index(drop=True)


def _check_scoring(k: int | None, rule: str | None) -> None:
    """A Python caller's ``k`` and ``rule`` are held to what the command line's options accept."""
    if k is not None and k < 1:
        raise StudyError(f"k must be at least 1, not {k}")
    if rule is not None and rule not in RULE_NAMES:
        raise StudyError(f"rule must be one of {', '.join(RULE_NAMES)}, not {rule!r}")
