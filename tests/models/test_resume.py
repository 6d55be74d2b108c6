"""Resume and Ctrl-C: a real subprocess is interrupted with SIGINT, then a rerun completes it."""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from study_app.models.output import HEADER, PredictionsWriter
from study_app.protocol.study import BUNDLED_PROTOCOLS
from tests.models.conftest import predict_command

COPIES = 4  # 20 photos -> 80 images: several seconds at batch size 1


def rows_by_image(path: Path) -> dict[str, list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == HEADER.strip().split(",")
        grouped: dict[str, list[list[str]]] = {}
        for row in reader:
            grouped.setdefault(row[1], []).append(row)
    return grouped


@pytest.fixture
def larger_imagenet_study(tmp_path: Path) -> Path:
    """demo-imagenet with every photo also listed COPIES - 1 more times under new ids."""
    study = tmp_path / "imagenet-80"
    shutil.copytree(BUNDLED_PROTOCOLS / "demo-imagenet", study, ignore=shutil.ignore_patterns("models"))
    manifest = study / "manifest.csv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))
    with manifest.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for copy in range(2, COPIES + 1):
            for row in rows:
                writer.writerow([f"{row['image_id']}-copy{copy}", row["path"], row["labels"], "test"])
    return study


def test_sigint_leaves_a_valid_partial_file_that_a_rerun_completes(tmp_path: Path, larger_imagenet_study: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")  # for the one-time ONNX export
    out = tmp_path / "predictions.csv"
    command = predict_command(
        "--study",
        str(larger_imagenet_study),
        "--model",
        "efficientnet-lite0",
        "--out",
        str(out),
        "--batch-size",
        "1",
        "--workers",
        "1",
    )
    # Ctrl-C as at a terminal, even where this test runs in the background of a shell without
    # job control (which starts it, and so the child, with SIGINT ignored).
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 1 + 5 * 3:  # three images written
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stdout

    partial = rows_by_image(out)
    assert 3 <= len(partial) < 20 * COPIES
    assert all([r[2] for r in rows] == ["1", "2", "3", "4", "5"] for rows in partial.values())

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(partial)} were already in the file" in rerun.stdout
    complete = rows_by_image(out)
    assert len(complete) == 20 * COPIES
    assert all(len(rows) == 5 for rows in complete.values())  # no duplicates
    assert {i: complete[i] for i in partial} == partial  # the first run's rows kept as they were
    assert list(complete) == sorted(complete)
    # a copy of a photo gets exactly the guesses of the photo
    assert [r[3:] for r in complete["photo-07-copy3"]] == [r[3:] for r in complete["photo-07"]]


def test_resume_drops_a_partly_written_image(tmp_path: Path) -> None:
    """After a hard kill: a cut-off last line and an image with missing ranks are dropped."""
    path = tmp_path / "p.csv"
    whole = "m,a,1,x,0.600000\nm,a,2,y,0.400000\nother,a,1,x,1.000000\n"
    path.write_text(HEADER + whole + "m,b,1,x,0.700000\nm,b,2,y,0.3", encoding="utf-8")
    writer = PredictionsWriter(path, "m", k=2)
    writer.write([("c", [("x", "0.500000"), ("y", "0.500000")])])
    writer.close()
    assert writer.done == {"a", "c"}
    assert path.read_text() == HEADER + whole + "m,c,1,x,0.500000\nm,c,2,y,0.500000\n"


def test_refuses_to_append_to_a_file_that_is_not_predictions(tmp_path: Path) -> None:
    from study_app.models import ModelRunError

    path = tmp_path / "notes.csv"
    path.write_text("name,value\n", encoding="utf-8")
    with pytest.raises(ModelRunError, match="not a predictions file"):
        PredictionsWriter(path, "m", k=2)
    assert path.read_text() == "name,value\n"


def test_progress_line_has_rate_and_eta() -> None:
    import io

    from study_app.models.run_progress import Progress

    stream = io.StringIO()
    bar = Progress(4, "predict m", stream=stream, log_every_s=0)
    bar.advance(2)
    bar.advance(2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "2/4" in lines[0] and "img/s" in lines[0] and "ETA" in lines[0]
    assert "4/4 100.0%" in lines[1]


def test_a_parquet_output_grows_in_a_journal_and_is_written_whole_at_each_stop(tmp_path: Path) -> None:
    from study_app.errors import Problem
    from study_app.io.tidy_predictions import read_predictions

    path = tmp_path / "zoo.parquet"
    journal = tmp_path / "zoo.parquet.partial.csv"
    writer = PredictionsWriter(path, "m", k=2)
    writer.write([("a", [("x", "0.600000"), ("y", "0.400000")])])
    assert journal.exists() and not path.exists()
    writer.close()
    assert path.exists() and not journal.exists()
    resumed = PredictionsWriter(path, "m", k=2)  # the journal starts from the Parquet file's rows
    assert resumed.done == {"a"}
    resumed.write([("b", [("y", "0.700000"), ("x", "0.300000")])])
    resumed.close()
    other = PredictionsWriter(path, "other", k=1)  # another model's rows go beside the first's
    other.write([("a", [("x", "")])])
    # a hard kill: the journal is left with a partial image, which the next run drops
    with journal.open("a", encoding="utf-8") as handle:
        handle.write("other,b,1,y,0.9")
    again = PredictionsWriter(path, "other", k=1)
    assert again.done == {"a"}
    again.close()
    problems: list[Problem] = []
    frame = read_predictions(path, problems, "zoo.parquet")
    assert problems == []
    assert frame[["model", "image_id", "rank", "label_id"]].astype(object).values.tolist() == [
        ["m", "a", 1, "x"],
        ["m", "a", 2, "y"],
        ["m", "b", 1, "y"],
        ["m", "b", 2, "x"],
        ["other", "a", 1, "x"],
    ]
    assert frame["score"].tolist()[:2] == [0.6, 0.4] and frame["score"].isna().tolist()[-1]


def test_refuses_a_parquet_output_that_is_not_predictions(tmp_path: Path) -> None:
    from study_app.models import ModelRunError

    path = tmp_path / "notes.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(ModelRunError, match="not a predictions file"):
        PredictionsWriter(path, "m", k=2)
    assert path.read_bytes() == b"not parquet"
