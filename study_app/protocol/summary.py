"""A plain-text summary of a checked study, as ``validate`` prints it."""

from __future__ import annotations

from collections import Counter

from study_app.errors import Problem
from study_app.io.tidy_predictions import read_predictions
from study_app.protocol.counterbalance import Design, level_order
from study_app.protocol.study import Phase, Study


def _phase_line(phase: Phase) -> str:
    answers = (
        f"select up to {phase.answers} labels"
        if phase.multi_label
        else f"{phase.answers} ordered guess{'es' if phase.answers > 1 else ''}"
    )
    parts = [
        f"{len(phase.image_ids)} images",
        answers,
        "feedback" if phase.feedback else "no feedback",
        f"{phase.order} order",
    ]
    if phase.break_every:
        parts.append(f"break every {phase.break_every}")
    if phase.time_limit_s:
        parts.append(f"time limit {phase.time_limit_s:g} s")
    if phase.presentation:
        p = phase.presentation
        parts.append(f"fixation {p.fixation_ms} ms, image {p.image_ms} ms, mask {p.mask_ms} ms")
        if p.after_pause == "repeat":
            parts.append("a pause repeats the exposure")
    return f"  - {phase.name} (split {phase.split!r}): " + ", ".join(parts)


def _condition_line(study: Study, phase: Phase) -> list[str]:
    """Trials per condition of a phase whose images carry conditions (none without)."""
    counts = Counter(study.images[i].condition for i in phase.image_ids)
    if set(counts) <= {""}:
        return []
    levels = level_order(c for c in counts if c)
    text = ", ".join(f"{level}: {counts[level]}" for level in levels) + (
        f", no condition: {counts['']}" if counts[""] else ""
    )
    return [f"    trials per condition: {text}"]


def _design_lines(study: Study, design: Design) -> list[str]:
    if not design.levels:
        blocks = (
            f", image blocks {', '.join(design.blocks)} (manifest column {design.column!r})" if design.blocks else ""
        )
        return [
            f"counterbalancing: {design.order} over "
            f"{', '.join(design.phases)}{blocks}; {design.groups} groups in rotation"
        ]
    lines = [
        f"counterbalancing: Latin square over conditions {', '.join(design.levels)} x blocks of source images "
        f"(manifest column {design.source!r}) in {', '.join(design.phases)}; {design.groups} groups in rotation, "
        "no annotator sees a source image twice"
    ]
    for phase in map(study.phase, design.phases):
        for group in range(design.groups):
            counts = Counter(study.images[i].condition for i in phase.image_ids if study.images[i].block == str(group))
            lines.append(
                f"  - group {group}, {phase.name}: trials per condition "
                + ", ".join(f"{lv}: {counts[lv]}" for lv in design.levels)
            )
    return lines


def describe_study(study: Study) -> str:
    """Counts a researcher checks before a study starts: classes, images, phases, models."""
    labels = study.labels
    with_examples = sum(1 for paths in labels.examples.values() if paths)
    example_count = sum(len(paths) for paths in labels.examples.values())
    splits = Counter(record.split for record in study.images.values())
    lines = [
        f"study {study.name} {study.version}: {study.title}",
        f"folder: {study.root}",
        f"protocol hash: {study.protocol_hash}",
        f"classes: {len(labels)}"
        + (
            f" (hierarchy: {len(labels.inner_nodes)} inner nodes, {len(labels.roots)} roots)"
            if labels.parent_of
            else ""
        ),
        f"example images: {example_count} for {with_examples} classes" if example_count else "example images: none",
        f"images: {len(study.images)} (" + ", ".join(f"{split} {n}" for split, n in sorted(splits.items())) + ")",
        f"phases: {len(study.phases)}",
    ]
    for phase in study.phases:
        lines += [_phase_line(phase), *_condition_line(study, phase)]
    if study.counterbalance is not None:
        lines += _design_lines(study, study.counterbalance)
    if study.stimuli:
        made = study.stimuli
        lines.append(
            f"stimuli: {made.get('transform')} at levels {', '.join(made.get('levels', []))}, seed {made.get('seed')}"
            + (f", from study {made['source']}" if made.get("source") else "")
            + "; the study uses its own copies (PNG), so later changes to the source images do not change it"
        )
    models: list[str] = []
    for path in study.prediction_files:
        problems: list[Problem] = []
        frame = read_predictions(path, problems, path.name)
        if frame is None:
            continue
        for model, rows in frame.groupby("model", sort=True):
            models.append(
                f"  - {model}: {rows['image_id'].nunique()} images, top-{int(rows['rank'].max())} ({path.name})"
            )
    lines.append(f"models: {len(models)}")
    lines.extend(models)
    lines.append("OK: no problems found")
    return "\n".join(lines)
