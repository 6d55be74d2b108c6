"""Small helpers shared by the reliability tests: load a study and collect its problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from study_app.errors import Problem, ProtocolError
from study_app.protocol.study import load_study


def problems_of(root: Path, check_images: bool = True) -> list[Problem]:
    """The problems a study folder is refused with (the test fails if it loads)."""
    with pytest.raises(ProtocolError) as caught:
        load_study(root, check_images=check_images)
    assert caught.value.problems, "a ProtocolError must list at least one problem"
    return caught.value.problems


def only(problems: list[Problem], text: str) -> Problem:
    """The one problem whose message contains ``text``."""
    matching = [p for p in problems if text in p.message]
    assert len(matching) == 1, f"expected one problem with {text!r}, got {[str(p) for p in problems]}"
    return matching[0]


def edit_toml(root: Path, old: str, new: str) -> None:
    path = root / "study.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in study.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_number(root: Path, file: str, needle: str) -> int:
    """1-based line of the first line of ``file`` containing ``needle`` (a leading newline
    in ``needle`` means: at the start of the line)."""
    for number, line in enumerate((root / file).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in "\n" + line:
            return number
    raise AssertionError(f"{needle!r} not in {file}")
