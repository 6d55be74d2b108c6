"""Outputs never destroy inputs (issue #27, cases 1 and 10): the one output guard of every command.

A mistyped ``--out`` onto the results store, its -wal file, a protocol file, an input or a
folder of the researcher's own is refused with a message; an output that cannot be
written completely (a full disk) leaves the previous output whole; ``report`` replaces
only the files it wrote itself. Real files, real stores, ``python main.py`` in
subprocesses where the command line is the point.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study_app.cli.main import main
from study_app.io.output_guard import (
    STALE_TEMPORARY_S,
    OutputRefusedError,
    OutputWriteError,
    check_output,
    replacing,
    write_text,
)
from study_app.io.results_folder import journal_dir
from study_app.report.build import OWNED_FILES
from study_app.store import ResultsStore, export_answers

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, cwd: Path = ROOT, file_size_limit: int | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """``python main.py *args``; Qt windows, should one open, open invisibly (and then time out)."""

    def limit() -> None:  # a full disk, as far as this process can tell: writes past the limit fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit if file_size_limit else None,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def refused(result: subprocess.CompletedProcess, text: str) -> bool:
    return result.returncode == 1 and text in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def digits_store(tmp_path_factory) -> Path:
    """A pilot store of demo-digits with one scripted annotator's 230 answers."""
    store = tmp_path_factory.mktemp("digits") / "S.sqlite"
    result = run("simulate", "--study", "demo-digits", "--annotators", "1", "--store", str(store))
    assert result.returncode == 0, result.stderr
    return store


@pytest.fixture
def store(digits_store, tmp_path) -> Path:
    copy = tmp_path / "S.sqlite"
    shutil.copyfile(digits_store, copy)
    return copy


@pytest.fixture
def tiny_store(tiny_study, tmp_path) -> Path:
    path = tmp_path / "tiny.sqlite"
    assert main(["simulate", "--study", str(tiny_study), "--annotators", "2", "--store", str(path)]) == 0
    return path


def test_export_onto_its_own_store_is_refused_and_the_store_stays_sound(store, tmp_path):
    before = store.read_bytes()
    result = run("export", "--study", "demo-digits", "--store", str(store), "--out", str(store), cwd=tmp_path)
    assert refused(result, "is a results store"), result.stderr
    assert store.read_bytes() == before
    check = run("check-store", str(store))
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_export_onto_a_side_file_of_the_store_is_refused(store, suffix):
    target = store.with_name(store.name + suffix)
    assert main(["export", "--store", str(store), "--out", str(target)]) == 1
    assert not target.exists()


def test_export_into_a_protocol_folder_is_refused_and_leaves_it_as_it_was(tiny_study, tiny_store, capsys):
    labels = tiny_study / "labels.csv"
    before = labels.read_bytes()
    assert main(["export", "--store", str(tiny_store), "--out", str(labels)]) == 1
    assert "inside the protocol folder" in capsys.readouterr().err and labels.read_bytes() == before
    deeper = tiny_study / "images" / "new" / "answers.csv"
    assert main(["export", "--store", str(tiny_store), "--out", str(deeper)]) == 1
    assert not deeper.parent.exists()


def test_a_full_disk_during_export_leaves_the_previous_export_pair_whole(store, tmp_path):
    """Case 10: the manifest is larger than the table here, so a file-size limit between the
    two lets the new table be written and the new manifest fail, as on a disk that fills up."""
    out = tmp_path / "export" / "answers.csv"
    assert run("export", "--store", str(store), "--out", str(out)).returncode == 0
    manifest = out.with_name("answers.manifest.json")
    pair = out.read_bytes(), manifest.read_bytes()
    assert (
        run("simulate", "--study", "demo-digits", "--annotators", "1", "--seed", "1", "--store", str(store)).returncode
        == 0
    )
    assert run("export", "--store", str(store), "--out", str(tmp_path / "probe.csv")).returncode == 0
    table_size, manifest_size = (
        (tmp_path / "probe.csv").stat().st_size,
        (tmp_path / "probe.manifest.json").stat().st_size,
    )
    assert table_size < manifest_size

    result = run("export", "--store", str(store), "--out", str(out), file_size_limit=(table_size + manifest_size) // 2)
    assert refused(result, "cannot write"), result.stderr
    assert (out.read_bytes(), manifest.read_bytes()) == pair
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "answers.csv",
        "answers.manifest.json",
    ]  # no temporaries left


def test_an_export_whose_manifest_cannot_be_put_in_place_replaces_neither(tiny_store, tmp_path, capsys):
    out = tmp_path / "answers.csv"
    out.write_text("my own table\n")
    (tmp_path / "answers.manifest.json").mkdir()
    assert main(["export", "--store", str(tiny_store), "--out", str(out)]) == 1
    assert "answers.manifest.json is a folder" in capsys.readouterr().err
    with (
        ResultsStore(tiny_store, readonly=True) as store,
        pytest.raises(OutputWriteError, match="a folder of that name is in the way"),
    ):
        export_answers(store, out)  # the writer itself, as a notebook would call it
    assert out.read_text() == "my own table\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries left


def test_report_refuses_a_folder_of_other_files(tiny_study, tiny_store, tmp_path, capsys):
    folder = tmp_path / "paper"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "fig1-final.pdf").write_bytes(b"%PDF-1.4 the one that took a week")
    (folder / "index.html").write_text("<p>my own page</p>")
    args = ["report", "--study", str(tiny_study), "--store", str(tiny_store), "--n-boot", "200", "--out", str(folder)]
    assert main(args) == 1
    assert "holds files that no report wrote" in capsys.readouterr().err
    assert (folder / "index.html").read_text() == "<p>my own page</p>"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "figures",
        "figures/fig1-final.pdf",
        "index.html",
    ]


def test_a_second_report_replaces_only_its_own_files(tiny_study, tiny_store, tmp_path, capsys):
    """The rule: a report folder may also hold the researcher's files; report keeps them,
    and refuses to write a file of its own over one of theirs."""
    out = tmp_path / "report"
    args = ["report", "--study", str(tiny_study), "--store", str(tiny_store), "--n-boot", "200", "--out", str(out)]
    assert main(args) == 0
    owned = (out / OWNED_FILES).read_text()
    assert '"index.html"' in owned and '"tables/' in owned
    (out / "figures" / "fig1-final.pdf").write_bytes(b"%PDF-1.4 edited by hand")
    stale = out / "tables" / "from-an-older-version.csv"
    stale.write_text("x\n1\n")
    (out / OWNED_FILES).write_text(owned.replace('"files": [', '"files": [\n  "tables/from-an-older-version.csv",'))
    assert main(args) == 0
    assert (out / "figures" / "fig1-final.pdf").read_bytes() == b"%PDF-1.4 edited by hand"
    assert not stale.exists()  # the report's own file that this report no longer has
    assert (out / OWNED_FILES).read_text() == owned

    ours = next((out / "tables").glob("*.csv"))
    ours.unlink()
    ours.write_text("the researcher's table under the report's name\n")
    (out / OWNED_FILES).write_text(owned.replace(f'"tables/{ours.name}"', '"tables/gone.csv"'))
    capsys.readouterr()
    assert main(args) == 1
    assert "would replace 1 file(s) it did not write" in capsys.readouterr().err
    assert ours.read_text() == "the researcher's table under the report's name\n"


def test_report_and_compare_do_not_write_into_a_protocol_folder_or_over_an_input(
    tiny_study, tiny_store, tmp_path, capsys
):
    common = ["--study", str(tiny_study), "--store", str(tiny_store), "--n-boot", "200"]
    assert main(["report", *common, "--out", str(tiny_study / "report")]) == 1
    assert main(["compare", *common, "--out", str(tiny_study / "compare")]) == 1
    assert capsys.readouterr().err.count("inside the protocol folder") == 2
    assert not (tiny_study / "report").exists() and not (tiny_study / "compare").exists()
    assert main(["compare", *common, "--out", str(tiny_store)]) == 1
    assert "is a results store" in capsys.readouterr().err


def test_review_export_onto_the_store_is_refused(tiny_study, tiny_store, capsys):
    before = tiny_store.read_bytes()
    assert main(["review", "--study", str(tiny_study), "--store", str(tiny_store), "--export", str(tiny_store)]) == 1
    assert "is a results store" in capsys.readouterr().err and tiny_store.read_bytes() == before


def test_merge_into_one_of_its_inputs_or_a_journal_is_refused(tiny_store, tmp_path, capsys):
    other = tmp_path / "other.sqlite"
    shutil.copyfile(tiny_store, other)
    result = run("merge", str(other), str(tiny_store), str(other))
    assert refused(result, "is also one of this command's inputs"), result.stderr
    journal = tmp_path / "desk.sqlite"
    shutil.copyfile(tiny_store, journal)
    with sqlite3.connect(journal) as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('journal_sent:answers', '12')")
    before = journal.read_bytes()
    assert main(["merge", str(journal), str(tiny_store)]) == 1
    assert "is an offline journal" in capsys.readouterr().err and journal.read_bytes() == before
    wal = tiny_store.with_name(tiny_store.name + "-wal")
    assert main(["merge", str(wal), str(other)]) == 1 and not wal.exists()


def test_merge_into_the_journals_folder_is_refused(tiny_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["merge", str(journal_dir() / "host-5432-db.sqlite"), str(tiny_store)]) == 1
    assert "is an offline journal" in capsys.readouterr().err and not journal_dir().exists()


def test_import_into_its_own_table_is_refused(tiny_store, tmp_path, capsys):
    table = tmp_path / "answers.csv"
    assert main(["export", "--store", str(tiny_store), "--out", str(table)]) == 0
    before = table.read_bytes()
    for target in (table, tmp_path / "answers.manifest.json"):
        assert main(["import", str(table), "--store", str(target)]) == 1
        assert "is also one of this command's inputs" in capsys.readouterr().err
    assert table.read_bytes() == before


def test_simulate_into_its_predictions_file_is_refused(tiny_study, tmp_path, capsys):
    predictions = tmp_path / "predictions.csv"
    shutil.copyfile(tiny_study / "predictions.csv", predictions)
    before = predictions.read_bytes()
    assert (
        main(
            [
                "simulate",
                "--study",
                str(tiny_study),
                "--from-predictions",
                str(predictions),
                "--store",
                str(predictions),
            ]
        )
        == 1
    )
    assert "is also one of this command's inputs" in capsys.readouterr().err and predictions.read_bytes() == before


def test_new_study_is_not_written_into_another_protocol(tiny_study, capsys):
    assert (
        main(["new-study", "ilsvrc2012", "--val-dir", str(tiny_study / "images"), "--out", str(tiny_study / "nested")])
        == 1
    )
    assert "inside the protocol folder" in capsys.readouterr().err and not (tiny_study / "nested").exists()


def test_an_input_reached_by_another_name_is_still_an_input(tmp_path):
    table = tmp_path / "answers.csv"
    table.write_text("a\n")
    (tmp_path / "link.csv").symlink_to(table)
    (tmp_path / "hard.csv").hardlink_to(table)
    for name in ("link.csv", "hard.csv", "./answers.csv"):
        with pytest.raises(OutputRefusedError, match="own inputs"):
            check_output(tmp_path / name, [table])
    assert check_output(tmp_path / "other.csv", [table]) == tmp_path / "other.csv"


def test_predict_does_not_write_into_the_protocol_it_reads(tmp_path):
    committed = ROOT / "study_app" / "protocols" / "demo-digits" / "predictions" / "models.csv"
    before = committed.read_bytes()
    result = run(
        "predict",
        "--study",
        "demo-digits",
        "--model",
        "svm-rbf",
        "--out",
        str(committed),
        "--no-progress",
        cwd=tmp_path,
    )
    assert refused(result, "inside the protocol folder"), result.stderr
    assert committed.read_bytes() == before and not committed.with_suffix(".json").exists()


def special_file(path: Path, kind: str) -> Path:
    """A FIFO, or a character device like /dev/null (1, 3), made at ``path`` in a test's own folder.

    Never the system's own: a review once ran export onto /dev/null as root and replaced it.
    """
    if kind == "fifo":
        os.mkfifo(path)
    elif os.geteuid() != 0:
        pytest.skip("making a device file needs root")
    else:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def is_kind(path: Path, kind: str) -> bool:
    mode = os.lstat(path).st_mode
    return stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("where", ["out", "manifest", "link"])
def test_export_onto_a_fifo_or_device_is_refused_without_opening_it(store, tmp_path, kind, where):
    """Review #2: the writer renamed a file over a device, and the guard's header check
    opened a FIFO and waited for ever. ``link`` is how ``--out /dev/stdout`` reaches one."""
    special = special_file(tmp_path / ("answers.manifest.json" if where == "manifest" else "special"), kind)
    out = tmp_path / "answers.csv" if where == "manifest" else special
    if where == "link":
        out = tmp_path / "stdout"
        out.symlink_to(special)
    result = run("export", "--store", str(store), "--out", str(out), timeout=60)
    assert refused(result, "not a regular file"), result.stderr
    assert ("--out's manifest" in result.stderr) == (where == "manifest")
    assert is_kind(special, kind) and (where != "link" or out.is_symlink())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"S.sqlite", special.name, *([out.name] if where == "link" else [])}
    )  # nothing written


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_the_writer_never_replaces_a_special_file_and_writes_through_a_link(tmp_path, kind):
    special = special_file(tmp_path / "special", kind)
    with pytest.raises(OutputRefusedError, match="not a regular file"):
        write_text(special, "table\n")
    assert is_kind(special, kind) and [p.name for p in tmp_path.iterdir()] == ["special"]
    target, link = tmp_path / "real.csv", tmp_path / "link.csv"
    target.write_text("old\n")
    link.symlink_to(target)
    write_text(link, "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"


def test_a_read_that_fails_inside_the_writer_is_named_as_a_read(tmp_path):
    """Review #11: a failed read of another file was reported as "cannot write <target>"."""
    missing = tmp_path / "weights.onnx"
    with pytest.raises(OutputWriteError) as refusal, replacing(tmp_path / "out.csv"):
        missing.read_bytes()
    assert str(refusal.value).startswith(
        f"{missing}: No such file or directory, so {tmp_path / 'out.csv'} could not be written"
    )


def test_temporaries_left_by_a_killed_write_are_removed_by_the_next_write_of_that_file(tmp_path):
    """Review #13: SIGKILL skips every clean-up, so ``.answers.csv.<hex>.tmp`` files stayed for good.
    Only our names for this very target, and only old ones (a concurrent writer's is fresh)."""
    old = time.time() - STALE_TEMPORARY_S - 60
    names = {
        "left": ".answers.csv.0123abcd.tmp",
        "fresh": ".answers.csv.89abcdef.tmp",
        "not ours": ".answers.csv.backup.tmp",
        "other target": ".other.csv.0123abcd.tmp",
    }
    for key, name in names.items():
        (tmp_path / name).write_text(key)
        if key != "fresh":
            os.utime(tmp_path / name, (old, old))
    write_text(tmp_path / "answers.csv", "a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"answers.csv", *names.values()} - {names["left"]})


@pytest.mark.parametrize("command", ["annotate", "review"])
def test_annotate_and_review_refuse_a_wal_file_or_a_protocol_folder_as_their_store_before_any_window(
    tiny_study, tiny_store, tmp_path, command
):
    """Review #3: ``--store r.sqlite-wal`` became a database of its own, which SQLite deleted
    (with the session) the next time r.sqlite was opened; a protocol folder got a store."""
    who = ["--annotator", "A1"] if command == "annotate" else ["--reviewer", "R1"]
    store = tmp_path / "w" / "r.sqlite"
    store.parent.mkdir()
    shutil.copyfile(tiny_store, store)
    wal = store.with_name("r.sqlite-wal")
    wal.touch()  # as export leaves one beside a store
    inside = tiny_study / "results.sqlite"
    if command == "review":  # review opens only an existing store
        shutil.copyfile(tiny_store, inside)
    before = {path: path.read_bytes() for path in (store, inside) if path.exists()}
    for target, message in ((wal, "-wal/-shm/-journal files"), (inside, "inside the protocol folder")):
        started = time.monotonic()
        result = run(command, "--study", str(tiny_study), *who, "--store", str(target), timeout=60)
        assert refused(result, message), result.stderr
        assert time.monotonic() - started < 60
    assert wal.read_bytes() == b"" and {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in tiny_study.glob("results.sqlite*")) == (
        ["results.sqlite"] if command == "review" else []
    )


def test_check_store_recover_refuses_a_side_file_name_the_checked_file_and_a_protocol_folder(
    tiny_study, tiny_store, tmp_path
):
    bad = tmp_path / "bad.sqlite"
    data = bytearray(tiny_store.read_bytes())
    data[:100] = bytes(100)  # the header is gone: only the name tells bad.sqlite-wal from a store
    bad.write_bytes(bytes(data))
    for target, message in (
        (tmp_path / "bad.sqlite-wal", "-wal/-shm/-journal files"),
        (bad, "is also one of this command's inputs"),
        (tiny_study / "recovered.sqlite", "inside the protocol folder"),
    ):
        result = run("check-store", str(bad), "--recover", str(target))
        assert refused(result, message), result.stdout + result.stderr
    assert bad.read_bytes() == bytes(data) and sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.sqlite",
        "tiny",
        "tiny.sqlite",
    ]
    assert not (tiny_study / "recovered.sqlite").exists()


def test_compare_does_not_write_its_tables_over_its_own_input_files(tiny_study, tiny_store, tmp_path, capsys):
    """Review #4: ``compare --out d`` replaced d/raters.csv, the export it was comparing."""
    folder = tmp_path / "d"
    assert main(["export", "--store", str(tiny_store), "--out", str(folder / "raters.csv")]) == 0
    shutil.copyfile(tiny_study / "manifest.csv", folder / "classes.csv")  # truth under a table's name
    files = sorted(folder.iterdir())
    before = [path.read_bytes() for path in files]
    for answers, truth in (("raters.csv", "manifest.csv"), ("raters.csv", "classes.csv")):
        argv = [
            "compare",
            "--answers",
            str(folder / answers),
            "--truth",
            str(folder / truth if truth == "classes.csv" else tiny_study / truth),
            "--predictions",
            str(tiny_study / "predictions.csv"),
            "--n-boot",
            "200",
            "--out",
            str(folder),
        ]
        capsys.readouterr()
        assert main(argv) == 1
        assert "is one of this command's own inputs" in capsys.readouterr().err
    assert sorted(folder.iterdir()) == files and [path.read_bytes() for path in files] == before


@pytest.mark.parametrize("name", ["p.json", "p.JSON"])
def test_predict_refuses_an_out_that_its_provenance_file_would_replace(tmp_path, capsys, name):
    """Review #5: the provenance file is <out without suffix>.json, which was --out itself."""
    assert (
        main(
            ["predict", "--study", "demo-digits", "--model", "svm-rbf", "--out", str(tmp_path / name), "--no-progress"]
        )
        == 1
    )
    assert "name the predictions file .csv" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_predict_refuses_a_provenance_file_that_is_a_link_to_the_predictions(tmp_path, capsys):
    (tmp_path / "p").write_text("my predictions\n")
    (tmp_path / "p.json").symlink_to(tmp_path / "p")
    assert (
        main(["predict", "--study", "demo-digits", "--model", "svm-rbf", "--out", str(tmp_path / "p"), "--no-progress"])
        == 1
    )
    assert "--out's provenance file" in capsys.readouterr().err and (tmp_path / "p").read_text() == "my predictions\n"


def test_export_names_a_refused_manifest_as_the_manifest(tiny_store, tmp_path, capsys):
    """Review #11: the refused file is the manifest derived from --out, not --out."""
    shutil.copyfile(tiny_store, tmp_path / "a.manifest.json")
    assert main(["export", "--store", str(tmp_path / "a.manifest.json"), "--out", str(tmp_path / "a.csv")]) == 1
    assert f"--out's manifest {tmp_path / 'a.manifest.json'} is a results store" in capsys.readouterr().err
