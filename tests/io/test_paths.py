"""References in study files never leave their folder."""

from __future__ import annotations

import pytest

from study_app.io.paths import PathEscapeError, resolve_inside


@pytest.mark.parametrize(
    "reference", ["../x.png", "a/../../x.png", "/etc/passwd", "C:\\Windows\\x.png", "..\\x.png", "", "a\x00b"]
)
def test_escapes_are_refused(tmp_path, reference):
    with pytest.raises(PathEscapeError):
        resolve_inside(tmp_path, reference)


def test_symlink_out_is_refused_but_inside_is_fine(tmp_path):
    root = tmp_path / "study"
    (root / "images").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("x")
    (root / "images" / "out").symlink_to(tmp_path / "secret.txt")
    (root / "images" / "real.png").write_text("x")
    (root / "images" / "in").symlink_to(root / "images" / "real.png")
    with pytest.raises(PathEscapeError, match="symbolic link"):
        resolve_inside(root, "images/out")
    assert resolve_inside(root, "images/in") == (root / "images" / "real.png").resolve()
    assert resolve_inside(root, "images\\real.png") == (root / "images" / "real.png").resolve()
