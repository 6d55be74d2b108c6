"""The public Python API: a study (or tidy files) -> a rater table -> a comparison or a report.

Each function is the command line's own path with the command's options as keyword
arguments and the command's defaults: :func:`load_raters` is what ``compare --study``
(:func:`~study_app.analysis.raters.study_raters`) or ``compare --truth``
(:func:`~study_app.analysis.raters.file_raters`) reads, :func:`compare` calls
:func:`study_app.stats.compare` on it as ``compare`` does, and :func:`write_report` writes
what ``report`` writes. So a notebook and ``python main.py compare --json`` give the same
numbers on the same store (``tests/test_public_api.py`` runs the README's example against
it). Nothing here prints; what a user can fix raises :class:`~study_app.errors.StudyError`.
Import it as ``import study_app as sa``: the package exports these names lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from study_app.analysis.raters import FileSource, RaterInputs, Reading, StudySource, file_raters, study_raters
from study_app.analysis.resampling import Resampling
from study_app.errors import StudyError
from study_app.protocol.study import Study, load_study

if TYPE_CHECKING:  # pandas and the statistics load when a function runs, not when the API is imported
    import pandas as pd

    from study_app.stats.compare import Comparison

#: What a report made from Python names as its command (the command line writes its own).
API_COMMAND = "study_app.write_report (Python)"


def load_raters(
    study: Study | str | Path | None = None,
    *,
    store: str | Path | None = None,
    truth: str | Path | None = None,
    answers: str | Path | None = None,
    predictions: Sequence[str | Path] = (),
    phases: Sequence[str] | None = None,
    k: int | None = None,
    rule: str | None = None,
    include_interrupted: bool = True,
    unknown_images: str = "error",
    image_list: str | Path | None = None,
    class_list: str | Path | None = None,
) -> RaterInputs:
    """Answers and model predictions as one rater table, every choice resolved.

    Either a study (a :class:`~study_app.protocol.study.Study`, or its name or folder:
    answers from ``store``, default ``results/<study>/results.sqlite``; predictions default
    to the study's own), or files: ``truth`` (a manifest CSV ``image_id,path,labels,split``)
    with ``answers`` (an answers table, e.g. from ``export``) and/or ``predictions``.

    ``phases`` default to the study's phases without feedback (with ``answers``, every phase
    in the file); ``k`` to the answers per trial of those phases, so models are scored by the
    rule people answered under; ``rule`` to ``all-valid`` for multi-label phases, else
    ``top-k``. ``include_interrupted=False`` leaves out trials during which the window lost
    focus (``--exclude-interrupted``); ``unknown_images`` (``"error"`` or ``"skip"``),
    ``image_list`` and ``class_list`` say how prediction files are read, as the command's
    options of the same names do.
    """
    reading = Reading(predictions, phases, k, rule, include_interrupted, unknown_images, image_list, class_list)
    if study is not None:
        if truth is not None or answers is not None:
            raise StudyError("give a study, or truth= with answers= and/or predictions=, not both")
        return study_raters(study if isinstance(study, Study) else load_study(study), store=store, reading=reading)
    if store is not None:
        raise StudyError(
            "store= holds a study's answers: give the study too, e.g. load_raters('demo-digits', store=...)"
        )
    if truth is None:
        raise StudyError("load_raters needs a study, or truth= (a manifest CSV) with answers= and/or predictions=")
    return file_raters(truth=truth, answers=answers, reading=reading)


def compare(
    data: RaterInputs | pd.DataFrame,
    *,
    alpha: float = 0.05,
    rule: str | None = None,
    k: int | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Every analysis of ``compare`` on what :func:`load_raters` returned: the same call, the same numbers.

    ``rule`` (``top-k``, ``top-1``, ``all-valid``) defaults to the one ``data`` resolved; ``k``
    is fixed when the table is scored, so for ``data`` from :func:`load_raters` it must be left
    out (or equal ``data.k``): ``load_raters(..., k=3)`` scores with 3. A rater table made
    otherwise (:func:`study_app.stats.rater_table`) needs ``k``, which the result reports.
    ``alpha`` is 1 - the confidence level and the level of the multiple-testing corrections;
    ``n_boot`` and ``seed`` are the bootstrap's.
    """
    from study_app.stats import compare as compare_raters

    resampling = Resampling(alpha=alpha, n_boot=n_boot, seed=seed)
    if not isinstance(data, RaterInputs):
        if k is None:
            raise StudyError("a rater table does not record the k it was scored with: pass k=")
        return compare_raters(data, rule=rule or "top-k", k=k, **resampling.keywords)
    if k is not None and k != data.k:
        raise StudyError(f"{data.name} was scored with k = {data.k}; load_raters(..., k={k}) scores it with {k}")
    return data.compare(resampling, rule=rule)


def write_report(
    data: RaterInputs,
    *,
    out: str | Path | None = None,
    alpha: float = 0.05,
    n_boot: int = 10_000,
    seed: int = 0,
    models: Sequence[str] = (),
    gallery_size: int = 12,
    top_rows: int = 20,
    psychometric_direction: str = "auto",
    command: str = API_COMMAND,
) -> list[Path]:
    """The report of ``report`` (HTML page, Markdown, figures, CSV tables) in ``out``.

    ``out`` defaults to ``results/<study>/report/``; ``models`` keeps only the named models
    (``--models``); ``gallery_size`` and ``top_rows`` are the images per gallery and rows per
    table shown; ``psychometric_direction`` (``auto``, ``increasing``, ``decreasing``) is
    how accuracy moves with a condition's level. With a study's store the error taxonomy of
    its reviews is included, as the command includes it. Returns the files written,
    ``index.html`` first.
    """
    from study_app.report.build import Settings, report_of

    settings = Settings(
        Resampling(alpha=alpha, n_boot=n_boot, seed=seed),
        gallery_size=gallery_size,
        top_rows=top_rows,
        psychometric_direction=psychometric_direction,
    )
    folder = Path(out) if out is not None else data.output_folder("report")
    return report_of(data, settings, folder, command=command, models=models, protected=_source_files(data))


def _source_files(data: RaterInputs) -> list[str | Path | None]:
    """The files ``data`` was read from, which no output may replace."""
    source = data.source
    if isinstance(source, StudySource):
        return [source.store]
    if isinstance(source, FileSource):
        return [source.truth, source.answers]
    return []
