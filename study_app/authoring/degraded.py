"""``new-study degrade``: a protocol folder for a degradation experiment made from another study.

The source study (a protocol folder, checked by :func:`~study_app.protocol.study.load_study`) gives
the classes, the phases and the images; every image of a phase without feedback (the test)
is written at every level of the transform (:func:`~study_app.stimuli.degrade.degrade_images`),
and every image of a phase with feedback only (training) at the **first** level given: training
should teach the classes and the look of the stimuli without showing the test's harder
levels, so ``--levels`` lists the easiest level first (0 for noise, 1 for contrast, inf for
high-pass). The new study has its own copy of every stimulus as a lossless PNG, so changing
or deleting the source images afterwards does not change it (``validate`` of the new study
reads only its own files); each manifest row keeps ``source_sha256``, the SHA-256 of the
source image it was made from.

What it writes:

- ``manifest.csv``: ``image_id`` (``<source id>@<condition>``), ``path``, ``condition``,
  ``source_image_id``, ``source_sha256``, ``labels``, ``split`` and the source's other
  manifest columns;
- ``study.toml``: the source's name with the transform appended, its seed (trial orders),
  labels and phases (an optional ``--presentation-ms`` adds a timed presentation to the test
  phases), a ``[counterbalance]`` table over the manifest's conditions (each annotator sees
  each source image at one level; see :mod:`study_app.protocol.counterbalance`), and a ``[stimuli]``
  table with the transform, the levels, the seed and the source, from which the stimuli can be
  made again byte for byte;
- the label files, hierarchy and instructions, copied. Example images stay where they are
  (``examples_root`` names the source's folder). Model predictions are not copied: they were
  made on the source images; run the models on the new stimuli (``python main.py predict``).

Nothing is written into an existing folder or inside a protocol folder, and the folder
appears whole or not at all (it is made under a temporary name and renamed).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from study_app.errors import StudyError
from study_app.io.csvfiles import write_csv
from study_app.io.output_guard import check_output_folder
from study_app.io.paths import resolve_inside
from study_app.io.program import program
from study_app.protocol.study import STUDY_FILE, Phase, Presentation, Study, load_study
from study_app.stimuli.degrade import STIMULUS_COLUMNS, SourceImage, degrade_images
from study_app.stimuli.registry import condition_name, get_transform

#: The label-set files of ``[labels]`` that are copied next to the new study.toml.
_LABEL_KEYS = ("file", "hierarchy", "nodes")


def write_degraded_study(
    source: str | Path,
    transform_name: str,
    levels: Sequence[float],
    seed: int,
    out: str | Path,
    presentation_ms: int | None = None,
) -> tuple[Path, list[str]]:
    """Write the protocol folder ``out`` (which must not exist); return it and the conversion notes."""
    out = Path(out)
    transform = get_transform(transform_name)  # an unknown name is refused before the source is read
    if out.exists():
        raise StudyError(f"{out} exists already; choose another --out or remove it")
    study = load_study(source, check_images=False)  # degrade decodes every image it uses
    check_output_folder(out, [study.root])
    _refuse_unsupported(study)
    if not levels:
        raise StudyError("--levels: give at least one level")
    conditions = [condition_name(float(level)) for level in levels]
    test_phases = [p for p in study.phases if not p.feedback]
    tested = {i for p in test_phases for i in p.image_ids}
    trained = [i for p in study.phases if p.feedback for i in p.image_ids if i not in tested]
    order = {image_id: n for n, image_id in enumerate(study.images)}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        rows, notes = [], []
        for image_ids, chosen in (
            (sorted(tested, key=order.__getitem__), levels),
            (sorted(set(trained), key=order.__getitem__), levels[:1]),
        ):
            if image_ids:
                result = degrade_images([_source(study, i) for i in image_ids], transform.name, chosen, seed, staging)
                rows += result.rows
                notes += result.notes
        rows.sort(key=lambda row: (order[row["source_image_id"]], conditions.index(row["condition"])))
        header = list(rows[0])
        write_csv(staging / "manifest.csv", header, [[row[c] for c in header] for row in rows])
        copied = _copy_label_files(study, staging)
        toml = _study_toml(
            study,
            copied,
            transform=transform.name,
            conditions=conditions,
            seed=seed,
            presentation_ms=presentation_ms,
        )
        (staging / STUDY_FILE).write_text(toml, encoding="utf-8")
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out.resolve(), notes


def _refuse_unsupported(study: Study) -> None:
    """Source studies whose design this command cannot carry over, with what to do instead."""
    if study.counterbalance is not None:
        raise StudyError(
            f"study {study.name!r} has a [counterbalance] table; a degraded study "
            "makes its own design over the levels: make it from a study without one"
        )
    if any(record.condition for record in study.images.values()):
        raise StudyError(f"study {study.name!r} already has a condition column; degrade a study of undegraded images")
    if not any(not p.feedback for p in study.phases):
        raise StudyError(f"study {study.name!r} has no phase without feedback: there is no test to degrade")
    for phase in study.phases:
        if phase.judgements_per_image:
            raise StudyError(
                f"phase {phase.name!r} shares images out (judgements_per_image); "
                "the degraded study's Latin square decides who sees what"
            )
    splits: dict[str, str] = {}
    for phase in study.phases:
        if phase.split in splits:
            raise StudyError(
                f"phases {splits[phase.split]!r} and {phase.name!r} both take split {phase.split!r}; "
                "give each phase a split of its own in the source manifest"
            )
        splits[phase.split] = phase.name


def _source(study: Study, image_id: str) -> SourceImage:
    """An image with the manifest columns each of its stimuli keeps."""
    record = study.images[image_id]
    attributes = {"labels": ";".join(record.labels), "split": record.split, **dict(record.attributes)}
    clash = [c for c in attributes if c in STIMULUS_COLUMNS]
    if clash:
        raise StudyError(
            f"the source manifest has column(s) {', '.join(clash)}, "
            "which the degraded manifest writes itself; rename them"
        )
    return SourceImage(image_id, record.path, attributes)


def _raw_config(study: Study) -> dict:
    return tomllib.loads((study.root / STUDY_FILE).read_text(encoding="utf-8-sig"))


def _copy_label_files(study: Study, staging: Path) -> dict[str, str]:
    """Copy the label files and instructions (by file name); return key -> new file name."""
    config = _raw_config(study)
    wanted = {key: config["labels"][key] for key in _LABEL_KEYS if key in config["labels"]}
    if "instructions" in config:
        wanted["instructions"] = config["instructions"]
    copied: dict[str, str] = {}
    for key, reference in wanted.items():
        name = Path(reference).name
        if name in copied.values() or name in (STUDY_FILE, "manifest.csv", "images"):
            name = f"{key}-{name}"
        shutil.copyfile(resolve_inside(study.root, reference), staging / name)
        copied[key] = name
    if "examples" in config["labels"]:
        examples = resolve_inside(study.root, config["labels"]["examples"])
        root = config["labels"].get("examples_root")
        base = (
            study.root
            if root is None
            else (Path(root).expanduser() if Path(root).expanduser().is_absolute() else study.root / root)
        )
        shutil.copyfile(examples, staging / "examples.csv")
        copied["examples"] = "examples.csv"
        copied["examples_root"] = str(base.resolve())
        copied["examples_per_class"] = str(study.examples_per_class)
    return copied


def _string(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _phase_toml(phase: Phase, presentation: Presentation | None) -> str:
    lines = [
        "[[phases]]",
        f"name = {_string(phase.name)}",
        f"split = {_string(phase.split)}",
        f"feedback = {str(phase.feedback).lower()}",
        f"answers = {phase.answers}",
        f"mode = {_string(phase.mode)}",
        f"order = {_string(phase.order)}",
    ]
    if phase.break_every:
        lines.append(f"break_every = {phase.break_every}")
    if phase.time_limit_s is not None:
        lines.append(f"time_limit_s = {phase.time_limit_s!r}")
        lines.append(f"countdown = {str(phase.countdown).lower()}")
    if phase.undo != (not phase.feedback and presentation is None) and presentation is None:
        lines.append(f"undo = {str(phase.undo).lower()}")
    if presentation is not None:
        lines += [
            "",
            "[phases.presentation]",
            f"fixation_ms = {presentation.fixation_ms}",
            f"image_ms = {presentation.image_ms}",
            f"mask_ms = {presentation.mask_ms}",
        ]
    return "\n".join(lines) + "\n"


def _study_toml(
    study: Study,
    copied: dict[str, str],
    *,
    transform: str,
    conditions: list[str],
    seed: int,
    presentation_ms: int | None,
) -> str:
    tested = [p.name for p in study.phases if not p.feedback]  # the test phases, counterbalanced
    name = f"{study.name}-{transform}"[:128]
    labels = "\n".join(
        f"{key} = {_string(copied[key])}" for key in (*_LABEL_KEYS, "examples", "examples_root") if key in copied
    )
    if "examples_per_class" in copied:
        labels += f"\nexamples_per_class = {copied['examples_per_class']}"
    description = (
        f"{study.title}, with the test images degraded by {transform} at levels {', '.join(conditions)} "
        f"(written by {program()} new-study degrade from {study.name} {study.version})."
    )
    phases = []
    for phase in study.phases:
        presentation = phase.presentation
        if presentation_ms is not None and phase.name in tested:
            presentation = Presentation(image_ms=presentation_ms)
        phases.append(_phase_toml(phase, presentation))
    parts = [
        "format = 1",
        f"name = {_string(name)}",
        f"version = {_string(study.version or '1.0')}",
        f"title = {_string(f'{study.title} ({transform})')}",
        f"description = {_string(description)}",
        f"seed = {study.seed}",
        *([f"instructions = {_string(copied['instructions'])}"] if "instructions" in copied else []),
        "",
        "[labels]",
        labels,
        "",
        "[images]",
        'manifest = "manifest.csv"',
        "",
        "\n".join(phases),
        "[counterbalance]",
        f"phases = [{', '.join(_string(name) for name in tested)}]",
        'conditions = "manifest"',
        'source = "source_image_id"',
        "",
        "# How the stimuli were made: the same transform, levels and seed on the same source images",
        "# (source_sha256 in the manifest) give byte-identical PNGs.",
        "[stimuli]",
        f"transform = {_string(transform)}",
        f"levels = [{', '.join(_string(c) for c in conditions)}]",
        f"seed = {seed}",
        f"source = {_string(study.name)}",
        f"source_protocol_hash = {_string(study.protocol_hash)}",
        "",
    ]
    return "\n".join(parts)
