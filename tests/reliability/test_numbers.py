"""Numbers and files that used to pass validate and then crash or hang (issue #27, cases 6 and 11).

Every number in study.toml has a documented range (the schema in protocol.py), every file a
protocol names must be a regular file of a bounded size (input_files.py), images have a
maximum side and aspect ratio (images.py), and every number on the command line is checked
at parse time (ranges.py): each refusal names the file, line and field, or the option.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from PIL import Image

from study_app.errors import ProtocolError
from study_app.io.input_files import MAX_BYTES
from study_app.protocol.study import load_study, study_name
from study_app.session.pilot import run_pilot
from tests.reliability.helpers import edit_toml, line_number, only, problems_of

ROOT = Path(__file__).resolve().parents[2]
ALLOCATED = "judgements_per_image = 1\nimages_per_annotator = 4\n"


def main(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` in a subprocess (a hang fails the test by its timeout)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        (
            "break_every = 4",
            "break_every = 4\ntime_limit_s = nan",
            "phases.1.time_limit_s",
            "between 0.1 and 3,600, not nan",
        ),
        ("break_every = 4", "break_every = 4\ntime_limit_s = inf", "phases.1.time_limit_s", "not inf"),
        ("break_every = 4", "break_every = 4\ntime_limit_s = 1e300", "phases.1.time_limit_s", "not 1e+300"),
        ("break_every = 4", "break_every = 4\ntime_limit_s = -inf", "phases.1.time_limit_s", "not -inf"),
        (
            "answers = 3",
            "answers = 3\nundo = false\n[phases.presentation]\nimage_ms = 3000000000",
            "phases.1.presentation.image_ms",
            "between 1 and 60,000, not 3000000000",
        ),
        (
            "break_every = 4",
            f"break_every = 4\n{ALLOCATED}release_after_min = nan",
            "phases.1.release_after_min",
            "between 0.1 and 10,080",
        ),
        (
            "examples_per_class = 2",
            "examples_per_class = -5",
            "labels.examples_per_class",
            "between 0 and 100 (0: no examples shown), not -5",
        ),
        ("seed = 7", "seed = 9223372036854775808", "seed", "a 64-bit integer"),
        (
            '[images]\nmanifest = "manifest.csv"',
            '[images]\nmanifest = "manifest.csv"\nmax_pixels = 0',
            "images.max_pixels",
            "not 0",
        ),
    ],
    ids=[
        "time-nan",
        "time-inf",
        "time-1e300",
        "time-minus-inf",
        "image-ms-3e9",
        "release-nan",
        "examples-minus-5",
        "seed-2^63",
        "max-pixels-0",
    ],
)
def test_a_number_out_of_its_range_is_refused_with_line_field_and_range(tiny_study, old, new, field, expected):
    edit_toml(tiny_study, old, new)
    problem = only(problems_of(tiny_study, check_images=False), "must be between")
    assert problem.file == "study.toml" and problem.field == field and expected in problem.message
    assert problem.line == line_number(tiny_study, "study.toml", "\n" + new.splitlines()[-1])


def test_an_integer_too_long_to_convert_is_a_toml_error_not_a_traceback(tiny_study):
    edit_toml(tiny_study, "seed = 7", "seed = " + "9" * 5000)
    assert only(problems_of(tiny_study), "not valid TOML").file == "study.toml"


def test_reading_only_the_study_name_of_such_a_file_is_a_clear_error_too(tiny_study):
    """Commands that need only the name (export's default paths) read study.toml on their own."""
    edit_toml(tiny_study, "seed = 7", "seed = " + "9" * 5000)
    with pytest.raises(ProtocolError, match="cannot read"):
        study_name(tiny_study)


def test_validate_refuses_the_values_that_crashed_the_window(tiny_study):
    """The whole chain: ``validate`` exits 1 with the field and no traceback."""
    edit_toml(tiny_study, "break_every = 4", "break_every = 4\ntime_limit_s = nan")
    done = main("validate", "--study", str(tiny_study))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "[phases.1.time_limit_s]: time_limit_s must be between 0.1 and 3,600, not nan" in done.stdout + done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
@pytest.mark.parametrize("name", ["labels.csv", "instructions.md", "manifest.csv", "predictions.csv"])
def test_a_named_pipe_as_a_protocol_file_is_refused_without_hanging(tiny_study, name):
    (tiny_study / name).unlink()
    os.mkfifo(tiny_study / name)
    done = main("validate", "--study", str(tiny_study), timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{name}: not a regular file" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("name", "kind"),
    [("manifest.csv", "CSV file"), ("predictions.csv", "predictions file"), ("labels.csv", "CSV file")],
)
def test_an_8_gb_csv_is_refused_by_its_size(tiny_study, name, kind):
    # predictions are read in batches into columns of codes: their limit is 4 GiB, not 512 MiB
    with open(tiny_study / name, "r+b") as handle:
        handle.truncate(8 << 30)  # sparse: no 8 GB are written
    problem = only(problems_of(tiny_study, check_images=False), f"a {kind} is at most")
    assert (
        problem.file == name
        and "8,589,934,592 bytes" in problem.message
        and f"{MAX_BYTES[kind]:,} bytes ({MAX_BYTES[kind] >> 20:,} MiB)" in problem.message
    )


def test_an_oversized_instructions_file_is_refused_by_its_size(tiny_study):
    with open(tiny_study / "instructions.md", "r+b") as handle:
        handle.truncate(MAX_BYTES["instructions file"] + 1)
    assert (
        only(problems_of(tiny_study, check_images=False), "an instructions file is at most").file == "instructions.md"
    )


def test_an_oversized_image_file_is_refused_by_its_size_before_it_is_read(tiny_study):
    with open(tiny_study / "images" / "img-003.png", "r+b") as handle:
        handle.truncate(MAX_BYTES["image file"] + 1)  # sparse
    problem = only(problems_of(tiny_study), "an image file is at most")
    assert problem.file == "manifest.csv" and problem.field == "path" and "img-003.png" in problem.message


@pytest.mark.parametrize(
    ("size", "shown"), [((30_000, 1), "30000x1"), ((2_600, 100), "2600x100")], ids=["side", "aspect"]
)
def test_an_image_over_the_maximum_side_or_aspect_ratio_is_refused_by_validate(tiny_study, size, shown):
    """A long thin image is under the pixel limit, but scaling it to the screen failed with a
    MemoryError in the window's loader thread (80,000,000 x 1 pixels)."""
    Image.new("L", size, 128).save(tiny_study / "images" / "img-003.png")
    problem = only(problems_of(tiny_study), shown)
    assert problem.file == "manifest.csv" and problem.field == "path"
    assert (
        "img-003.png" in problem.message
        and "at most 20,000 pixels and at most 25 times the shortest" in problem.message
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--rt-ms", "1e20,1"],
        ["simulate", "--rt-ms", "nan,800"],
        ["simulate", "--accuracy", "1.5"],
        ["simulate", "--accuracy", "nan"],
        ["simulate", "--annotators", "0"],
        ["simulate", "--annotators", "100000000000"],
        ["simulate", "--ability-sd", "-0.5"],
        ["simulate", "--difficulty-sd", "inf"],
        ["progress", "--store", "x.sqlite", "--watch", "-1"],
        ["progress", "--store", "x.sqlite", "--watch", "nan"],
        ["progress", "--store", "x.sqlite", "--watch", "inf"],
        ["compare", "--study", "demo-digits", "--n-boot", "1000000000000"],
        ["compare", "--study", "demo-digits", "--alpha", "nan"],
        ["compare", "--study", "demo-digits", "--seed", "-1"],
        ["report", "--study", "demo-digits", "--k", "0"],
        ["report", "--study", "demo-digits", "--gallery-size", "inf"],
        ["plan", "--model-error", "0.05", "--human-error", "nan"],
        ["plan", "--human-error", "0.1", "--model-error", "0.05", "--simulations", "1e12"],
        ["plan", "--human-error", "0.1", "--model-error", "0.05", "--human-consistency", "1.2"],
        ["predict", "--study", "demo-digits", "--model", "m", "--workers", "0"],
        ["new-study", "ilsvrc2012", "--val-dir", "v", "--examples-per-class", "-5"],
    ],
    ids=lambda argv: " ".join(argv[:1] + argv[-2:]),
)
def test_a_command_line_number_out_of_range_is_a_usage_error(tmp_path, argv):
    done = main(*argv, cwd=tmp_path)
    option = next(word for word in reversed(argv) if word.startswith("--"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"error: argument {option}: " in done.stderr and "between" in done.stderr


# The acceptance property: every numeric key of study.toml and of a phase table, with any value.
NUMERIC_KEYS = {
    # key: (where it goes, as the test phase's key or a top-level/table key)
    "seed": "top",
    "examples_per_class": "labels",
    "max_pixels": "images",
    "n": "phase",
    "answers": "phase",
    "break_every": "phase",
    "time_limit_s": "phase",
    "judgements_per_image": "phase",
    "images_per_annotator": "phase",
    "release_after_min": "phase",
    "fixation_ms": "presentation",
    "image_ms": "presentation",
    "mask_ms": "presentation",
}
NASTY = [
    0,
    -1,
    1,
    2,
    3,
    0.5,
    1.5,
    -0.0,
    2**31,
    2**31 - 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    10**30,
    1e300,
    -1e300,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    3_000_000_000,
    60_000,
    10_080,
    3600,
]
values = st.one_of(
    st.sampled_from(NASTY), st.integers(-(10**20), 10**20), st.floats(allow_nan=True, allow_infinity=True)
)


def _toml(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)


def _with_value(text: str, key: str, value: str, allocated: bool) -> str:
    """study.toml with ``key = value`` in its place (the test phase for phase keys); ``allocated``:
    the test phase shares its images out, one image per annotator, one answer per image."""
    place = NUMERIC_KEYS[key]
    if place == "top":
        return text.replace("seed = 7", f"seed = {value}")
    if place == "labels":
        return text.replace("examples_per_class = 2", f"examples_per_class = {value}")
    if place == "images":
        return text.replace('manifest = "manifest.csv"\n', f'manifest = "manifest.csv"\nmax_pixels = {value}\n')
    phase = {"answers": "3", "break_every": "4"}
    if allocated:
        phase.update(judgements_per_image="1", images_per_annotator="1")
    presentation = ""
    if place == "phase":
        phase[key] = value
    else:
        phase["undo"] = "false"  # a timed image cannot be shown again
        timing = {"fixation_ms": "100", "image_ms": "150", "mask_ms": "100", key: value}
        presentation = "[phases.presentation]\n" + "".join(f"{name} = {setting}\n" for name, setting in timing.items())
    lines = "".join(f"{name} = {setting}\n" for name, setting in phase.items())
    return text.replace("answers = 3\nbreak_every = 4\n", lines + presentation)


#: What a QTimer takes at most (milliseconds).
QTIMER_MAX_MS = 2**31 - 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(sorted(NUMERIC_KEYS)), value=values, allocated=st.booleans())
def test_any_number_is_refused_naming_its_key_or_the_study_runs_through_simulate(
    tiny_study, tmp_path_factory, key, value, allocated
):
    """Property: for any value of any numeric key, ``validate`` refuses it naming the key, or
    the study loads, its timings fit the window's timers, and a scripted annotator goes
    through all of it without a traceback."""
    path = tiny_study / "study.toml"
    original = path.read_text(encoding="utf-8")
    path.write_text(_with_value(original, key, _toml(value), allocated), encoding="utf-8")
    try:
        try:
            study = load_study(tiny_study)
        except ProtocolError as refused:
            named = [p for p in refused.problems if p.field and p.field.split(".")[-1] == key]
            over_pixels = key == "max_pixels" and all("over the limit" in p.message for p in refused.problems)
            assert named or over_pixels, [str(p) for p in refused.problems]
            event("refused")
            return
        event("accepted")
        assert study.examples_per_class >= 0
        for phase in study.phases:
            timings = [phase.time_limit_s * 1000] if phase.time_limit_s is not None else []
            if phase.presentation is not None:
                timings += [phase.presentation.fixation_ms, phase.presentation.image_ms, phase.presentation.mask_ms]
            assert all(0 <= ms <= QTIMER_MAX_MS for ms in timings) and 0 < phase.release_after_min < math.inf
        summary = run_pilot(study, 1, tmp_path_factory.mktemp("pilot") / "pilot.sqlite")
        shown = sum(
            phase.images_per_annotator if phase.judgements_per_image else len(phase.image_ids) for phase in study.phases
        )
        assert summary.trials == shown
    finally:
        path.write_text(original, encoding="utf-8")
