"""References in study files that try to leave the study folder: '..', absolute paths, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from study_app.io.paths import PathEscapeError, resolve_inside
from tests.reliability.helpers import edit_toml, only, problems_of

PART = st.sampled_from(["a", "b", "..", ".", "", "x.png", "..\\..", "c:", "~", "\u00e9", " "])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(PART, min_size=1, max_size=6), absolute=st.booleans(), backslashes=st.booleans())
def test_resolved_references_never_leave_the_root(tmp_path_factory, parts, absolute, backslashes):
    """Property: whatever the reference, it is refused or resolves to a path inside the root."""
    root = tmp_path_factory.mktemp("root")
    (root / "a" / "b").mkdir(parents=True)
    reference = ("\\" if backslashes else "/").join(parts)
    if absolute:
        reference = "/" + reference
    try:
        resolved = resolve_inside(root, reference)
    except PathEscapeError as exc:
        assert str(exc)
        return
    real_root = os.path.realpath(root)
    assert os.path.commonpath([real_root, os.path.realpath(resolved)]) == real_root
    assert ".." not in Path(reference.replace("\\", "/")).parts


@pytest.mark.parametrize(
    "reference, reason",
    [
        ("../outside.png", "uses '..'"),
        ("images/../../outside.png", "uses '..'"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/win.ini", "absolute path"),
        ("\\\\server\\share\\x.png", "absolute path"),
        ("..\\outside.png", "uses '..'"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute-posix", "windows-drive", "unc", "backslash-dotdot"],
)
def test_manifest_escapes_are_refused_with_their_line(tiny_study, reference, reason):
    (tiny_study.parent / "outside.png").write_bytes((tiny_study / "images" / "img-003.png").read_bytes())
    lines = (tiny_study / "manifest.csv").read_text().splitlines()
    lines[2] = lines[2].replace("images/img-004.png", reference)
    (tiny_study / "manifest.csv").write_text("\n".join(lines) + "\n")
    problem = only(problems_of(tiny_study), reason)
    assert (problem.file, problem.line, problem.field) == ("manifest.csv", 3, "path")


def test_symlinked_file_and_folder_leading_out_are_refused(tiny_study):
    outside = tiny_study.parent / "secret"
    outside.mkdir()
    (outside / "x.png").write_bytes((tiny_study / "images" / "img-003.png").read_bytes())
    (tiny_study / "images" / "link.png").symlink_to(outside / "x.png")
    (tiny_study / "images" / "linkdir").symlink_to(outside, target_is_directory=True)
    lines = (tiny_study / "manifest.csv").read_text().splitlines()
    lines[2] = lines[2].replace("images/img-004.png", "images/link.png")
    lines[3] = lines[3].replace("images/img-005.png", "images/linkdir/x.png")
    (tiny_study / "manifest.csv").write_text("\n".join(lines) + "\n")
    problems = [p for p in problems_of(tiny_study) if "symbolic link" in p.message]
    assert sorted(p.line for p in problems) == [3, 4]


def test_symlinked_study_file_leading_out_is_refused(tiny_study):
    (tiny_study.parent / "stolen.csv").write_text("label_id,name\ncat,cat\n")
    (tiny_study / "labels.csv").unlink()
    (tiny_study / "labels.csv").symlink_to(tiny_study.parent / "stolen.csv")
    problem = only(problems_of(tiny_study), "symbolic link")
    assert problem.field == "labels.file" and problem.line == 10


@pytest.mark.parametrize(
    "old, new, field",
    [
        ('instructions = "instructions.md"', 'instructions = "../../etc/motd"', "instructions"),
        ('predictions = ["predictions.csv"]', 'predictions = ["/tmp/predictions.csv"]', "models.predictions"),
        ('examples = "examples.csv"', 'examples = "../examples.csv"', "labels.examples"),
        ('manifest = "manifest.csv"', 'manifest = "."', "images.manifest"),
    ],
    ids=["instructions", "predictions", "examples", "manifest-folder-itself"],
)
def test_every_file_reference_in_study_toml_is_confined(tiny_study, old, new, field):
    edit_toml(tiny_study, old, new)
    problems = [p for p in problems_of(tiny_study) if p.field == field]
    assert problems and problems[0].file == "study.toml" and problems[0].line is not None


def test_examples_escaping_their_root_are_refused(tiny_study):
    lines = (tiny_study / "examples.csv").read_text().splitlines()
    lines[1] = "cat,../../x.png"
    (tiny_study / "examples.csv").write_text("\n".join(lines) + "\n")
    problem = only(problems_of(tiny_study), "uses '..'")
    assert (problem.file, problem.line) == ("examples.csv", 2)


def test_tilde_is_not_expanded_to_the_home_folder(tmp_path):
    assert resolve_inside(tmp_path, "~/x.png") == Path(os.path.realpath(tmp_path)) / "~" / "x.png"
