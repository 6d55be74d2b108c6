"""The command line as a careless user meets it: real subprocesses of ``python main.py``.

``simulate --gui`` runs the real window (offscreen) and a failed or interrupted pilot leaves
no open session without answers; a closed pipe (``| head -1``), a symbolic link loop or an
odd folder given to ``new-study``, and paths that are not UTF-8 end in a message, never in a
traceback.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study_app.io.csvfiles import write_csv
from study_app.store import ResultsStore
from tests.factory import make_study

ROOT = Path(__file__).resolve().parents[2]
OFFSCREEN = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
#: Scripted answers as fast as the pilot allows (its shortest response time is 150 ms).
FAST = ("--rt-ms", "150,0")


def main_py(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or OFFSCREEN,
    )


def sessions(store: Path) -> list[tuple[str, str | None, int]]:
    """(annotator, ended_at, trials answered) of every session in ``store``."""
    with sqlite3.connect(store) as conn:
        return conn.execute(
            "SELECT annotator_id, ended_at, (SELECT COUNT(*) FROM "
            "trials t WHERE t.session_uuid = s.uuid) FROM sessions s"
        ).fetchall()


def store_refusing_answers(path: Path) -> Path:
    """A pilot store whose every answer fails to be written, as on a full disk (sessions and events still go in)."""
    with ResultsStore(path, pilot=True) as store:
        store.conn.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON trials BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    return path


# -- simulate --------------------------------------------------------------------------


def test_simulate_gui_runs_the_real_window_through_the_whole_study(tmp_path):
    """It aborted with exit 134 (the QApplication was not kept) and left an open, empty session."""
    study = make_study(tmp_path / "tiny", per_class_test=1)
    store = tmp_path / "pilot.sqlite"
    result = main_py(
        "simulate", "--gui", "--study", str(study), "--annotators", "2", *FAST, "--store", str(store), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 simulated annotator(s), 16 trials" in result.stdout
    done = sessions(store)
    assert len(done) == 2 and all(ended is not None and answered == 8 for _, ended, answered in done), done


@pytest.mark.parametrize("gui", [False, True], ids=["headless", "gui"])
def test_a_pilot_whose_answers_cannot_be_stored_ends_its_empty_session(tmp_path, gui):
    study = make_study(tmp_path / "tiny", per_class_test=1)
    store = store_refusing_answers(tmp_path / "pilot.sqlite")
    args = (
        "simulate",
        *(("--gui",) if gui else ()),
        "--study",
        str(study),
        "--annotators",
        "2",
        *FAST,
        "--store",
        str(store),
    )
    result = main_py(*args, cwd=tmp_path)
    assert result.returncode == 1 and "disk I/O error" in result.stderr and "Traceback" not in result.stderr, (
        result.stderr
    )
    if gui:
        assert "was not saved after 3 tries" in result.stderr  # it does not retry for ever
    [(annotator, ended, answered)] = sessions(store)  # the first failure stops the run
    assert annotator == "pilot-0-001" and answered == 0 and ended is not None


@pytest.mark.parametrize("gui", [False, True], ids=["headless", "gui"])
def test_ctrl_c_during_a_pilot_ends_its_empty_session_without_a_traceback(tmp_path, gui):
    """Ctrl+C inside the window's event loop aborted the process (exit 134) with the session open."""
    study = make_study(tmp_path / "tiny", per_class_test=1)
    store = tmp_path / "pilot.sqlite"
    pace = "--gui" if gui else "--real-time"  # either way the first answer waits its 60 s response time
    argv = [sys.executable, str(ROOT / "main.py"), "simulate", pace, "--study", str(study), "--annotators", "1"]
    child = subprocess.Popen(
        [*argv, "--rt-ms", "60000,0", "--store", str(store)],
        cwd=tmp_path,
        env=OFFSCREEN,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (store.exists() and _session_under_way(store)):
            assert time.monotonic() < deadline and child.poll() is None, (
                child.stderr.read() if child.poll() is not None else "no session"
            )
            time.sleep(0.1)
        time.sleep(0.5)  # the window's event loop runs (or the scripted participant is thinking)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    [(_, ended, answered)] = sessions(store)
    assert answered == 0 and ended is not None


def _session_under_way(store: Path) -> bool:
    """The session has logged its first event (the window's focus, the instructions read)."""
    try:
        with sqlite3.connect(store) as conn:
            return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
    except sqlite3.Error:  # being created
        return False


def test_predictions_without_some_image_are_refused_before_a_session_opens(tmp_path, tiny_study):
    """They failed at the first image without guesses, with the pilot's session left open."""
    rows = (tiny_study / "predictions.csv").read_text(encoding="utf-8").splitlines()
    kept = [line.split(",") for line in rows[1:] if ",img-005," not in line]
    write_csv(tmp_path / "partial.csv", rows[0].split(","), kept)
    store = tmp_path / "pilot.sqlite"
    result = main_py(
        "simulate",
        "--study",
        str(tiny_study),
        "--from-predictions",
        str(tmp_path / "partial.csv"),
        "--store",
        str(store),
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "partial.csv: model 'model-a' has no guesses for 1 of the 16 images the study shows, e.g. 'img-005'"
        in result.stderr
    )
    assert not store.exists()


# -- a closed pipe ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["validate", "--study", "demo-digits", "--quick"], ["progress", "--images", "--store"]],
    ids=["validate", "progress"],
)
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, tiny_study, command):
    """``validate | head -1``: the reader went away before the output came (BrokenPipeError traceback)."""
    if command[0] == "progress":
        store = tmp_path / "pilot.sqlite"
        assert (
            main_py(
                "simulate", "--study", str(tiny_study), "--annotators", "1", "--store", str(store), cwd=tmp_path
            ).returncode
            == 0
        )
        command = [*command, str(store)]
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *command],
        cwd=tmp_path,
        env=OFFSCREEN,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()  # like `head -1` after its line: every write from here meets a closed pipe
    stderr = child.stderr.read()
    assert child.wait(timeout=120) == 141, stderr  # as a shell reports a program ended by SIGPIPE
    assert stderr == ""


# -- new-study: folders that are not what they should be --------------------------------


def _val_dir_with_one_image(tmp_path: Path) -> Path:
    val = tmp_path / "val"
    (val / "n01440764").mkdir(parents=True)
    study = make_study(tmp_path / "source")
    (val / "n01440764" / "a.png").write_bytes((study / "images" / "img-001.png").read_bytes())
    return val


def _loop_to_itself(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return tmp_path / "loop", "--val-dir {}: a symbolic link that leads in a loop"


def _link_back_up(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (val / "n01440764" / "again").symlink_to(val)
    return val, f"{val / 'n01440764' / 'again'}: a symbolic link to {val}, which is read already (a loop"


def _image_link_to_itself(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (val / "b.JPEG").symlink_to(val / "b.JPEG")
    return val, f"{val / 'b.JPEG'}: a symbolic link that leads in a loop"


def _broken_image_link(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (val / "c.png").symlink_to(tmp_path / "gone.png")
    return val, f"{val / 'c.png'}: not an image file (a broken symbolic link"


def _no_such_folder(tmp_path: Path, val: Path) -> tuple[Path, str]:
    return tmp_path / "nothing", "--val-dir {}: no such folder"


def _a_file(tmp_path: Path, val: Path) -> tuple[Path, str]:
    return val / "n01440764" / "a.png", "--val-dir {} is a file, not a folder"


def _image_name_not_utf8(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (val / "n01440764" / "a.png").rename(os.fsdecode(bytes(val / "n01440764") + b"/d\xff.png"))
    return val, "d\\udcff.png: the name is not UTF-8 text, so a protocol cannot name it"


def _unreadable_class_folder(tmp_path: Path, val: Path) -> tuple[Path, str]:
    (val / "n01443537").mkdir()
    (val / "n01443537").chmod(0)
    return val, f"{val / 'n01443537'}: cannot be read (Permission denied)"


@pytest.mark.parametrize(
    "make",
    [
        _loop_to_itself,
        _link_back_up,
        _image_link_to_itself,
        _broken_image_link,
        _no_such_folder,
        _a_file,
        _image_name_not_utf8,
        pytest.param(
            _unreadable_class_folder, marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
        ),
    ],
)
def test_new_study_names_the_path_that_is_not_a_readable_folder_of_images(tmp_path, make):
    val = _val_dir_with_one_image(tmp_path)
    given, message = make(tmp_path, val)
    out = tmp_path / "protocol"
    try:
        result = main_py(
            "new-study",
            "ilsvrc2012",
            "--val-dir",
            str(given),
            "--out",
            str(out),
            "--train-images",
            "0",
            "--test-images",
            "1",
            cwd=tmp_path,
        )
    finally:
        for folder in val.iterdir():
            if not folder.is_symlink():
                folder.chmod(0o755)  # so that pytest can remove it
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message.format(given) in result.stderr
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".protocol")] == []


def test_new_study_follows_a_linked_class_folder(tmp_path):
    """A class folder linked in from another disk counts (rglob skipped it without a word)."""
    val = _val_dir_with_one_image(tmp_path)
    elsewhere = tmp_path / "disk2" / "n01443537"
    elsewhere.mkdir(parents=True)
    (elsewhere / "b.png").write_bytes((val / "n01440764" / "a.png").read_bytes())
    (val / "n01443537").symlink_to(elsewhere)
    out = tmp_path / "protocol"
    result = main_py(
        "new-study",
        "ilsvrc2012",
        "--val-dir",
        str(val),
        "--out",
        str(out),
        "--train-images",
        "0",
        "--test-images",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "n01443537/b.png" in (out / "manifest.csv").read_text(encoding="utf-8")


# -- paths that are not UTF-8 -------------------------------------------------------------


def test_a_study_and_store_whose_paths_are_not_utf8_work_and_print_escaped(tmp_path):
    """A folder named on another system: the validation cache's key (`str.encode`) and
    printing the path on a UTF-8 console with strict errors raised UnicodeEncodeError."""
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/st\xff"))
    study = make_study(odd, per_class_test=1)
    store = Path(os.fsdecode(bytes(tmp_path) + b"/p\xff.sqlite"))
    strict = {**OFFSCREEN, "PYTHONIOENCODING": "utf-8"}  # a desktop's UTF-8 console: errors='strict'
    printed = ""
    for args in (
        ("validate", "--study", str(study)),
        ("simulate", "--study", str(study), "--annotators", "1", "--store", str(store)),
        ("export", "--store", str(store), "--out", str(tmp_path / "a.csv")),
        ("report", "--study", str(study), "--store", str(store), "--out", str(tmp_path / "report")),
    ):
        result = main_py(*args, cwd=tmp_path, env=strict)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args[0], result.stderr)
        printed += result.stdout
    assert "pilot store " + str(tmp_path) + "/p\\udcff.sqlite" in printed
