"""From inputs to a finished report folder: run the statistics, assemble, write the files.

:func:`analyse` is the only place that calls the statistics engine;
:func:`build_document` arranges its results into sections; :func:`write_report` writes
``index.html``, ``report.md``, ``figures/*.svg|png``, ``tables/*.csv`` and
``thumbnails/*.png``, and the list of those files (:data:`OWNED_FILES`), the only
files a later report replaces. They are separate so that a notebook can pass a
:class:`~study_app.stats.Comparison` it already has, and a benchmark can time the
statistics and the rendering apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from study_app.analysis.condition_outputs import ConditionResults, analyse_conditions
from study_app.analysis.raters import RaterInputs
from study_app.analysis.resampling import Resampling
from study_app.io.csv_safety import safe_csv_text
from study_app.io.output_guard import OutputRefusedError, check_output, check_output_folder, write_bytes, write_files
from study_app.io.ranges import GALLERY_SIZE, TOP_ROWS
from study_app.protocol.responses import utc_now
from study_app.report import figures, tables
from study_app.report.conditions_section import conditions_section
from study_app.report.document import Block, Document, Figure, Gallery, Section, Table
from study_app.report.gallery import model_galleries
from study_app.report.html import render_html
from study_app.report.inputs import ReportData, report_data
from study_app.report.markdown import render_markdown
from study_app.report.taxonomy_section import taxonomy_section, with_reviews
from study_app.stats import HUMAN, MODEL, RULES, Comparison, compare, error_rates, plurality_vote


@dataclass(frozen=True)
class Settings:
    """Choices that change numbers (alpha, bootstrap) or only what is shown (rows, images)."""

    resampling: Resampling = Resampling()
    gallery_size: int = 12
    top_rows: int = 20
    learning_blocks: int = 10
    #: Does accuracy rise or fall with the condition level ("auto": the annotators' trend decides).
    psychometric_direction: str = "auto"
    #: Pairwise tables longer than this (error consistency, label agreement, paired
    #: comparisons) are summarised on the page; their CSV files keep every pair.
    pair_rows: int = 60

    def __post_init__(self) -> None:
        GALLERY_SIZE.check("gallery_size", self.gallery_size, whole=True)
        TOP_ROWS.check("top_rows", self.top_rows, whole=True)


@dataclass(frozen=True)
class Analysis:
    """Every statistic the report shows, as the engine returned it.

    ``rates`` maps a rule title (``top-1``, ``top-5``) to its error-rate table;
    ``learning`` maps a phase to the error rates of its blocks of trials (one "rater"
    per block, named ``first-last`` trial) and the blocks' first and last trials.
    """

    comparison: Comparison
    rates: dict[str, pd.DataFrame]
    learning: dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray]]
    #: Per-condition rates, fits and consistency; None for data without conditions.
    conditions: ConditionResults | None = None


def rule_title(rule: str, k: int) -> str:
    return f"top-{k}" if rule == "top-k" and k > 1 else ("top-1" if rule == "top-k" else rule)


def analyse(data: ReportData, settings: Settings, comparison: Comparison | None = None) -> Analysis:
    """Run the statistics engine for everything the report shows (``comparison`` if already run)."""
    resampling = settings.resampling.keywords
    comparison = comparison or compare(
        data.raters if data.every_trial is None else data.every_trial,
        rule=data.rule,
        k=data.k,
        labels=data.labels,
        notes=data.notes,
        **resampling,
    )
    main = rule_title(data.rule, data.k)
    rates = {main: comparison.rates[comparison.rates["scope"] == "shared"]}
    if main != "top-1":
        rates = {
            "top-1": error_rates(data.raters, correct="correct_top1", **resampling),
            **rates,
        }
    correct = RULES[data.rule]
    learning = {}
    for phase, rows in data.raters.groupby("phase", observed=True, sort=True):
        human = rows[(rows["kind"] == HUMAN) & rows["trial"].notna()]
        if not human.empty:
            learning[str(phase)] = _learning_blocks(human, correct, settings)
    conditions = analyse_conditions(
        data.raters,
        data.labels,
        correct=correct,
        direction=settings.psychometric_direction,
        resampling=settings.resampling,
    )
    return Analysis(comparison, rates, learning, conditions)


def _learning_blocks(
    human: pd.DataFrame, correct: str, settings: Settings
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Error rate (with Wilson interval) of each block of trials, from :func:`error_rates`.

    Each block is given to the engine as a rater of its own kind, so it gets the
    single-rater intervals and no pooled-annotator bootstrap.
    """
    trial = human["trial"].to_numpy(dtype=np.int64)
    edges = np.unique(np.linspace(trial.min(), trial.max() + 1, settings.learning_blocks + 1).astype(np.int64))
    block = np.searchsorted(edges, trial, side="right") - 1
    width = len(str(edges[-1]))
    names = np.array(
        [f"{edges[i]:0{width}d}-{edges[i + 1] - 1:0{width}d}" for i in range(len(edges) - 1)], dtype=object
    )
    blocks = human.assign(rater=names[block], kind="trials")
    rates = error_rates(blocks, correct=correct, **settings.resampling.keywords)
    used = np.unique(block)
    return rates, edges[used], edges[used + 1] - 1


def slugs(names: Iterable[str]) -> dict[str, str]:
    """File-name-safe, distinct short names (phases and models may be named anything)."""
    found: dict[str, str] = {}
    for name in sorted(set(names)):
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "x"
        slug, n = base, 1
        while slug in found.values():
            n += 1
            slug = f"{base}-{n}"
        found[name] = slug
    return found


def _all_images(comparison: Comparison) -> tuple[Table, ...]:
    """The scope-``all`` table, when some rater has more images than the shared ones."""
    beyond = comparison.rates_beyond_shared()
    return (tables.all_images(beyond),) if not beyond.empty else ()


def build_document(
    data: ReportData, settings: Settings, analysis: Analysis, generated_at: str | None = None
) -> Document:
    """Arrange the analysis into the report's sections (nothing is computed here)."""
    comparison = analysis.comparison
    phases = sorted(data.raters["phase"].astype(str).unique())
    phase_slug = slugs(phases)
    models = sorted(data.raters.loc[data.raters["kind"] == MODEL, "rater"].astype(str).unique())
    model_slug = slugs(models)
    main = rule_title(data.rule, data.k)
    level = f"{100 * (1 - settings.resampling.alpha):g}%"
    settings_facts = (
        (
            "correctness rule",
            f"{main}: "
            + {
                "top-k": f"right if any of the first {data.k} guesses is a valid label",
                "top-1": "right if the first guess is a valid label",
                "all-valid": "right if every guess is a valid label",
            }[data.rule],
        ),
        (
            "intervals",
            f"{level}; bootstrap with {settings.resampling.n_boot} replicates, seed {settings.resampling.seed}",
        ),
        *((f"note {i}", note) for i, note in enumerate(comparison.notes, start=1)),
    )
    headline = tables.headline(analysis.rates)
    pooled = (
        f" These rates pool all condition levels ({analysis.conditions.analysis.levels}); "
        "the Conditions section gives them level by level."
        if analysis.conditions
        else ""
    )
    sections = [
        Section(
            "study",
            "The study",
            "What was compared, on which images, by whom, and how this report was made.",
            (tables.facts_table(data.facts + settings_facts),),
        ),
        Section(
            "errors",
            "Error rates",
            "Each annotator, the annotators pooled (their mean and three crowds, defined in "
            f"the notes of the study table) and each model, with {level} intervals.{pooled}",
            (
                headline,
                *(
                    figures.error_dots(f"error-rates-{phase_slug[p]}", headline.data[headline.data["phase"] == p], main)
                    for p in phases
                ),
                *_all_images(comparison),
            ),
        ),
        *([conditions_section(analysis.conditions, phase_slug)] if analysis.conditions else []),
        _paired_section(comparison, data, settings),
        _agreement_section(comparison, settings, phases, phase_slug),
        _class_section(data, settings, comparison, phase_slug, model_slug),
        Section(
            "confusions",
            "Most confused pairs",
            "The most frequent wrong top-1 answers, for the annotators together and for each model.",
            (tables.confusions(comparison.confusions, data.label_name),) if not comparison.confusions.empty else (),
        ),
        _learning_section(analysis, phase_slug),
        Section(
            "times",
            "Response times",
            "Are wrong answers slower?",
            (tables.response_times(comparison.response_times),) if not comparison.response_times.empty else (),
        ),
        _gallery_section(data, settings, phases, models, phase_slug, model_slug),
    ]
    if data.reviews is not None:
        sections.append(taxonomy_section(data.reviews))
    return Document(f"Annotators vs models: {data.name}", generated_at or utc_now(), tuple(sections))


def _paired_section(comparison: Comparison, data: ReportData, settings: Settings) -> Section:
    if comparison.paired.empty:
        return Section("paired", "Paired comparisons", "No model predictions: there is nothing to pair.")
    low, high = int(comparison.paired["n_images"].min()), int(comparison.paired["n_images"].max())
    counted = f"{low}" if low == high else f"from {low} to {high}"
    intro = (
        f"Each pair of raters is compared only on the stimuli both of them saw ({counted} per pair: the n column), "
        "stimulus by stimulus; the annotators' mean and vote are paired with a model on the stimuli annotators saw."
    )
    annotators = set(data.raters.loc[data.raters["kind"] == HUMAN, "rater"].astype(str).unique())
    blocks: list[Table] = [tables.paired(comparison.paired, annotators, settings.pair_rows)]
    if not comparison.population.empty:
        blocks.append(tables.population(comparison.population))
    if not comparison.models.empty:
        blocks.append(tables.several_models(comparison.models))
    return Section("paired", "Paired comparisons", intro, tuple(blocks))


def _agreement_section(
    comparison: Comparison, settings: Settings, phases: list[str], phase_slug: dict[str, str]
) -> Section:
    pairs = comparison.consistency
    blocks: list[Table | Figure] = []
    if not pairs.empty:
        blocks.append(tables.consistency(pairs, settings.resampling.alpha, settings.pair_rows))
        blocks += [
            figures.consistency_heatmap(f"consistency-{phase_slug[p]}", pairs[pairs["phase"] == p])
            for p in phases
            if (pairs["phase"] == p).any()
        ]
    if not comparison.consistency_differences.empty:
        blocks.append(tables.consistency_differences(comparison.consistency_differences, settings.resampling.alpha))
    if not comparison.label_agreement.empty:
        blocks.append(tables.label_agreement(comparison.label_agreement, settings.resampling.alpha, settings.pair_rows))
    return Section(
        "agreement", "Agreement", "Do raters err on the same images? Do annotators give the same labels?", tuple(blocks)
    )


def _class_section(
    data: ReportData, settings: Settings, comparison: Comparison, phase_slug: dict[str, str], model_slug: dict[str, str]
) -> Section:
    per_class = comparison.classes
    if per_class.empty:
        return Section("classes", "Per-class errors", "No model predictions: no per-class comparison.")
    profiles = comparison.class_correlation
    scatters = []
    for (phase, model), rows in per_class[per_class["level"] == "class"].groupby(["phase", "model"], sort=True):
        profile = profiles[
            (profiles["phase"] == phase) & (profiles["model"] == model) & (profiles["level"] == "class")
        ].iloc[0]
        text = (
            f"Spearman rho {tables.number(profile['spearman_rho'])} (p "
            f"{tables.number(profile['spearman_p'])}); {profile['n_significant']} classes differ."
        )
        scatters.append(
            figures.class_scatter(f"class-scatter-{phase_slug[phase]}-{model_slug[model]}", rows, model, text)
        )
    blocks: tuple[Block, ...] = (
        tables.classes(per_class, data.label_name, settings.top_rows),
        tables.class_correlation(profiles),
        *scatters,
    )
    return Section(
        "classes",
        "Per-class errors",
        "Where the annotators and each model err, class by class (and by superclass with a hierarchy).",
        blocks,
    )


def _learning_section(analysis: Analysis, phase_slug: dict[str, str]) -> Section:
    trend = analysis.comparison.trend
    blocks: list[Table | Figure] = [tables.trend(trend)] if not trend.empty else []
    for phase, (rates, starts, ends) in analysis.learning.items():
        fit = trend[trend["phase"] == phase] if not trend.empty else trend
        text = (
            f"Odds ratio of an error per 100 trials: {tables.number(fit['odds_ratio_per_100'].iloc[0])} "
            f"{tables.interval(fit['ci_low'].iloc[0], fit['ci_high'].iloc[0], scale=1)}."
            if not fit.empty
            else "No trend could be fitted."
        )
        name = f"learning-curve-{phase_slug[phase]}"
        blocks += [tables.learning_blocks(rates, name), figures.learning_curve(name, rates, starts, ends, text)]
    return Section(
        "learning", "Learning over trials", "Do annotators get better (or tired) during a session?", tuple(blocks)
    )


def _gallery_section(
    data: ReportData,
    settings: Settings,
    phases: list[str],
    models: list[str],
    phase_slug: dict[str, str],
    model_slug: dict[str, str],
) -> Section:
    galleries: list[Gallery] = []
    correct = RULES[data.rule]
    for phase in phases:
        rows = data.raters[data.raters["phase"] == phase]
        crowd = plurality_vote(rows, seed=settings.resampling.seed)
        for model in models:
            if (rows["rater"] == model).any() and not crowd.empty:
                galleries += model_galleries(
                    rows,
                    crowd,
                    model,
                    correct=correct,
                    name=data.label_name,
                    image_paths=data.image_paths,
                    max_pixels=data.max_pixels,
                    size=settings.gallery_size,
                    key=f"{phase_slug[phase]}-{model_slug[model]}",
                )
    intro = f"Up to {settings.gallery_size} images per gallery, by image id."
    return Section(
        "galleries",
        "Where annotators and models part ways",
        intro if galleries else "No model predictions: no galleries.",
        tuple(galleries),
    )


def _gallery_frame(gallery: Gallery) -> pd.DataFrame:
    fields = ("image_id", "truth", "humans", "model", "thumbnail_file", "problem")
    return pd.DataFrame(
        [{name: getattr(item, name) for name in fields} for item in gallery.items], columns=list(fields)
    )


def _csv(frame: pd.DataFrame) -> bytes:
    text = frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})
    return safe_csv_text(text).encode("utf-8")


def write_document(document: Document, out: Path, inputs: Iterable[str | Path | None] = ()) -> list[Path]:
    """Write every file of the report into ``out`` and return the files written.

    The report owns only the files it wrote: they are listed in ``out``'s
    :data:`OWNED_FILES` list, and a later report replaces or removes only files listed
    there. Anything else in the folder (a figure the researcher edited and saved beside
    ours) is left alone; a folder with files but no list is not a report's and is
    refused, as is a new report file that would replace a file the report did not write.
    ``inputs`` are the files the report was made from: none of them is overwritten.
    """
    files: dict[str, bytes] = {
        "index.html": render_html(document).encode("utf-8"),
        "report.md": render_markdown(document).encode("utf-8"),
    }
    for figure in document.blocks(Figure):
        files[f"figures/{figure.name}.svg"], files[f"figures/{figure.name}.png"] = figure.svg, figure.png
    for block in document.blocks(Table):
        files[f"tables/{block.name}.csv"] = _csv(block.data)
    for gallery in document.blocks(Gallery):
        files[f"tables/{gallery.name}.csv"] = _csv(_gallery_frame(gallery))
        files.update({item.thumbnail_file: item.thumbnail for item in gallery.items if item.thumbnail is not None})
    check_output_folder(out, inputs)
    owned = _owned_files(out)
    foreign = sorted(name for name in files if name not in owned and (out / name).exists())
    if foreign:
        raise OutputRefusedError(
            f"report folder {out}: this report would replace {len(foreign)} file(s) it "
            f"did not write (e.g. {foreign[0]}); move them away or choose another folder"
        )
    stale = owned - set(files)
    for name in sorted(set(files) | stale):
        check_output(out / name, inputs, "report file")
    # Own every file this run may leave behind before writing any, so that a crash half-way
    # never leaves files of ours that a later run would take for the user's.
    _write_owned(out, owned | set(files))
    write_files({out / name: content for name, content in sorted(files.items())})
    for path in (out / name for name in sorted(stale)):
        if path.is_file():
            path.unlink()
    _write_owned(out, set(files))
    return [out / name for name in sorted(files)]


#: The list of the files a report wrote, in its folder.
OWNED_FILES = ".study-app-report.json"


def _owned_files(out: Path) -> set[str]:
    """The files an earlier report wrote in ``out`` (none for a new or empty folder)."""
    listing = out / OWNED_FILES
    if not listing.is_file():
        if out.is_dir() and any(out.iterdir()):
            raise OutputRefusedError(
                f"report folder {out} holds files that no report wrote (it has no {OWNED_FILES}); "
                "a report replaces only its own files (a report written before reports kept that "
                "list has none either): choose a new or empty folder, or remove the old report"
            )
        return set()
    try:
        names = json.loads(listing.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputRefusedError(
            f"{listing} is damaged, so which files the report wrote is unknown; choose a new or empty folder"
        ) from None
    if not isinstance(names, list) or not all(isinstance(name, str) and _relative(name) for name in names):
        raise OutputRefusedError(f"{listing} lists files outside {out}; choose a new or empty folder")
    return set(names)


def _relative(name: str) -> bool:
    """A path that stays inside the report folder (a damaged or planted list must not reach out)."""
    return not Path(name).is_absolute() and ".." not in Path(name).parts


def _write_owned(out: Path, names: set[str]) -> None:
    write_bytes(out / OWNED_FILES, json.dumps({"files": sorted(names)}, indent=1).encode("utf-8"))


def write_report(
    data: ReportData,
    settings: Settings,
    out: Path,
    *,
    comparison: Comparison | None = None,
    inputs: Iterable[str | Path | None] = (),
) -> list[Path]:
    """Analyse, assemble and write a report; returns the files written (``index.html`` first)."""
    document = build_document(data, settings, analyse(data, settings, comparison))
    written = write_document(document, out, inputs)
    return sorted(written, key=lambda path: path.name != "index.html")


def report_of(
    inputs: RaterInputs,
    settings: Settings,
    out: Path,
    *,
    command: str,
    models: Sequence[str] = (),
    protected: Iterable[str | Path | None] = (),
) -> list[Path]:
    """The report of a study's or tidy files' rater inputs, with the taxonomy of a study's
    reviews: what ``report`` and ``study_app.write_report`` both write. ``command`` is how the
    report names its origin; ``models`` keeps only those models; ``protected`` are the files
    read, which no output may replace."""
    data = with_reviews(report_data(inputs, command), inputs, settings.resampling)
    return write_report(data.with_models(models) if models else data, settings, out, inputs=protected)
