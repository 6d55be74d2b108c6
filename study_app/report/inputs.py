"""What a report is made from, gathered from a results store, tidy files or model-vs-human data.

Each source yields a :class:`ReportData`: the rater table of the analysed phases, the
correctness rule, the label names, where the images are (for the galleries), and the
provenance facts a reader needs to trust the numbers (protocol hash, annotators,
sessions, dates, app versions, the command that made the report). The rater table
itself comes from :mod:`study_app.analysis.raters`, as ``compare``'s does
(:func:`report_data`), so the two commands never differ on what they analyse.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from study_app.analysis.raters import BenchmarkSource, FileSource, RaterInputs, StudySource
from study_app.errors import InputFileError, Problem, StudyError
from study_app.io.csvfiles import read_csv
from study_app.io.images import DEFAULT_MAX_PIXELS, sha256_file
from study_app.io.paths import PathEscapeError, resolve_inside
from study_app.io.privacy import without_home
from study_app.io.store_url import printable_location
from study_app.protocol.counterbalance import level_order
from study_app.protocol.labels import LabelSet
from study_app.protocol.study import Study
from study_app.stats import HUMAN, MODEL, shown_images_only
from study_app.stats.raters import stimulus_codes
from study_app.version import __version__

Facts = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReportData:
    """Inputs of :func:`study_app.report.build.build_document`.

    ``reviews`` is the hook for the error taxonomy (a later feature): a table with one
    row per reviewed error, at least ``rater`` and ``category``, already tallied by the
    statistics that will come with it. Without it the taxonomy section is left out.
    """

    name: str
    raters: pd.DataFrame
    rule: str
    k: int
    facts: Facts
    labels: LabelSet | None = None
    image_paths: Mapping[str, Path] = field(default_factory=dict)
    max_pixels: int = DEFAULT_MAX_PIXELS
    reviews: pd.DataFrame | None = None
    #: What the reader must know about the inputs (e.g. repeated trials left out).
    notes: tuple[str, ...] = ()
    #: Every trial and prediction with ground truth (``raters`` keeps models to the stimuli
    #: annotators saw): the source of each rater's error on all its images (scope ``all``).
    every_trial: pd.DataFrame | None = None

    def label_name(self, label_id: str) -> str:
        """Display name of a label id (the id itself when the label set does not know it)."""
        if self.labels is not None and label_id in self.labels.by_id:
            return self.labels.by_id[label_id].name
        return label_id

    def with_models(self, models: Sequence[str]) -> ReportData:
        """Keep only the named models (all annotators stay); unknown names are an error."""
        present = set(self.raters.loc[self.raters["kind"] == MODEL, "rater"].astype(str))
        unknown = sorted(set(models) - present)
        if unknown:
            raise StudyError(f"no model {unknown[0]!r} in the data; models: {', '.join(sorted(present)) or 'none'}")

        def chosen(table: pd.DataFrame) -> pd.DataFrame:
            keep = (table["kind"] != MODEL) | table["rater"].astype(str).isin(set(models))
            return table[keep.to_numpy()].reset_index(drop=True)

        return replace(
            self, raters=chosen(self.raters), every_trial=None if self.every_trial is None else chosen(self.every_trial)
        )


def _join(values: Iterable[object]) -> str:
    return ", ".join(sorted({str(v) for v in values if str(v)})) or "not recorded"


def _people(raters: pd.DataFrame) -> list[str]:
    return sorted(raters.loc[raters["kind"] == HUMAN, "rater"].astype(str).unique())


def _images_per_phase(raters: pd.DataFrame) -> str:
    stimulus = pd.Series(stimulus_codes(raters)[0], index=raters.index)  # one image at two conditions: two stimuli
    counts = stimulus.groupby(raters["phase"], observed=True, sort=True).nunique()
    return ", ".join(f"{phase}: {n}" for phase, n in counts.items())


def _rater_facts(raters: pd.DataFrame) -> Facts:
    """Who rated what in the analysed phases."""
    people = _people(raters)
    models = sorted(raters.loc[raters["kind"] == MODEL, "rater"].astype(str).unique())
    return (
        ("analysed phases", ", ".join(sorted(raters["phase"].astype(str).unique()))),
        ("images analysed per phase", _images_per_phase(raters)),
        ("annotators", f"{len(people)}: {', '.join(people)}"),
        ("models", f"{len(models)}: {', '.join(models)}" if models else "none"),
    )


def _answer_facts(answers: pd.DataFrame, manifest: Mapping | None) -> Facts:
    """Sessions, dates and program versions from the answers table and its run manifest."""
    sessions = set(answers["session"].astype(str)) - {""}
    times = sorted(t for t in answers["answered_at"].astype(str) if t)
    versions = [s["app_version"] for s in (manifest or {}).get("sessions", []) if s["uuid"] in sessions]
    return (
        ("sessions", str(len(sessions)) if sessions else "not recorded"),
        ("answers given", f"{times[0]} to {times[-1]} (UTC)" if times else "not recorded"),
        ("app version of the sessions", _join(versions)),
    )


def _closing_facts(source: str, command: str) -> Facts:
    """Where the data came from and the command; paths in the home folder shown as ``~/...``."""
    return (
        ("source", without_home(source)),
        ("report made by", f"study-app {__version__}"),
        ("command", without_home(command)),
    )


def _study_facts(study: Study) -> Facts:
    phases = ", ".join(f"{p.name}: {len(p.image_ids)}" for p in study.phases)
    counts = Counter(study.conditions().values())
    conditions = (
        (("images per condition (protocol)", ", ".join(f"{c}: {counts[c]}" for c in level_order(counts))),)
        if counts
        else ()
    )
    return (
        ("study", f"{study.name} {study.version}: {study.title}"),
        ("protocol hash", study.protocol_hash),
        ("classes", str(len(study.labels))),
        ("images per phase (protocol)", phases),
        *conditions,
    )


def report_data(inputs: RaterInputs, command: str = "") -> ReportData:
    """The report's inputs from the analysis' rater table, with the provenance of its source.

    The report's tables are about the stimuli people saw (models' rows of other images are
    left out); ``every_trial`` keeps each rater's error on all its images. Model-vs-human data
    is reported as its benchmark pools it (:func:`from_model_vs_human`).
    """
    source = inputs.source
    if isinstance(source, BenchmarkSource):
        return from_model_vs_human(source.folder, source.datasets, command)
    raters = shown_images_only(inputs.raters)
    if isinstance(source, StudySource):
        data = from_study_store(raters, inputs.rule, inputs.k, source.study, source.store, command)
    elif isinstance(source, FileSource) and source.answers is not None:
        data = from_files(
            raters,
            rule=inputs.rule,
            k=inputs.k,
            name=inputs.name,
            answers_path=source.answers,
            truth_path=source.truth,
            command=command,
        )
    else:
        raise StudyError("a report compares annotators with models: predictions alone need answers too (--answers)")
    return replace(data, notes=inputs.notes, every_trial=inputs.raters)


def from_study_store(
    raters: pd.DataFrame, rule: str, k: int, study: Study, store_path: Path | str, command: str
) -> ReportData:
    """A study's stored answers (``raters`` as ``compare`` builds them) with the study's provenance."""
    from study_app.store import ResultsStore, answers_frame, run_manifest

    with ResultsStore(store_path, readonly=True) as store:
        answers = answers_frame(store)
        manifest = run_manifest(store)
    answers = answers[answers["study"] == study.name]
    facts = (
        _study_facts(study)
        + _rater_facts(raters)
        + _answer_facts(answers, manifest)
        + _closing_facts(f"results store {printable_location(store_path)}", command)
    )
    paths = {image_id: record.path for image_id, record in study.images.items()}
    return ReportData(study.name, raters, rule, k, facts, study.labels, paths, study.max_pixels)


def from_files(
    raters: pd.DataFrame, *, rule: str, k: int, name: str, answers_path: Path, truth_path: Path, command: str
) -> ReportData:
    """An answers table and a manifest (the tidy inputs of ``compare``).

    The run manifest that ``export`` writes beside the table, when present, supplies the
    protocol hash and the app versions; the manifest's image paths feed the galleries.
    """
    from study_app.importers import read_answers
    from study_app.store.export import manifest_path

    answers = read_answers(answers_path)
    run = _read_run_manifest(manifest_path(answers_path))
    hashes = [
        s["protocol_hash"] for s in (run or {}).get("studies", []) if s["name"] in set(answers["study"].astype(str))
    ]
    classes = raters["truth"].astype(str).nunique()
    facts = (
        (
            ("study", name),
            ("protocol hash", _join(hashes)),
            ("classes", f"{classes} among the ground-truth labels of the analysed images"),
        )
        + _rater_facts(raters)
        + _answer_facts(answers, run)
        + _closing_facts(f"answers {answers_path}, ground truth {truth_path}", command)
    )
    return ReportData(name, raters, rule, k, facts, image_paths=manifest_image_paths(truth_path))


def _read_run_manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(
            [Problem(str(path), f"cannot read the run manifest ({exc}); move it away to report without it")]
        ) from None


def manifest_image_paths(manifest: Path) -> dict[str, Path]:
    """Image id -> file from a manifest's ``path`` column; paths leaving its folder are skipped."""
    problems: list[Problem] = []
    rows = read_csv(manifest, ("image_id", "path"), problems) or []
    paths = {}
    for row in rows:
        try:
            paths[str(row.get("image_id"))] = resolve_inside(manifest.parent, str(row.get("path")))
        except PathEscapeError:
            continue  # never shown; the gallery says the image is unavailable
    return paths


def from_model_vs_human(root: Path, datasets: Sequence[str], command: str) -> ReportData:
    """Published model-vs-human trials (Geirhos et al. 2021): one phase per data set, top-1.

    The raw data has no images, dates or protocol; its provenance is the SHA-256 of the
    trial files read.
    """
    from study_app.importers import read_model_vs_human
    from study_app.importers.model_vs_human import dataset_files

    raters = shown_images_only(read_model_vs_human(root, datasets))
    files = [path for name in sorted(set(datasets)) for path in dataset_files(root / name)]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    facts = (
        (
            ("study", "model-vs-human (Geirhos et al. 2021), data set(s) " + ", ".join(sorted(set(datasets)))),
            ("protocol hash", f"SHA-256 over the {len(files)} trial files: {digest.hexdigest()}"),
            ("classes", f"{raters['truth'].astype(str).nunique()} (16-class forced choice)"),
        )
        + _rater_facts(raters)
        + (
            ("sessions", "1 per subject"),
            ("answers given", "not recorded in the raw data"),
            ("app version of the sessions", "not applicable (published data)"),
        )
        + _closing_facts(f"model-vs-human raw data {root}", command)
    )
    name = "model-vs-human-" + "-".join(sorted(set(datasets)))
    return ReportData(name, raters, "top-1", 1, facts)
